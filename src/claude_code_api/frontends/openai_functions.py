"""OpenAI's function-calling vocabulary, shared by the chat completions and Responses front ends: a function's
name and parameters, ``tool_choice`` with ``parallel_tool_calls``, and structured output's object schema, each
checked and turned into Claude's terms (``ToolSpec``, ``ToolChoice``, a JSON schema). The two dialects nest these
fields differently (``tools[i].function.name`` against ``tools[i].name``), so callers say where each field is."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from claude_code_api.core.request import ToolChoice, ToolSpec
from claude_code_api.core.schema_check import check_json_schema
from claude_code_api.errors import InvalidRequest

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def function_spec(name: Any, description: Any, parameters: Any, *, name_at: str, parameters_at: str) -> ToolSpec:
    """One function, checked: a valid name, and parameters that are a JSON Schema object (none: no parameters)."""
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        raise InvalidRequest("Function names must match ^[a-zA-Z0-9_-]{1,64}$.", param=name_at)
    params = parameters if parameters is not None else dict(EMPTY_PARAMETERS)
    if not isinstance(params, dict) or params.get("type", "object") != "object":
        raise InvalidRequest("Function parameters must be a JSON Schema object.", param=parameters_at)
    check_json_schema(params, parameters_at)
    return ToolSpec(name, description if isinstance(description, str) else "", params)


def offered(specs: Sequence[ToolSpec], choice: ToolChoice) -> tuple[tuple[ToolSpec, ...], ToolChoice]:
    """The functions Claude is offered under ``choice``: none with ``none``; with no functions, no choice."""
    if len({s.name for s in specs}) != len(specs):
        raise InvalidRequest("Function names must be unique.", param="tools")
    if choice.mode == "none":
        return (), choice
    return tuple(specs), choice if specs else ToolChoice()


def tool_choice(value: Any, names: set[str], parallel: bool | None, *, named: Any, name_at: str) -> ToolChoice:
    """OpenAI's ``tool_choice`` (``named``: the function name a ``{"type": "function", …}`` choice carries)."""
    single = parallel is False
    if value is None or value == "auto":
        return ToolChoice("auto", disable_parallel_tool_use=single)
    if value == "none":
        return ToolChoice("none")
    if value == "required":
        return ToolChoice("any", disable_parallel_tool_use=single)
    if isinstance(value, dict) and value.get("type") == "function":
        if not isinstance(named, str):
            raise InvalidRequest(f"{name_at} must be a string.", param=name_at)
        if named in names:
            return ToolChoice("tool", named, disable_parallel_tool_use=single)
        raise InvalidRequest(f"tool_choice names an unknown function '{named}'.", param="tool_choice")
    raise InvalidRequest("tool_choice must be none, auto, required or a function.", param="tool_choice")


def object_schema(schema: Any, where: str) -> dict[str, Any]:
    """A structured-output schema: a valid JSON Schema of type object."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidRequest(f"{where} must be a JSON Schema of type object.", param=where)
    check_json_schema(schema, where)
    return schema
