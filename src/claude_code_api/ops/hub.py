"""``Operations``: the per-app bundle of store, key ring, limiter and metrics, and what happens when a request
ends (usage ledger, token limits, metrics, access log). Built by ``create_app``; owns closing the store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from claude_code_api.ops.keys import KeyRing
from claude_code_api.ops.limits import Limiter, MemoryLimiter
from claude_code_api.ops.logs import log_request
from claude_code_api.ops.metrics import Metrics
from claude_code_api.ops.store import SqliteStore, Store
from claude_code_api.ops.usage import RequestRecord, record_usage
from claude_code_api.settings import Settings

log = logging.getLogger(__name__)


def store_path(settings: Settings) -> Path:
    return settings.db_path or settings.data_dir / "claude-code-api.sqlite3"


def open_store(settings: Settings) -> Store:
    return SqliteStore(store_path(settings))


class Operations:
    def __init__(
        self, settings: Settings, engine_stats: Callable[[], dict[str, int]], store: Store | None = None
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        admin = settings.admin_key.get_secret_value() if settings.admin_key else None
        self.keys = KeyRing(self.store, settings.api_keys, admin)
        self.limiter: Limiter = MemoryLimiter()
        self.metrics = Metrics(engine_stats)

    def finish(self, record: RequestRecord) -> None:
        """Account for a request that has sent its last byte (or failed). Never raises: the answer is out."""
        try:
            self._account(record)
        except Exception:  # accounting must not turn a served request into a crash
            log.exception("recording request %s failed", record.request_id)

    def _account(self, record: RequestRecord) -> None:
        if record.completed and record.principal is not None:
            self.limiter.add_tokens(record.principal, record.usage.prompt_tokens + record.usage.output_tokens)
        # A synchronous write on purpose: it is a single upsert, and it must happen even when the request task
        # is being cancelled (client gone), where an awaited write could be cut off.
        record_usage(self.store, record)
        self.metrics.observe(record)
        if self.settings.access_log:
            log_request(record)

    def close(self) -> None:
        self.store.close()
