"""The neutral completion request: what an engine needs to run one OpenAI request through Claude.

Content blocks are Anthropic-shaped dicts (``text``, ``image``, ``tool_use``, ``tool_result``) because
that is what Claude Code's stdin and transcripts carry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

Block = dict[str, Any]
Role = Literal["user", "assistant"]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Turn:
    """One role-separated turn of the conversation."""

    role: Role
    blocks: tuple[Block, ...]

    def fingerprint(self) -> str:
        return hashlib.sha256(canonical_json([self.role, list(self.blocks)]).encode()).hexdigest()

    def text(self) -> str:
        return "".join(b.get("text", "") for b in self.blocks if b.get("type") == "text")


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """``history`` holds every turn before ``prompt``, the final user turn that Claude answers."""

    model: str
    system: str
    history: tuple[Turn, ...]
    prompt: Turn
    max_tokens: int | None = None
    effort: str | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str = "auto"
    output_schema: dict[str, Any] | None = None
    want_reasoning: bool = False

    def config_key(self) -> str:
        """What a live Claude Code process is bound to: requests with equal keys can share one."""
        tools = [[t.name, t.description, t.parameters] for t in self.tools]
        parts = [self.model, self.system, self.max_tokens, self.effort, tools, self.tool_choice, self.output_schema]
        return hashlib.sha256(canonical_json(parts).encode()).hexdigest()[:32]
