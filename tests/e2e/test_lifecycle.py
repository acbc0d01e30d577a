"""Process lifecycle: no Claude Code process outlives the server, even when the server is SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import pid_alive

pytestmark = pytest.mark.e2e


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(upstream_url: str, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "CLAUDE_CODE_API_CLI_ENV": json.dumps(
            {"HOME": str(tmp), "ANTHROPIC_BASE_URL": upstream_url, "ANTHROPIC_API_KEY": "sk-test"}
        ),
        "CLAUDE_CODE_API_DATA_DIR": str(tmp / "data"),
        "CLAUDE_CODE_API_LOG_LEVEL": os.environ.get("TEST_SERVER_LOG_LEVEL", "warning"),
    }
    command = [sys.executable, "-m", "claude_code_api", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not start")


def stream_until_content(url: str, marker: str) -> tuple[httpx.Client, httpx.Response, Iterator[str]]:
    """Start a long stream and read until content flows; the caller keeps the line iterator alive, because
    dropping it closes the response, which the server rightly treats as a client disconnect."""
    reply = "w " * 400
    body = {
        "model": "claude-sonnet-4",
        "stream": True,
        "messages": [
            {"role": "user", "content": f"{marker}\nFAKE:" + json.dumps({"reply": reply, "chunk_delay": 0.05})}
        ],
    }
    client = httpx.Client(timeout=30)
    response = client.send(client.build_request("POST", url + "/v1/chat/completions", json=body), stream=True)
    lines = response.iter_lines()
    for line in lines:
        if '"content":"w' in line:
            break
    return client, response, lines


@pytest.mark.parametrize("how", ["sigkill", "sigterm"])
def test_no_claude_process_survives_the_server(upstream, tmp_path, marker, how):
    server, url = start_server(upstream.url, tmp_path)
    try:
        client, response, lines = stream_until_content(url, marker)
        cli_pids = children_of(server.pid)
        assert cli_pids, "a Claude Code process should be serving the stream"
        server.send_signal(signal.SIGKILL if how == "sigkill" else signal.SIGTERM)
        server.wait(timeout=40)
        response.close()
        client.close()
        del lines
        deadline = time.monotonic() + 5
        while any(pid_alive(p) for p in cli_pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(pid_alive(p) for p in cli_pids)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    leftovers = list((tmp_path / "data" / "sessions").glob("*")) if how == "sigterm" else []
    assert leftovers == [], "a graceful stop removes every scratch directory"
