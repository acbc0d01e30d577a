"""``create_app(settings, engine)``: the FastAPI application, with no import-time state.

Without an engine it builds the Claude Code engine from the settings. The lifespan starts and stops the
engine, so every Claude Code process is stopped when the server stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from claude_code_api import __version__, console
from claude_code_api.core.models import ModelRegistry
from claude_code_api.engine.base import Engine
from claude_code_api.frontends import anthropic, openai_chat, responses
from claude_code_api.frontends.base import Frontend
from claude_code_api.http import admin, health, metrics, models, workspaces
from claude_code_api.http.auth import AccessMiddleware
from claude_code_api.http.body import install_openapi
from claude_code_api.http.deps import AppState, plain_routes
from claude_code_api.http.errors import ErrorDialects, install_error_handlers
from claude_code_api.http.middleware import BodyLimitMiddleware, RequestIdMiddleware
from claude_code_api.ops.hub import Operations
from claude_code_api.ops.redis_limits import RedisLimiter
from claude_code_api.ops.redis_store import AsyncRedisStore, RedisStore
from claude_code_api.service.completion import CompletionService
from claude_code_api.settings import Settings

# Every API dialect the server speaks, each a package under frontends/ (see frontends/base.py).
FRONTENDS: tuple[Callable[[], Frontend], ...] = (openai_chat.frontend, anthropic.frontend, responses.frontend)


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    frontends: Sequence[Callable[[], Frontend]] = FRONTENDS,
) -> FastAPI:
    settings = settings or Settings()
    if engine is None:
        from claude_code_api.engine.claude.engine import ClaudeCodeEngine

        engine = ClaudeCodeEngine(settings)
    registry = ModelRegistry.build(settings.model_aliases)
    # Opened here, not in the lifespan: the key store must answer even where no lifespan runs (ASGI test clients).
    ops = _operations(settings, engine.stats)
    service = CompletionService(engine, registry, ops, settings)
    state = AppState(settings=settings, engine=engine, models=registry, service=service)
    mounted = [make() for make in frontends]
    dialects = ErrorDialects()

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
    for frontend in mounted:
        app.include_router(frontend.router)
        dialects.register(frontend.prefixes, frontend.errors)
    for router in (models.router, health.router, admin.router, metrics.router, workspaces.router):
        app.include_router(router)
    if settings.console_enabled:
        app.include_router(console.router)
    dialects.endpoints = _endpoints(app)
    install_error_handlers(app, dialects)
    install_openapi(app, [m for f in mounted for m in f.body_models])
    # Innermost of ours: CORS answers pre-flights before auth, and 401s still carry X-Request-ID.
    app.add_middleware(AccessMiddleware, ops=ops, dialects=dialects)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, dialects=dialects)
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


def _endpoints(app: FastAPI) -> list[str]:
    """The public API endpoints, as "METHOD /path", for the 404 that tells a client what this server offers."""
    offered = []
    for route in plain_routes(app.routes):
        if isinstance(route, APIRoute) and route.path.startswith("/v1/") and not route.path.startswith("/v1/admin"):
            offered += [f"{m} {route.path}" for m in sorted(route.methods or ())]
    return offered


def _operations(settings: Settings, engine_stats: Callable[[], dict[str, int]]) -> Operations:
    """SQLite and in-memory limits by default; with ``redis_url``, keys, usage and limits shared through Redis."""
    if not settings.redis_url:
        return Operations(settings, engine_stats)
    live = AsyncRedisStore.from_url(settings.redis_url)
    # A slot may be held through the queue wait and the overall deadline; the lease outlasts both with margin.
    lease_ttl = settings.queue_timeout + settings.timeout + 60
    limiter = RedisLimiter(live.client, lease_ttl)
    return Operations(settings, engine_stats, RedisStore.from_url(settings.redis_url), live=live, limiter=limiter)
