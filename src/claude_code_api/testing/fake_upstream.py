"""Fake Anthropic Messages API, so the real Claude Code CLI can run offline (`ANTHROPIC_BASE_URL=<url>`).

Owns the Starlette app, its background-thread runner (`FakeUpstream`), the request log (`LoggedRequest`, also served
at `GET/DELETE /_log`) and the `FAKE: {...}` prompt directives that steer each reply. It imports only starlette,
uvicorn and the standard library, never the rest of `claude_code_api`.

Directive keys (JSON object after `FAKE:` up to the end of the line, read from the last user message that has one):
reply, echo, chunks, chunk_delay, delay, stall, status, error_type, error_message, retry_after, thinking,
tool_calls [{name, arguments}], json, stop_reason, usage, fail_first. See `Directive`.
Run standalone: `python -m claude_code_api.testing.fake_upstream --port 8787`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import json
import re
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

JSONObject = dict[str, Any]

MARK = "FAKE:"
DEFAULT_REPLY = "Hello from the fake upstream."
STRUCTURED_OUTPUT_TOOL = "StructuredOutput"  # the tool the CLI adds under --json-schema
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


# ----------------------------------------------------------------------------------------------------- content helpers
def _messages(body: JSONObject) -> list[JSONObject]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def _blocks(content: Any) -> list[JSONObject]:
    """Content as a block list: the API accepts a bare string as shorthand for one text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _is_reminder(block: JSONObject) -> bool:
    # The CLI injects <system-reminder> text blocks into user messages; they are not what the test typed.
    return str(block.get("text", "")).lstrip().startswith("<system-reminder>")


def _texts(content: Any, *, reminders: bool = False) -> list[str]:
    blocks = _blocks(content)
    return [str(b.get("text", "")) for b in blocks if b.get("type") == "text" and (reminders or not _is_reminder(b))]


def _tool_results(content: Any) -> list[tuple[str, str]]:
    """(tool_use_id, text) per tool_result block; the result content may itself be a string or blocks."""
    blocks = [b for b in _blocks(content) if b.get("type") == "tool_result"]
    return [(str(b.get("tool_use_id", "")), "\n".join(_texts(b.get("content"), reminders=True))) for b in blocks]


def _tool_names(body: JSONObject) -> list[str]:
    tools = body.get("tools")
    return [str(t["name"]) for t in tools if isinstance(t, dict) and "name" in t] if isinstance(tools, list) else []


def _image_marker(block: JSONObject) -> str:
    source = block.get("source")
    source = source if isinstance(source, dict) else {}
    data = str(source.get("data") or source.get("url") or "")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:  # a URL source, or not base64 at all: hash the text itself
        raw = data.encode()
    return f"[image {source.get('media_type', source.get('type', '?'))} {hashlib.sha256(raw).hexdigest()[:12]}]"


def _render_block(block: JSONObject) -> str | None:
    kind = block.get("type")
    if kind == "text":
        return None if _is_reminder(block) else str(block.get("text", ""))
    if kind == "tool_use":
        return f"[tool_use {block.get('name')} {json.dumps(block.get('input'), separators=(',', ':'))}]"
    if kind == "tool_result":
        ((tool_id, text),) = _tool_results([block])
        return f"[tool_result {tool_id}: {text}]"
    if kind == "image":
        return _image_marker(block)
    return f"[{kind}]"


