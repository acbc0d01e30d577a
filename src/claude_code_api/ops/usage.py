"""One request's record, and the tap on the engine's event stream that fills in its tokens, cost and timing.

The record lives in the ASGI scope's state from the moment the access middleware admits the request until it
has sent the last byte; the tap only observes events and never changes them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from claude_code_api.core.events import BlockStarted, Completed, Delta, Event, TextDelta, TokenUsage
from claude_code_api.ops.keys import Principal
from claude_code_api.ops.limits import AsyncLease
from claude_code_api.ops.store import AsyncStore, UsageRow

Tagged = tuple[int, Event]  # (choice index, event), as ``merge_choices`` yields them


@dataclass
class RequestRecord:
    """Everything the metrics, the usage ledger and the access log need to know about one request."""

    request_id: str
    method: str
    path: str
    started: float = field(default_factory=time.monotonic)
    principal: Principal | None = None
    lease: AsyncLease | None = None  # the key's concurrency hold, released by ``Operations.finish``
    route: str = ""
    model: str = ""
    status: int | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float = 0.0
    completed: bool = False
    first_output_at: float | None = None
    error: str | None = None
    capture_text: bool = False
    prompt: str | None = None
    output: list[str] = field(default_factory=list)

    @property
    def key_name(self) -> str:
        return self.principal.name if self.principal else ""

    def latency(self) -> float:
        return time.monotonic() - self.started

    def time_to_first_output(self) -> float | None:
        return None if self.first_output_at is None else self.first_output_at - self.started

    def observe(self, event: Event) -> None:
        if self.first_output_at is None and isinstance(event, Delta | BlockStarted):
            self.first_output_at = time.monotonic()
        if isinstance(event, Completed):
            self.completed = True
            self.usage = self.usage + event.usage
            self.cost_usd += event.cost_usd or 0.0
        elif self.capture_text and isinstance(event, TextDelta):
            self.output.append(event.text)


async def tap(record: RequestRecord, events: AsyncGenerator[Tagged, None]) -> AsyncGenerator[Tagged, None]:
    """Yield ``events`` unchanged while the record notes usage, first output and failure."""
    try:
        async for index, event in events:
            record.observe(event)
            yield index, event
    except Exception as exc:
        record.error = type(exc).__name__
        raise
    finally:
        await events.aclose()


async def record_usage(store: AsyncStore, record: RequestRecord, today: date | None = None) -> bool:
    """Add a finished request's tokens and cost to its key's ledger row for the day; False when nothing finished."""
    if not record.completed or not record.model:
        return False
    day = today or datetime.now(timezone.utc).date()
    await store.add_usage(record.key_name, record.model, record.usage, record.cost_usd, day)
    return True


def usage_json(rows: list[UsageRow]) -> list[dict[str, object]]:
    return [
        {
            "day": r.day,
            "key": r.key_name,
            "model": r.model,
            "requests": r.requests,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cache_read_tokens": r.cache_read_tokens,
            "cache_write_tokens": r.cache_write_tokens,
            "cost_usd": round(r.cost_usd, 6),
        }
        for r in rows
    ]


USAGE_HEADERS = ("day", "key", "model", "requests", "input", "output", "cache_read", "cache_write", "cost_usd")


def usage_table(rows: list[UsageRow]) -> str:
    """A plain-text table for the ``usage`` command, with a total line."""
    body = [
        [r.day, r.key_name, r.model, r.requests, r.input_tokens, r.output_tokens]
        + [r.cache_read_tokens, r.cache_write_tokens, f"{r.cost_usd:.6f}"]
        for r in rows
    ]
    if rows:
        totals = [sum(getattr(r, f) for r in rows) for f in _NUMERIC]
        body.append(["total", "", "", *totals[:-1], f"{totals[-1]:.6f}"])
    return format_table(USAGE_HEADERS, body)


_NUMERIC = ("requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(headers)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)
