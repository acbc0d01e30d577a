"""Shared fixtures: the fake Anthropic upstream, and real servers (uvicorn in a thread) driving the real CLI.

No test reaches a real Claude: every CLI gets ``ANTHROPIC_BASE_URL`` of the fake and a private HOME.
"""

from __future__ import annotations

import socket
import stat
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import uvicorn

from claude_code_api.app import create_app
from claude_code_api.engine.base import Engine
from claude_code_api.engine.claude.options import bundled_cli_path
from claude_code_api.settings import Settings
from claude_code_api.testing.fake_upstream import FakeUpstream, LoggedRequest


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


class RunningServer:
    """A real uvicorn serving ``create_app`` on a free port, in a thread with its own event loop."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.app = create_app(settings, engine)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, args=([sock],), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def engine(self) -> Any:
        return self.app.state.api.engine

    def client(self, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key="not-needed", max_retries=0, **kwargs)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


def cli_settings(upstream: FakeUpstream, tmp: Path, **overrides: Any) -> Settings:
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {
        "cli_env": {"HOME": str(home), "ANTHROPIC_BASE_URL": upstream.url, "ANTHROPIC_API_KEY": "sk-test"},
        "data_dir": tmp / "data",
        "upstream_max_retries": 0,
        "keepalive_interval": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def server(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(cli_settings(upstream, tmp_path_factory.mktemp("server")))
    yield running
    running.stop()


@pytest.fixture
def make_server(upstream: FakeUpstream, tmp_path: Path) -> Iterator[Any]:
    """Start servers with custom settings; all are stopped at the end of the test."""
    started: list[RunningServer] = []

    def make(**overrides: Any) -> RunningServer:
        running = RunningServer(cli_settings(upstream, tmp_path / f"s{len(started)}", **overrides))
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def marker() -> str:
    """A unique word to find this test's requests in the shared upstream log."""
    return "m" + uuid.uuid4().hex[:12]


def requests_with(upstream: FakeUpstream, marker: str) -> list[LoggedRequest]:
    return [r for r in upstream.messages_requests() if marker in _all_text(r)]


def _all_text(entry: LoggedRequest) -> str:
    return " ".join(text for _, text in entry.turns())


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone (reading races with its exit: ESRCH)
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def assert_gone(pids: list[int], within: float) -> None:
    """Every process in ``pids`` exits (or is a reaped-to-be zombie) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(pid_alive(p) for p in pids)


def routes(server: RunningServer) -> dict[str, int]:
    """How the pool served requests so far (``route_reuse``, ``route_rewind``, ``route_resume``...)."""
    return {k: v for k, v in server.engine.stats().items() if k.startswith("route_")}


def logging_cli(tmp: Path) -> tuple[Path, Path]:
    """A stand-in ``claude`` that records each invocation's arguments, then runs the real CLI."""
    log = tmp / "cli-calls.log"
    script = tmp / "claude"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(' '.join(sys.argv[1:4]) + '\\n')\n"
        f"os.execv({str(bundled_cli_path())!r}, [{str(bundled_cli_path())!r}, *sys.argv[1:]])\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log
