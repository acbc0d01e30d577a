"""The neutral completion request, in Claude's own vocabulary: what an engine needs to run one request of any
dialect through Claude.

Content blocks are Anthropic-shaped dicts (``text``, ``image``, ``document``, ``tool_use``, ``tool_result``,
``thinking``) because that is what Claude's API, Claude Code's stdin and its transcripts carry. Each front end
converts its dialect to this; none of OpenAI's vocabulary lives here.
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
class ToolChoice:
    """Claude's tool_choice: ``auto``, ``any`` (some tool), ``tool`` (the one named) or ``none``."""

    mode: Literal["auto", "any", "tool", "none"] = "auto"
    name: str | None = None
    disable_parallel_tool_use: bool = False


ClientView = Literal["openai", "anthropic"]


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """Agent mode: Claude Code's own ``tools`` run in a workspace directory, for up to ``max_turns`` model calls.

    A front end fills in what the client asked for (the workspace's ``name``); the completion service checks the
    key's permission and fills in ``directory`` (absolute, resolved), the tools (within the operator's bound) and
    the turn limit before any engine sees it.
    """

    workspace: str
    tools: tuple[str, ...] = ()
    max_turns: int | None = None
    directory: str = ""


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """``history`` holds every turn before ``prompt``, the final user turn that Claude answers.

    ``client_view`` says how the dialect's client sends an answer back in the next request's history (see
    ``core.fold.AnswerFold.as_turn``), so a live process is matched against the history in the same view.
    ``thinking`` is Claude's own thinking setting (``{"type": "enabled", "budget_tokens": N}``, ``disabled``,
    ``adaptive``), None for Claude Code's default; ``show_thinking`` puts thinking blocks in the answer.
    ``agent``: agent mode (None: chat mode, no tools but the client's functions).
    """

    model: str
    system: str
    history: tuple[Turn, ...]
    prompt: Turn
    max_tokens: int | None = None
    effort: str | None = None
    stop_sequences: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    output_schema: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    show_thinking: bool = False
    client_view: ClientView = "openai"
    user_id: str | None = None
    agent: AgentSpec | None = None
