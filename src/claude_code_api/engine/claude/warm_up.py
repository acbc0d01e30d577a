"""Warming a spare Claude Code process before it serves anyone, without a request to Claude's API.

A fresh Claude Code process answers its first turn about twice as slowly as a warm one (~110 ms against ~45 ms on
the fake upstream; ``docs/benchmarks.md``): the CLI loads and compiles the code of a turn (prompt handling, request
building, its HTTP client, stream parsing, transcript writes) on first use, and only a turn runs that code. A turn
sent to Claude's API is paid for, so a spare takes its first turn against this module's loopback ``Responder``
instead: the CLI's ``apply_flag_settings`` control request points the process's ``ANTHROPIC_BASE_URL`` at the
responder for that one turn and then back to what it was (empty, which the CLI reads as unset, if it was unset);
the request is merged into the ``--settings`` the process started with, whose other keys (the agent's sandbox, the
plugins turned off) stay as they were. The turn is then rewound away (``rewind_conversation``): the process holds
no conversation, and its first real request is what an unwarmed process sends (end-to-end tests compare the two
at the fake upstream, as a gateway and as api.anthropic.com, where only the order of the betas differs).

The responder answers the Messages API with a fixed reply of zero tokens, so the process's running cost stays 0. It
reads only the request's path, ``stream`` flag and model, never its headers, so the credentials the CLI sends with every
request are neither kept nor logged; it listens on 127.0.0.1 only, caps what it reads and closes idle connections. It
speaks HTTP/1.1 through h11 (the protocol state machine behind uvicorn's pure-Python protocol): a second uvicorn
server inside the first would take over the server's signal handlers and its logging configuration.

Only configurations that ``ANTHROPIC_BASE_URL`` steers are warmed: on Bedrock, Vertex, Foundry or the CLI's own
gateway it does not, and the turn would be a paid request elsewhere (``warmable``). A warm-up that ends any other
way than with the responder's reply raises ``WarmUpFailed``; the pool then discards that process and starts its
spares cold from then on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import anyio
import h11
from claude_agent_sdk import ResultMessage

from claude_code_api.core.request import Turn
from claude_code_api.engine.claude.session import LiveSession

READY = "ready"  # the responder's whole answer: a warm-up ended any other way did not go through it
WARM_UP_PROMPT = "Say ready."
WARM_UP_TIMEOUT = 15.0  # seconds; the turn takes ~0.1 s, but a loaded machine must not fail it
IDLE_CONNECTION = 5.0  # seconds a connection may wait for its next request
MAX_CONNECTIONS = 32  # open at once (warm-ups run one at a time, each over one connection)
MAX_BODY = 8 * 2**20  # the largest request the responder reads (a configuration's tool definitions fit easily)
PROVIDER_SWITCH = "CLAUDE_CODE_USE_"  # CLAUDE_CODE_USE_BEDROCK, _VERTEX, _FOUNDRY, _GATEWAY...
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")  # and their lower-case spellings


class WarmUpFailed(Exception):
    """The warm-up turn did not go through the responder as expected; the process must not be used."""


def warmable(env: Mapping[str, str]) -> bool:
    """A process with this environment may be warmed up: it talks to the API that ``ANTHROPIC_BASE_URL`` names, and
    reaches the loopback responder directly.

    Any ``CLAUDE_CODE_USE_*`` switch that is on (Bedrock, Vertex, Foundry, the CLI's own gateway, and whatever a
    later CLI adds) turns warm-up off: it is only an optimisation, and a turn that such a provider sent elsewhere
    would be a paid one; so does ``ANTHROPIC_UNIX_SOCKET``. So does an HTTP proxy that ``NO_PROXY`` does not bypass
    for 127.0.0.1: the warm-up turn is plain HTTP, so the proxy would see its headers, the CLI's credentials among
    them.
    """
    switched = any(name.startswith(PROVIDER_SWITCH) and _on(value) for name, value in env.items())
    unix_socket = bool(env.get("ANTHROPIC_UNIX_SOCKET"))  # the CLI's requests then go over it, whatever the URL
    return not switched and not unix_socket and _loopback_unproxied(env)


def _loopback_unproxied(env: Mapping[str, str]) -> bool:
    if not any(env.get(name) or env.get(name.lower()) for name in PROXY_VARIABLES):
        return True
    bypass = ",".join(env.get(name, "") for name in ("NO_PROXY", "no_proxy"))
    return bool({"*", "127.0.0.1"} & {host.strip() for host in bypass.split(",")})


def _on(value: str) -> bool:
    return value.strip().lower() not in ("", "0", "false", "no", "off")


async def warm_up(session: LiveSession, responder: Responder, base_url: str | None) -> None:
    """One turn of ``session`` against ``responder``, then rewound away; ``base_url`` is the process's own
    ``ANTHROPIC_BASE_URL`` (None: unset), restored right after the turn."""
    with anyio.fail_after(WARM_UP_TIMEOUT):
        async with responder.turn:  # one warm-up at a time, so each is sure the turn answered was its own
            await _warm_up(session, responder, base_url)


async def _warm_up(session: LiveSession, responder: Responder, base_url: str | None) -> None:
    answered = responder.answered
    await session.set_base_url(responder.url)
    try:
        result = await _one_turn(session)
    finally:
        # Unset is restored as "": the CLI sets the variable to what it is given, null included (the text "null",
        # an invalid URL), while an empty value reads as unset (its next request goes to api.anthropic.com, as a
        # cold process's does: tests/fake_anthropic_host.py serves the fake upstream there for the e2e test).
        await session.set_base_url(base_url if base_url is not None else "")
    if responder.answered != answered + 1 or result.is_error or result.result != READY:
        raise WarmUpFailed(f"the warm-up turn did not go through the responder: {result.result!r}")
    await session.rewind(0)


async def _one_turn(session: LiveSession) -> ResultMessage:
    await session.send(Turn("user", ({"type": "text", "text": WARM_UP_PROMPT},)))
    async for message in session.messages():
        if isinstance(message, ResultMessage):
            return message
    raise WarmUpFailed("Claude Code ended during the warm-up turn")


class Responder:
    """A loopback Messages API that answers every turn with ``READY`` at no cost (see the module docstring).

    The pool keeps one for its whole life rather than one per warm-up: its port then stays the server's own, so no
    other local program could take it over and receive what a process sent there.
    """

    def __init__(self) -> None:
        self.answered = 0
        self.turn = asyncio.Lock()
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._clients):
                writer.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> Responder:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._clients) >= MAX_CONNECTIONS:  # a warm-up needs one; more is someone else's flood
            writer.close()
            return
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        self._clients.add(writer)
        try:
            while (received := await _read_request(connection, reader)) is not None:
                request, body = received
                status, content_type, payload = self._answer(request, body)
                writer.write(_response(connection, status, content_type, payload))
                await writer.drain()
                if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                    break
                connection.start_next_cycle()
        except (h11.ProtocolError, ConnectionError):
            pass  # a client that breaks HTTP gets its connection closed
        finally:
            self._clients.discard(writer)
            writer.close()

    def _answer(self, request: h11.Request, body: bytes | None) -> tuple[int, str, bytes]:
        path = request.target.split(b"?", 1)[0]
        if body is None:
            return 413, "application/json", _error("request_too_large", "the warm-up responder reads 8 MiB at most")
        if request.method != b"POST" or path != b"/v1/messages":
            return 404, "application/json", _error("not_found_error", "the warm-up responder answers one turn")
        try:
            asked = json.loads(body)
            stream, model = bool(asked.get("stream")), asked.get("model")
        except (ValueError, AttributeError):
            return 400, "application/json", _error("invalid_request_error", "the body is not a JSON object")
        model = model if isinstance(model, str) else "unknown"  # answered as the model asked, as Claude's API does
        self.answered += 1
        if stream:
            return 200, "text/event-stream", _events(model)
        return 200, "application/json", json.dumps(_message(model, READY)).encode()


async def _read_request(
    connection: h11.Connection, reader: asyncio.StreamReader
) -> tuple[h11.Request, bytes | None] | None:
    """The next request and its body (None when it is larger than ``MAX_BODY``), or None when the client is gone."""
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            try:  # a kept-alive connection is closed once idle: the CLI reconnects should it ever come back
                data = await asyncio.wait_for(reader.read(65536), IDLE_CONNECTION)
            except asyncio.TimeoutError:
                return None
            connection.receive_data(data)  # b"" (end of stream) ends the connection
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            if len(body) + len(event.data) > MAX_BODY:
                return (request, None) if request is not None else None
            body += event.data
        elif isinstance(event, h11.EndOfMessage) and request is not None:
            return request, bytes(body)
        elif isinstance(event, (h11.ConnectionClosed, h11.EndOfMessage)) or event is h11.PAUSED:
            return None


def _response(connection: h11.Connection, status: int, content_type: str, payload: bytes) -> bytes:
    headers = [("content-type", content_type), ("content-length", str(len(payload)))]
    if status != 200:
        headers.append(("connection", "close"))
    head = connection.send(h11.Response(status_code=status, headers=headers)) or b""
    data = connection.send(h11.Data(data=payload)) or b""
    end = connection.send(h11.EndOfMessage()) or b""
    return head + data + end


def _message(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "msg_warm_up",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def _events(model: str) -> bytes:
    start = {**_message(model, ""), "content": [], "stop_reason": None}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"message": start}),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": READY}}),
        ("content_block_stop", {"index": 0}),
        ("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 0}}),
        ("message_stop", {}),
    ]
    return b"".join(f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode() for name, data in events)


def _error(kind: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
