"""What routes need from the app: settings, the model registry, the engine and the completion service, held on
``app.state``; and the request's record (set by the access middleware)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection
from starlette.routing import Route

from claude_code_api.core.models import ModelRegistry
from claude_code_api.engine.base import Engine
from claude_code_api.ops.usage import RequestRecord
from claude_code_api.service.completion import CompletionService
from claude_code_api.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    models: ModelRegistry
    service: CompletionService


def state_of(connection: HTTPConnection) -> AppState:
    state: AppState = connection.app.state.api
    return state


def record_of(connection: HTTPConnection) -> RequestRecord | None:
    """The request's record for accounting; None where the app runs without its access middleware."""
    record: RequestRecord | None = connection.scope.get("state", {}).get("ops")
    return record


def plain_routes(routes: Iterable[Any]) -> Iterator[Route]:
    """Every route of an app, looking inside included routers (FastAPI keeps them nested)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from plain_routes(nested.routes)
        elif isinstance(route, Route):
            yield route
