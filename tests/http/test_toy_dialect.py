"""The front-end seam is real: a toy dialect of a few dozen lines, written here and not in the service, gets the
key's model permissions, per-key limits, usage accounting and its own error envelope (even for a 401 raised
before routing) from the app, without touching the completion service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request
from pydantic import BaseModel

from claude_code_api.app import FRONTENDS, create_app
from claude_code_api.core.fold import AnswerFold
from claude_code_api.core.request import CompletionRequest, Turn
from claude_code_api.engine.fake import FakeEngine
from claude_code_api.errors import ApiError
from claude_code_api.frontends.base import Frontend
from claude_code_api.http.body import parse_body
from claude_code_api.http.deps import record_of, state_of
from claude_code_api.http.errors import status_and_type
from claude_code_api.ops.keys import mint_key
from claude_code_api.settings import Settings

pytestmark = pytest.mark.anyio


class ToyRequest(BaseModel):
    model: str
    say: str


class ToyErrors:
    def render(self, exc: ApiError, request_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, _ = status_and_type(exc)
        return status, {"toy_error": exc.message, "status": status}, {}


toy_router = APIRouter()


@toy_router.post("/toy/say")
async def say(request: Request) -> dict[str, Any]:
    body = await parse_body(request, ToyRequest)
    state = state_of(request)
    prompt = Turn("user", ({"type": "text", "text": body.say},))
    completion = CompletionRequest(state.models.resolve(body.model), "", (), prompt)
    fold = AnswerFold()
    async for _, event in await state.service.stream(record_of(request), completion, requested_model=body.model):
        fold.add(event)
    return {"heard": fold.text(), "tokens": fold.usage.total_tokens}


def toy() -> Frontend:
    return Frontend("toy", toy_router, ("/toy/",), ToyErrors(), (ToyRequest,))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(Settings(data_dir=tmp_path, admin_key="admin"), FakeEngine(), frontends=(*FRONTENDS, toy))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client, app


def _key(app: Any, name: str, **limits: Any) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_key(app.state.ops.store, name, **limits)}


async def test_a_toy_dialect_gets_permissions_limits_accounting_and_its_envelope(app_client):
    client, app = app_client
    haiku_only = _key(app, "haiku-only", models=["haiku"], rpm=1)
    ok = await client.post("/toy/say", json={"model": "haiku", "say": "hi"}, headers=haiku_only)
    assert ok.status_code == 200 and ok.json() == {"heard": "Hello world", "tokens": 7}

    forbidden = await client.post("/toy/say", json={"model": "opus", "say": "hi"}, headers=haiku_only)
    assert forbidden.status_code == 404 and "opus" in forbidden.json()["toy_error"]

    limited = await client.post("/toy/say", json={"model": "haiku", "say": "again"}, headers=haiku_only)
    assert limited.status_code == 429 and limited.json()["status"] == 429

    unauthenticated = await client.post("/toy/say", json={"model": "haiku", "say": "hi"})
    assert unauthenticated.status_code == 401 and "toy_error" in unauthenticated.json()

    bad = await client.post("/toy/say", json={"model": "haiku"}, headers=_key(app, "other"))
    assert bad.status_code == 400 and "say" in bad.json()["toy_error"]

    usage = (await client.get("/v1/admin/usage", headers={"Authorization": "Bearer admin"})).json()["data"]
    assert [(row["key"], row["requests"], row["input_tokens"]) for row in usage] == [("haiku-only", 1, 5)]
