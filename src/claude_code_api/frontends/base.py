"""What a front end (one API dialect) hands the app: its routes, the path prefixes whose errors it renders, its
error dialect and the body models to document. ``app.py`` mounts every front end the same way, so a new dialect
plugs in by adding a package under ``frontends/`` and one line to ``app.FRONTENDS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from pydantic import BaseModel

from claude_code_api.http.errors import ErrorDialect


@dataclass(frozen=True)
class Frontend:
    name: str
    router: APIRouter
    prefixes: tuple[str, ...]
    errors: ErrorDialect
    body_models: tuple[type[BaseModel], ...] = ()
