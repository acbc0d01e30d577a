"""Server-sent events for every dialect: the first-event wait, keep-alives, in-band errors, framing and terminator.

The route waits briefly for the first event before sending headers, so an immediate failure (a bad upstream, a
full server) still gets its proper HTTP status; after the first byte, errors go in-band in the dialect's shape and
the stream still ends with its terminator (``[DONE]`` for OpenAI chat; none for Anthropic and Responses). Silences
get the dialect's keep-alive (a comment, or Anthropic's ``ping`` event), only when the stream is silent.

Why not sse-starlette: its ``EventSourceResponse`` sends headers at once (losing early errors' statuses), pings
on a fixed clock rather than on silence, and has no notion of an in-band error followed by a terminator; the part
it would save (writing ``event:``/``data:`` lines) is a few lines here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from fastapi.responses import Response, StreamingResponse

from claude_code_api.errors import ApiError
from claude_code_api.http.errors import SERVER_ERROR_MESSAGE
from claude_code_api.service.fanout import ClientDisconnected, until_disconnected, with_heartbeat

log = logging.getLogger(__name__)
T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
FIRST_EVENT_WAIT = 5.0
# Line separators that line-splitting clients (httpx's iter_lines, str.splitlines) would cut a JSON payload at.
_LINE_BREAKERS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"}


def line_safe(payload: str) -> str:
    """Escape the Unicode line separators JSON allows raw inside strings."""
    for raw, escaped in _LINE_BREAKERS.items():
        if raw in payload:
            payload = payload.replace(raw, escaped)
    return payload


def data_frame(payload: Mapping[str, Any] | str) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return f"data: {line_safe(text)}\n\n"


def event_frame(name: str, payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return f"event: {name}\ndata: {line_safe(text)}\n\n"


class SseFraming(Protocol[T_contra]):
    """How one dialect writes its stream; each call returns the frames to send."""

    heartbeat: str

    def opening(self) -> list[str]: ...

    def frames(self, item: T_contra) -> list[str]: ...

    def closing(self) -> list[str]:
        """After the last event, terminator included."""
        ...

    def failure(self, exc: ApiError) -> list[str]:
        """An in-band error after the headers went out, terminator included."""
        ...


class _Stream(Generic[T]):
    def __init__(self, first: asyncio.Future[T], events: AsyncGenerator[T, None]) -> None:
        self.first = first
        self.events = events

    async def items(self) -> AsyncIterator[T]:
        """The stream again, starting with the event already awaited before the headers went out."""
        try:
            try:
                yield await self.first
            except StopAsyncIteration:
                return
            async for item in self.events:
                yield item
        finally:
            if not self.first.done():
                self.first.cancel()
            await self.events.aclose()

    async def abandon(self) -> None:
        self.first.cancel()
        with contextlib.suppress(BaseException):
            await self.first
        await self.events.aclose()


async def sse_response(
    receive: Callable[[], Awaitable[Mapping[str, Any]]],
    events: AsyncGenerator[T, None],
    framing: SseFraming[T],
    keepalive: float,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Wait for the first event (raising an early ``ApiError`` so it keeps its status), then stream."""
    stream = _Stream(asyncio.ensure_future(anext(events)), events)
    try:
        await until_disconnected(receive, asyncio.wait({stream.first}, timeout=min(keepalive, FIRST_EVENT_WAIT)))
    except BaseException as exc:  # the client left (or the server is stopping) before the first event
        await stream.abandon()
        if isinstance(exc, ClientDisconnected):
            return Response(status_code=499)
        raise
    first = stream.first
    early = first.exception() if first.done() and not first.cancelled() else None
    if isinstance(early, ApiError):
        await events.aclose()
        raise early
    body = _body(stream, framing, keepalive)
    return StreamingResponse(body, media_type="text/event-stream", headers={**SSE_HEADERS, **(headers or {})})


async def _body(stream: _Stream[T], framing: SseFraming[T], keepalive: float) -> AsyncIterator[str]:
    try:
        for frame in framing.opening():
            yield frame
        async for item in with_heartbeat(stream.items(), keepalive):
            for frame in [framing.heartbeat] if item is None else framing.frames(item):
                yield frame
        closing = framing.closing()
    except ApiError as exc:
        closing = framing.failure(exc)
    except Exception:  # after the headers, even a bug must end the stream the way clients understand
        log.exception("unexpected error while streaming")
        closing = framing.failure(ApiError(SERVER_ERROR_MESSAGE))
    for frame in closing:
        yield frame
