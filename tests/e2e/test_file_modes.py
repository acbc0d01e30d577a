"""What the server writes is private: the data directory is 0700 and its files 0600, whatever the umask."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_code_api.engine.claude.transcript_store import SqliteTranscriptStore
from claude_code_api.ops.store import SqliteStore

pytestmark = pytest.mark.e2e


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sqlite_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.iterdir() if ".sqlite3" in p.name)


def test_a_fresh_data_directory_and_its_databases_are_private(make_server, tmp_path, marker, umask_022):
    running = make_server()
    running.client().chat.completions.create(model="claude-sonnet-4", messages=[{"role": "user", "content": marker}])
    data_dir = running.settings.data_dir
    names = {p.name for p in sqlite_files(data_dir)}
    assert {"claude-code-api.sqlite3", "claude-code-api.sqlite3-wal", "transcripts.sqlite3-wal"} <= names
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "sessions") == 0o700
    assert {p.name: mode(p) for p in sqlite_files(data_dir)} == {name: 0o600 for name in names}


@pytest.mark.parametrize("first", ["ops", "transcripts"])
def test_whichever_store_creates_the_directory_makes_it_private(tmp_path, umask_022, first):
    data_dir = tmp_path / "fresh" / "data"
    if first == "ops":
        store = SqliteStore(data_dir / "claude-code-api.sqlite3")
        store.close()
    else:
        transcripts = asyncio.run(SqliteTranscriptStore.open(data_dir / "transcripts.sqlite3", 60.0, 10))
        asyncio.run(transcripts.save("f", ["line"]))
        asyncio.run(transcripts.aclose())
    assert mode(data_dir) == 0o700
    assert sqlite_files(data_dir)
    assert all(mode(p) == 0o600 for p in sqlite_files(data_dir))


def test_files_an_older_version_left_readable_are_made_private(tmp_path, umask_022):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    SqliteStore(data_dir / "claude-code-api.sqlite3").close()
    for path in [data_dir, *sqlite_files(data_dir)]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    SqliteStore(data_dir / "claude-code-api.sqlite3").close()
    assert mode(data_dir) == 0o700
    assert all(mode(p) == 0o600 for p in sqlite_files(data_dir))
