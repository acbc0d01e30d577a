"""API keys, per-key limits, usage, metrics and access logs, through the real app with the FakeEngine."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from claude_code_api.app import create_app
from claude_code_api.core.events import Completed, TextDelta, TokenUsage
from claude_code_api.engine.fake import FakeEngine
from claude_code_api.ops.hub import Operations
from claude_code_api.ops.keys import mint_key
from claude_code_api.settings import Settings

CHAT = "/v1/chat/completions"
BODY: dict[str, Any] = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
ADMIN = "admin-secret"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Harness:
    def __init__(self, tmp: Path, **settings: Any) -> None:
        self.engine = FakeEngine()
        self.app = create_app(Settings(data_dir=tmp, **settings), engine=self.engine)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://test")

    @property
    def ops(self) -> Operations:
        ops: Operations = self.app.state.ops
        return ops

    def key(self, name: str, **limits: Any) -> dict[str, str]:
        return {"Authorization": "Bearer " + mint_key(self.ops.store, name, **limits)}

    async def chat(self, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
        return await self.client.post(CHAT, json={**BODY, **body}, headers=headers or {})


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path, admin_key=ADMIN)
    yield harness
    await harness.client.aclose()


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


# -- keys -----------------------------------------------------------------------------------------------------


async def test_without_keys_the_server_is_open(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    assert (await h.chat()).status_code == 200
    assert (await h.client.get("/v1/admin/usage")).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk-cca-wrong"}, {"Authorization": "Basic x"}])
async def test_missing_or_wrong_key_is_401_invalid_api_key(h: Harness, headers: dict[str, str]) -> None:
    response = await h.chat(headers)
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_api_key"
    assert response.headers["x-request-id"]
    assert h.engine.calls == []


async def test_managed_key_works_as_bearer_and_as_x_api_key_until_revoked(h: Harness) -> None:
    headers = h.key("alice")
    assert (await h.chat(headers)).status_code == 200
    assert (await h.chat({"x-api-key": headers["Authorization"][7:]})).status_code == 200
    h.ops.store.revoke_key("alice")
    response = await h.chat(headers)
    assert response.status_code == 401 and "revoked" in _error(response)["message"]


async def test_static_keys_from_the_environment_comma_separated(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CLAUDE_CODE_API_API_KEYS", "k-one, k-two")
    h = Harness(tmp_path)
    assert (await h.chat({"Authorization": "Bearer k-two"})).status_code == 200
    assert (await h.chat({"Authorization": "Bearer k-three"})).status_code == 401


async def test_a_key_limited_to_some_models_gets_404_for_others(h: Harness) -> None:
    headers = h.key("haiku-only", models=["haiku"])
    assert (await h.chat(headers, model="haiku")).status_code == 200
    assert (await h.chat(headers, model="claude-haiku-5-5")).status_code == 200  # the id the alias resolves to
    response = await h.chat(headers, model="sonnet")
    assert response.status_code == 404 and _error(response)["code"] == "model_not_found"
    assert len(h.engine.calls) == 2


async def test_probes_never_need_a_key_admin_endpoints_need_the_admin_key(h: Harness) -> None:
    assert (await h.client.get("/health")).status_code == 200
    assert (await h.client.get("/ready")).status_code == 200
    user = h.key("user")
    for path in ("/metrics", "/v1/admin/usage", "/v1/admin/keys"):
        assert (await h.client.get(path)).status_code == 401
        denied = await h.client.get(path, headers=user)
        assert denied.status_code == 403 and _error(denied)["type"] == "permission_error"
        assert (await h.client.get(path, headers={"Authorization": "Bearer " + ADMIN})).status_code == 200


async def test_admin_keys_endpoint_lists_names_never_keys(h: Harness) -> None:
    user = h.key("user", rpm=3)
    response = await h.client.get("/v1/admin/keys", headers={"x-api-key": ADMIN})
    (entry,) = response.json()["data"]
    assert entry["name"] == "user" and entry["rpm"] == 3
    assert user["Authorization"][7:] not in response.text


# -- limits -----------------------------------------------------------------------------------------------------


async def test_requests_per_minute_gives_429_with_retry_after(h: Harness) -> None:
    headers = h.key("slow", rpm=2)
    assert [(await h.chat(headers)).status_code for _ in range(2)] == [200, 200]
    response = await h.chat(headers)
    assert response.status_code == 429
    assert _error(response)["code"] == "rate_limit_exceeded"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert len(h.engine.calls) == 2
    assert (await h.chat(h.key("other", rpm=2))).status_code == 200  # limits are per key


async def test_max_concurrent_rejects_while_a_request_is_running(h: Harness) -> None:
    headers = h.key("one-at-a-time", max_concurrent=1)
    h.engine.script(0.3, TextDelta("slow"), Completed("end_turn", TokenUsage(1, 1)))
    first = asyncio.create_task(h.chat(headers))
    await asyncio.sleep(0.1)
    second = await h.chat(headers)
    assert second.status_code == 429 and second.headers["retry-after"] == "1"
    assert (await first).status_code == 200
    assert (await h.chat(headers)).status_code == 200  # released when the first finished


async def test_tokens_per_minute_counts_what_the_engine_reported(h: Harness) -> None:
    headers = h.key("thrifty", tpm=100)
    h.engine.script(TextDelta("x"), Completed("end_turn", TokenUsage(input_tokens=90, output_tokens=20)))
    assert (await h.chat(headers)).status_code == 200
    response = await h.chat(headers)
    assert response.status_code == 429 and "tokens per minute" in _error(response)["message"]


# -- usage, metrics, logs ---------------------------------------------------------------------------------------


def _completed(cost: float = 0.0042) -> Completed:
    usage = TokenUsage(input_tokens=11, output_tokens=7, cache_read_tokens=300, cache_write_tokens=40)
    return Completed("end_turn", usage, cost_usd=cost)


@pytest.mark.parametrize("stream", [False, True])
async def test_usage_rows_match_the_tokens_the_engine_reported(h: Harness, stream: bool) -> None:
    headers = h.key("acct")
    for _ in range(2):
        h.engine.script(TextDelta("hi"), _completed())
        response = await h.chat(headers, stream=stream)
        assert response.status_code == 200
    (row,) = h.ops.store.usage(key_name="acct")
    assert (row.model, row.requests) == ("claude-sonnet-5-5", 2)
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == (22, 14, 600, 80)
    assert row.cost_usd == pytest.approx(0.0084)


async def test_admin_usage_endpoint_returns_the_ledger_as_json(h: Harness) -> None:
    h.engine.script(TextDelta("hi"), _completed())
    await h.chat(h.key("acct"), model="haiku")
    admin = {"Authorization": "Bearer " + ADMIN}
    (row,) = (await h.client.get("/v1/admin/usage", params={"key": "acct"}, headers=admin)).json()["data"]
    assert row["key"] == "acct" and row["model"] == "claude-haiku-5-5" and row["requests"] == 1
    assert (row["input_tokens"], row["output_tokens"], row["cost_usd"]) == (11, 7, 0.0042)
    future = await h.client.get("/v1/admin/usage", params={"since": "2999-01-01"}, headers=admin)
    assert future.json()["data"] == []
    bad = await h.client.get("/v1/admin/usage", params={"since": "yesterday"}, headers=admin)
    assert bad.status_code == 400 and _error(bad)["param"] == "since"


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_parse_and_move_with_requests(h: Harness) -> None:
    admin = {"Authorization": "Bearer " + ADMIN}
    user = h.key("m")
    h.engine.script(TextDelta("hi"), _completed(cost=0.5))
    assert (await h.chat(user)).status_code == 200
    assert (await h.chat({})).status_code == 401
    samples = _samples((await h.client.get("/metrics", headers=admin)).text)
    ok = frozenset({("route", CHAT), ("model", "claude-sonnet-5-5"), ("status", "200")})
    assert samples[("claude_code_api_requests_total", ok)] == 1
    assert samples[("claude_code_api_requests_total", frozenset({("route", CHAT), ("model", ""), ("status", "401")}))]
    tokens = frozenset({("model", "claude-sonnet-5-5"), ("kind", "cache_read")})
    assert samples[("claude_code_api_tokens_total", tokens)] == 300
    assert samples[("claude_code_api_cost_usd_total", frozenset({("model", "claude-sonnet-5-5")}))] == 0.5
    assert samples[("claude_code_api_errors_total", frozenset({("kind", "Unauthenticated")}))] == 1
    ttft = frozenset({("model", "claude-sonnet-5-5")})
    assert samples[("claude_code_api_time_to_first_token_seconds_count", ttft)] == 1
    latency = frozenset({("route", CHAT), ("model", "claude-sonnet-5-5")})
    assert samples[("claude_code_api_request_duration_seconds_count", latency)] == 1


async def test_metrics_include_engine_process_gauges(tmp_path: Path) -> None:
    class StatsEngine(FakeEngine):
        def stats(self) -> dict[str, int]:
            return {"running": 2, "queued": 1, "idle": 3, "spawned": 9, "route_reuse": 4, "route_flattened": 1}

    app = create_app(Settings(data_dir=tmp_path), engine=StatsEngine())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        samples = _samples((await client.get("/metrics")).text)
    assert samples[("claude_code_api_processes_active", frozenset())] == 2
    assert samples[("claude_code_api_requests_queued", frozenset())] == 1
    assert samples[("claude_code_api_processes_warm", frozenset())] == 3
    assert samples[("claude_code_api_process_spawns_total", frozenset())] == 9
    assert samples[("claude_code_api_process_routes_total", frozenset({("route", "reuse")}))] == 4
    assert samples[("claude_code_api_process_routes_total", frozenset({("route", "flattened")}))] == 1


async def test_engine_errors_are_counted_by_kind(h: Harness) -> None:
    from claude_code_api.errors import Timeout

    h.engine.script(TextDelta("partial"), Timeout("too slow"))
    assert (await h.chat({"x-api-key": ADMIN})).status_code == 504
    samples = _samples((await h.client.get("/metrics", headers={"x-api-key": ADMIN})).text)
    assert samples[("claude_code_api_errors_total", frozenset({("kind", "Timeout")}))] == 1


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "claude_code_api.access"]


async def test_one_json_log_line_per_request_with_the_request_id(h: Harness, caplog) -> None:
    caplog.set_level(logging.INFO, logger="claude_code_api.access")
    h.engine.script(TextDelta("secret answer"), _completed())
    response = await h.chat(
        {**h.key("logged"), "X-Request-ID": "req-abc-123"}, messages=[{"role": "user", "content": "secret question"}]
    )
    assert response.headers["x-request-id"] == "req-abc-123"
    (line,) = _access_lines(caplog)
    assert line["request_id"] == "req-abc-123" and line["key"] == "logged" and line["status"] == 200
    assert line["model"] == "claude-sonnet-5-5" and line["input_tokens"] == 11 and line["output_tokens"] == 7
    assert line["cost_usd"] == 0.0042 and line["latency_ms"] >= 0
    assert "secret" not in json.dumps(line)


async def test_prompts_are_logged_only_when_turned_on(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="claude_code_api.access")
    h = Harness(tmp_path, log_prompts=True)
    await h.chat(messages=[{"role": "user", "content": "what is 2+2"}])
    (line,) = _access_lines(caplog)
    assert line["prompt"] == "what is 2+2" and line["completion"] == "Hello world"
