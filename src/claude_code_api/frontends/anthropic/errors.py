"""Errors in Anthropic's envelope ``{"type": "error", "error": {"type", "message"}, "request_id"}``, with
Anthropic's statuses: the shared status map, except that Claude's own 529 (overloaded) stays a 529 here."""

from __future__ import annotations

from typing import Any

from claude_code_api.errors import ApiError, UpstreamError
from claude_code_api.http.errors import retry_headers, status_and_type

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_envelope(status: int, message: str, request_id: str) -> dict[str, Any]:
    error_type = ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id or None}


class AnthropicErrors:
    def render(self, exc: ApiError, request_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, _ = status_and_type(exc)
        if isinstance(exc, UpstreamError) and exc.status == 529:
            status = 529
        return status, anthropic_envelope(status, exc.message, request_id), retry_headers(exc, status)
