"""Persistent state for operations: managed API keys and the usage ledger.

``Store`` is the interface (``SqliteStore`` here, the embedded default; ``RedisStore`` in ``redis_store.py``
for replicas). SQLite is one stdlib-sqlite3 file in WAL mode so the CLI (``keys``, ``usage``) can read and write
while the server runs. ``AsyncStore`` is the request path's narrow view (key lookups and the usage write), so a
networked store can answer without blocking the event loop; ``InlineStore`` adapts a local ``Store`` to it.
Only SHA-256 hashes of keys are ever stored. No HTTP or FastAPI knowledge here.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Protocol

from claude_code_api.core.events import TokenUsage
from claude_code_api.private_files import connect_private_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    rpm INTEGER,
    tpm INTEGER,
    max_concurrent INTEGER,
    models TEXT NOT NULL DEFAULT '',
    agent INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS usage (
    day TEXT NOT NULL,
    key_name TEXT NOT NULL,
    model TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, key_name, model)
);
"""

_KEY_COLUMNS = "name, key_hash, prefix, created_at, revoked_at, rpm, tpm, max_concurrent, models, agent"
_USAGE_COLUMNS = (
    "day, key_name, model, requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd"
)


class KeyExists(Exception):
    """A managed key with this name exists already (names stay taken after revocation, so logs stay unambiguous)."""


@dataclass(frozen=True)
class KeyRecord:
    """A managed key as stored: its hash, never the key. ``None`` limits mean unlimited; empty ``models``, all."""

    name: str
    key_hash: str
    prefix: str
    created_at: str
    revoked_at: str | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    models: tuple[str, ...] = ()
    agent: bool = False  # may use agent mode (docs/agent.md)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class UsageRow:
    """Totals for one key, model and UTC day."""

    day: str
    key_name: str
    model: str
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0


class Store(Protocol):
    def create_key(self, record: KeyRecord) -> None:
        """Insert a key; raise ``KeyExists`` when the name is taken."""
        ...

    def key_by_hash(self, key_hash: str) -> KeyRecord | None: ...

    def list_keys(self) -> list[KeyRecord]: ...

    def revoke_key(self, name: str) -> bool:
        """Mark the key revoked; False when there is no such (unrevoked) key."""
        ...

    def has_keys(self) -> bool:
        """True once any managed key was ever created (revoking the last key must not open the server)."""
        ...

    def add_usage(self, key_name: str, model: str, usage: TokenUsage, cost_usd: float, day: date) -> None: ...

    def usage(self, key_name: str | None = None, since: date | None = None) -> list[UsageRow]: ...

    def close(self) -> None: ...


class AsyncStore(Protocol):
    """What a request needs from the store while it is served: authenticate, then record its usage."""

    async def has_keys(self) -> bool: ...

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None: ...

    async def add_usage(self, key_name: str, model: str, usage: TokenUsage, cost_usd: float, day: date) -> None: ...

    async def aclose(self) -> None: ...


class InlineStore:
    """A local ``Store`` as an ``AsyncStore``. Calls run inline, without a thread hop: SQLite statements here take
    microseconds, and a write that never suspends cannot be cut off by a cancellation."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def has_keys(self) -> bool:
        return self._store.has_keys()

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        return self._store.key_by_hash(key_hash)

    async def add_usage(self, key_name: str, model: str, usage: TokenUsage, cost_usd: float, day: date) -> None:
        self._store.add_usage(key_name, model, usage, cost_usd, day)

    async def aclose(self) -> None:
        """Nothing: the wrapped store has its own owner."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SqliteStore:
    """One connection shared across threads behind a lock: statements are tiny, so contention is negligible."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # isolation_level=None: autocommit, each statement is its own transaction (nothing spans two).
        self._db = connect_private_sqlite(path, check_same_thread=False, isolation_level=None, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Columns added since the first release (a store made by an older version gains them)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(api_keys)")}
        if "agent" not in columns:
            self._db.execute("ALTER TABLE api_keys ADD COLUMN agent INTEGER NOT NULL DEFAULT 0")

    def create_key(self, record: KeyRecord) -> None:
        row = (
            record.name,
            record.key_hash,
            record.prefix,
            record.created_at,
            record.revoked_at,
            record.rpm,
            record.tpm,
            record.max_concurrent,
            ",".join(record.models),
            int(record.agent),
        )
        try:
            with self._lock:
                self._db.execute(f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", row)
        except sqlite3.IntegrityError as exc:
            raise KeyExists(record.name) from exc

    def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone()
        return _key_record(row) if row else None

    def list_keys(self) -> list[KeyRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, name").fetchall()
        return [_key_record(r) for r in rows]

    def revoke_key(self, name: str) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (utc_now(), name)
            )
        return cursor.rowcount > 0

    def has_keys(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None

    def add_usage(self, key_name: str, model: str, usage: TokenUsage, cost_usd: float, day: date) -> None:
        values = (
            day.isoformat(),
            key_name,
            model,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            cost_usd,
        )
        with self._lock:
            self._db.execute(
                f"INSERT INTO usage ({_USAGE_COLUMNS}) VALUES (?,?,?,1,?,?,?,?,?) "
                "ON CONFLICT (day, key_name, model) DO UPDATE SET requests = requests + 1, "
                "input_tokens = input_tokens + excluded.input_tokens, "
                "output_tokens = output_tokens + excluded.output_tokens, "
                "cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens, "
                "cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, "
                "cost_usd = cost_usd + excluded.cost_usd",
                values,
            )

    def usage(self, key_name: str | None = None, since: date | None = None) -> list[UsageRow]:
        query = f"SELECT {_USAGE_COLUMNS} FROM usage WHERE (? IS NULL OR key_name = ?) AND (? IS NULL OR day >= ?)"
        day = since.isoformat() if since else None
        with self._lock:
            rows = self._db.execute(query + " ORDER BY day, key_name, model", (key_name, key_name, day, day)).fetchall()
        return [UsageRow(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _key_record(row: tuple[object, ...]) -> KeyRecord:
    name, key_hash, prefix, created_at, revoked_at, rpm, tpm, max_concurrent, models, agent = row
    return KeyRecord(
        name=str(name),
        key_hash=str(key_hash),
        prefix=str(prefix),
        created_at=str(created_at),
        revoked_at=str(revoked_at) if revoked_at is not None else None,
        rpm=_opt_int(rpm),
        tpm=_opt_int(tpm),
        max_concurrent=_opt_int(max_concurrent),
        models=tuple(m for m in str(models).split(",") if m),
        agent=bool(agent),
    )


def _opt_int(value: object) -> int | None:
    return int(value) if isinstance(value, int) else None