# --------------------------------------------------------------------------------------------------------- request log
@dataclass
class LoggedRequest:
    """One request as the fake received it."""

    method: str
    path: str  # with the query string, e.g. "/v1/messages?beta=true"
    headers: dict[str, str]  # lower-case keys
    json: Any  # the parsed body; None when empty or not JSON
    time: float  # time.time() on arrival

    @property
    def body(self) -> JSONObject:
        return self.json if isinstance(self.json, dict) else {}

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path.split("?", 1)[0] == "/v1/messages"

    @property
    def model(self) -> str | None:
        model = self.body.get("model")
        return model if isinstance(model, str) else None

    @property
    def max_tokens(self) -> int | None:
        max_tokens = self.body.get("max_tokens")
        return max_tokens if isinstance(max_tokens, int) else None

    @property
    def system_text(self) -> str:
        return "\n".join(_texts(self.body.get("system"), reminders=True))

    @property
    def tool_names(self) -> list[str]:
        return _tool_names(self.body)

    def turns(self) -> list[tuple[str, str]]:
        """(role, text) per message without role "system"; non-text blocks become short `[kind ...]` markers."""
        turns = []
        for message in _messages(self.body):
            if message.get("role") != "system":
                parts = [_render_block(b) for b in _blocks(message.get("content"))]
                turns.append((str(message.get("role")), "\n".join(p for p in parts if p is not None)))
        return turns

    def to_dict(self) -> JSONObject:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: JSONObject) -> LoggedRequest:
        return cls(**data)


class RequestLog:
    """The request log and the fail_first counters, shared by the server thread and the test thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []
        self._attempts: dict[str, int] = {}

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> int:
        """Forget all requests and fail_first counters (a cleared fake behaves like a fresh one)."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._attempts.clear()
            return count

    def attempt(self, line: str) -> int:
        """Count one more request carrying this directive line; return the count so far."""
        with self._lock:
            self._attempts[line] = self._attempts.get(line, 0) + 1
            return self._attempts[line]


def fetch_log(base_url: str, timeout: float = 5.0) -> list[LoggedRequest]:
    """Read the log of a fake running in another process (`GET /_log`)."""
    with urllib.request.urlopen(base_url.rstrip("/") + "/_log", timeout=timeout) as response:
        return [LoggedRequest.from_dict(item) for item in json.load(response)]


# ---------------------------------------------------------------------------------------------------------- directives
class DirectiveError(ValueError):
    """A FAKE: line that is not a JSON object of known keys; answered with a 400 so the test sees the typo."""


@dataclass(frozen=True)
class Directive:
    """A parsed `FAKE: {...}` line. Times are seconds; `line` (the JSON text) keys the fail_first counter."""

    line: str = ""
    reply: str | None = None  # answer text (default DEFAULT_REPLY)
    echo: bool = False  # answer with the last user message's text
    chunks: int | None = None  # number of text deltas (default: one per word)
    chunk_delay: float = 0.0  # between deltas
    delay: float = 0.0  # before the response headers
    stall: float = 0.0  # after message_start, before any content
    status: int | None = None  # answer with this HTTP error instead
    error_type: str | None = None
    error_message: str | None = None
    retry_after: str | None = None
    thinking: str | None = None  # emit a thinking block first
    tool_calls: list[JSONObject] = field(default_factory=list)  # [{"name": str, "arguments": object}]
    json: JSONObject | None = None  # structured output via the StructuredOutput tool
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    fail_first: int | None = None  # with status: only the first N requests with this line fail

    @classmethod
    def parse(cls, line: str) -> Directive:
        try:  # raw_decode tolerates trailing text after the object
            data, _ = json.JSONDecoder().raw_decode(line)
        except json.JSONDecodeError as exc:
            raise DirectiveError(f"FAKE: directive is not JSON: {exc}: {line!r}") from exc
        if not isinstance(data, dict):
            raise DirectiveError(f"FAKE: directive must be a JSON object: {line!r}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)} - {"line"}
        if unknown:
            raise DirectiveError(f"FAKE: unknown directive keys {sorted(unknown)}")
        calls = data.get("tool_calls", [])
        if not (isinstance(calls, list) and all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls)):
            raise DirectiveError('FAKE: tool_calls must be a list of {"name": str, "arguments": object}')
        return cls(line=line, **data)


def _directive_line(message: JSONObject) -> str | None:
    found = None
    for text in _texts(message.get("content")):
        for line in text.splitlines():
            if MARK in line:
                found = line.split(MARK, 1)[1].strip()
    return found


