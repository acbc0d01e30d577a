"""Anthropic Messages request → neutral ``CompletionRequest``, losslessly where Claude Code can carry it.

Blocks are checked and reduced to the keys Claude's API defines for them (``cache_control``, ``citations`` and
``caller`` are accepted and dropped: Claude Code places its own cache breakpoints), so the history compares equal
to what a live process recorded of its answers (``client_view="anthropic"``) and a follow-up reuses the process.
Signed thinking blocks pass through unchanged. Every rejection is an ``InvalidRequest`` naming the field.
"""

from __future__ import annotations

import re
from typing import Any

from claude_code_api.core.content import (
    document_source_block,
    image_source_block,
)
from claude_code_api.core.models import ModelRegistry
from claude_code_api.core.request import Block, CompletionRequest, ToolChoice, ToolSpec, Turn
from claude_code_api.core.schema_check import check_json_schema
from claude_code_api.errors import InvalidRequest
from claude_code_api.frontends.anthropic.models import InputMessage, MessagesRequest, _MessagesBase

EFFORTS = frozenset({"low", "medium", "high", "xhigh", "max"})
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def to_completion_request(req: MessagesRequest, registry: ModelRegistry, *, default_system: str) -> CompletionRequest:
    model = registry.resolve(req.model)
    system, turns = conversation(req, default_system)
    if turns[-1].role != "user":
        raise InvalidRequest(
            "The last message must be a user message (assistant prefill is not supported).", param="messages"
        )
    tools, choice = _tools(req)
    thinking, show = _thinking(req.thinking)
    effort, schema = _output_config(req.output_config)
    metadata = req.metadata or {}
    user_id = metadata.get("user_id")
    return CompletionRequest(
        model=model,
        system=system,
        history=tuple(turns[:-1]),
        prompt=turns[-1],
        max_tokens=req.max_tokens,
        effort=effort,
        stop_sequences=tuple(s for s in req.stop_sequences or [] if s),
        tools=tools,
        tool_choice=choice,
        output_schema=schema,
        thinking=thinking,
        show_thinking=show,
        client_view="anthropic",
        user_id=user_id if isinstance(user_id, str) else None,
    )


def conversation(req: _MessagesBase, default_system: str) -> tuple[str, list[Turn]]:
    """The system text and the role-separated turns (consecutive same-role messages merged, as Claude needs)."""
    system_parts = [_system_text(req.system, "system")] if req.system is not None else []
    turns: list[Turn] = []
    for i, message in enumerate(req.messages):
        if message.role == "system":  # anthropic SDK 2.x lets a system message stand in the list
            system_parts.append(_system_text(message.content, f"messages[{i}].content"))
            continue
        blocks = tuple(_blocks(message, f"messages[{i}].content"))
        if not blocks:
            continue
        if turns and turns[-1].role == message.role:
            turns[-1] = Turn(message.role, turns[-1].blocks + blocks)
        else:
            turns.append(Turn(message.role, blocks))
    if not turns:
        raise InvalidRequest("messages must hold at least one non-empty user message.", param="messages")
    return "\n\n".join(p for p in system_parts if p) or default_system, turns


def _system_text(value: str | list[dict[str, Any]], where: str) -> str:
    if isinstance(value, str):
        return value
    texts = []
    for k, block in enumerate(value):
        if block.get("type") != "text" or not isinstance(block.get("text"), str):
            raise InvalidRequest("System blocks must be text blocks.", param=f"{where}[{k}]")
        texts.append(block["text"])
    return "\n\n".join(texts)


def _blocks(message: InputMessage, where: str) -> list[Block]:
    if isinstance(message.content, str):
        return [{"type": "text", "text": message.content}] if message.content else []
    blocks = []
    for k, block in enumerate(message.content):
        converted = content_block(block, message.role, f"{where}[{k}]")
        if converted is not None:
            blocks.append(converted)
    return blocks


def content_block(block: dict[str, Any], role: str, where: str) -> Block | None:
    """One client block in Claude's own shape (None for an empty text block, which the API would refuse)."""
    kind = block.get("type")
    if kind == "text":
        text = _string(block, "text", where)
        return {"type": "text", "text": text} if text else None
    if kind == "image" and role == "user":
        return _image(block, where)
    if kind == "document" and role == "user":
        return _document(block, where)
    if kind == "tool_result" and role == "user":
        return _tool_result(block, where)
    if kind == "tool_use" and role == "assistant":
        return _tool_use(block, where)
    if kind == "thinking" and role == "assistant":
        return {
            "type": "thinking",
            "thinking": _string(block, "thinking", where),
            "signature": _string(block, "signature", where),
        }
    if kind == "redacted_thinking" and role == "assistant":
        return {"type": "redacted_thinking", "data": _string(block, "data", where)}
    raise InvalidRequest(f"Content block type '{kind}' is not supported in a {role} message.", param=f"{where}.type")


def _string(block: dict[str, Any], key: str, where: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"'{key}' must be a string.", param=f"{where}.{key}")
    return value


