"""``RecentErrors``: a bounded in-memory ring of the last failed requests, for the console's operator view.

In memory and per process on purpose: it is a "what just went wrong" glance, not a log (the access log and the
metrics are the durable record), so it costs nothing on the request path and needs no store. With replicas, each
answers for itself.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timezone
from typing import Any

from claude_code_api.ops.usage import RequestRecord


class RecentErrors:
    def __init__(self, size: int = 100) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    @staticmethod
    def failed(record: RequestRecord) -> bool:
        return record.error is not None or (record.status or 0) >= 400

    def add(self, record: RequestRecord) -> None:
        if not self.failed(record):
            return
        self._entries.append(
            {
                "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "request_id": record.request_id,
                "method": record.method,
                "path": record.path,
                "status": record.status,
                "error": record.error,
                "key": record.key_name,
                "model": record.model,
                "latency_ms": round(record.latency() * 1000),
            }
        )

    def newest_first(self) -> list[dict[str, Any]]:
        return list(reversed(self._entries))
