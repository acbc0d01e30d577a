"""Reply planning for the fake upstream (`fake_upstream`): what a successful answer contains.

Owns `plan_reply`, which turns a request body and its `Directive` into content blocks (thinking, text, tool calls,
structured output), a stop reason and usage, and `Block`, which knows a block's streamed deltas and its whole form.
The same plan feeds the SSE and the JSON answer (`fake_responses`). Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from claude_code_api.testing.fake_body import JSONObject, messages_of, texts_of, tool_names_of
from claude_code_api.testing.fake_directives import Directive

DEFAULT_REPLY = "Hello from the fake upstream."
STRUCTURED_OUTPUT_TOOL = "StructuredOutput"  # the tool the CLI adds under --json-schema


def _words(text: str) -> list[str]:
    """Split before each word, keeping the spaces, so every delta is visible token-by-token streaming."""
    return [piece for piece in re.split(r"(?<=\s)(?=\S)", text) if piece]


def _split(text: str, parts: int) -> list[str]:
    """`parts` non-empty pieces of near-equal length (fewer only if the text is shorter)."""
    n = max(1, min(parts, len(text)))
    return [text[len(text) * i // n : len(text) * (i + 1) // n] for i in range(n)]


_DELTA_KEYS = {
    "text": ("text_delta", "text"),
    "thinking": ("thinking_delta", "thinking"),
    "tool_use": ("input_json_delta", "partial_json"),
}


@dataclass
class Block:
    kind: str  # "text" | "thinking" | "tool_use"
    pieces: list[str]  # the streamed deltas; joined they are the block's content
    name: str = ""
    id: str = ""

    def start(self) -> JSONObject:
        if self.kind == "tool_use":
            return {"type": "tool_use", "id": self.id, "name": self.name, "input": {}}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": "", "signature": ""}
        return {"type": "text", "text": ""}

    def deltas(self) -> Iterator[JSONObject]:
        delta_type, key = _DELTA_KEYS[self.kind]
        for piece in self.pieces:
            yield {"type": delta_type, key: piece}
        if self.kind == "thinking":
            yield {"type": "signature_delta", "signature": self.signature()}

    def signature(self) -> str:
        # Only real Anthropic servers verify signatures; the CLI just stores and replays them.
        return base64.b64encode(hashlib.sha256("".join(self.pieces).encode()).digest()).decode()

    def whole(self) -> JSONObject:
        content = "".join(self.pieces)
        if self.kind == "tool_use":
            return {**self.start(), "input": json.loads(content)}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": content, "signature": self.signature()}
        return {"type": "text", "text": content}


@dataclass
class Reply:
    blocks: list[Block]
    stop_reason: str
    usage: dict[str, int]


def _without_directive(text: str) -> str:
    # Keep what precedes FAKE: on its line ("hi FAKE:{...}" -> "hi"); drop lines that held only the directive.
    return re.sub(r"^[ \t]*FAKE:.*\n?|[ \t]*FAKE:.*", "", text, flags=re.MULTILINE).strip()


def _reply_text(body: JSONObject, directive: Directive) -> str:
    if directive.echo:
        users = [m for m in messages_of(body) if m.get("role") == "user"]
        return _without_directive("\n".join(texts_of(users[-1].get("content")))) if users else ""
    return DEFAULT_REPLY if directive.reply is None else directive.reply


def _resolve_tool(body: JSONObject, name: str) -> str:
    # The CLI offers client functions as mcp__<server>__<name>, so tests may use the bare function name.
    offered = tool_names_of(body)
    return name if name in offered else next((t for t in offered if t.endswith("__" + name)), name)


def _tool_block(name: str, arguments: Any) -> Block:
    encoded = json.dumps(arguments)
    # At least two fragments, so clients must really accumulate partial_json.
    return Block("tool_use", _split(encoded, max(2, len(encoded) // 16)), name, "toolu_" + uuid.uuid4().hex[:24])


def plan_reply(body: JSONObject, directive: Directive) -> Reply:
    """Content blocks, stop reason and usage for a successful reply; shared by the SSE and the JSON answer."""
    calls = [(_resolve_tool(body, c["name"]), c.get("arguments", {})) for c in directive.tool_calls]
    if directive.json is not None:
        calls.append((STRUCTURED_OUTPUT_TOOL, directive.json))
    blocks = [Block("thinking", _words(directive.thinking))] if directive.thinking else []
    text = _reply_text(body, directive)
    if text and (directive.reply is not None or directive.echo or not calls):  # never an empty text block
        blocks.append(Block("text", _words(text) if directive.chunks is None else _split(text, directive.chunks)))
    blocks += [_tool_block(name, arguments) for name, arguments in calls]
    chars = sum(len(t) for m in messages_of(body) for t in texts_of(m.get("content"), reminders=True))
    usage = {"input_tokens": max(1, chars // 4), "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    usage |= {"output_tokens": max(1, sum(len(b.pieces) for b in blocks))} | directive.usage
    stop_reason = directive.stop_reason or ("tool_use" if calls else "end_turn")
    return Reply(blocks, stop_reason, usage)
