"""Fake Anthropic Messages API, so the real Claude Code CLI can run offline (`ANTHROPIC_BASE_URL=<url>`).

Owns the Starlette app (`create_app`: every request is logged, then routed), its background-thread runner
(`FakeUpstream`, over HTTPS too, so tests can serve it as api.anthropic.com) and the command line. The parts live
in sibling modules and are re-exported here, so this stays the one import path: the request body accessors
(`fake_body`), the request log served at `GET/DELETE /_log` (`fake_log`), the `FAKE: {...}` prompt directives that
steer each reply (`fake_directives`, which lists the keys), reply planning (`fake_reply`) and the SSE/JSON/error
answers (`fake_responses`). Together they import only starlette, uvicorn, the standard library and each other,
never the rest of `claude_code_api`.

Run standalone: `python -m claude_code_api.testing.fake_upstream --port 8787`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from claude_code_api.testing.fake_body import JSONObject
from claude_code_api.testing.fake_directives import MARK, Directive, DirectiveError, select_directive
from claude_code_api.testing.fake_log import LoggedRequest, RequestLog, fetch_log
from claude_code_api.testing.fake_reply import DEFAULT_REPLY, STRUCTURED_OUTPUT_TOOL, plan_reply
from claude_code_api.testing.fake_responses import ERROR_TYPES, error_response, reply_response

__all__ = [
    "DEFAULT_REPLY",
    "ERROR_TYPES",
    "MARK",
    "ROUTES",
    "STRUCTURED_OUTPUT_TOOL",
    "Directive",
    "DirectiveError",
    "FakeUpstream",
    "JSONObject",
    "LoggedRequest",
    "RequestLog",
    "create_app",
    "error_response",
    "fetch_log",
    "main",
    "select_directive",
]


async def _answer_messages(entry: LoggedRequest, log: RequestLog) -> Response:
    if not isinstance(entry.json, dict):
        return error_response(400, "request body must be a JSON object")
    try:
        directive = select_directive(entry.body)
    except DirectiveError as exc:
        return error_response(400, str(exc))
    if directive.delay:
        await asyncio.sleep(directive.delay)
    status, fail_first = directive.status, directive.fail_first
    if status is not None and (fail_first is None or log.attempt(directive.line) <= fail_first):
        return error_response(status, directive.error_message, directive.error_type, directive.retry_after)
    reply = plan_reply(entry.body, directive)
    model = entry.model or "claude-fake"
    return await reply_response(model, reply, directive, stream=bool(entry.body.get("stream")))


async def _answer_ok(entry: LoggedRequest, log: RequestLog) -> Response:
    return Response(status_code=200)  # the CLI's connectivity preflight only needs a 2xx


async def _answer_count_tokens(entry: LoggedRequest, log: RequestLog) -> Response:
    return JSONResponse({"input_tokens": max(1, len(json.dumps(entry.json)) // 4)})


_Handler = Callable[[LoggedRequest, RequestLog], Awaitable[Response]]
ROUTES: dict[tuple[str, str], _Handler] = {
    ("GET", "/"): _answer_ok,
    ("HEAD", "/"): _answer_ok,
    ("GET", "/api/hello"): _answer_ok,
    ("HEAD", "/api/hello"): _answer_ok,
    ("POST", "/v1/messages"): _answer_messages,
    ("POST", "/v1/messages/count_tokens"): _answer_count_tokens,
}
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def create_app(log: RequestLog) -> Starlette:
    """The fake as an ASGI app that records into `log`."""

    async def dispatch(request: Request) -> Response:
        # One catch-all route, so that every request (unknown paths too) is logged before it is answered.
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        body = _parse_json(await request.body())
        entry = LoggedRequest(request.method, path, dict(request.headers), body, time.time())
        log.append(entry)
        handler = ROUTES.get((request.method, request.url.path))
        if handler is None:
            return error_response(404, f"fake upstream has no route {request.method} {request.url.path}")
        return await handler(entry, log)

    async def log_endpoint(request: Request) -> Response:
        if request.method == "DELETE":
            return JSONResponse({"cleared": log.clear()})
        return JSONResponse([entry.to_dict() for entry in log.snapshot()])

    routes = [
        Route("/_log", log_endpoint, methods=["GET", "DELETE"]),
        Route("/{path:path}", dispatch, methods=_ALL_METHODS),
    ]
    return Starlette(routes=routes)


# ------------------------------------------------------------------------------------------------------------- runner
class FakeUpstream:
    """The fake served by uvicorn on 127.0.0.1 (free port) in a daemon thread with its own event loop."""

    def __init__(self, tls_pem: str | None = None) -> None:
        """``tls_pem``: a file with the private key and certificate chain to serve HTTPS with (else plain HTTP)."""
        self.log = RequestLog()
        self.app = create_app(self.log)
        self._tls_pem = tls_pem
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def start(self, timeout: float = 10.0) -> FakeUpstream:
        """Serve in the background; returns once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("FakeUpstream already started")
        # Binding port 0 ourselves gives a free port before uvicorn runs, with no race on the number.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        # log_config=None leaves the host process's logging alone; a short graceful timeout keeps stop() quick
        # even while a stall directive holds a stream open.
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            timeout_graceful_shutdown=1,
            ssl_certfile=self._tls_pem,
            ssl_keyfile=self._tls_pem,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, args=([sock],), name="fake-upstream", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("FakeUpstream did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Shut down (open streams get ~1 s to finish) and wait for the thread; the log is kept."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeUpstream not started")
        return self._port

    @property
    def url(self) -> str:
        return f"{'https' if self._tls_pem else 'http'}://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[LoggedRequest]:
        return self.log.snapshot()

    def messages_requests(self) -> list[LoggedRequest]:
        """Only the POST /v1/messages entries (the model calls)."""
        return [entry for entry in self.log.snapshot() if entry.is_messages]

    def clear(self) -> None:
        self.log.clear()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Anthropic Messages API steered by FAKE: prompt lines.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    app = create_app(RequestLog())
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=1)


if __name__ == "__main__":
    main()
