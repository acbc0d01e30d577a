"""Neutral events → OpenAI chunks (streaming) and → one ``ChatCompletion`` (non-streaming, by folding).

Both paths consume the same events, so a streamed answer and a non-streamed one cannot drift apart.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from claude_code_api.core.events import (
    Completed,
    Event,
    ReasoningDelta,
    TextDelta,
    TokenUsage,
    ToolCallArguments,
    ToolCallStarted,
)
from claude_code_api.protocol.openai_chat import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    CompletionTokensDetails,
    Delta,
    FunctionCall,
    PromptTokensDetails,
    ResponseMessage,
    ToolCall,
    ToolCallDelta,
    ToolCallFunctionDelta,
    Usage,
)


def new_completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def to_openai_usage(usage: TokenUsage) -> Usage:
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.prompt_tokens + usage.output_tokens,
        prompt_tokens_details=PromptTokensDetails(
            cached_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens
        ),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=usage.reasoning_tokens),
    )


@dataclass
class ChunkFactory:
    """Stamps every chunk of one completion with the same id, created time and model."""

    model: str
    id: str = field(default_factory=new_completion_id)
    created: int = field(default_factory=lambda: int(time.time()))

    def _chunk(self, choices: list[ChunkChoice], usage: Usage | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(id=self.id, created=self.created, model=self.model, choices=choices, usage=usage)

    def role(self, index: int) -> ChatCompletionChunk:
        return self._chunk([ChunkChoice(index=index, delta=Delta(role="assistant", content=""))])

    def usage(self, usage: TokenUsage) -> ChatCompletionChunk:
        return self._chunk([], to_openai_usage(usage))

    def for_event(self, event: Event, index: int) -> ChatCompletionChunk | None:
        """The chunk that carries ``event`` for choice ``index``; ``Completed`` gives the finish chunk."""
        if isinstance(event, TextDelta):
            delta = Delta(content=event.text)
        elif isinstance(event, ReasoningDelta):
            delta = Delta(reasoning_content=event.text)
        elif isinstance(event, ToolCallStarted):
            call = ToolCallDelta(
                index=event.index,
                id=event.id,
                type="function",
                function=ToolCallFunctionDelta(name=event.name, arguments=""),
            )
            delta = Delta(tool_calls=[call])
        elif isinstance(event, ToolCallArguments):
            call = ToolCallDelta(index=event.index, function=ToolCallFunctionDelta(arguments=event.fragment))
            delta = Delta(tool_calls=[call])
        else:
            return self._chunk([ChunkChoice(index=index, delta=Delta(), finish_reason=event.finish_reason)])
        return self._chunk([ChunkChoice(index=index, delta=delta)])


@dataclass
class ChoiceAccumulator:
    """Folds one choice's events into its final message."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, ToolCall] = field(default_factory=dict)
    completed: Completed | None = None

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            self.reasoning.append(event.text)
        elif isinstance(event, ToolCallStarted):
            self.calls[event.index] = ToolCall(id=event.id, function=FunctionCall(name=event.name, arguments=""))
        elif isinstance(event, ToolCallArguments):
            self.calls[event.index].function.arguments += event.fragment
        else:
            self.completed = event

    def choice(self, index: int) -> Choice:
        assert self.completed is not None, "the engine ended a stream without Completed"
        calls = [self.calls[i] for i in sorted(self.calls)] or None
        message = ResponseMessage(
            content="".join(self.text) if (self.text or not calls) else None,
            tool_calls=calls,
            reasoning_content="".join(self.reasoning) if self.reasoning else None,
        )
        return Choice(index=index, message=message, finish_reason=self.completed.finish_reason)


def build_completion(model: str, choices: list[ChoiceAccumulator], completion_id: str | None = None) -> ChatCompletion:
    usage = TokenUsage()
    for acc in choices:
        if acc.completed is not None:
            usage = usage + acc.completed.usage
    return ChatCompletion(
        id=completion_id or new_completion_id(),
        created=int(time.time()),
        model=model,
        choices=[acc.choice(i) for i, acc in enumerate(choices)],
        usage=to_openai_usage(usage),
    )