def _source(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise InvalidRequest("The block needs a source object.", param=f"{where}.source")
    return source


def _image(block: dict[str, Any], where: str) -> Block:
    source = _source(block, where)
    if source.get("type") == "url":
        url = _string(source, "url", f"{where}.source")
        return {"type": "image", "source": {"type": "url", "url": url}}
    if source.get("type") != "base64":
        raise InvalidRequest("Image sources must be base64 or url.", param=f"{where}.source.type")
    media = str(source.get("media_type", "")).lower()
    return image_source_block(media, _string(source, "data", f"{where}.source"), f"{where}.source.data")


def _document(block: dict[str, Any], where: str) -> Block:
    source = _source(block, where)
    kind = source.get("type")
    title = block.get("title") if isinstance(block.get("title"), str) else None
    if kind == "text":
        text = _string(source, "data", f"{where}.source")
        out: Block = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}
        return {**out, "title": title} if title else out
    if kind == "url":
        url = _string(source, "url", f"{where}.source")
        out = {"type": "document", "source": {"type": "url", "url": url}}
        return {**out, "title": title} if title else out
    if kind != "base64":
        raise InvalidRequest("Document sources must be base64, text or url.", param=f"{where}.source.type")
    media = str(source.get("media_type", "")).lower()
    data = _string(source, "data", f"{where}.source")
    return document_source_block(media, data, f"{where}.source.data", title=title)


def _tool_result(block: dict[str, Any], where: str) -> Block:
    tool_use_id = _string(block, "tool_use_id", where)
    content = block.get("content", "")
    if isinstance(content, list):
        content = [_tool_result_part(part, f"{where}.content[{j}]") for j, part in enumerate(content)]
    elif not isinstance(content, str):
        raise InvalidRequest("tool_result content must be a string or a list of blocks.", param=f"{where}.content")
    out: Block = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    if block.get("is_error"):
        out["is_error"] = True
    return out


def _tool_result_part(part: dict[str, Any], where: str) -> Block:
    if part.get("type") == "text":
        return {"type": "text", "text": _string(part, "text", where)}
    if part.get("type") == "image":
        return _image(part, where)
    raise InvalidRequest("tool_result content blocks must be text or image.", param=f"{where}.type")


def _tool_use(block: dict[str, Any], where: str) -> Block:
    arguments = block.get("input", {})
    if not isinstance(arguments, dict):
        raise InvalidRequest("tool_use input must be an object.", param=f"{where}.input")
    return {
        "type": "tool_use",
        "id": _string(block, "id", where),
        "name": _string(block, "name", where),
        "input": arguments,
    }


def _tools(req: MessagesRequest) -> tuple[tuple[ToolSpec, ...], ToolChoice]:
    specs = []
    for i, tool in enumerate(req.tools or []):
        where = f"tools[{i}]"
        if tool.get("type") not in (None, "custom"):
            raise InvalidRequest(
                f"Tool type '{tool.get('type')}' is not supported; only client tools.", param=f"{where}.type"
            )
        name = tool.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise InvalidRequest("Tool names must match ^[a-zA-Z0-9_-]{1,64}$.", param=f"{where}.name")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise InvalidRequest("input_schema must be a JSON Schema of type object.", param=f"{where}.input_schema")
        check_json_schema(schema, f"{where}.input_schema")
        description = tool.get("description")
        specs.append(ToolSpec(name, description if isinstance(description, str) else "", schema))
    if len({s.name for s in specs}) != len(specs):
        raise InvalidRequest("Tool names must be unique.", param="tools")
    choice = _tool_choice(req.tool_choice, {s.name for s in specs})
    if choice.mode == "none" or not specs:
        return (), ToolChoice("none") if choice.mode == "none" else ToolChoice()
    return tuple(specs), choice


def _tool_choice(value: dict[str, Any] | None, names: set[str]) -> ToolChoice:
    if value is None:
        return ToolChoice()
    mode = value.get("type")
    single = bool(value.get("disable_parallel_tool_use"))
    if mode in ("auto", "any", "none"):
        return ToolChoice(mode, disable_parallel_tool_use=single)
    if mode == "tool":
        name = value.get("name")
        if not isinstance(name, str) or name not in names:
            raise InvalidRequest(f"tool_choice names an unknown tool '{name}'.", param="tool_choice.name")
        return ToolChoice("tool", name, disable_parallel_tool_use=single)
    raise InvalidRequest("tool_choice.type must be auto, any, tool or none.", param="tool_choice.type")


def _thinking(value: dict[str, Any] | None) -> tuple[dict[str, Any] | None, bool]:
    """Claude's thinking setting for Claude Code, and whether the answer shows thinking blocks."""
    if value is None:
        return None, False
    kind = value.get("type")
    if kind == "enabled":
        budget = value.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise InvalidRequest(
                "thinking.budget_tokens must be an integer of at least 1024.", param="thinking.budget_tokens"
            )
        return {"type": "enabled", "budget_tokens": budget}, True
    if kind == "adaptive":
        return {"type": "adaptive"}, True
    if kind == "disabled":
        return {"type": "disabled"}, False
    raise InvalidRequest("thinking.type must be enabled, adaptive or disabled.", param="thinking.type")


def _output_config(value: dict[str, Any] | None) -> tuple[str | None, dict[str, Any] | None]:
    value = value or {}
    effort = value.get("effort")
    if effort is not None and effort not in EFFORTS:
        raise InvalidRequest(
            f"output_config.effort must be one of {', '.join(sorted(EFFORTS))}.", param="output_config.effort"
        )
    fmt = value.get("format")
    if fmt is None:
        return effort, None
    schema = fmt.get("schema") if isinstance(fmt, dict) and fmt.get("type") == "json_schema" else None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidRequest(
            "output_config.format must be {type: json_schema, schema: <object schema>}.", param="output_config.format"
        )
    check_json_schema(schema, "output_config.format.schema")
    return effort, schema
