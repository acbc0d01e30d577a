"""Claude Code processes that die mid-answer, and the cap on every live process (parked ones included)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

import httpx
import pytest
from tests.conftest import RunningServer

pytestmark = pytest.mark.e2e

MODEL = "claude-sonnet-4"
SLOW = json.dumps({"chunks": 20, "chunk_delay": 0.15})


def _kill_busy_process_soon(server: RunningServer) -> None:
    def kill() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pids = server.engine.busy_pids()
            if pids and server.engine.stats().get("busy"):
                time.sleep(0.5)  # the answer is under way
                os.kill(pids[0], signal.SIGKILL)
                return
            time.sleep(0.02)

    threading.Thread(target=kill, daemon=True).start()


def _body(marker: str, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": f"{marker} FAKE: {SLOW}"}], **extra}


def test_a_process_killed_mid_answer_is_an_error_in_the_envelope_and_the_next_request_works(make_server, marker):
    server = make_server(pool_prestart=False)
    _kill_busy_process_soon(server)
    response = httpx.post(server.url + "/v1/chat/completions", json=_body(marker), timeout=60)
    assert response.status_code in (502, 503)
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}

    _kill_busy_process_soon(server)
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=_body(marker, stream=True), timeout=60) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]" and '"error"' in lines[-2]

    ok = httpx.post(
        server.url + "/v1/chat/completions", json={**_body(marker), "messages": [{"role": "user", "content": "hi"}]}
    )
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"]


def test_never_more_live_processes_than_max_processes_with_unanswered_tool_calls(make_server, marker):
    server = make_server(max_processes=3)
    tool = {"type": "function", "function": {"name": "extract", "parameters": {"type": "object", "properties": {}}}}
    calls = json.dumps({"tool_calls": [{"name": "extract", "arguments": {}}]})
    peak = 0
    for i in range(10):
        body = {
            "model": MODEL,
            "tools": [tool],
            "messages": [{"role": "user", "content": f"{marker} {i} FAKE: {calls}"}],
        }
        response = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=60)
        assert response.status_code == 200 and response.json()["choices"][0]["finish_reason"] == "tool_calls"
        peak = max(peak, len(server.engine.live_pids()))
        stats = server.engine.stats()
        assert stats["live"] + stats["retiring"] + stats["spawning"] <= 3
    assert peak <= 3 and server.engine.stats()["parked"] >= 1
    ok = httpx.post(
        server.url + "/v1/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert ok.status_code == 200
