"""Process lifecycle: no Claude Code process outlives the server, even when the server is SIGKILLed."""

from __future__ import annotations

import contextlib
import http.client
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
from tests.conftest import assert_gone

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


def start_server(upstream_url: str, tmp: Path, **extra_env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "CLAUDE_CODE_API_CLI_ENV": json.dumps(
            {"HOME": str(tmp), "ANTHROPIC_BASE_URL": upstream_url, "ANTHROPIC_API_KEY": "sk-test"}
        ),
        "CLAUDE_CODE_API_DATA_DIR": str(tmp / "data"),
        "CLAUDE_CODE_API_LOG_LEVEL": os.environ.get("TEST_SERVER_LOG_LEVEL", "warning"),
        **extra_env,
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


def stream_until_content(url: str, marker: str, words: int) -> tuple[httpx.Client, httpx.Response, Iterator[str]]:
    """Start a stream of ``words`` words (20 a second) and read until content flows; the caller keeps the line
    iterator alive, because dropping it closes the response, which the server rightly treats as a disconnect."""
    body = {
        "model": "claude-sonnet-4",
        "stream": True,
        "messages": [
            {"role": "user", "content": f"{marker}\nFAKE:" + json.dumps({"reply": "w " * words, "chunk_delay": 0.05})}
        ],
    }
    client = httpx.Client(timeout=30)
    response = client.send(client.build_request("POST", url + "/v1/chat/completions", json=body), stream=True)
    lines = response.iter_lines()
    for line in lines:
        if '"content":"w' in line:
            break
    return client, response, lines


def assert_no_leftovers(tmp: Path) -> None:
    assert list((tmp / "data" / "sessions").glob("*")) == [], "every scratch directory is removed"
    projects = tmp / ".claude" / "projects"
    assert not projects.exists() or list(projects.iterdir()) == [], "no transcript is left in the CLI's config dir"


@contextlib.contextmanager
def serving(upstream_url: str, tmp: Path, **extra_env: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    server, url = start_server(upstream_url, tmp, **extra_env)
    try:
        yield server, url
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_sigkill_of_the_server_kills_its_claude_processes(upstream, tmp_path, marker):
    with serving(upstream.url, tmp_path) as (server, url):
        client, response, lines = stream_until_content(url, marker, words=400)
        cli_pids = children_of(server.pid)
        assert cli_pids, "a Claude Code process should be serving the stream"
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        assert_gone(cli_pids, within=5)
        response.close()
        client.close()


def test_sigterm_lets_the_in_flight_stream_finish_then_stops_everything(upstream, tmp_path, marker):
    with serving(upstream.url, tmp_path) as (server, url):
        client, response, lines = stream_until_content(url, marker, words=40)
        cli_pids = children_of(server.pid)
        server.send_signal(signal.SIGTERM)
        rest = [line for line in lines if line]
        assert rest[-1] == "data: [DONE]", "the in-flight answer is completed before the server stops"
        assert "".join(rest).count('"content":"w') >= 30
        server.wait(timeout=40)
        client.close()
        assert_gone(cli_pids, within=5)
    assert_no_leftovers(tmp_path)


def test_sigterm_cuts_streams_longer_than_the_grace_period(upstream, tmp_path, marker):
    with serving(upstream.url, tmp_path, CLAUDE_CODE_API_SHUTDOWN_GRACE="1") as (server, url):
        client, response, lines = stream_until_content(url, marker, words=400)
        cli_pids = children_of(server.pid)
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
        assert time.monotonic() - started < 8
        assert_gone(cli_pids, within=5)
        response.close()
        client.close()
    assert_no_leftovers(tmp_path)


def test_an_idle_kept_alive_connection_outlives_the_clients_own_keep_alive(upstream, tmp_path):
    """httpx (the openai and anthropic SDKs) keeps an idle connection for 5 s: the server keeps it longer, so a client
    never reuses a connection the server is closing at that moment (uvicorn's own default is 5 s too)."""
    with serving(upstream.url, tmp_path) as (_, url):
        connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
        try:
            connection.request("GET", "/health")
            assert connection.getresponse().read()
            first = connection.sock
            time.sleep(6)
            connection.request("GET", "/health")  # on the same socket: it raises if the server has closed it
            assert connection.getresponse().status == 200 and connection.sock is first
        finally:
            connection.close()
