"""Folding one answer's event stream into its final content blocks, stop reason and usage.

Non-streaming responses of every front end are rendered from this fold of the same events that streaming sends,
and the engine records from it the assistant turn the client will send back (``as_turn``), in the dialect's
client view: OpenAI clients send back one text plus tool calls; Anthropic clients send back every block, signed
thinking included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from claude_code_api.core.events import (
    BlockKind,
    BlockStarted,
    Completed,
    Event,
    MessageStarted,
    SignatureDelta,
    TextDelta,
    ThinkingDelta,
    TokenUsage,
    ToolActivity,
    ToolInputDelta,
)
from claude_code_api.core.request import Block, ClientView, Turn


@dataclass
class FoldedBlock:
    kind: BlockKind
    id: str = ""
    name: str = ""
    data: str = ""
    parts: list[str] = field(default_factory=list)  # text, thinking or input JSON fragments
    signature: str = ""

    @property
    def content(self) -> str:
        return "".join(self.parts)

    def input(self) -> dict[str, Any] | None:
        """A tool_use block's input as an object; None when its JSON is not an object."""
        try:
            parsed = json.loads(self.content or "{}")
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def as_block(self) -> Block:
        """Claude's own shape of the block (tool input that is not a JSON object is kept as ``{}``)."""
        if self.kind == "text":
            return {"type": "text", "text": self.content}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": self.content, "signature": self.signature}
        if self.kind == "redacted_thinking":
            return {"type": "redacted_thinking", "data": self.data}
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input() or {}}


@dataclass
class AnswerFold:
    blocks: dict[int, FoldedBlock] = field(default_factory=dict)
    started: MessageStarted | None = None
    completed: Completed | None = None
    activity: list[ToolActivity] = field(default_factory=list)  # agent mode: beside the blocks, never in them

    def add(self, event: Event) -> None:
        if isinstance(event, BlockStarted):
            self.blocks[event.index] = FoldedBlock(event.kind, event.id, event.name, event.data)
        elif isinstance(event, TextDelta | ThinkingDelta | ToolInputDelta):
            block = self.blocks.setdefault(event.index, FoldedBlock(_kind_of(event)))
            block.parts.append(_fragment(event))
        elif isinstance(event, SignatureDelta):
            self.blocks.setdefault(event.index, FoldedBlock("thinking")).signature += event.signature
        elif isinstance(event, MessageStarted):
            self.started = self.started or event
        elif isinstance(event, Completed):
            self.completed = event
        elif isinstance(event, ToolActivity):
            self.activity.append(event)

    def ordered(self) -> list[FoldedBlock]:
        return [self.blocks[i] for i in sorted(self.blocks)]

    def of_kind(self, kind: BlockKind) -> list[FoldedBlock]:
        return [b for b in self.ordered() if b.kind == kind]

    def text(self) -> str:
        return "".join(b.content for b in self.of_kind("text"))

    def thinking(self) -> str:
        return "".join(b.content for b in self.of_kind("thinking"))

    def activity_summary(self) -> str:
        """The agent's activity as lines a chat UI shows beside the answer."""
        return "".join(a.summary + "\n" for a in self.activity)

    def activity_records(self) -> list[dict[str, Any]]:
        return [a.record() for a in self.activity]

    @property
    def usage(self) -> TokenUsage:
        return self.completed.usage if self.completed else TokenUsage()

    def content(self) -> list[Block]:
        """The answer's blocks as Claude returns them; no empty text block (the API rejects those in history)."""
        return [b.as_block() for b in self.ordered() if not (b.kind == "text" and not b.content)]

    def as_turn(self, view: ClientView) -> Turn | None:
        """The assistant turn as this dialect's client sends it back; None when it cannot be known exactly (a tool
        input that is not a JSON object) or is empty."""
        if any(b.kind == "tool_use" and b.input() is None for b in self.ordered()):
            return None
        if view == "anthropic":
            blocks = self.content()
        else:
            text = self.text()
            blocks = [{"type": "text", "text": text}] if text else []
            blocks += [b.as_block() for b in self.of_kind("tool_use")]
        return Turn("assistant", tuple(blocks)) if blocks else None


def _kind_of(event: TextDelta | ThinkingDelta | ToolInputDelta) -> BlockKind:
    if isinstance(event, TextDelta):
        return "text"
    return "thinking" if isinstance(event, ThinkingDelta) else "tool_use"


def _fragment(event: TextDelta | ThinkingDelta | ToolInputDelta) -> str:
    if isinstance(event, TextDelta):
        return event.text
    return event.thinking if isinstance(event, ThinkingDelta) else event.partial_json