def select_directive(body: JSONObject) -> Directive:
    """The directive that steers the reply to this request body (see the module docstring)."""
    users = [m for m in _messages(body) if m.get("role") == "user"]
    if not users:
        return Directive()
    results = _tool_results(users[-1].get("content"))
    if results and _directive_line(users[-1]) is None:
        # Second leg of a tool loop: answer the tool results instead of repeating the earlier tool call.
        return Directive(reply="Tool results: " + "; ".join(text for _, text in results))
    for message in reversed(users):
        line = _directive_line(message)
        if line is not None:
            return Directive.parse(line)
    return Directive()


# ---------------------------------------------------------------------------------------------------- reply planning
def _words(text: str) -> list[str]:
    """Split before each word, keeping the spaces, so every delta is visible token-by-token streaming."""
    return [piece for piece in re.split(r"(?<=\s)(?=\S)", text) if piece]


def _split(text: str, parts: int) -> list[str]:
    """`parts` non-empty pieces of near-equal length (fewer only if the text is shorter)."""
    n = max(1, min(parts, len(text)))
    return [text[len(text) * i // n : len(text) * (i + 1) // n] for i in range(n)]


_DELTA_KEYS = {
    "text": ("text_delta", "text"),
    "thinking": ("thinking_delta", "thinking"),
    "tool_use": ("input_json_delta", "partial_json"),
}


@dataclass
class _Block:
    kind: str  # "text" | "thinking" | "tool_use"
    pieces: list[str]  # the streamed deltas; joined they are the block's content
    name: str = ""
    id: str = ""

    def start(self) -> JSONObject:
        if self.kind == "tool_use":
            return {"type": "tool_use", "id": self.id, "name": self.name, "input": {}}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": "", "signature": ""}
        return {"type": "text", "text": ""}

    def deltas(self) -> Iterator[JSONObject]:
        delta_type, key = _DELTA_KEYS[self.kind]
        for piece in self.pieces:
            yield {"type": delta_type, key: piece}
        if self.kind == "thinking":
            yield {"type": "signature_delta", "signature": self.signature()}

    def signature(self) -> str:
        # Only real Anthropic servers verify signatures; the CLI just stores and replays them.
        return base64.b64encode(hashlib.sha256("".join(self.pieces).encode()).digest()).decode()

    def whole(self) -> JSONObject:
        content = "".join(self.pieces)
        if self.kind == "tool_use":
            return {**self.start(), "input": json.loads(content)}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": content, "signature": self.signature()}
        return {"type": "text", "text": content}


@dataclass
class _Reply:
    blocks: list[_Block]
    stop_reason: str
    usage: dict[str, int]


def _without_directive(text: str) -> str:
    # Keep what precedes FAKE: on its line ("hi FAKE:{...}" -> "hi"); drop lines that held only the directive.
    return re.sub(r"^[ \t]*FAKE:.*\n?|[ \t]*FAKE:.*", "", text, flags=re.MULTILINE).strip()


def _reply_text(body: JSONObject, directive: Directive) -> str:
    if directive.echo:
        users = [m for m in _messages(body) if m.get("role") == "user"]
        return _without_directive("\n".join(_texts(users[-1].get("content")))) if users else ""
    return DEFAULT_REPLY if directive.reply is None else directive.reply


def _resolve_tool(body: JSONObject, name: str) -> str:
    # The CLI offers client functions as mcp__<server>__<name>, so tests may use the bare function name.
    offered = _tool_names(body)
    return name if name in offered else next((t for t in offered if t.endswith("__" + name)), name)


def _tool_block(name: str, arguments: Any) -> _Block:
    encoded = json.dumps(arguments)
    # At least two fragments, so clients must really accumulate partial_json.
    return _Block("tool_use", _split(encoded, max(2, len(encoded) // 16)), name, "toolu_" + uuid.uuid4().hex[:24])


def _plan_reply(body: JSONObject, directive: Directive) -> _Reply:
    """Content blocks, stop reason and usage for a successful reply; shared by the SSE and the JSON answer."""
    calls = [(_resolve_tool(body, c["name"]), c.get("arguments", {})) for c in directive.tool_calls]
    if directive.json is not None:
        calls.append((STRUCTURED_OUTPUT_TOOL, directive.json))
    blocks = [_Block("thinking", _words(directive.thinking))] if directive.thinking else []
    text = _reply_text(body, directive)
    if text and (directive.reply is not None or directive.echo or not calls):  # never an empty text block
        blocks.append(_Block("text", _words(text) if directive.chunks is None else _split(text, directive.chunks)))
    blocks += [_tool_block(name, arguments) for name, arguments in calls]
    chars = sum(len(t) for m in _messages(body) for t in _texts(m.get("content"), reminders=True))
    usage = {"input_tokens": max(1, chars // 4), "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    usage |= {"output_tokens": max(1, sum(len(b.pieces) for b in blocks))} | directive.usage
    stop_reason = directive.stop_reason or ("tool_use" if calls else "end_turn")
    return _Reply(blocks, stop_reason, usage)


# ------------------------------------------------------------------------------------------------------- HTTP answers
def _event(kind: str, **fields: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n".encode()


async def _sse(message: JSONObject, reply: _Reply, directive: Directive) -> AsyncIterator[bytes]:
    yield _event("message_start", message={**message, "usage": {**reply.usage, "output_tokens": 1}})
    if directive.stall:
        await asyncio.sleep(directive.stall)  # async, so other requests are served meanwhile
    yield _event("ping")
    first = True
    for index, block in enumerate(reply.blocks):
        yield _event("content_block_start", index=index, content_block=block.start())
        for delta in block.deltas():
            if directive.chunk_delay and not first:
                await asyncio.sleep(directive.chunk_delay)
            first = False
            yield _event("content_block_delta", index=index, delta=delta)
        yield _event("content_block_stop", index=index)
    finale = {"stop_reason": reply.stop_reason, "stop_sequence": None}
    yield _event("message_delta", delta=finale, usage={"output_tokens": reply.usage["output_tokens"]})
    yield _event("message_stop")


def _request_id() -> dict[str, str]:
    return {"request-id": "req_fake_" + uuid.uuid4().hex[:16]}


def error_response(
    status: int, message: str | None = None, kind: str | None = None, retry_after: str | None = None
) -> Response:
    """An Anthropic error envelope; `kind` defaults by status (see ERROR_TYPES)."""
    kind = kind or ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    headers = _request_id() | ({"retry-after": retry_after} if retry_after is not None else {})
    envelope = {"type": "error", "error": {"type": kind, "message": message or f"fake {kind}"}}
    return JSONResponse(envelope, status_code=status, headers=headers)


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
    reply = _plan_reply(entry.body, directive)
    message: JSONObject = {"id": "msg_fake_" + uuid.uuid4().hex[:20], "type": "message", "role": "assistant"}
    message |= {"model": entry.model or "claude-fake", "content": [], "stop_reason": None, "stop_sequence": None}
    if entry.body.get("stream"):
        headers = {"cache-control": "no-cache"} | _request_id()
        return StreamingResponse(_sse(message, reply, directive), media_type="text/event-stream", headers=headers)
    await asyncio.sleep(directive.stall)  # a non-streamed answer can only stall as a whole
    content = [b.whole() for b in reply.blocks]
    full = message | {"content": content, "stop_reason": reply.stop_reason, "usage": reply.usage}
    return JSONResponse(full, headers=_request_id())


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

    def __init__(self) -> None:
        self.log = RequestLog()
        self.app = create_app(self.log)
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
        config = uvicorn.Config(self.app, lifespan="off", log_config=None, timeout_graceful_shutdown=1)
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
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeUpstream not started")
        return f"http://127.0.0.1:{self._port}"

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
