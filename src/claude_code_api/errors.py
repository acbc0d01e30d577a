"""Domain errors: what can go wrong, in the server's own words. No HTTP knowledge here.

::

    ApiError
    ├── InvalidRequest          the client's request is malformed or unsupported   (param names the field)
    │   └── RequestTooLarge     the body is over the server's limit (413)
    ├── NotFound                no such endpoint or stored object (404)
    ├── MethodNotAllowed        the endpoint exists, not with this method (405)
    ├── Conflict                the object to create exists already (409)
    ├── Unauthenticated         no API key, or a wrong or revoked one
    ├── PermissionDenied        a valid key that may not use this endpoint (admin only)
    ├── ModelNotFound           no such model configured (or not allowed for this key)
    ├── RateLimited             a per-key limit (requests/min, tokens/min, concurrency) is reached (retry_after)
    ├── CapacityExceeded        every Claude Code slot busy and the wait queue full (retry_after)
    ├── EngineUnavailable       Claude Code cannot run: not found, not logged in, failed to start
    │   └── NotLoggedIn
    ├── UpstreamError           Claude's API answered with an error (status, retry_after)
    ├── OutputInvalid           Claude Code ended without the output the request demands
    └── Timeout                 the overall deadline or the idle-output timeout passed

``http/errors.py`` maps each class to a status, once; each front end renders it in its dialect's envelope.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base of every error the server reports to a client."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class InvalidRequest(ApiError):
    pass


class RequestTooLarge(InvalidRequest):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="request_too_large")


class NotFound(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="not_found")


class ModelNotFound(ApiError):
    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )


class Conflict(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="conflict")


class MethodNotAllowed(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="method_not_allowed")


class Unauthenticated(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_api_key")


class PermissionDenied(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="permission_denied")


class RateLimited(ApiError):
    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, code="rate_limit_exceeded")
        self.retry_after = retry_after


class CapacityExceeded(ApiError):
    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message, code="server_busy")
        self.retry_after = retry_after


class EngineUnavailable(ApiError):
    pass


class NotLoggedIn(EngineUnavailable):
    def __init__(self, detail: str = "") -> None:
        hint = (
            "Claude Code is not logged in. Run `claude login` (or `claude setup-token` and set "
            "CLAUDE_CODE_OAUTH_TOKEN), or set ANTHROPIC_API_KEY for the server."
        )
        super().__init__(f"{hint} ({detail})" if detail else hint, code="not_logged_in")


class UpstreamError(ApiError):
    """Claude's API failed; ``status`` is the upstream HTTP status when Claude Code reported one."""

    def __init__(self, message: str, *, status: int | None, retry_after: float | None = None) -> None:
        super().__init__(message, code=f"upstream_{status}" if status else "upstream_error")
        self.status = status
        self.retry_after = retry_after


class OutputInvalid(ApiError):
    pass


class Timeout(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="timeout")
