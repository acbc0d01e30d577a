"""Claude Code's real transcripts, kept in the server's own storage so a conversation outlives its process.

Owns the ``TranscriptStore`` protocol and its two implementations (SQLite under the data directory by default,
Redis when ``redis_url`` is set, so every replica sees every transcript), their retention, and
``TranscriptKeeper``: what the pool calls to keep the transcript of a process it lets go of, and to find one
for a history it must resume. A stored transcript keeps what a transcript rebuilt from OpenAI messages cannot:
Claude's signed thinking blocks and the exact content blocks, so a resumed tool turn may keep thinking on.

Entries are keyed by the *client-view* conversation (``conversation_fingerprint``), because the next request
only carries that view, together with the process configuration (model, system prompt, tools…): Claude's
thinking may reflect a system prompt, so a transcript is never offered to a request with another one. A
transcript is kept only when the process is known to hold exactly that view.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import redis.asyncio

from claude_code_api.core.request import Turn
from claude_code_api.engine.claude.session import LiveSession
from claude_code_api.engine.claude.transcript import chain_matches, read_cli_transcript
from claude_code_api.private_files import connect_private_sqlite
from claude_code_api.settings import Settings

log = logging.getLogger(__name__)

REDIS_PREFIX = "cca:transcript:"
PRUNE_INTERVAL = 600.0  # seconds between two prunes from the pool's reaper loop
# The CLI writes its transcript shortly after it reports a result; a process let go of right after its answer
# gets this long to catch up before it is killed (an incomplete transcript is never kept).
FLUSH_WAIT = 1.0
_FLUSH_POLL = 0.05


class TranscriptStore(Protocol):
    async def save(self, fingerprint: str, lines: Sequence[str]) -> None: ...

    async def load(self, fingerprint: str) -> list[str] | None: ...

    async def prune(self) -> None: ...

    async def aclose(self) -> None: ...


def conversation_fingerprint(turns: Sequence[Turn], config_key: str = "") -> str:
    return hashlib.sha256((config_key + "".join(t.fingerprint() for t in turns)).encode()).hexdigest()


def _pack(lines: Sequence[str]) -> bytes:
    # Lines are single-line JSON, so a newline joins them unambiguously; envelopes repeat, so they compress well.
    return zlib.compress("\n".join(lines).encode(), 6)


def _unpack(blob: bytes) -> list[str]:
    return zlib.decompress(blob).decode().split("\n")


class SqliteTranscriptStore:
    """One table in ``<data_dir>/transcripts.sqlite3`` (WAL); every call runs in a worker thread."""

    def __init__(
        self, path: Path, retention_s: float, max_entries: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._retention = retention_s
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()  # one connection shared by worker threads
        self._db = connect_private_sqlite(path, check_same_thread=False, isolation_level=None, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS transcripts"
            " (fingerprint TEXT PRIMARY KEY, lines BLOB NOT NULL, saved_at REAL NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS transcripts_saved_at ON transcripts (saved_at)")

    @classmethod
    async def open(cls, path: Path, retention_s: float, max_entries: int) -> SqliteTranscriptStore:
        return await asyncio.to_thread(cls, path, retention_s, max_entries)

    async def save(self, fingerprint: str, lines: Sequence[str]) -> None:
        await asyncio.to_thread(self._save, fingerprint, _pack(lines), self._clock())

    async def load(self, fingerprint: str) -> list[str] | None:
        blob = await asyncio.to_thread(self._load, fingerprint, self._clock() - self._retention)
        return _unpack(blob) if blob is not None else None

    async def prune(self) -> None:
        await asyncio.to_thread(self._prune, self._clock() - self._retention)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _save(self, fingerprint: str, blob: bytes, now: float) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO transcripts VALUES (?, ?, ?)", (fingerprint, blob, now))

    def _load(self, fingerprint: str, oldest: float) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT lines FROM transcripts WHERE fingerprint = ? AND saved_at >= ?", (fingerprint, oldest)
            ).fetchone()
        return bytes(row[0]) if row else None

    def _prune(self, oldest: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM transcripts WHERE saved_at < ?", (oldest,))
            self._db.execute(
                "DELETE FROM transcripts WHERE fingerprint NOT IN"
                " (SELECT fingerprint FROM transcripts ORDER BY saved_at DESC LIMIT ?)",
                (self._max_entries,),
            )

    def _close(self) -> None:
        with self._lock:
            self._db.close()


class RedisTranscriptStore:
    """One key per transcript, ``<prefix><fingerprint>``, expiring after the retention (Redis prunes itself)."""

    def __init__(self, client: redis.asyncio.Redis, retention_s: float, prefix: str = REDIS_PREFIX) -> None:
        self._client = client
        self._ttl = max(1, int(retention_s))
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, retention_s: float, prefix: str = REDIS_PREFIX) -> RedisTranscriptStore:
        return cls(redis.asyncio.Redis.from_url(url), retention_s, prefix)

    async def save(self, fingerprint: str, lines: Sequence[str]) -> None:
        await self._client.set(self._prefix + fingerprint, _pack(lines), ex=self._ttl)

    async def load(self, fingerprint: str) -> list[str] | None:
        blob = await self._client.get(self._prefix + fingerprint)
        return _unpack(blob) if isinstance(blob, bytes) else None  # a client without decode_responses: bytes

    async def prune(self) -> None:
        """Nothing to do: every key carries its EXPIRE."""

    async def aclose(self) -> None:
        await self._client.aclose()


async def open_store(settings: Settings) -> TranscriptStore | None:
    """The store the settings ask for: none (turned off), Redis (shared by replicas) or SQLite (the default)."""
    if not settings.transcript_store:
        return None
    retention = settings.transcript_retention_hours * 3600
    if settings.redis_url:
        return RedisTranscriptStore.from_url(settings.redis_url, retention)
    path = settings.data_dir / "transcripts.sqlite3"
    return await SqliteTranscriptStore.open(path, retention, settings.transcript_max_entries)


def storable(session: LiveSession) -> bool:
    """The process holds exactly ``session.turns`` (an answered turn, or one parked at its function calls)."""
    return bool(session.turns) and not session.tail_unknown


class TranscriptKeeper:
    """The pool's side of the store: keep the transcript of a process it lets go of; find one to resume.

    Keeping runs in background tasks (off the request's path); ``aclose`` waits for them before closing the
    store. A failing store never fails a request: it is logged and the pool builds a transcript instead.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: TranscriptStore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_prune = 0.0

    @property
    def enabled(self) -> bool:
        return self._settings.transcript_store

    async def start(self) -> None:
        """Open the store and prune what expired while the server was down."""
        try:
            self._store = await open_store(self._settings)
        except Exception:  # the server still works without it: resumes use rebuilt transcripts
            log.warning("could not open the transcript store; resumes use rebuilt transcripts", exc_info=True)
            return
        await self.maybe_prune()

    async def find(self, history: Sequence[Turn], config_key: str) -> list[str] | None:
        """The stored transcript of exactly ``history`` (as the client sees it) under this configuration."""
        if self._store is None or not history:
            return None
        try:
            return await self._store.load(conversation_fingerprint(history, config_key))
        except Exception:
            log.warning("transcript store: load failed", exc_info=True)
            return None

    def retire(self, session: LiveSession, closed: Callable[[], None] | None = None) -> None:
        """Close a process the pool lets go of in good state, keeping its transcript first (in the background);
        ``closed`` is called once the process is gone."""
        task = asyncio.create_task(self.keep_and_close(session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if closed is not None:
            task.add_done_callback(lambda _: closed())

    async def keep_and_close(self, session: LiveSession) -> None:
        try:
            lines = await self._transcript_of(session) if self._store is not None and storable(session) else None
        finally:
            await session.close(kill=True)  # only now: closing removes the CLI's transcript files
        if lines and self._store is not None:
            try:
                await self._store.save(conversation_fingerprint(session.turns, session.key), lines)
            except Exception:
                log.warning("transcript store: save failed", exc_info=True)

    async def _transcript_of(self, session: LiveSession) -> list[str] | None:
        """The CLI's transcript of the session, once it holds exactly ``session.turns`` (None if it never does)."""
        deadline = time.monotonic() + FLUSH_WAIT
        while True:
            try:
                lines = await asyncio.to_thread(read_cli_transcript, session.projects_dir, session.own_sessions)
            except Exception:  # e.g. a file that is not UTF-8: nothing to keep, the close must go on
                log.warning("session %s: its transcript could not be read", session.id, exc_info=True)
                return None
            if lines and chain_matches(lines, session.turns):
                return lines
            if time.monotonic() >= deadline:
                log.info("session %s: its transcript does not match what it holds; not kept", session.id)
                return None
            await asyncio.sleep(_FLUSH_POLL)

    async def maybe_prune(self) -> None:
        """Prune at most every ``PRUNE_INTERVAL`` (called at start and from the pool's reaper loop)."""
        now = time.monotonic()
        if self._store is None or (self._last_prune and now - self._last_prune < PRUNE_INTERVAL):
            return
        self._last_prune = now
        try:
            await self._store.prune()
        except Exception:
            log.warning("transcript store: prune failed", exc_info=True)

    async def aclose(self) -> None:
        """Wait for the transcripts being kept, then close the store."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._store is not None:
            with contextlib.suppress(Exception):
                await self._store.aclose()
            self._store = None
