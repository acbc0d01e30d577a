"""OpenAI chat request → neutral ``CompletionRequest``.

Every rejection is an ``InvalidRequest`` naming the offending field, so the client gets a 400 it can act on.
The history stays role-separated: each OpenAI message becomes a ``Turn`` of Anthropic-shaped blocks.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from claude_code_api.core.models import ModelRegistry
from claude_code_api.core.request import Block, CompletionRequest, ToolSpec, Turn
from claude_code_api.errors import InvalidRequest
from claude_code_api.protocol.openai_chat import ChatCompletionRequest, ChatMessage

IMAGE_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DATA_URL = re.compile(r"^data:(?P<media>[\w/+.-]+);base64,(?P<data>.*)$", re.DOTALL)
# OpenAI's reasoning_effort → Claude Code's --effort (Claude has no "none"/"minimal": the lowest is "low").
EFFORTS = {
    "none": "low",
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}


def to_completion_request(
    req: ChatCompletionRequest, registry: ModelRegistry, *, default_system: str, want_reasoning: bool
) -> CompletionRequest:
    model = registry.resolve(req.model)
    system_parts: list[str] = []
    turns: list[Turn] = []
    for i, message in enumerate(req.messages):
        if message.role in ("system", "developer"):
            system_parts.append(_text_only(message.content, f"messages[{i}].content"))
            continue
        turn = _to_turn(message, i)
        if turn.blocks:
            _append_merged(turns, turn)
    if not turns or turns[-1].role != "user":
        raise InvalidRequest(
            "The last message must be a user or tool message (assistant prefill is not supported).", param="messages"
        )
    tools, tool_choice = _tools(req)
    return CompletionRequest(
        model=model,
        system="\n\n".join(p for p in system_parts if p) or default_system,
        history=tuple(turns[:-1]),
        prompt=turns[-1],
        max_tokens=req.max_completion_tokens or req.max_tokens,
        effort=_effort(req.reasoning_effort),
        stop=_stop(req.stop),
        tools=tools,
        tool_choice=tool_choice,
        output_schema=_output_schema(req.response_format),
        want_reasoning=want_reasoning,
    )


def _append_merged(turns: list[Turn], turn: Turn) -> None:
    """Claude needs alternating roles; consecutive same-role messages (e.g. several tool results) merge."""
    if turns and turns[-1].role == turn.role:
        turns[-1] = Turn(turn.role, turns[-1].blocks + turn.blocks)
    else:
        turns.append(turn)


def _to_turn(message: ChatMessage, i: int) -> Turn:
    where = f"messages[{i}]"
    if message.role == "user":
        return Turn("user", tuple(_user_blocks(message.content, f"{where}.content")))
    if message.role == "assistant":
        blocks = [{"type": "text", "text": t} for t in [_text_only(message.content, f"{where}.content")] if t]
        for j, call in enumerate(message.tool_calls or []):
            blocks.append(
                _tool_use_block(call.id, call.function.name, call.function.arguments, f"{where}.tool_calls[{j}]")
            )
        return Turn("assistant", tuple(blocks))
    if message.role == "tool":
        if not message.tool_call_id:
            raise InvalidRequest("A tool message needs tool_call_id.", param=f"{where}.tool_call_id")
        text = _text_only(message.content, f"{where}.content")
        return Turn("user", ({"type": "tool_result", "tool_use_id": message.tool_call_id, "content": text},))
    raise InvalidRequest(f"Unsupported role '{message.role}'.", param=f"{where}.role")


def _tool_use_block(call_id: str, name: str, arguments: str, where: str) -> Block:
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"Tool call arguments are not valid JSON: {exc}", param=f"{where}.function.arguments"
        ) from exc
    if not isinstance(parsed, dict):
        raise InvalidRequest("Tool call arguments must be a JSON object.", param=f"{where}.function.arguments")
    return {"type": "tool_use", "id": call_id, "name": name, "input": parsed}


def _parts(content: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content


def _text_only(content: str | list[dict[str, Any]] | None, where: str) -> str:
    texts = []
    for k, part in enumerate(_parts(content)):
        kind = part.get("type")
        if kind in ("text", "refusal", "input_text", "output_text"):
            value = part.get("text", part.get("refusal"))
            if not isinstance(value, str):
                raise InvalidRequest("A text part needs a string 'text'.", param=f"{where}[{k}].text")
            texts.append(value)
        else:
            raise InvalidRequest(f"Content part type '{kind}' is not allowed here.", param=f"{where}[{k}].type")
    return "".join(texts)


def _user_blocks(content: str | list[dict[str, Any]] | None, where: str) -> list[Block]:
    blocks: list[Block] = []
    for k, part in enumerate(_parts(content)):
        kind = part.get("type")
        if kind in ("text", "input_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidRequest("A text part needs a string 'text'.", param=f"{where}[{k}].text")
            if text:
                blocks.append({"type": "text", "text": text})
        elif kind in ("image_url", "input_image"):
            blocks.append(image_block(part, f"{where}[{k}]"))
        else:
            raise InvalidRequest(f"Content part type '{kind}' is not supported.", param=f"{where}[{k}].type")
    return blocks


def image_block(part: dict[str, Any], where: str) -> Block:
    """``data:`` URLs become base64 image blocks; ``https:`` URLs are passed for Claude to fetch, never fetched here."""
    spec = part.get("image_url")
    url = spec.get("url") if isinstance(spec, dict) else spec
    if not isinstance(url, str):
        raise InvalidRequest("An image part needs image_url.url.", param=f"{where}.image_url.url")
    if url.startswith("https://"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    match = _DATA_URL.match(url)
    if not match:
        raise InvalidRequest("Images must be https: URLs or base64 data: URLs.", param=f"{where}.image_url.url")
    media = match["media"].lower()
    if media not in IMAGE_MEDIA_TYPES:
        allowed = ", ".join(sorted(IMAGE_MEDIA_TYPES))
        raise InvalidRequest(f"Image type {media} is not supported ({allowed}).", param=f"{where}.image_url.url")
    data = re.sub(r"\s+", "", match["data"])
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("The image data is not valid base64.", param=f"{where}.image_url.url") from None
    if len(raw) > MAX_IMAGE_BYTES:
        raise InvalidRequest(f"Images are limited to {MAX_IMAGE_BYTES} bytes.", param=f"{where}.image_url.url")
    return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}


def _effort(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in EFFORTS:
        raise InvalidRequest(f"reasoning_effort must be one of {', '.join(EFFORTS)}.", param="reasoning_effort")
    return EFFORTS[value]


def _stop(value: str | list[str] | None) -> tuple[str, ...]:
    stops = [value] if isinstance(value, str) else list(value or [])
    if len(stops) > 4:
        raise InvalidRequest("At most 4 stop sequences are allowed.", param="stop")
    return tuple(s for s in stops if s)


def _tools(req: ChatCompletionRequest) -> tuple[tuple[ToolSpec, ...], str]:
    specs = []
    for i, tool in enumerate(req.tools or []):
        where = f"tools[{i}]"
        if tool.type != "function" or tool.function is None:
            raise InvalidRequest("Only tools of type 'function' are supported.", param=f"{where}.type")
        fn = tool.function
        if not _TOOL_NAME.match(fn.name):
            raise InvalidRequest("Function names must match ^[a-zA-Z0-9_-]{1,64}$.", param=f"{where}.function.name")
        params = fn.parameters if fn.parameters is not None else {"type": "object", "properties": {}}
        if not isinstance(params, dict) or params.get("type", "object") != "object":
            raise InvalidRequest(
                "Function parameters must be a JSON Schema object.", param=f"{where}.function.parameters"
            )
        specs.append(ToolSpec(fn.name, fn.description or "", params))
    if len({s.name for s in specs}) != len(specs):
        raise InvalidRequest("Function names must be unique.", param="tools")
    choice = _tool_choice(req.tool_choice, {s.name for s in specs})
    if choice == "none":
        return (), "none"
    return tuple(specs), choice if specs else "auto"


def _tool_choice(value: str | dict[str, Any] | None, names: set[str]) -> str:
    if value is None or value in ("auto", "none", "required"):
        return str(value or "auto")
    if isinstance(value, dict) and value.get("type") == "function":
        name = (value.get("function") or {}).get("name")
        if name in names:
            return f"function:{name}"
        raise InvalidRequest(f"tool_choice names an unknown function '{name}'.", param="tool_choice")
    raise InvalidRequest("tool_choice must be none, auto, required or a function.", param="tool_choice")


def _output_schema(fmt: dict[str, Any] | None) -> dict[str, Any] | None:
    kind = (fmt or {}).get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind == "json_schema":
        schema = (fmt or {}).get("json_schema", {}).get("schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise InvalidRequest(
                "response_format.json_schema.schema must be a JSON Schema of type object.",
                param="response_format.json_schema.schema",
            )
        return schema
    raise InvalidRequest("response_format.type must be text, json_object or json_schema.", param="response_format")
