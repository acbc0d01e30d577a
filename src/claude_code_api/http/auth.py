"""Access control and per-request accounting, as pure ASGI middleware (``BaseHTTPMiddleware`` would hide
``http.disconnect`` from streaming routes), plus ``track``, the hook ``chat.py`` calls around its event stream.

The middleware authenticates every request except the probes, keeps the admin endpoints for the admin key,
applies per-key limits to chat completions, and, once the last byte is sent, hands the request's record to
``Operations.finish`` (usage ledger, metrics, access log). Concurrency is released there too, so a streaming
request holds its slot until its stream ends.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from claude_code_api.core.request import CompletionRequest
from claude_code_api.errors import ApiError, ModelNotFound, PermissionDenied
from claude_code_api.http.deps import state_of
from claude_code_api.http.errors import error_payload, send_error
from claude_code_api.ops.hub import Operations
from claude_code_api.ops.keys import Principal
from claude_code_api.ops.limits import AsyncLease
from claude_code_api.ops.usage import RequestRecord, Tagged, tap

PUBLIC_PATHS = frozenset(
    {"/health", "/ready", "/", "/console", "/console/console.js", "/console/console.css", "/console/config.json"}
)
METRICS_PATH = "/metrics"
ADMIN_PREFIX = "/v1/admin/"
LIMITED_ROUTES = frozenset({("POST", "/v1/chat/completions")})
KNOWN_PATHS = frozenset({"/v1/chat/completions", "/v1/models", "/v1/admin/usage", "/v1/admin/keys"})


def ops_of(connection: HTTPConnection) -> Operations:
    ops: Operations = connection.app.state.ops
    return ops


def presented_key(scope: Scope) -> str | None:
    """``Authorization: Bearer KEY`` as OpenAI clients send it, or ``x-api-key`` as Anthropic-style clients do."""
    headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return api_key or None


class AccessMiddleware:
    def __init__(self, app: ASGIApp, ops: Operations) -> None:
        self.app = app
        self.ops = ops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)  # probes and CORS pre-flights never carry a key
            return
        state = scope.setdefault("state", {})
        record = RequestRecord(
            request_id=str(state.get("request_id", "")),
            method=scope["method"],
            path=scope["path"],
            capture_text=self.ops.settings.log_prompts,
        )
        state["ops"] = record
        try:
            lease = await self._admit(scope, record)
        except ApiError as exc:
            record.error = type(exc).__name__
            record.status = await _reject(send, exc)
            await self._finish(scope, record, None)
            return
        await self._serve(scope, receive, send, record, lease)

    async def _admit(self, scope: Scope, record: RequestRecord) -> AsyncLease | None:
        principal = await self.ops.keys.authenticate_async(presented_key(scope))
        record.principal = principal
        self._authorize(scope["path"], principal)
        if (scope["method"], scope["path"]) in LIMITED_ROUTES:
            return await self.ops.limiter.acquire(principal)
        return None

    def _authorize(self, path: str, principal: Principal) -> None:
        if principal.admin or not (path == METRICS_PATH or path.startswith(ADMIN_PREFIX)):
            return
        if self.ops.keys.has_admin_key:
            raise PermissionDenied("This endpoint needs the admin key.")
        if path != METRICS_PATH:  # without an admin key, /metrics is for any valid key; admin data is for nobody
            raise PermissionDenied("Set CLAUDE_CODE_API_ADMIN_KEY to use the admin endpoints.")

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, record: RequestRecord, lease: AsyncLease | None
    ) -> None:
        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            await self._finish(scope, record, lease)

    async def _finish(self, scope: Scope, record: RequestRecord, lease: AsyncLease | None) -> None:
        if record.path == METRICS_PATH:
            return  # scrapes would drown the request metrics and the log (and are never limited: no lease)
        record.route = _route_template(scope)
        await self.ops.finish(record, lease)


def _route_template(scope: Scope) -> str:
    """The matched route's path template, so label values stay bounded. Requests rejected before routing have
    none; the fixed paths they most often aim at keep their name, anything else is "unmatched"."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return scope["path"] if scope["path"] in KNOWN_PATHS else "unmatched"


async def _reject(send: Send, exc: ApiError) -> int:
    status, payload, extra = error_payload(exc)
    await send_error(send, status, payload, extra)
    return status


def track(
    connection: HTTPConnection,
    requested_model: str,
    completion: CompletionRequest,
    events: AsyncGenerator[Tagged, None],
) -> AsyncGenerator[Tagged, None]:
    """Check the key may use the model, then observe the completion's events for usage, metrics and logs.

    Raises ``ModelNotFound`` (404, as OpenAI answers for a model a key cannot see) before any work starts.
    """
    record: RequestRecord | None = connection.scope.get("state", {}).get("ops")
    if record is None:  # the app runs without the access middleware (an embedding app's choice)
        return events
    principal = record.principal
    if principal is not None and not principal.may_use(completion.model, state_of(connection).models.resolve):
        raise ModelNotFound(requested_model)
    record.model = completion.model
    if record.capture_text:
        record.prompt = completion.prompt.text()
    return tap(record, events)
