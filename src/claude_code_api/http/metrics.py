"""``GET /metrics``: the app's Prometheus registry (the access middleware decides who may read it)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from claude_code_api.http.auth import ops_of
from claude_code_api.ops.metrics import CONTENT_TYPE

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(ops_of(request).metrics.render(), media_type=CONTENT_TYPE)
