"""The SQLite store: managed keys are stored as hashes and revocable; usage rows add up per key, model and day."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from claude_code_api.core.events import TokenUsage
from claude_code_api.errors import Unauthenticated
from claude_code_api.ops.keys import KEY_PREFIX, KeyRing, hash_key, mint_key
from claude_code_api.ops.store import KeyExists, SqliteStore


@pytest.fixture
def store(tmp_path: Path):
    s = SqliteStore(tmp_path / "ops.sqlite3")
    yield s
    s.close()


def test_a_minted_key_is_stored_only_as_its_hash(store: SqliteStore, tmp_path: Path) -> None:
    key = mint_key(store, "alice", rpm=10, models=["sonnet"])
    assert key.startswith(KEY_PREFIX) and len(key) > 40
    raw = (tmp_path / "ops.sqlite3").read_bytes() + (tmp_path / "ops.sqlite3-wal").read_bytes()
    assert key.encode() not in raw
    record = store.key_by_hash(hash_key(key))
    assert record is not None and record.name == "alice" and record.rpm == 10 and record.models == ("sonnet",)


def test_names_are_unique_even_after_revocation(store: SqliteStore) -> None:
    mint_key(store, "alice")
    assert store.revoke_key("alice")
    assert not store.revoke_key("alice")
    with pytest.raises(KeyExists):
        mint_key(store, "alice")


def test_the_store_uses_wal_so_the_cli_can_work_beside_the_server(store: SqliteStore) -> None:
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_key_ring_is_open_without_keys_and_closed_once_any_key_exists(store: SqliteStore) -> None:
    ring = KeyRing(store, [], None)
    assert ring.authenticate(None).name == "anonymous"
    key = mint_key(store, "bob")
    with pytest.raises(Unauthenticated):
        ring.authenticate(None)
    assert ring.authenticate(key).name == "bob"
    store.revoke_key("bob")
    with pytest.raises(Unauthenticated, match="revoked"):
        ring.authenticate(key)
    with pytest.raises(Unauthenticated):  # revoking the last key must not reopen the server
        ring.authenticate(None)


def test_static_and_admin_keys_authenticate_with_distinct_names(store: SqliteStore) -> None:
    ring = KeyRing(store, ["s1", "s2"], "adm")
    assert ring.authenticate("adm").admin
    one, two = ring.authenticate("s1"), ring.authenticate("s2")
    assert not one.admin and one.name.startswith("static-") and one.name != two.name
    with pytest.raises(Unauthenticated, match="Incorrect API key"):
        ring.authenticate("s3")


def test_usage_adds_up_per_key_model_and_day(store: SqliteStore) -> None:
    day1, day2 = date(2026, 1, 1), date(2026, 1, 2)
    store.add_usage("a", "m", TokenUsage(10, 2, 3, 4), 0.5, day1)
    store.add_usage("a", "m", TokenUsage(1, 1, 1, 1), 0.25, day1)
    store.add_usage("b", "m", TokenUsage(7, 7), 1.0, day2)
    rows = store.usage()
    assert [(r.day, r.key_name, r.requests) for r in rows] == [("2026-01-01", "a", 2), ("2026-01-02", "b", 1)]
    a = rows[0]
    assert (a.input_tokens, a.output_tokens, a.cache_read_tokens, a.cache_write_tokens) == (11, 3, 4, 5)
    assert a.cost_usd == pytest.approx(0.75)
    assert [r.key_name for r in store.usage(key_name="b")] == ["b"]
    assert [r.day for r in store.usage(since=day2)] == ["2026-01-02"]
