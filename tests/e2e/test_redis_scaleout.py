"""Scale-out on Redis: two server replicas (real uvicorn, real Claude Code CLI, the fake upstream) sharing one real
redis-server. Limits hold across both, usage sums across both, a CLI-made key works and is revoked on both, and a
conversation started on one replica continues on the other with the right history (issue 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import RunningServer, cli_settings, requests_with

from claude_code_api.ops.keys import mint_key
from claude_code_api.ops.redis_store import RedisStore
from claude_code_api.testing import redis_server
from claude_code_api.testing.fake_upstream import FakeUpstream
from claude_code_api.testing.redis_server import RedisServer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not redis_server.available(), reason="redis-server not found (the dev dependencies bring one)"),
]
MODEL = "claude-sonnet-4"
ADMIN = "adm-" + uuid.uuid4().hex


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(scope="module")
def replicas(
    upstream: FakeUpstream, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two replicas, each with its own data directory, sharing nothing but Redis (and the fake upstream)."""
    started: list[RunningServer] = []
    try:
        for name in ("a", "b"):
            tmp = tmp_path_factory.mktemp(f"replica-{name}")
            started.append(RunningServer(cli_settings(upstream, tmp, redis_url=redis_url, admin_key=ADMIN)))
        yield started[0], started[1]
    finally:
        for running in started:
            running.stop()


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisStore]:
    opened = RedisStore.from_url(redis_url)
    yield opened
    opened.close()


def fake(text: str, **directive: Any) -> str:
    return text + "\nFAKE:" + json.dumps(directive)


def chat(server: RunningServer, key: str, messages: list[dict[str, Any]]) -> httpx.Response:
    body = {"model": MODEL, "messages": messages}
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(server.url + "/v1/chat/completions", json=body, headers=headers, timeout=60)


def cli(redis_url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``claude-code-api`` command in a process of its own, pointed at Redis by the environment."""
    env = {**os.environ, "CLAUDE_CODE_API_REDIS_URL": redis_url, "CLAUDE_CODE_API_DATA_DIR": str(tmp)}
    command = [sys.executable, "-m", "claude_code_api", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_a_key_made_by_the_cli_works_on_both_replicas_and_revoking_it_locks_both_out(replicas, redis_url, tmp_path):
    name = "cli-" + uuid.uuid4().hex[:8]
    made = cli(redis_url, tmp_path, "keys", "create", "--name", name)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    for replica in replicas:
        assert httpx.get(replica.url + "/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert cli(redis_url, tmp_path, "keys", "revoke", name).returncode == 0
    for replica in replicas:
        refused = httpx.get(replica.url + "/v1/models", headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
    assert not (tmp_path / "claude-code-api.sqlite3").exists()  # the CLI never fell back to SQLite


def test_requests_per_minute_hold_across_replicas(replicas, store, marker):
    a, b = replicas
    key = mint_key(store, "rpm-" + marker, rpm=2)
    assert chat(a, key, [{"role": "user", "content": fake(marker, reply="one")}]).status_code == 200
    assert chat(b, key, [{"role": "user", "content": fake(marker, reply="two")}]).status_code == 200
    for replica in (a, b):
        refused = chat(replica, key, [{"role": "user", "content": fake(marker, reply="three")}])
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_conversation_started_on_one_replica_continues_on_the_other(replicas, upstream, marker):
    a, b = replicas
    messages: list[dict[str, Any]] = [{"role": "system", "content": "Be terse."}]
    for turn, replica in enumerate((a, b, a)):
        messages.append({"role": "user", "content": fake(f"{marker} question {turn}", echo=True)})
        answer = chat(replica, ADMIN, messages)
        assert answer.status_code == 200, answer.text
        messages.append({"role": "assistant", "content": answer.json()["choices"][0]["message"]["content"]})
    for turn in (1, 2):  # turn 1 reached B, which had never seen the conversation; turn 2 went back to A
        asked = f"{marker} question {turn}"  # the request that asked it, not later ones that echo it back
        (turns,) = [r.turns() for r in requests_with(upstream, asked) if asked in r.turns()[-1][1]]
        assert [role for role, _ in turns] == ["user", "assistant"] * turn + ["user"]
        for earlier in range(turn + 1):
            assert f"{marker} question {earlier}" in turns[2 * earlier][1]
        for earlier in range(turn):
            assert turns[2 * earlier + 1][1] == messages[2 + 2 * earlier]["content"]


def test_usage_sums_across_replicas(replicas, marker):
    a, b = replicas
    name = "acct-" + marker
    key = mint_key_via_admin_store(a, name)
    for replica in (a, b):
        content = fake(marker, reply="ok", usage={"input_tokens": 10, "output_tokens": 3})
        assert chat(replica, key, [{"role": "user", "content": content}]).status_code == 200
    rows = wait_for_usage(b, name, requests=2)
    assert [(r["requests"], r["input_tokens"], r["output_tokens"]) for r in rows] == [(2, 20, 6)]


def mint_key_via_admin_store(server: RunningServer, name: str) -> str:
    """The replica's own store (Redis here), as an operator's script would use it."""
    return mint_key(server.app.state.ops.store, name)


def wait_for_usage(server: RunningServer, name: str, requests: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The ledger is written once a response's last byte is out, so it can trail the client by a moment."""
    deadline = time.monotonic() + timeout
    while True:
        reply = httpx.get(server.url + "/v1/admin/usage", params={"key": name}, headers={"x-api-key": ADMIN})
        rows: list[dict[str, Any]] = reply.json()["data"]
        if sum(r["requests"] for r in rows) >= requests or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)
