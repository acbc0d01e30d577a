"""What routes need from the app: settings, the model registry and the engine, held on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from claude_code_api.core.models import ModelRegistry
from claude_code_api.engine.base import Engine
from claude_code_api.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    models: ModelRegistry


def state_of(connection: HTTPConnection) -> AppState:
    state: AppState = connection.app.state.api
    return state
