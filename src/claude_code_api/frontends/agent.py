"""What a request of any dialect asks of agent mode: the ``claude_code`` extension object (OpenAI SDKs send it
with ``extra_body``; on ``/v1/messages`` and ``/v1/responses`` it is a top-level field) and agent model names
(``sonnet-agent``), for clients that can only pick a model. Both lead to one ``AgentSpec``; the completion service
then decides whether the key may use it and where its workspace is."""

from __future__ import annotations

from typing import Any

from claude_code_api.core.models import ModelRegistry
from claude_code_api.core.request import AgentSpec
from claude_code_api.errors import InvalidRequest
from claude_code_api.service.workspaces import DEFAULT_WORKSPACE, check_name

EXTENSION = "claude_code"
_KEYS = {"workspace", "tools", "max_turns"}


def agent_ask(model: str, extension: Any, registry: ModelRegistry, *, enabled: bool) -> tuple[str, AgentSpec | None]:
    """The chat model name to run and the agent mode asked for (None: a plain chat request)."""
    base = registry.agent_base(model) if enabled else None
    if extension is None and base is None:
        return model, None
    if extension is not None and not isinstance(extension, dict):
        raise InvalidRequest(f"{EXTENSION} must be an object like {{'workspace': 'name'}}.", param=EXTENSION)
    asked = extension or {}
    unknown = sorted(set(asked) - _KEYS)
    if unknown:
        raise InvalidRequest(f"Unknown {EXTENSION} fields: {', '.join(unknown)}.", param=EXTENSION)
    workspace = check_name(asked.get("workspace", DEFAULT_WORKSPACE))
    return base or model, AgentSpec(workspace, _tools(asked.get("tools")), _max_turns(asked.get("max_turns")))


def _tools(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(t, str) and t for t in value):
        raise InvalidRequest(f"{EXTENSION}.tools must be a non-empty list of tool names.", param=f"{EXTENSION}.tools")
    return tuple(dict.fromkeys(value))


def _max_turns(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"{EXTENSION}.max_turns must be a positive integer.", param=f"{EXTENSION}.max_turns")
    return value
