"""HTTP and protocol edges, served by the app around a scripted FakeEngine (fast, no CLI)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from claude_code_api.app import create_app
from claude_code_api.core.events import Completed, TextDelta, TokenUsage
from claude_code_api.engine.fake import FakeEngine
from claude_code_api.errors import CapacityExceeded, UpstreamError
from claude_code_api.settings import Settings

pytestmark = pytest.mark.anyio
BODY = {"model": "claude-sonnet-4", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def client(engine: FakeEngine, tmp_path: Any):
    app = create_app(Settings(data_dir=tmp_path, max_body_bytes=10_000, keepalive_interval=0.05), engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")


def sse_data(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


async def test_error_after_the_first_chunk_goes_in_band_and_the_stream_still_ends(client, engine):
    engine.script(TextDelta("partial"), UpstreamError("API Error: 529 overloaded", status=529))
    response = await client.post("/v1/chat/completions", json={**BODY, "stream": True})
    assert response.status_code == 200
    data = sse_data(response.text)
    assert data[-1] == "[DONE]"
    error = json.loads(data[-2])["error"]
    assert error["type"] == "service_unavailable_error" and "529" in error["message"]
    assert json.loads(data[1])["choices"][0]["delta"]["content"] == "partial"


async def test_error_before_any_output_keeps_its_http_status_when_streaming(client, engine):
    engine.script(CapacityExceeded("busy", retry_after=3))
    response = await client.post("/v1/chat/completions", json={**BODY, "stream": True})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"]["type"] == "rate_limit_error"


async def test_silence_is_filled_with_keep_alive_comments(client, engine):
    engine.script(TextDelta("a"), 0.3, TextDelta("b"), Completed("end_turn", TokenUsage()))
    response = await client.post("/v1/chat/completions", json={**BODY, "stream": True})
    assert ": keep-alive" in response.text
    assert sse_data(response.text)[-1] == "[DONE]"


async def test_oversized_body_is_413_in_the_openai_envelope(client):
    big = {**BODY, "messages": [{"role": "user", "content": "x" * 20_000}]}
    response = await client.post("/v1/chat/completions", json=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


async def test_validation_errors_are_400_not_422(client):
    response = await client.post("/v1/chat/completions", json={"model": "claude-sonnet-4", "messages": "hi"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "messages"


async def test_cors_preflight_is_answered_for_local_origins(client):
    headers = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    response = await client.options(
        "/v1/chat/completions", headers={**headers, "Access-Control-Request-Headers": "x-stainless-os"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    foreign = await client.options("/v1/chat/completions", headers={**headers, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers


async def test_request_id_round_trips(client):
    response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


async def test_ignored_sampling_fields_are_accepted(client, engine):
    body = {**BODY, "temperature": 0.1, "top_p": 0.5, "seed": 3, "logit_bias": {"1": 2}, "user": "u", "extra": 1}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello world"


async def test_health_never_calls_the_engine(client, engine):
    response = await client.get("/health")
    assert response.json()["status"] == "ok"
    assert engine.calls == []


async def test_doubled_slashes_in_the_path_are_tolerated(client):
    response = await client.get("/v1//models")
    assert response.status_code == 200
    assert response.json()["object"] == "list"
