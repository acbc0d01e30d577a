"""OpenAI chat request → neutral ``CompletionRequest``.

Every rejection is an ``InvalidRequest`` naming the offending field, so the client gets a 400 it can act on.
The history stays role-separated: each OpenAI message becomes a ``Turn`` of Anthropic-shaped blocks.
"""

from __future__ import annotations

import json
from typing import Any

from claude_code_api.core.content import document_block, image_block
from claude_code_api.core.models import ModelRegistry
from claude_code_api.core.request import Block, CompletionRequest, ToolChoice, ToolSpec, Turn
from claude_code_api.errors import InvalidRequest
from claude_code_api.frontends.openai_chat.models import ChatCompletionRequest, ChatMessage
from claude_code_api.frontends.openai_functions import function_spec, object_schema, offered, tool_choice

# What Claude is asked when a conversation has only system messages (e.g. a summarisation prompt template):
# OpenAI answers those, treating the system text as the instruction.
SYSTEM_ONLY_PROMPT = "Follow the instructions above."
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
    req: ChatCompletionRequest, registry: ModelRegistry, *, default_system: str, show_thinking: bool
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
    if not turns and system_parts:
        turns.append(Turn("user", ({"type": "text", "text": SYSTEM_ONLY_PROMPT},)))
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
        stop_sequences=_stop(req.stop),
        tools=tools,
        tool_choice=tool_choice,
        output_schema=_output_schema(req.response_format),
        show_thinking=show_thinking,
        client_view="openai",
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
            blocks.append(image_block(_image_url(part, f"{where}[{k}]"), f"{where}[{k}].image_url.url"))
        elif kind == "file":
            blocks.append(_file_block(part, f"{where}[{k}]"))
        else:
            raise InvalidRequest(f"Content part type '{kind}' is not supported.", param=f"{where}[{k}].type")
    return blocks


def _image_url(part: dict[str, Any], where: str) -> str:
    spec = part.get("image_url")
    url = spec.get("url") if isinstance(spec, dict) else spec
    if not isinstance(url, str):
        raise InvalidRequest("An image part needs image_url.url.", param=f"{where}.image_url.url")
    return url


def _file_block(part: dict[str, Any], where: str) -> Block:
    """``{"type": "file", "file": {"filename", "file_data": "data:application/pdf;base64,…"}}`` → a document."""
    spec = part.get("file")
    data = spec.get("file_data") if isinstance(spec, dict) else None
    if not isinstance(data, str):
        if isinstance(spec, dict) and spec.get("file_id"):
            raise InvalidRequest("Uploaded file ids are not supported; send file_data.", param=f"{where}.file.file_id")
        raise InvalidRequest("A file part needs file.file_data as a data: URL.", param=f"{where}.file.file_data")
    title = spec.get("filename") if isinstance(spec, dict) else None
    return document_block(data, f"{where}.file.file_data", title=title if isinstance(title, str) else None)


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


def _tools(req: ChatCompletionRequest) -> tuple[tuple[ToolSpec, ...], ToolChoice]:
    specs = []
    for i, tool in enumerate(req.tools or []):
        where = f"tools[{i}]"
        if tool.type != "function" or tool.function is None:
            raise InvalidRequest("Only tools of type 'function' are supported.", param=f"{where}.type")
        fn = tool.function
        at = f"{where}.function"
        specs.append(
            function_spec(
                fn.name, fn.description, fn.parameters, name_at=f"{at}.name", parameters_at=f"{at}.parameters"
            )
        )
    value = req.tool_choice
    function = value.get("function") if isinstance(value, dict) else None
    named = function.get("name") if isinstance(function, dict) else None
    names = {s.name for s in specs}
    choice = tool_choice(value, names, req.parallel_tool_calls, named=named, name_at="tool_choice.function.name")
    return offered(specs, choice)


def _output_schema(fmt: dict[str, Any] | None) -> dict[str, Any] | None:
    kind = (fmt or {}).get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind == "json_schema":
        spec = (fmt or {}).get("json_schema")
        if not isinstance(spec, dict):
            raise InvalidRequest(
                "response_format.json_schema must be an object with a schema.", param="response_format.json_schema"
            )
        return object_schema(spec.get("schema"), "response_format.json_schema.schema")
    raise InvalidRequest("response_format.type must be text, json_object or json_schema.", param="response_format")
