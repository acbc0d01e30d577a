"""``GET /health`` (liveness: never spends a Claude call) and ``GET /ready`` (CLI found, version, login)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from claude_code_api import __version__
from claude_code_api.http.deps import state_of

router = APIRouter()


@router.get("/health")
async def health(request: Request, deep: bool = False) -> JSONResponse:
    if deep:
        return await ready(request)
    engine = state_of(request).engine
    return JSONResponse({"status": "ok", "version": __version__, "processes": engine.stats()})


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    readiness = await state_of(request).engine.readiness()
    body: dict[str, Any] = {"status": "ready" if readiness.ready else "not_ready", **readiness.detail}
    return JSONResponse(body, status_code=200 if readiness.ready else 503)
