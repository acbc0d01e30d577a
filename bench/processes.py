"""Subprocesses of the benchmark: the workspace they share, starting and stopping them, and waiting for HTTP.

Owns free ports, the scrubbed environment, the fake upstream's and the servers' command lines and environment, and
the proof of which flags a server's Claude Code process ran with. A stopped process takes its descendants along.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from inputs import API_KEY, MODEL_ID, SCRUBBED_PREFIXES
from procfs import descendants, process_table


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrub_environment() -> None:
    for name in list(os.environ):
        if name.startswith(SCRUBBED_PREFIXES) or name in ("API_PORT", "CLAUDECODE"):
            del os.environ[name]


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after 10 s; then kill any of its descendants that outlived it (same pid and start)."""
    family = descendants(process.pid)
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
    table = process_table()
    for pid, started in family:
        if pid in table and table[pid][1] == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.asynccontextmanager
async def running(argv: list[str], env: dict[str, str], log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    try:
        yield process
    finally:
        await stop_process(process)


async def wait_http(
    url: str, process: asyncio.subprocess.Process, log: Path, timeout: float = 60.0, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"{url}: process exited with {process.returncode}\n{_log_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(interval)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s\n{_log_tail(log)}")


async def warm_up_upstream(url: str) -> None:
    """Three streamed model calls to the fake upstream before anything is measured: its own first answer costs ~25 ms
    more than the next ones (Python's first-use work), which Claude's API, always warm, does not charge anyone."""
    body = {"model": MODEL_ID, "max_tokens": 16, "stream": True, "messages": [{"role": "user", "content": "warm-up"}]}
    async with httpx.AsyncClient(timeout=10.0) as http:
        for _ in range(3):
            (await http.post(url + "/v1/messages", json=body)).raise_for_status()
        await http.delete(url + "/_log")


def fake_upstream_command(port: int) -> list[str]:
    return [sys.executable, "-m", "claude_code_api.testing.fake_upstream", "--port", str(port)]


@dataclass(frozen=True)
class Workspace:
    root: Path
    upstream: str  # the fake upstream's base URL

    @property
    def home(self) -> Path:
        return self.root / "home"

    def cli_env(self) -> dict[str, str]:
        return {"HOME": str(self.home), "ANTHROPIC_BASE_URL": self.upstream, "ANTHROPIC_API_KEY": API_KEY}


def server_env(ws: Workspace, *, pool: bool, name: str) -> dict[str, str]:
    """Default settings (the goals are for defaults), but for the pool switch, paths and the log level."""
    env = dict(os.environ)
    env.update(
        {
            "CLAUDE_CODE_API_CLI_ENV": json.dumps(ws.cli_env()),
            "CLAUDE_CODE_API_DATA_DIR": str(ws.root / f"data-{name}"),
            "CLAUDE_CODE_API_POOL_ENABLED": "true" if pool else "false",
            "CLAUDE_CODE_API_LOG_LEVEL": "warning",
        }
    )
    return env


def server_command(port: int) -> list[str]:
    script = Path(sys.executable).parent / "claude-code-api"
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "claude_code_api"]
    return [*launcher, "serve", "--host", "127.0.0.1", "--port", str(port)]


def cli_argv(server_pid: int, ws: Workspace) -> list[str]:
    """The command line of one of the server's Claude Code processes, temp paths shortened (proof of the flags)."""
    for pid, _ in descendants(server_pid):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            return [arg.decode().replace(str(ws.root), "$BENCH") for arg in argv]
    return []
