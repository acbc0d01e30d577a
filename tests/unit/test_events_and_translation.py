"""The hardest pure logic of the seam: Claude Code's stream → neutral events (translator), the block lifecycle,
the fold's client views, and the heartbeat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from claude_agent_sdk import ResultMessage, StreamEvent

from claude_code_api.core.blocks import BlockLifecycle
from claude_code_api.core.events import (
    BlockStarted,
    BlockStopped,
    Completed,
    Event,
    MessageStarted,
    SignatureDelta,
    TextDelta,
    ThinkingDelta,
    TokenUsage,
    ToolInputDelta,
)
from claude_code_api.core.fold import AnswerFold
from claude_code_api.engine.claude.translate import TurnTranslator
from claude_code_api.service.fanout import with_heartbeat


def stream(event: dict[str, Any]) -> StreamEvent:
    return StreamEvent(uuid="u", session_id="s", event=event, parent_tool_use_id=None)


def leg(*blocks: tuple[str, dict[str, Any], list[dict[str, Any]]], stop: str = "end_turn") -> list[StreamEvent]:
    """One upstream call as Claude Code relays it: message_start, blocks numbered from 0, message_delta."""
    out = [stream({"type": "message_start", "message": {"usage": {"input_tokens": 7, "cache_read_input_tokens": 3}}})]
    for index, (_, start, deltas) in enumerate(blocks):
        out.append(stream({"type": "content_block_start", "index": index, "content_block": start}))
        out += [stream({"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        out.append(stream({"type": "content_block_stop", "index": index}))
    out.append(stream({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 4}}))
    return out


def result(**fields: Any) -> ResultMessage:
    values: dict[str, Any] = {
        "subtype": "success",
        "duration_ms": 1,
        "duration_api_ms": 1,
        "is_error": False,
        "num_turns": 1,
        "session_id": "s",
        "stop_reason": "end_turn",
        "total_cost_usd": 0.01,
        "usage": {"input_tokens": 7, "output_tokens": 4, "cache_read_input_tokens": 3},
    }
    return ResultMessage(**{**values, **fields})


THINKING = (
    "thinking",
    {"type": "thinking", "thinking": ""},
    [
        {"type": "thinking_delta", "thinking": "hmm"},
        {"type": "signature_delta", "signature": "SIG"},
    ],
)
TEXT = ("text", {"type": "text", "text": ""}, [{"type": "text_delta", "text": "Hi"}])
OWN_TOOL: tuple[str, dict[str, Any], list[dict[str, Any]]] = (
    "tool",
    {"type": "tool_use", "id": "toolu_x", "name": "StructuredOutput"},
    [],
)
CLIENT_TOOL = (
    "tool",
    {"type": "tool_use", "id": "toolu_1", "name": "mcp__fn__get"},
    [
        {"type": "input_json_delta", "partial_json": '{"a":'},
        {"type": "input_json_delta", "partial_json": "1}"},
    ],
)


def translate(translator: TurnTranslator, messages: list[Any]) -> list[Event]:
    events: list[Event] = []
    for message in messages:
        events += translator.feed(message)
    return events


def test_blocks_of_several_upstream_calls_get_one_answer_numbering():
    translator = TurnTranslator(show_thinking=True, model="m")
    events = translate(translator, [*leg(THINKING, OWN_TOOL, stop="tool_use"), *leg(TEXT), result()])
    events += translator.finish()
    assert events[0] == MessageStarted(TokenUsage(input_tokens=7, cache_read_tokens=3))
    assert [e for e in events if isinstance(e, BlockStarted)] == [BlockStarted(0, "thinking"), BlockStarted(1, "text")]
    assert ThinkingDelta("hmm", 0) in events and SignatureDelta("SIG", 0) in events and TextDelta("Hi", 1) in events
    assert events[-1] == Completed("end_turn", TokenUsage(7, 4, 3), 0.01, model="m")


def test_thinking_is_not_shown_unless_asked_and_client_tool_calls_keep_claudes_ids():
    translator = TurnTranslator(model="m")
    events = translate(translator, [*leg(THINKING, TEXT, CLIENT_TOOL, stop="tool_use")])
    assert not any(isinstance(e, ThinkingDelta) for e in events)
    assert BlockStarted(1, "tool_use", "toolu_1", "get") in events
    assert [e for e in events if isinstance(e, ToolInputDelta)] == [ToolInputDelta('{"a":', 1), ToolInputDelta("1}", 1)]
    assert translator.saw_client_tool_stop
    assert translator.finish_at_tool_calls() == [Completed("tool_use", TokenUsage(7, 4, 3), model="m")]


def test_max_tokens_ends_the_answer_and_ignores_claude_codes_retry():
    translator = TurnTranslator(model="m")
    events = translate(translator, [*leg(TEXT, stop="max_tokens"), *leg(TEXT), result(is_error=True)])
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("Hi", 0)]
    last = translator.finish()[-1]
    assert isinstance(last, Completed) and last.stop_reason == "max_tokens"


def test_structured_output_becomes_one_text_block():
    translator = TurnTranslator(structured=True, model="m")
    translate(translator, [*leg(TEXT), result(structured_output={"a": 1})])
    events = translator.finish()
    assert events[:3] == [BlockStarted(0, "text"), TextDelta('{"a": 1}', 0), BlockStopped(0)]


def test_the_lifecycle_makes_implicit_blocks_explicit():
    lifecycle = BlockLifecycle()
    fed: list[Event] = [TextDelta("a"), TextDelta("b"), BlockStarted(1, "tool_use", "t", "f"), ToolInputDelta("{}", 1)]
    out = [e for event in [*fed, Completed("tool_use", TokenUsage())] for e in lifecycle.feed(event)]
    assert out == [
        BlockStarted(0, "text"),
        TextDelta("a"),
        TextDelta("b"),
        BlockStopped(0),
        BlockStarted(1, "tool_use", "t", "f"),
        ToolInputDelta("{}", 1),
        BlockStopped(1),
        Completed("tool_use", TokenUsage()),
    ]


def test_the_fold_records_the_turn_each_dialect_sends_back():
    fold = AnswerFold()
    events: list[Event] = [
        BlockStarted(0, "thinking"),
        ThinkingDelta("hmm", 0),
        SignatureDelta("SIG", 0),
        BlockStarted(1, "text"),
        TextDelta("Hi", 1),
        BlockStarted(2, "tool_use", "toolu_1", "get"),
        ToolInputDelta('{"a": 1}', 2),
    ]
    for event in events:
        fold.add(event)
    call = {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"a": 1}}
    openai = fold.as_turn("openai")
    anthropic = fold.as_turn("anthropic")
    assert openai is not None and anthropic is not None
    assert openai.blocks == ({"type": "text", "text": "Hi"}, call)
    assert anthropic.blocks == (
        {"type": "thinking", "thinking": "hmm", "signature": "SIG"},
        {"type": "text", "text": "Hi"},
        call,
    )


def test_heartbeat_fills_only_silences():
    async def source() -> AsyncIterator[str]:
        yield "a"
        await asyncio.sleep(0.25)
        yield "b"

    async def collect() -> list[str | None]:
        return [item async for item in with_heartbeat(source(), 0.1)]

    items = asyncio.run(collect())
    assert items[0] == "a" and items[-1] == "b" and None in items[1:-1]
