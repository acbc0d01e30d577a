"""The server's own settings (keys, admin key, Redis URL) never reach a Claude Code process's environment."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

pytestmark = pytest.mark.e2e

SECRETS = {
    "CLAUDE_CODE_API_ADMIN_KEY": "sk-admin-secret-4f1c",
    "CLAUDE_CODE_API_API_KEYS": "sk-client-secret-9a7e",
    "CLAUDE_CODE_API_REDIS_URL": "redis://:redis-secret-3b2d@10.9.8.7:6379/0",
}


def _environ(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode(errors="replace").split("=", 1) for e in entries if b"=" in e)


def test_a_claude_code_process_sees_none_of_the_servers_settings(make_server, monkeypatch, marker):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    # Keys and admin key are read from the environment as an operator would set them; Redis is left out of this
    # server (the variable stays in its environment) so the test needs no Redis.
    running = make_server(redis_url=None)
    client = openai.OpenAI(base_url=running.url + "/v1", api_key=SECRETS["CLAUDE_CODE_API_API_KEYS"], max_retries=0)
    client.chat.completions.create(model="claude-sonnet-4", messages=[{"role": "user", "content": marker}])
    pids = running.engine.live_pids()
    assert pids, "a process stays in the pool after the request"
    for pid in pids:
        env = _environ(pid)
        assert env.get("ANTHROPIC_BASE_URL"), "the process's own settings do reach it"
        leaked = [k for k in env if k.startswith("CLAUDE_CODE_API_")]
        assert leaked == []
        raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
        for value in SECRETS.values():
            assert value not in raw
