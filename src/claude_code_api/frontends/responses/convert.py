"""Responses request (plus a stored conversation) → neutral ``CompletionRequest``.

``input`` items become role-separated ``Turn``s of Anthropic-shaped blocks: messages by role, ``function_call``
items as the assistant's ``tool_use`` blocks and ``function_call_output`` items as the user's ``tool_result``
blocks, so output items sent back as they are (``input += response.output``) reach Claude as real tool turns.
``reasoning`` items are dropped (Claude's thinking is not replayed from OpenAI's view of it). Every rejection is an
``InvalidRequest`` naming the offending field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from claude_code_api.core.content import document_block, image_block
from claude_code_api.core.models import ModelRegistry
from claude_code_api.core.request import Block, CompletionRequest, ToolChoice, ToolSpec, Turn
from claude_code_api.errors import InvalidRequest

# The same OpenAI vocabulary as chat completions: reasoning efforts and the system-only fallback prompt.
from claude_code_api.frontends.openai_chat.convert import EFFORTS, SYSTEM_ONLY_PROMPT
from claude_code_api.frontends.openai_functions import function_spec, object_schema, offered, tool_choice
from claude_code_api.frontends.responses.models import CreateResponse

_TEXT_PARTS = ("input_text", "output_text", "text", "refusal")


def to_completion_request(
    req: CreateResponse,
    registry: ModelRegistry,
    stored: Sequence[Turn],
    *,
    default_system: str,
    show_thinking: bool,
) -> CompletionRequest:
    """``stored`` is the conversation of ``previous_response_id`` (empty without one)."""
    model = registry.resolve(req.model)
    system_parts = [req.instructions] if req.instructions else []
    turns: list[Turn] = list(stored)
    for turn in input_turns(req.input, system_parts):
        append_merged(turns, turn)
    if len(turns) == len(stored) and system_parts and (not turns or turns[-1].role != "user"):
        append_merged(turns, Turn("user", ({"type": "text", "text": SYSTEM_ONLY_PROMPT},)))
    if not turns or turns[-1].role != "user":
        raise InvalidRequest(
            "The input must end with a user message or a function_call_output (assistant prefill is not supported).",
            param="input",
        )
    tools, tool_choice = _tools(req)
    return CompletionRequest(
        model=model,
        system="\n\n".join(p for p in system_parts if p) or default_system,
        history=tuple(turns[:-1]),
        prompt=turns[-1],
        max_tokens=req.max_output_tokens,
        effort=_effort(req),
        tools=tools,
        tool_choice=tool_choice,
        output_schema=_output_schema(req.text.format if req.text else None),
        show_thinking=show_thinking,
        client_view="openai",
        user_id=req.user,
    )


def append_merged(turns: list[Turn], turn: Turn) -> None:
    """Claude needs alternating roles; consecutive same-role items (a call and its sibling calls) merge."""
    if not turn.blocks:
        return
    if turns and turns[-1].role == turn.role:
        turns[-1] = Turn(turn.role, turns[-1].blocks + turn.blocks)
    else:
        turns.append(turn)


def input_turns(value: str | list[dict[str, Any]], system_parts: list[str]) -> list[Turn]:
    """The turns of ``input``; system and developer messages are appended to ``system_parts`` instead."""
    if isinstance(value, str):
        return [Turn("user", ({"type": "text", "text": value},))]
    turns: list[Turn] = []
    for i, item in enumerate(value):
        where = f"input[{i}]"
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role in ("system", "developer"):
                system_parts.append(_text_only(item.get("content"), f"{where}.content"))
                continue
            turn = _message_turn(role, item.get("content"), where)
        elif kind == "function_call":
            turn = Turn("assistant", (_tool_use(item, where),))
        elif kind == "function_call_output":
            turn = Turn("user", (_tool_result(item, where),))
        elif kind == "reasoning":
            continue
        else:
            raise InvalidRequest(f"Input items of type '{kind}' are not supported.", param=f"{where}.type")
        append_merged(turns, turn)
    return turns


def _message_turn(role: Any, content: Any, where: str) -> Turn:
    if role == "user":
        return Turn("user", tuple(_user_blocks(content, f"{where}.content")))
    if role == "assistant":
        text = _text_only(content, f"{where}.content")
        return Turn("assistant", ({"type": "text", "text": text},) if text else ())
    raise InvalidRequest(f"Unsupported role '{role}'; use user, assistant, system or developer.", param=f"{where}.role")


def _parts(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(p, dict) for p in content):
        raise InvalidRequest("Message content must be a string or a list of content parts.", param=where)
    return content


def _text_only(content: Any, where: str) -> str:
    texts = []
    for k, part in enumerate(_parts(content, where)):
        if part.get("type") not in _TEXT_PARTS:
            raise InvalidRequest(f"Content part type '{part.get('type')}' is not allowed here.", param=f"{where}[{k}]")
        value = part.get("text", part.get("refusal"))
        if not isinstance(value, str):
            raise InvalidRequest("A text part needs a string 'text'.", param=f"{where}[{k}].text")
        texts.append(value)
    return "".join(texts)


def _user_blocks(content: Any, where: str) -> list[Block]:
    blocks: list[Block] = []
    for k, part in enumerate(_parts(content, where)):
        kind, at = part.get("type"), f"{where}[{k}]"
        if kind in _TEXT_PARTS:
            text = _text_only([part], where)
            if text:
                blocks.append({"type": "text", "text": text})
        elif kind == "input_image":
            blocks.append(_image(part, at))
        elif kind == "input_file":
            blocks.append(_file(part, at))
        else:
            raise InvalidRequest(f"Content part type '{kind}' is not supported.", param=f"{at}.type")
    return blocks


def _image(part: dict[str, Any], where: str) -> Block:
    url = part.get("image_url")
    if not isinstance(url, str):
        if part.get("file_id"):
            raise InvalidRequest("Uploaded file ids are not supported; send image_url.", param=f"{where}.file_id")
        raise InvalidRequest("An input_image needs image_url (https: or data: URL).", param=f"{where}.image_url")
    return image_block(url, f"{where}.image_url")


def _file(part: dict[str, Any], where: str) -> Block:
    data = part.get("file_data")
    if not isinstance(data, str):
        missing = "file_id" if part.get("file_id") else "file_url" if part.get("file_url") else None
        if missing:
            raise InvalidRequest(f"input_file.{missing} is not supported; send file_data.", param=f"{where}.{missing}")
        raise InvalidRequest("An input_file needs file_data as a data: URL.", param=f"{where}.file_data")
    if not data.startswith("data:"):  # OpenAI also takes bare base64 of a PDF
        data = "data:application/pdf;base64," + data
    title = part.get("filename")
    return document_block(data, f"{where}.file_data", title=title if isinstance(title, str) else None)


def _tool_use(item: dict[str, Any], where: str) -> Block:
    call_id, name = item.get("call_id"), item.get("name")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest("A function_call needs call_id.", param=f"{where}.call_id")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("A function_call needs name.", param=f"{where}.name")
    arguments = item.get("arguments") or "{}"
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"arguments are not valid JSON: {exc}", param=f"{where}.arguments") from exc
    if not isinstance(parsed, dict):
        raise InvalidRequest("arguments must be a JSON object in a string.", param=f"{where}.arguments")
    return {"type": "tool_use", "id": call_id, "name": name, "input": parsed}


def _tool_result(item: dict[str, Any], where: str) -> Block:
    call_id, output = item.get("call_id"), item.get("output")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest("A function_call_output needs call_id.", param=f"{where}.call_id")
    if isinstance(output, list):
        output = _text_only(output, f"{where}.output")
    if not isinstance(output, str):
        raise InvalidRequest("A function_call_output needs output as a string.", param=f"{where}.output")
    return {"type": "tool_result", "tool_use_id": call_id, "content": output}


def _effort(req: CreateResponse) -> str | None:
    value = req.reasoning.effort if req.reasoning else None
    if value is None:
        return None
    if value not in EFFORTS:
        raise InvalidRequest(f"reasoning.effort must be one of {', '.join(EFFORTS)}.", param="reasoning.effort")
    return EFFORTS[value]


def _tools(req: CreateResponse) -> tuple[tuple[ToolSpec, ...], ToolChoice]:
    specs = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(req.tools or [])]
    value = req.tool_choice
    named = value.get("name") if isinstance(value, dict) else None
    names = {s.name for s in specs}
    choice = tool_choice(value, names, req.parallel_tool_calls, named=named, name_at="tool_choice.name")
    return offered(specs, choice)


def _tool(tool: dict[str, Any], where: str) -> ToolSpec:
    kind = tool.get("type")
    if kind != "function":
        raise InvalidRequest(
            f"Tools of type '{kind}' are not supported; only function tools are.", param=f"{where}.type"
        )
    return function_spec(
        tool.get("name"),
        tool.get("description"),
        tool.get("parameters"),
        name_at=f"{where}.name",
        parameters_at=f"{where}.parameters",
    )


def _output_schema(fmt: dict[str, Any] | None) -> dict[str, Any] | None:
    kind = (fmt or {}).get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind == "json_schema":
        return object_schema((fmt or {}).get("schema"), "text.format.schema")
    raise InvalidRequest("text.format.type must be text, json_object or json_schema.", param="text.format.type")
