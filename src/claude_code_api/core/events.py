"""The neutral event stream of one answer, in Claude's own vocabulary (content blocks, signed thinking,
``stop_reason`` plus ``stop_sequence``). Every front end renders these: the Anthropic one losslessly, the OpenAI
ones as views. Streaming sends them as they come; non-streaming folds the very same stream (``core.fold``).

Blocks are indexed as Claude indexes them in the answer the client sees (0, 1, 2…), and each block's life is
``BlockStarted`` → deltas → ``BlockStopped``. Engines may leave starts and stops implicit;
``core.blocks.well_formed`` makes them explicit before any front end sees the stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

StopReason = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "model_context_window_exceeded"
]
BlockKind = Literal["text", "thinking", "redacted_thinking", "tool_use"]


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Claude's usage: ``input_tokens`` excludes cache reads and writes, which are counted apart."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        """Input as OpenAI counts it: cached input included."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


@dataclass(frozen=True, slots=True)
class MessageStarted:
    """Claude began answering; ``usage`` is the input side as the first upstream call reported it."""

    usage: TokenUsage


@dataclass(frozen=True, slots=True)
class BlockStarted:
    """A content block opens. ``id``/``name`` for ``tool_use``; ``data`` for ``redacted_thinking``."""

    index: int
    kind: BlockKind
    id: str = ""
    name: str = ""
    data: str = ""


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    index: int = 0


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    thinking: str
    index: int = 0


@dataclass(frozen=True, slots=True)
class SignatureDelta:
    signature: str
    index: int = 0


@dataclass(frozen=True, slots=True)
class ToolInputDelta:
    """A fragment of a tool_use block's input, as JSON text (the fragments concatenate to a JSON object)."""

    partial_json: str
    index: int = 0


@dataclass(frozen=True, slots=True)
class BlockStopped:
    index: int


@dataclass(frozen=True, slots=True)
class Completed:
    """The answer ended. ``model`` is the full id that ran (empty where the engine does not know it)."""

    stop_reason: StopReason
    usage: TokenUsage
    cost_usd: float | None = None
    stop_sequence: str | None = None
    model: str = ""


@dataclass(frozen=True, slots=True)
class ToolActivity:
    """Agent mode: Claude Code used one of its own tools (``kind="tool_use"``, with ``input``) or got its result
    (``kind="tool_result"``, with ``content`` and ``is_error``). Not part of the answer's content blocks: the client
    sees it beside them, and never sends it back. ``summary`` is one human line ("Edit src/app.py")."""

    kind: Literal["tool_use", "tool_result"]
    id: str
    name: str
    summary: str
    input: dict[str, Any] = field(default_factory=dict)
    content: str = ""
    is_error: bool = False

    def record(self) -> dict[str, Any]:
        """The activity as clients get it, in Claude's own shapes (``tool_use`` / ``tool_result``)."""
        if self.kind == "tool_use":
            return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input, "summary": self.summary}
        return {
            "type": "tool_result",
            "tool_use_id": self.id,
            "name": self.name,
            "content": self.content,
            "is_error": self.is_error,
            "summary": self.summary,
        }


Delta = TextDelta | ThinkingDelta | SignatureDelta | ToolInputDelta
Event = MessageStarted | BlockStarted | Delta | BlockStopped | ToolActivity | Completed
