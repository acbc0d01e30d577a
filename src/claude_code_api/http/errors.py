"""The one place where errors become HTTP statuses and the OpenAI error envelope.

Client mistakes are 4xx (the OpenAI SDKs retry 5xx, so a deterministic client fault must never be one);
FastAPI's 422 for malformed bodies becomes a 400 that names the field.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from claude_code_api.errors import (
    ApiError,
    CapacityExceeded,
    EngineUnavailable,
    InvalidRequest,
    ModelNotFound,
    NotLoggedIn,
    OutputInvalid,
    PermissionDenied,
    RateLimited,
    Timeout,
    Unauthenticated,
    UpstreamError,
)
from claude_code_api.protocol.errors import ErrorBody, ErrorResponse

log = logging.getLogger(__name__)

# (status, OpenAI error type); looked up along the exception's MRO, most specific first.
ERROR_MAP: dict[type[ApiError], tuple[int, str]] = {
    InvalidRequest: (400, "invalid_request_error"),
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


def status_and_type(exc: ApiError) -> tuple[int, str]:
    if isinstance(exc, UpstreamError):
        if exc.status is None:
            return 502, "api_error"
        return UPSTREAM_STATUS.get(exc.status, (502, "api_error"))
    for cls in type(exc).__mro__:
        if cls in ERROR_MAP:
            return ERROR_MAP[cls]
    return 500, "server_error"


def envelope(message: str, error_type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return ErrorResponse(error=ErrorBody(message=message, type=error_type, param=param, code=code)).model_dump()


def error_payload(exc: ApiError) -> tuple[int, dict[str, Any], dict[str, str]]:
    status, error_type = status_and_type(exc)
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None and status in (429, 503):
        retry_after = 1.0
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    return status, envelope(exc.message, error_type, exc.param, exc.code), headers


async def send_error(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """An error envelope straight on the ASGI channel, for middleware that answers before the app runs."""
    raw = json.dumps(body).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    head += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})


def error_response(exc: ApiError) -> JSONResponse:
    status, body, headers = error_payload(exc)
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "Invalid request body.", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON.", None
    return f"Invalid value for '{param or 'body'}': {first.get('msg', 'invalid')}.", param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return JSONResponse(envelope(message, "invalid_request_error", param), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        error_type = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(exc.status_code)
        return JSONResponse(envelope(str(exc.detail), error_type, None, code), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(envelope("The server had an error while processing your request.", "server_error"), 500)
