"""``CompletionService``: the one way a front end runs completions, whatever its dialect.

It owns what every completion must get and no route may forget: the key's model authorization (a model a key may
not use is "not found", as OpenAI and Anthropic answer), the key's per-request limits and concurrency lease, the
request's record for usage accounting, metrics and the access log (``Operations.finish`` closes it once the last
byte is out), the ``n`` fan-out, and a well-formed block lifecycle for every choice's events.

A front end converts its request to a neutral ``CompletionRequest``, calls ``stream`` and renders what comes back.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace

from claude_code_api.core.blocks import well_formed
from claude_code_api.core.events import Event
from claude_code_api.core.models import ModelRegistry
from claude_code_api.core.request import AgentSpec, CompletionRequest
from claude_code_api.engine.base import Engine
from claude_code_api.errors import InvalidRequest, ModelNotFound, PermissionDenied
from claude_code_api.ops.hub import Operations
from claude_code_api.ops.keys import Principal
from claude_code_api.ops.usage import RequestRecord, Tagged, tap
from claude_code_api.service.fanout import merge_choices
from claude_code_api.service.workspaces import Workspaces
from claude_code_api.settings import Settings


class CompletionService:
    def __init__(
        self, engine: Engine, models: ModelRegistry, ops: Operations | None, settings: Settings | None = None
    ) -> None:
        self.engine = engine
        self.models = models
        self._ops = ops
        self._settings = settings or Settings()
        self.workspaces = Workspaces(self._settings)

    async def stream(
        self, record: RequestRecord | None, request: CompletionRequest, *, requested_model: str, n: int = 1
    ) -> AsyncGenerator[Tagged, None]:
        """Admit the completion for the request's key, then return its events tagged with their choice index.

        Raises before any work starts: ``ModelNotFound`` for a model the key may not use, ``RateLimited`` for a key
        over its limits, ``PermissionDenied`` for agent mode on a key without that permission.
        ``record`` is None only where the app runs without its access middleware.
        """
        if request.agent is not None:
            if request.tools:
                raise InvalidRequest(
                    "Agent mode runs Claude Code's own tools; it does not take functions.", param="tools"
                )
            request = replace(request, agent=self.agent_spec(record.principal if record else None, request.agent))
        if record is not None:
            await self._admit(record, request, requested_model)
        streams = [well_formed(self.engine.stream(request)) for _ in range(n)]
        events = merge_choices(streams) if n > 1 else _tagged(streams[0])
        return tap(record, events) if record is not None else events

    async def _admit(self, record: RequestRecord, request: CompletionRequest, requested_model: str) -> None:
        principal = record.principal
        if principal is not None and not principal.may_use(request.model, self.models.resolve):
            raise ModelNotFound(requested_model)
        record.model = request.model
        if record.capture_text:
            record.prompt = request.prompt.text()
        if principal is not None and self._ops is not None and record.lease is None:
            record.lease = await self._ops.limiter.acquire(principal)

    def agent_spec(self, principal: Principal | None, asked: AgentSpec) -> AgentSpec:
        """Agent mode as it will run: allowed for this key, in its workspace (created on first use), with the
        operator's tools (or the fewer the request named) and turn limit (or the lower the request named)."""
        settings = self._settings
        if not settings.agent:
            raise InvalidRequest(
                "Agent mode is off on this server (the operator turns it on with CLAUDE_CODE_API_AGENT=true).",
                param="claude_code",
            )
        if principal is not None and not principal.agent:
            raise PermissionDenied(
                f"The API key '{principal.name}' may not use agent mode; create one with `claude-code-api keys "
                "create NAME --agent`."
            )
        bound = list(dict.fromkeys(settings.agent_tools))
        refused = [t for t in asked.tools if t not in bound]
        if refused:
            raise InvalidRequest(
                f"Tools not allowed on this server: {', '.join(refused)} (allowed: {', '.join(bound)}).",
                param="claude_code.tools",
            )
        turns = min(asked.max_turns or settings.agent_max_turns, settings.agent_max_turns)
        directory = self.workspaces.directory(principal, asked.workspace)
        return replace(asked, tools=asked.tools or tuple(bound), max_turns=turns, directory=str(directory))


async def _tagged(events: AsyncIterator[Event]) -> AsyncGenerator[Tagged, None]:
    try:
        async for event in events:
            yield 0, event
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
