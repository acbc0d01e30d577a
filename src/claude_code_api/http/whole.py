"""Non-streaming answers: the route's work (folding the event stream into one response) raced against the client's
disconnect, so a client that gives up stops its Claude Code work at once, whatever the dialect."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import Response

from claude_code_api.service.fanout import ClientDisconnected, until_disconnected

log = logging.getLogger(__name__)
CLIENT_CLOSED = 499  # nginx's "client closed request": only the access log and metrics ever see it


async def whole_answer(request: Request, work: Awaitable[Response]) -> Response:
    try:
        return await until_disconnected(request.receive, work)
    except ClientDisconnected:
        log.info("client disconnected before the answer was ready")
        return Response(status_code=CLIENT_CLOSED)
