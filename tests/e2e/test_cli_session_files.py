"""Claude Code's per-process ``sessions/<pid>.json`` files go when their process does, and leftovers at start."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def cli_session_files(home: Path) -> list[Path]:
    return sorted((home / ".claude" / "sessions").glob("*.json"))


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_no_session_file_outlives_its_process(make_server, tmp_path, marker):
    running = make_server(pool_prestart=False)
    client = running.client()
    for i in range(3):
        # Different system prompts: three configurations, so three processes.
        messages = [{"role": "system", "content": f"prompt {i}"}, {"role": "user", "content": f"{marker} {i}"}]
        client.chat.completions.create(model="claude-sonnet-4", messages=messages)
    home = tmp_path / "s0" / "home"
    assert len(cli_session_files(home)) == 3, "each live process has its file while it runs"
    running.stop()
    assert cli_session_files(home) == []


def test_leftover_session_files_of_dead_processes_are_swept_at_start(make_server, tmp_path):
    sessions: Path = tmp_path / "s0" / "home" / ".claude" / "sessions"
    sessions.mkdir(parents=True)
    ours = str(tmp_path / "s0" / "data" / "sessions" / "0123abcd" / "cwd")

    def leftover(pid: int, cwd: str) -> Path:
        path = sessions / f"{pid}.json"
        path.write_text(json.dumps({"pid": pid, "sessionId": "s", "cwd": cwd}))
        return path

    stale = leftover(dead_pid(), ours)
    alive = leftover(os.getpid(), ours)
    users_own = leftover(dead_pid() + 1_000_000, "/home/someone/project")
    make_server()
    assert not stale.exists(), "a dead process's file from a previous run is removed"
    assert alive.exists(), "a live process's file is never touched"
    assert users_own.exists(), "files of Claude Code sessions the server did not start are left alone"
