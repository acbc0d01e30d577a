"""``POST /v1/chat/completions``: JSON or SSE, both from the same engine event stream.

Streaming waits briefly for the first event before sending headers, so an immediate failure (a bad
upstream, a full server) still gets its proper HTTP status; after the first byte, errors go in-band as
``data: {"error": ...}`` and the stream still ends with ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from claude_code_api.core.convert import to_completion_request
from claude_code_api.core.events import Completed, Event, TokenUsage
from claude_code_api.core.openai_out import ChoiceAccumulator, ChunkFactory, build_completion
from claude_code_api.core.request import CompletionRequest
from claude_code_api.errors import ApiError
from claude_code_api.http.auth import track
from claude_code_api.http.deps import state_of
from claude_code_api.http.errors import envelope, error_payload
from claude_code_api.http.streams import ClientDisconnected, merge_choices, until_disconnected, with_heartbeat
from claude_code_api.protocol.openai_chat import ChatCompletionRequest, dump_chunk, dump_completion

log = logging.getLogger(__name__)
router = APIRouter()
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(body: ChatCompletionRequest, request: Request) -> Response:
    state = state_of(request)
    settings = state.settings
    completion = to_completion_request(
        body, state.models, default_system=settings.default_system_prompt, want_reasoning=settings.expose_reasoning
    )
    events = merge_choices([state.engine.stream(completion) for _ in range(body.n)])
    events = track(request, body.model, completion, events)  # key may use the model? then usage, metrics, log
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return await _stream(request, events, completion, body.n, include_usage)
    try:
        return await until_disconnected(request, _complete(events, completion, body.n))
    except ClientDisconnected:
        log.info("client disconnected before the answer was ready")
        return Response(status_code=499)


async def _complete(events: AsyncGenerator[tuple[int, Event], None], completion: CompletionRequest, n: int) -> Response:
    choices = [ChoiceAccumulator() for _ in range(n)]
    async for index, event in events:
        choices[index].add(event)
    result = build_completion(completion.model, choices)
    cost = sum((acc.completed.cost_usd or 0.0) for acc in choices if acc.completed)
    return JSONResponse(dump_completion(result), headers={"X-Claude-Cost-USD": f"{cost:.6f}"})


async def _stream(
    request: Request,
    events: AsyncGenerator[tuple[int, Event], None],
    completion: CompletionRequest,
    n: int,
    include_usage: bool,
) -> Response:
    settings = state_of(request).settings
    first = asyncio.ensure_future(anext(events))
    try:
        await until_disconnected(request, asyncio.wait({first}, timeout=min(settings.keepalive_interval, 5.0)))
    except BaseException as exc:  # the client left (or the server is stopping) before the first event
        await _abandon(first, events)
        if isinstance(exc, ClientDisconnected):
            return Response(status_code=499)
        raise
    early = first.exception() if first.done() and not first.cancelled() else None
    if isinstance(early, ApiError):
        await events.aclose()
        raise early
    body = _sse_body(first, events, ChunkFactory(completion.model), n, include_usage, settings.keepalive_interval)
    return StreamingResponse(body, media_type="text/event-stream", headers=SSE_HEADERS)


async def _abandon(first: asyncio.Future[tuple[int, Event]], events: AsyncGenerator[tuple[int, Event], None]) -> None:
    first.cancel()
    with contextlib.suppress(BaseException):
        await first
    await events.aclose()


async def _sse_body(
    first: asyncio.Future[tuple[int, Event]],
    events: AsyncGenerator[tuple[int, Event], None],
    factory: ChunkFactory,
    n: int,
    include_usage: bool,
    keepalive: float,
) -> AsyncIterator[str]:
    usage = TokenUsage()
    try:
        for index in range(n):
            yield _data(dump_chunk(factory.role(index), include_usage_key=include_usage))
        async for item in with_heartbeat(_resume(first, events), keepalive):
            if item is None:
                yield ": keep-alive\n\n"
                continue
            index, event = item
            if isinstance(event, Completed):
                usage = usage + event.usage
            chunk = factory.for_event(event, index)
            if chunk is not None:
                yield _data(dump_chunk(chunk, include_usage_key=include_usage))
        if include_usage:
            yield _data(dump_chunk(factory.usage(usage), include_usage_key=True))
    except ApiError as exc:
        _, payload, _ = error_payload(exc)
        yield _data(json.dumps(payload))
    except Exception:  # after the headers, even a bug must end the stream the way clients understand
        log.exception("unexpected error while streaming")
        yield _data(json.dumps(envelope("The server had an error while processing your request.", "server_error")))
    yield "data: [DONE]\n\n"


async def _resume(
    first: asyncio.Future[tuple[int, Event]], events: AsyncGenerator[tuple[int, Event], None]
) -> AsyncIterator[tuple[int, Event]]:
    """The stream again, starting with the event already awaited before the headers went out."""
    try:
        try:
            yield await first
        except StopAsyncIteration:
            return
        async for item in events:
            yield item
    finally:
        if not first.done():
            first.cancel()
        await events.aclose()


def _data(payload: str) -> str:
    return f"data: {payload}\n\n"
