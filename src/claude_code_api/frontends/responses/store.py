"""Stored responses: what ``previous_response_id``, ``GET``/``DELETE /v1/responses/{id}`` and ``input_items`` read.

A stored response keeps the response object, its input items and the whole conversation that led to it, as neutral
``Turn``s (the assistant's answer included), so a continuation reaches Claude role-separated without re-deriving
anything from OpenAI's view. Each entry belongs to the API key that created it (``owner``, ``""`` when the server
has no keys); callers compare owners, and another key's entry is "not found".

SQLite under ``data_dir`` by default (``responses.sqlite3``, 0600 in a 0700 directory), Redis when ``redis_url``
is set so every replica continues every response; both keep entries for ``transcript_retention_hours``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis.asyncio

from claude_code_api.core.request import Turn
from claude_code_api.settings import Settings

REDIS_PREFIX = "cca:response:"
PRUNE_INTERVAL = 600.0


@dataclass(frozen=True)
class StoredResponse:
    owner: str
    response: dict[str, Any]
    input_items: list[dict[str, Any]]
    turns: tuple[Turn, ...]

    def pack(self) -> bytes:
        turns = [[t.role, list(t.blocks)] for t in self.turns]
        body = {"owner": self.owner, "response": self.response, "input_items": self.input_items, "turns": turns}
        return zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 6)

    @classmethod
    def unpack(cls, blob: bytes) -> StoredResponse:
        body = json.loads(zlib.decompress(blob))
        turns = tuple(Turn(role, tuple(blocks)) for role, blocks in body["turns"])
        return cls(body["owner"], body["response"], body["input_items"], turns)


class ResponseStore(Protocol):
    async def save(self, response_id: str, entry: StoredResponse) -> None: ...

    async def load(self, response_id: str) -> StoredResponse | None: ...

    async def delete(self, response_id: str) -> None: ...

    async def aclose(self) -> None: ...


class SqliteResponseStore:
    """One table, WAL; every call runs in a worker thread on one shared connection."""

    def __init__(self, path: Path, retention_s: float, clock: Callable[[], float] = time.time) -> None:
        self._retention = retention_s
        self._clock = clock
        self._last_prune = 0.0
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # created private before SQLite opens it
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (id TEXT PRIMARY KEY, body BLOB NOT NULL, saved_at REAL NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS responses_saved_at ON responses (saved_at)")

    @classmethod
    async def open(cls, path: Path, retention_s: float) -> SqliteResponseStore:
        return await asyncio.to_thread(cls, path, retention_s)

    async def save(self, response_id: str, entry: StoredResponse) -> None:
        await asyncio.to_thread(self._save, response_id, entry.pack(), self._clock())

    async def load(self, response_id: str) -> StoredResponse | None:
        blob = await asyncio.to_thread(self._load, response_id, self._clock() - self._retention)
        return StoredResponse.unpack(blob) if blob is not None else None

    async def delete(self, response_id: str) -> None:
        await asyncio.to_thread(self._execute, "DELETE FROM responses WHERE id = ?", (response_id,))

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _save(self, response_id: str, blob: bytes, now: float) -> None:
        self._execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", (response_id, blob, now))
        if now - self._last_prune > PRUNE_INTERVAL:  # expired entries go now and then, on the write path
            self._last_prune = now
            self._execute("DELETE FROM responses WHERE saved_at < ?", (now - self._retention,))

    def _load(self, response_id: str, oldest: float) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM responses WHERE id = ? AND saved_at >= ?", (response_id, oldest)
            ).fetchone()
        return bytes(row[0]) if row else None

    def _execute(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            self._db.execute(sql, args)

    def _close(self) -> None:
        with self._lock:
            self._db.close()


class RedisResponseStore:
    """One key per response, ``<prefix><id>``, expiring after the retention."""

    def __init__(self, client: redis.asyncio.Redis, retention_s: float, prefix: str = REDIS_PREFIX) -> None:
        self._client = client
        self._ttl = max(1, int(retention_s))
        self._prefix = prefix

    async def save(self, response_id: str, entry: StoredResponse) -> None:
        await self._client.set(self._prefix + response_id, entry.pack(), ex=self._ttl)

    async def load(self, response_id: str) -> StoredResponse | None:
        blob = await self._client.get(self._prefix + response_id)
        return StoredResponse.unpack(blob) if isinstance(blob, bytes) else None

    async def delete(self, response_id: str) -> None:
        await self._client.delete(self._prefix + response_id)

    async def aclose(self) -> None:
        await self._client.aclose()


async def open_store(settings: Settings) -> ResponseStore:
    retention = settings.transcript_retention_hours * 3600
    if settings.redis_url:
        return RedisResponseStore(redis.asyncio.Redis.from_url(settings.redis_url), retention)
    return await SqliteResponseStore.open(settings.data_dir / "responses.sqlite3", retention)
