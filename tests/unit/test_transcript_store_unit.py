"""The transcript store (SQLite retention, Redis expiry) and the pure transcript helpers it relies on.

The lines below have the shape the pinned CLI (2.1.332) writes: bookkeeping lines without a uuid, a chain of
entries linked by ``parentUuid``, each content block of an answer on its own line, attachments on the chain.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from claude_code_api.core.request import Turn
from claude_code_api.engine.claude.transcript import chain_matches, read_cli_transcript, restore_transcript
from claude_code_api.engine.claude.transcript_store import (
    RedisTranscriptStore,
    SqliteTranscriptStore,
    conversation_fingerprint,
)
from claude_code_api.testing import redis_server
from claude_code_api.testing.redis_server import RedisServer

SESSION = "11111111-1111-4111-8111-111111111111"
OLD_CWD = "/data/sessions/old/cwd"


def entry(kind: str, entry_uuid: str | None, parent: str | None, content: Any = None, **extra: Any) -> str:
    line: dict[str, Any] = {"type": kind, "sessionId": SESSION, **extra}
    if entry_uuid is not None:
        line.update(uuid=entry_uuid, parentUuid=parent, isSidechain=False, cwd=OLD_CWD, userType="external")
    if content is not None:
        line["message"] = {"role": kind, "content": content}
    return json.dumps(line)


def text(value: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": value}]


USE = {"type": "tool_use", "id": "toolu_1", "name": "mcp__fn__get_weather", "input": {"city": "Paris"}}
THINK = {"type": "thinking", "thinking": "hmm", "signature": "c2ln"}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}


def conversation() -> list[str]:
    """u1 → attachment → thinking, text (one answer) → u2 → thinking, tool_use (parked at the call)."""
    return [
        json.dumps({"type": "atis-latch", "atis": "", "sessionId": SESSION}),
        entry("queue-operation", None, None, operation="enqueue"),
        entry("user", "u1", None, text("hello")),
        entry("attachment", "at1", "u1", attachment={"type": "date"}),
        entry("assistant", "a1", "at1", [THINK]),
        entry("assistant", "a2", "a1", text("hi there")),
        entry("user", "u2", "a2", text("weather?")),
        entry("assistant", "a3", "u2", [THINK]),
        entry("assistant", "a4", "a3", [USE]),
    ]


CLIENT_VIEW = [
    Turn("user", tuple(text("hello"))),
    Turn("assistant", tuple(text("hi there"))),
    Turn("user", tuple(text("weather?"))),
    Turn("assistant", ({"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},)),
]


def write(directory: Path, name: str, lines: list[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


# -- reading and checking the CLI's transcript ------------------------------------------------------------------
def test_the_cli_transcript_matches_the_client_view_it_holds(tmp_path: Path):
    write(tmp_path, f"{SESSION}.jsonl", conversation())
    lines = read_cli_transcript(tmp_path)
    assert lines == conversation()
    assert chain_matches(lines, CLIENT_VIEW)
    edited = [*CLIENT_VIEW[:1], Turn("assistant", tuple(text("an edit"))), *CLIENT_VIEW[2:]]
    assert not chain_matches(lines, edited)
    assert not chain_matches(lines, CLIENT_VIEW[:2])  # a transcript that holds more is not that conversation


def test_an_unfinished_transcript_does_not_match(tmp_path: Path):
    lines = conversation()
    write(tmp_path, "s.jsonl", [*lines[:-1], lines[-1][:40]])  # the CLI is still writing the last line
    unfinished = read_cli_transcript(tmp_path)
    assert unfinished is not None and not chain_matches(unfinished, CLIENT_VIEW)


def test_branches_left_by_a_rewind_are_dropped_and_the_newest_file_wins(tmp_path: Path):
    rewound = [*conversation()[:6], entry("user", "old", "a2", text("dropped")), entry("assistant", "x", "old", [])]
    rewound += [entry("user", "u2", "a2", text("weather?")), *conversation()[7:]]
    write(tmp_path, "older.jsonl", [entry("user", "z", None, text("other"))])
    newest = write(tmp_path, "newer.jsonl", rewound)
    newest.touch()
    assert read_cli_transcript(tmp_path) == conversation()
    assert read_cli_transcript(tmp_path / "missing") is None


# -- restoring a stored transcript for a new process ---------------------------------------------------------------
def test_a_restored_transcript_gets_a_new_session_and_cwd_and_nothing_else_changes(tmp_path: Path):
    held = CLIENT_VIEW[:2]
    stored = conversation()[:6]
    restored = restore_transcript(stored, held, tmp_path, None)
    assert restored.session_id != SESSION
    for before, after in zip(stored, restored.lines, strict=True):
        old, new = json.loads(before), json.loads(after)
        assert new.pop("sessionId") == restored.session_id and old.pop("sessionId") == SESSION
        if "cwd" in old:
            assert (old.pop("cwd"), new.pop("cwd")) == (OLD_CWD, str(tmp_path))
        assert new == old
    assert restored.uuids == ("u1", "")  # user prompts keep their CLI uuid, so a rewind can land there


def test_a_restored_tool_turn_ends_with_the_clients_results_answering_the_chain(tmp_path: Path):
    results = Turn("user", (RESULT,))
    restored = restore_transcript(conversation(), [*CLIENT_VIEW, results], tmp_path, results)
    last = json.loads(restored.lines[-1])
    assert last["parentUuid"] == "a4" and last["type"] == "user" and last["sessionId"] == restored.session_id
    assert last["message"] == {"role": "user", "content": [RESULT]} and last["cwd"] == str(tmp_path)
    assert restored.uuids == ("u1", "", "u2", "", "")


def test_prompts_that_do_not_map_one_to_one_get_no_uuid(tmp_path: Path):
    other = [Turn("user", tuple(text("something else"))), CLIENT_VIEW[1]]
    assert restore_transcript(conversation()[:6], other, tmp_path, None).uuids == ("", "")


def test_the_fingerprint_is_the_client_view_conversation():
    assert conversation_fingerprint(CLIENT_VIEW) == conversation_fingerprint(list(CLIENT_VIEW))
    assert conversation_fingerprint(CLIENT_VIEW) != conversation_fingerprint(CLIENT_VIEW[:2])
    edited = [Turn("user", tuple(text("hello"))), Turn("assistant", tuple(text("hi there!")))]
    assert conversation_fingerprint(edited) != conversation_fingerprint(CLIENT_VIEW[:2])


# -- SQLite: retention by age and by count -------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_sqlite_keeps_transcripts_across_reopening(tmp_path: Path):
    async def main() -> list[str] | None:
        first = SqliteTranscriptStore(tmp_path / "t.sqlite3", 3600, 10)
        await first.save("fp", ["a", "b é"])
        await first.aclose()
        second = SqliteTranscriptStore(tmp_path / "t.sqlite3", 3600, 10)
        try:
            return await second.load("fp")
        finally:
            await second.aclose()

    assert asyncio.run(main()) == ["a", "b é"]


def test_sqlite_prune_drops_entries_older_than_the_retention_and_beyond_the_count(tmp_path: Path):
    clock = Clock()
    store = SqliteTranscriptStore(tmp_path / "t.sqlite3", retention_s=100, max_entries=3, clock=clock)

    async def main() -> dict[str, list[str] | None]:
        for name in ("old", "a", "b", "c", "d"):
            await store.save(name, [name])
            clock.now += 100 if name == "old" else 1
        assert await store.load("old") is None  # expired entries are never served, even before a prune
        await store.prune()
        found = {name: await store.load(name) for name in ("old", "a", "b", "c", "d")}
        await store.aclose()
        return found

    assert asyncio.run(main()) == {"old": None, "a": None, "b": ["b"], "c": ["c"], "d": ["d"]}
    rows = sqlite3.connect(tmp_path / "t.sqlite3").execute("SELECT fingerprint FROM transcripts")
    assert sorted(r[0] for r in rows) == ["b", "c", "d"]  # the rows are gone, not just hidden


# -- Redis: shared by replicas, expiring by itself -----------------------------------------------------------------
@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not redis_server.available():
        pytest.skip("redis-server not found (the dev dependencies bring one)")
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


def test_redis_store_shares_transcripts_with_an_expiry(redis_url: str):
    prefix = f"t{uuid.uuid4().hex[:8]}:transcript:"

    async def main() -> tuple[list[str] | None, list[str] | None]:
        writer = RedisTranscriptStore.from_url(redis_url, retention_s=3600, prefix=prefix)
        reader = RedisTranscriptStore.from_url(redis_url, retention_s=3600, prefix=prefix)  # another replica
        try:
            await writer.save("fp", conversation())
            await writer.prune()
            return await reader.load("fp"), await reader.load("missing")
        finally:
            await writer.aclose()
            await reader.aclose()

    assert asyncio.run(main()) == (conversation(), None)
    raw = redis.Redis.from_url(redis_url)
    try:
        assert 3590 < raw.ttl(prefix + "fp") <= 3600
    finally:
        raw.close()


def test_redis_entries_expire_after_the_retention(redis_url: str):
    async def main() -> tuple[list[str] | None, list[str] | None]:
        store = RedisTranscriptStore.from_url(redis_url, retention_s=1, prefix=f"t{uuid.uuid4().hex[:8]}:")
        try:
            await store.save("fp", ["line"])
            fresh = await store.load("fp")
            await asyncio.sleep(1.3)
            return fresh, await store.load("fp")
        finally:
            await store.aclose()

    assert asyncio.run(main()) == (["line"], None)
