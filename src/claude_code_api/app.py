"""``create_app(settings, engine)``: the FastAPI application, with no import-time state.

Without an engine it builds the Claude Code engine from the settings. The lifespan starts and stops the
engine, so every Claude Code process is stopped when the server stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from claude_code_api import __version__, console
from claude_code_api.core.models import ModelRegistry
from claude_code_api.engine.base import Engine
from claude_code_api.http import admin, chat, health, metrics, models
from claude_code_api.http.auth import AccessMiddleware
from claude_code_api.http.deps import AppState
from claude_code_api.http.errors import install_error_handlers
from claude_code_api.http.middleware import BodyLimitMiddleware, RequestIdMiddleware
from claude_code_api.ops.hub import Operations
from claude_code_api.ops.redis_limits import RedisLimiter
from claude_code_api.ops.redis_store import AsyncRedisStore, RedisStore
from claude_code_api.settings import Settings


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings()
    if engine is None:
        from claude_code_api.engine.claude.engine import ClaudeCodeEngine

        engine = ClaudeCodeEngine(settings)
    state = AppState(settings=settings, engine=engine, models=ModelRegistry.build(settings.model_aliases))
    # Opened here, not in the lifespan: the key store must answer even where no lifespan runs (ASGI test clients).
    ops = _operations(settings, engine.stats)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.engine.start()
        try:
            yield
        finally:
            await state.engine.aclose()
            await ops.aclose()

    app = FastAPI(title="claude-code-api", version=__version__, lifespan=lifespan, redirect_slashes=False)
    app.state.api = state
    app.state.ops = ops
    install_error_handlers(app)
    for router in (chat.router, models.router, health.router, admin.router, metrics.router):
        app.include_router(router)
    if settings.console_enabled:
        app.include_router(console.router)
    # Innermost of ours: CORS answers pre-flights before auth, and 401s still carry X-Request-ID.
    app.add_middleware(AccessMiddleware, ops=ops)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins or settings.cors_origin_regex:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_origin_regex=settings.cors_origin_regex,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "X-Claude-Cost-USD", "Retry-After"],
        )
    app.add_middleware(RequestIdMiddleware)
    return app


def _operations(settings: Settings, engine_stats: Callable[[], dict[str, int]]) -> Operations:
    """SQLite and in-memory limits by default; with ``redis_url``, keys, usage and limits shared through Redis."""
    if not settings.redis_url:
        return Operations(settings, engine_stats)
    live = AsyncRedisStore.from_url(settings.redis_url)
    # A slot may be held through the queue wait and the overall deadline; the lease outlasts both with margin.
    lease_ttl = settings.queue_timeout + settings.timeout + 60
    limiter = RedisLimiter(live.client, lease_ttl)
    return Operations(settings, engine_stats, RedisStore.from_url(settings.redis_url), live=live, limiter=limiter)
