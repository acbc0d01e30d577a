"""``create_app(settings, engine)``: the FastAPI application, with no import-time state.

Without an engine it builds the Claude Code engine from the settings. The lifespan starts and stops the
engine, so every Claude Code process is stopped when the server stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from claude_code_api import __version__
from claude_code_api.core.models import ModelRegistry
from claude_code_api.engine.base import Engine
from claude_code_api.http import chat, health, models
from claude_code_api.http.deps import AppState
from claude_code_api.http.errors import install_error_handlers
from claude_code_api.http.middleware import BodyLimitMiddleware, RequestIdMiddleware
from claude_code_api.settings import Settings


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings()
    if engine is None:
        from claude_code_api.engine.claude.engine import ClaudeCodeEngine

        engine = ClaudeCodeEngine(settings)
    state = AppState(settings=settings, engine=engine, models=ModelRegistry.build(settings.model_aliases))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.engine.start()
        try:
            yield
        finally:
            await state.engine.aclose()

    app = FastAPI(title="claude-code-api", version=__version__, lifespan=lifespan, redirect_slashes=False)
    app.state.api = state
    install_error_handlers(app)
    for router in (chat.router, models.router, health.router):
        app.include_router(router)
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
