"""HTTP answers of the fake upstream (`fake_upstream`): a planned reply as SSE or JSON, and error envelopes.

Owns the wire format: the Messages API event stream (`message_start` ... `message_stop`, with the directive's stall
and chunk delays), the non-streamed message, the Anthropic error envelope (`error_response`) and the request-id
header. Imports starlette and the standard library only.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from claude_code_api.testing.fake_body import JSONObject
from claude_code_api.testing.fake_directives import Directive
from claude_code_api.testing.fake_reply import Reply

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def _event(kind: str, **fields: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n".encode()


async def _sse(message: JSONObject, reply: Reply, directive: Directive) -> AsyncIterator[bytes]:
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


async def reply_response(model: str, reply: Reply, directive: Directive, *, stream: bool) -> Response:
    """The planned reply as an event stream, or (after the directive's stall) as one JSON message."""
    message: JSONObject = {"id": "msg_fake_" + uuid.uuid4().hex[:20], "type": "message", "role": "assistant"}
    message |= {"model": model, "content": [], "stop_reason": None, "stop_sequence": None}
    if stream:
        headers = {"cache-control": "no-cache"} | _request_id()
        return StreamingResponse(_sse(message, reply, directive), media_type="text/event-stream", headers=headers)
    await asyncio.sleep(directive.stall)  # a non-streamed answer can only stall as a whole
    content = [b.whole() for b in reply.blocks]
    full = message | {"content": content, "stop_reason": reply.stop_reason, "usage": reply.usage}
    return JSONResponse(full, headers=_request_id())
