"""Stop-sequence cutting and the event → chunk / fold conversions."""

from __future__ import annotations

from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from claude_code_api.core.events import BlockStarted, Completed, Event, TextDelta, TokenUsage, ToolInputDelta
from claude_code_api.core.fold import AnswerFold
from claude_code_api.core.stop import StopSequenceCutter
from claude_code_api.frontends.openai_chat.models import dump_chunk, dump_completion
from claude_code_api.frontends.openai_chat.render import ChunkFactory, build_completion


def feed_all(cutter: StopSequenceCutter, parts: list[str]) -> str:
    return "".join(cutter.feed(p) for p in parts) + cutter.flush()


def test_stop_sequence_split_across_deltas_is_found():
    cutter = StopSequenceCutter(("STOP",))
    assert feed_all(cutter, ["abc ST", "O", "P tail"]) == "abc "
    assert cutter.hit and cutter.matched == "STOP"


def test_partial_match_that_fails_is_released():
    cutter = StopSequenceCutter(("STOP",))
    assert feed_all(cutter, ["a ST", "ART"]) == "a START"
    assert not cutter.hit


def test_no_stop_sequences_passes_text_through():
    assert feed_all(StopSequenceCutter(()), ["x", "y"]) == "xy"


EVENTS: list[Event] = [
    TextDelta("Hel"),
    TextDelta("lo"),
    BlockStarted(1, "tool_use", "toolu_1", "get_weather"),
    ToolInputDelta('{"city":', 1),
    ToolInputDelta('"Paris"}', 1),
    BlockStarted(2, "tool_use", "toolu_2", "get_time"),
    ToolInputDelta("{}", 2),
    Completed("tool_use", TokenUsage(input_tokens=3, output_tokens=4, cache_read_tokens=2)),
]


def test_chunks_assemble_with_the_openai_stream_helper():
    factory = ChunkFactory("m")
    chunks = [factory.role(0)] + [c for e in EVENTS if (c := factory.for_event(e, 0))]
    state = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate_json(dump_chunk(chunk, include_usage_key=False)))
    message = state.get_final_completion().choices[0].message
    assert message.content == "Hello" and message.role == "assistant"
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == [
        ("toolu_1", "get_weather", '{"city":"Paris"}'),
        ("toolu_2", "get_time", "{}"),
    ]


def test_tool_call_follow_up_deltas_carry_only_index_and_arguments():
    factory = ChunkFactory("m")
    factory.for_event(BlockStarted(3, "tool_use", "toolu_1", "f"), 0)
    chunk = factory.for_event(ToolInputDelta("{}", 3), 0)
    assert chunk is not None
    data = dump_chunk(chunk, include_usage_key=True)
    assert '"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]' in data
    assert '"usage":null' in data


def test_fold_gives_the_same_answer_as_the_stream():
    fold = AnswerFold()
    for event in EVENTS:
        fold.add(event)
    completion = build_completion("m", [fold])
    data = dump_completion(completion)
    parsed = ChatCompletion.model_validate(data)
    assert parsed.choices[0].finish_reason == "tool_calls"
    assert parsed.choices[0].message.content == "Hello"
    assert parsed.usage is not None and parsed.usage.prompt_tokens == 5 and parsed.usage.total_tokens == 9
    assert data["choices"][0]["message"]["refusal"] is None and "reasoning_content" not in data["choices"][0]["message"]
