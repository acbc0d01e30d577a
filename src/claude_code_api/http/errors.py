"""The one place where errors become HTTP statuses, and where each is rendered in the dialect of the path asked for.

Client mistakes are 4xx (the OpenAI SDKs retry 5xx, so a deterministic client fault must never be one). Every
failure is first a domain error (``errors.py``): FastAPI's 422 for malformed bodies becomes an ``InvalidRequest``
(400) naming the field, an unknown path a ``NotFound`` that lists the endpoints this server offers. Then the
``ErrorDialect`` registered for the path's prefix renders it (OpenAI's envelope by default; each front end may
register its own), so an Anthropic client gets Anthropic's envelope even for a 401 raised before routing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from claude_code_api.errors import (
    ApiError,
    CapacityExceeded,
    Conflict,
    EngineUnavailable,
    InvalidRequest,
    MethodNotAllowed,
    ModelNotFound,
    NotFound,
    NotLoggedIn,
    OutputInvalid,
    PermissionDenied,
    RateLimited,
    RequestTooLarge,
    Timeout,
    Unauthenticated,
    UpstreamError,
)
from claude_code_api.protocol.errors import ErrorBody, ErrorResponse

log = logging.getLogger(__name__)

# (status, OpenAI error type); looked up along the exception's MRO, most specific first.
ERROR_MAP: dict[type[ApiError], tuple[int, str]] = {
    RequestTooLarge: (413, "invalid_request_error"),
    InvalidRequest: (400, "invalid_request_error"),
    NotFound: (404, "invalid_request_error"),
    MethodNotAllowed: (405, "invalid_request_error"),
    Conflict: (409, "invalid_request_error"),
    Unauthenticated: (401, "invalid_request_error"),
    PermissionDenied: (403, "permission_error"),
    ModelNotFound: (404, "invalid_request_error"),
    RateLimited: (429, "rate_limit_error"),
    CapacityExceeded: (429, "rate_limit_error"),
    NotLoggedIn: (503, "authentication_error"),
    EngineUnavailable: (503, "service_unavailable_error"),
    OutputInvalid: (502, "api_error"),
    Timeout: (504, "timeout_error"),
    ApiError: (500, "server_error"),
}

# Claude's upstream status → ours. A failing upstream is never reported as the client's fault, except
# rate limits, which the client should back off from exactly as it would from OpenAI.
UPSTREAM_STATUS: dict[int, tuple[int, str]] = {
    429: (429, "rate_limit_error"),
    529: (503, "service_unavailable_error"),
    503: (503, "service_unavailable_error"),
    401: (502, "upstream_authentication_error"),
    403: (502, "upstream_permission_error"),
    400: (502, "upstream_invalid_request_error"),
    413: (502, "upstream_invalid_request_error"),
}
SERVER_ERROR_MESSAGE = "The server had an error while processing your request."


def status_and_type(exc: ApiError) -> tuple[int, str]:
    if isinstance(exc, UpstreamError):
        if exc.status is None:
            return 502, "api_error"
        return UPSTREAM_STATUS.get(exc.status, (502, "api_error"))
    for cls in type(exc).__mro__:
        if cls in ERROR_MAP:
            return ERROR_MAP[cls]
    return 500, "server_error"


def retry_headers(exc: ApiError, status: int) -> dict[str, str]:
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None and status in (429, 503, 529):
        retry_after = 1.0
    return {"Retry-After": str(max(1, round(retry_after)))} if retry_after is not None else {}


def envelope(message: str, error_type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return ErrorResponse(error=ErrorBody(message=message, type=error_type, param=param, code=code)).model_dump()


def error_payload(exc: ApiError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, OpenAI envelope and headers for a domain error."""
    status, error_type = status_and_type(exc)
    return status, envelope(exc.message, error_type, exc.param, exc.code), retry_headers(exc, status)


class ErrorDialect(Protocol):
    def render(self, exc: ApiError, request_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Status, body and extra headers for ``exc`` in this dialect."""
        ...


class OpenAIErrors:
    def render(self, exc: ApiError, request_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        return error_payload(exc)


@dataclass
class ErrorDialects:
    """Which dialect renders the errors of a path: the longest registered prefix wins, OpenAI's otherwise."""

    default: ErrorDialect = field(default_factory=OpenAIErrors)
    by_prefix: dict[str, ErrorDialect] = field(default_factory=dict)
    endpoints: list[str] = field(default_factory=list)  # "METHOD /path", listed in 404s

    def register(self, prefixes: Sequence[str], dialect: ErrorDialect) -> None:
        for prefix in prefixes:
            self.by_prefix[prefix] = dialect

    def for_path(self, path: str) -> ErrorDialect:
        matches = [p for p in self.by_prefix if path == p or path.startswith(p.rstrip("/") + "/") or path == p]
        return self.by_prefix[max(matches, key=len)] if matches else self.default

    def render(self, scope: Scope, exc: ApiError) -> tuple[int, dict[str, Any], dict[str, str]]:
        request_id = str(scope.get("state", {}).get("request_id", ""))
        return self.for_path(scope["path"]).render(exc, request_id)

    def not_found(self, path: str) -> NotFound:
        offered = ", ".join(self.endpoints)
        return NotFound(f"Unknown endpoint {path}. This server offers: {offered}.")


async def send_error(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """An error body straight on the ASGI channel, for middleware that answers before the app runs."""
    raw = json.dumps(body).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    head += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})


async def send_api_error(dialects: ErrorDialects, scope: Scope, send: Send, exc: ApiError) -> int:
    status, body, headers = dialects.render(scope, exc)
    await send_error(send, status, body, headers)
    return status


def _validation_error(exc: RequestValidationError) -> InvalidRequest:
    errors = exc.errors()
    if not errors:
        return InvalidRequest("Invalid request body.")
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        return InvalidRequest("The request body is not valid JSON.")
    return InvalidRequest(f"Invalid value for '{param or 'body'}': {first.get('msg', 'invalid')}.", param=param)


def _http_error(exc: StarletteHTTPException, dialects: ErrorDialects, path: str) -> ApiError:
    if exc.status_code == 404:
        return dialects.not_found(path)
    if exc.status_code == 413:
        return RequestTooLarge(str(exc.detail))
    if exc.status_code == 405:
        return MethodNotAllowed(f"{exc.detail} for {path}.")
    return ApiError(str(exc.detail))


def install_error_handlers(app: FastAPI, dialects: ErrorDialects) -> None:
    def respond(request: Request, exc: ApiError) -> JSONResponse:
        status, body, headers = dialects.render(request.scope, exc)
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return respond(request, _validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return respond(request, _http_error(exc, dialects, request.url.path))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return respond(request, ApiError(SERVER_ERROR_MESSAGE))
