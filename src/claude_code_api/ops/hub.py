"""``Operations``: the per-app bundle of store, key ring, limiter and metrics, and what happens when a request
ends (usage ledger, token limits, metrics, access log). Built by ``create_app``; owns closing the store.

``open_store`` picks the backend the settings name: Redis when ``redis_url`` is set, else SQLite.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from claude_code_api.ops.keys import KeyRing
from claude_code_api.ops.limits import AsyncLimiter, InlineLimiter, MemoryLimiter
from claude_code_api.ops.logs import log_request
from claude_code_api.ops.metrics import Metrics
from claude_code_api.ops.recent import RecentErrors
from claude_code_api.ops.redis_store import RedisStore
from claude_code_api.ops.store import AsyncStore, InlineStore, SqliteStore, Store
from claude_code_api.ops.usage import RequestRecord, record_usage
from claude_code_api.settings import Settings

log = logging.getLogger(__name__)


def store_path(settings: Settings) -> Path:
    return settings.db_path or settings.data_dir / "claude-code-api.sqlite3"


def open_store(settings: Settings) -> Store:
    """The synchronous store (CLI, admin endpoints): Redis when ``redis_url`` is set, else SQLite."""
    if settings.redis_url:
        return RedisStore.from_url(settings.redis_url)
    return SqliteStore(store_path(settings))


class Operations:
    """``store`` is the synchronous store; ``live`` the request path's view of the same data and ``limiter`` the
    per-key limits (both default to in-process adapters; ``create_app`` passes Redis ones for replicas)."""

    def __init__(
        self,
        settings: Settings,
        engine_stats: Callable[[], dict[str, int]],
        store: Store | None = None,
        *,
        live: AsyncStore | None = None,
        limiter: AsyncLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self.live: AsyncStore = live or InlineStore(self.store)
        admin = settings.admin_key.get_secret_value() if settings.admin_key else None
        self.keys = KeyRing(self.store, settings.api_keys, admin, live=self.live)
        self.limiter: AsyncLimiter = limiter or InlineLimiter(MemoryLimiter())
        self.metrics = Metrics(engine_stats)
        self.recent_errors = RecentErrors()
        self._finishing: set[asyncio.Future[None]] = set()

    async def finish(self, record: RequestRecord) -> None:
        """Release a request's concurrency lease and account for it once it has sent its last byte (or failed).

        Never raises an accounting failure: the answer is out. Runs shielded in its own task, so the ledger write
        lands even when the request task is being cancelled (client gone, shutdown) mid-write.
        """
        task = asyncio.ensure_future(self._finish(record))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        await asyncio.shield(task)

    async def _finish(self, record: RequestRecord) -> None:
        try:
            if record.lease is not None:
                await record.lease.release()
            if record.completed and record.principal is not None:
                tokens = record.usage.prompt_tokens + record.usage.output_tokens
                await self.limiter.add_tokens(record.principal, tokens)
            await record_usage(self.live, record)
        except Exception:  # a shared store that is down must cost neither the answer nor the metrics and log line
            log.exception("accounting for request %s failed", record.request_id)
        try:
            self.metrics.observe(record)
            self.recent_errors.add(record)
            if self.settings.access_log:
                log_request(record)
        except Exception:
            log.exception("recording request %s failed", record.request_id)

    async def aclose(self) -> None:
        """Let requests that are being accounted finish, then close the stores."""
        if self._finishing:
            await asyncio.wait(set(self._finishing), timeout=5)
        await self.live.aclose()
        self.store.close()
