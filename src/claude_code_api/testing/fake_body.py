"""Reading Anthropic Messages API request bodies for the fake upstream (`fake_upstream`).

Owns the tolerant accessors for messages, content blocks, texts, tool results and offered tools, and the short text
rendering of a block used by `LoggedRequest.turns`. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

JSONObject = dict[str, Any]


def messages_of(body: JSONObject) -> list[JSONObject]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def blocks_of(content: Any) -> list[JSONObject]:
    """Content as a block list: the API accepts a bare string as shorthand for one text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def is_reminder(block: JSONObject) -> bool:
    # The CLI injects <system-reminder> text blocks into user messages; they are not what the test typed.
    return str(block.get("text", "")).lstrip().startswith("<system-reminder>")


def texts_of(content: Any, *, reminders: bool = False) -> list[str]:
    blocks = blocks_of(content)
    return [str(b.get("text", "")) for b in blocks if b.get("type") == "text" and (reminders or not is_reminder(b))]


def tool_results_of(content: Any) -> list[tuple[str, str]]:
    """(tool_use_id, text) per tool_result block; the result content may itself be a string or blocks."""
    blocks = [b for b in blocks_of(content) if b.get("type") == "tool_result"]
    return [(str(b.get("tool_use_id", "")), "\n".join(texts_of(b.get("content"), reminders=True))) for b in blocks]


def tool_names_of(body: JSONObject) -> list[str]:
    tools = body.get("tools")
    return [str(t["name"]) for t in tools if isinstance(t, dict) and "name" in t] if isinstance(tools, list) else []


def _image_marker(block: JSONObject) -> str:
    source = block.get("source")
    source = source if isinstance(source, dict) else {}
    data = str(source.get("data") or source.get("url") or "")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:  # a URL source, or not base64 at all: hash the text itself
        raw = data.encode()
    return f"[image {source.get('media_type', source.get('type', '?'))} {hashlib.sha256(raw).hexdigest()[:12]}]"


def render_block(block: JSONObject) -> str | None:
    """A block as short text: the text itself (None for a reminder), else a `[kind ...]` marker."""
    kind = block.get("type")
    if kind == "text":
        return None if is_reminder(block) else str(block.get("text", ""))
    if kind == "tool_use":
        return f"[tool_use {block.get('name')} {json.dumps(block.get('input'), separators=(',', ':'))}]"
    if kind == "tool_result":
        ((tool_id, text),) = tool_results_of([block])
        return f"[tool_result {tool_id}: {text}]"
    if kind == "image":
        return _image_marker(block)
    return f"[{kind}]"
