"""Access control and per-request accounting, as pure ASGI middleware (``BaseHTTPMiddleware`` would hide
``http.disconnect`` from streaming routes).

The middleware authenticates every request except the probes, keeps the admin endpoints for the admin key, puts
the request's record in the scope (the completion service fills in the model, the key's lease and the usage), and,
once the last byte is sent, hands the record to ``Operations.finish`` (lease released, usage ledger, metrics,
access log), so a streaming request holds its key's concurrency until its stream ends. Rejections are rendered in
the dialect of the path asked for.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from claude_code_api.errors import ApiError, PermissionDenied
from claude_code_api.http.deps import plain_routes
from claude_code_api.http.errors import ErrorDialects, send_api_error
from claude_code_api.ops.hub import Operations
from claude_code_api.ops.keys import Principal
from claude_code_api.ops.usage import RequestRecord

PUBLIC_PATHS = frozenset(
    {"/health", "/ready", "/", "/console", "/console/console.js", "/console/console.css", "/console/config.json"}
)
METRICS_PATH = "/metrics"
ADMIN_PREFIX = "/v1/admin/"


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
    def __init__(self, app: ASGIApp, ops: Operations, dialects: ErrorDialects) -> None:
        self.app = app
        self.ops = ops
        self.dialects = dialects

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
            await self._admit(scope, record)
        except ApiError as exc:
            record.error = type(exc).__name__
            record.status = await send_api_error(self.dialects, scope, send, exc)
            await self._finish(scope, record)
            return
        await self._serve(scope, receive, send, record)

    async def _admit(self, scope: Scope, record: RequestRecord) -> None:
        principal = await self.ops.keys.authenticate_async(presented_key(scope))
        record.principal = principal
        self._authorize(scope["path"], principal)

    def _authorize(self, path: str, principal: Principal) -> None:
        if principal.admin or not (path == METRICS_PATH or path.startswith(ADMIN_PREFIX)):
            return
        if self.ops.keys.has_admin_key:
            raise PermissionDenied("This endpoint needs the admin key.")
        if path != METRICS_PATH:  # without an admin key, /metrics is for any valid key; admin data is for nobody
            raise PermissionDenied("Set CLAUDE_CODE_API_ADMIN_KEY to use the admin endpoints.")

    async def _serve(self, scope: Scope, receive: Receive, send: Send, record: RequestRecord) -> None:
        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            await self._finish(scope, record)

    async def _finish(self, scope: Scope, record: RequestRecord) -> None:
        if record.path == METRICS_PATH:
            return  # scrapes would drown the request metrics and the log (and are never limited: no lease)
        record.route = _route_template(scope)
        await self.ops.finish(record)


def _route_template(scope: Scope) -> str:
    """The matched route's path template, so label values stay bounded. Requests rejected before routing have
    none; the app's fixed paths they aim at keep their name, anything else is "unmatched"."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    fixed = {r.path for r in plain_routes(getattr(app, "routes", [])) if "{" not in r.path}
    return scope["path"] if scope["path"] in fixed else "unmatched"
