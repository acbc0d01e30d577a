"""Neutral events → OpenAI chunks (streaming) and → one ``ChatCompletion`` (non-streaming, by folding).

Both paths consume the same events, so a streamed answer and a non-streamed one cannot drift apart. OpenAI's
view of Claude's answer: text blocks concatenate into ``content``, thinking becomes ``reasoning_content``, and
tool_use blocks become ``tool_calls`` numbered from 0 per choice; signatures and redacted thinking are not shown.
An agent's activity is a line of ``reasoning_content`` per step, and its full record the ``claude_code`` extension.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from claude_code_api.core.events import (
    BlockStarted,
    Completed,
    Event,
    StopReason,
    TextDelta,
    ThinkingDelta,
    TokenUsage,
    ToolActivity,
    ToolInputDelta,
)
from claude_code_api.core.fold import AnswerFold
from claude_code_api.frontends.openai_chat.models import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    CompletionTokensDetails,
    Delta,
    FinishReason,
    FunctionCall,
    PromptTokensDetails,
    ResponseMessage,
    ToolCall,
    ToolCallDelta,
    ToolCallFunctionDelta,
    Usage,
)

FINISH_REASONS: dict[StopReason, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def new_completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def finish_reason(completed: Completed) -> FinishReason:
    return FINISH_REASONS[completed.stop_reason]


def to_openai_usage(usage: TokenUsage, cost_usd: float | None = None) -> Usage:
    return Usage(
        cost_usd=cost_usd,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        prompt_tokens_details=PromptTokensDetails(
            cached_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens
        ),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=usage.reasoning_tokens),
    )


@dataclass
class ChunkFactory:
    """Stamps every chunk of one completion with the same id, created time and model, and numbers each choice's
    tool calls as OpenAI does (0, 1, … in the order Claude made them)."""

    model: str
    id: str = field(default_factory=new_completion_id)
    created: int = field(default_factory=lambda: int(time.time()))
    _tool_index: dict[tuple[int, int], int] = field(default_factory=dict)  # (choice, block) → tool call index

    def _chunk(self, choices: list[ChunkChoice], usage: Usage | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(id=self.id, created=self.created, model=self.model, choices=choices, usage=usage)

    def role(self, index: int) -> ChatCompletionChunk:
        return self._chunk([ChunkChoice(index=index, delta=Delta(role="assistant", content=""))])

    def usage(self, usage: TokenUsage, cost_usd: float | None = None) -> ChatCompletionChunk:
        return self._chunk([], to_openai_usage(usage, cost_usd))

    def for_event(self, event: Event, index: int) -> ChatCompletionChunk | None:
        """The chunk that carries ``event`` for choice ``index``; ``Completed`` gives the finish chunk."""
        delta = self._delta(event, index)
        if isinstance(event, Completed):
            return self._chunk([ChunkChoice(index=index, delta=Delta(), finish_reason=finish_reason(event))])
        return self._chunk([ChunkChoice(index=index, delta=delta)]) if delta is not None else None

    def _delta(self, event: Event, choice: int) -> Delta | None:
        if isinstance(event, TextDelta):
            return Delta(content=event.text)
        if isinstance(event, ThinkingDelta):
            return Delta(reasoning_content=event.thinking)
        if isinstance(event, ToolActivity):
            return Delta(reasoning_content=event.summary + "\n", claude_code={"activity": [event.record()]})
        if isinstance(event, BlockStarted) and event.kind == "tool_use":
            number = sum(1 for c, _ in self._tool_index if c == choice)
            self._tool_index[(choice, event.index)] = number
            function = ToolCallFunctionDelta(name=event.name, arguments="")
            return Delta(tool_calls=[ToolCallDelta(index=number, id=event.id, type="function", function=function)])
        if isinstance(event, ToolInputDelta) and (choice, event.index) in self._tool_index:
            number = self._tool_index[(choice, event.index)]
            function = ToolCallFunctionDelta(arguments=event.partial_json)
            return Delta(tool_calls=[ToolCallDelta(index=number, function=function)])
        return None


def choice_of(fold: AnswerFold, index: int) -> Choice:
    assert fold.completed is not None, "the engine ended a stream without Completed"
    calls = [
        ToolCall(id=b.id, function=FunctionCall(name=b.name, arguments=b.content)) for b in fold.of_kind("tool_use")
    ]
    text = fold.text()
    reasoning = fold.thinking() + fold.activity_summary()
    message = ResponseMessage(
        content=text if (text or not calls) else None,
        tool_calls=calls or None,
        reasoning_content=reasoning or None,
        claude_code={"activity": fold.activity_records()} if fold.activity else None,
    )
    return Choice(index=index, message=message, finish_reason=finish_reason(fold.completed))


def total_cost(choices: list[AnswerFold]) -> float | None:
    """The answers' cost in USD; None when the engine priced none of them."""
    costs = [fold.completed.cost_usd for fold in choices if fold.completed and fold.completed.cost_usd is not None]
    return sum(costs) if costs else None


def build_completion(model: str, choices: list[AnswerFold], completion_id: str | None = None) -> ChatCompletion:
    usage = TokenUsage()
    for fold in choices:
        usage = usage + fold.usage
    return ChatCompletion(
        id=completion_id or new_completion_id(),
        created=int(time.time()),
        model=model,
        choices=[choice_of(fold, i) for i, fold in enumerate(choices)],
        usage=to_openai_usage(usage, total_cost(choices)),
    )
