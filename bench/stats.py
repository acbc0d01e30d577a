"""Statistics of the benchmark: samples, cells of samples, percentiles, and the results of a whole run.

``Results.add`` prints one progress line per measured cell to stderr as the run goes.
"""

from __future__ import annotations

import math
import statistics
import sys
from dataclasses import dataclass, field

from inputs import Plan
from machine import Load
from plugins import TurnCosts
from procfs import Memory


@dataclass(frozen=True)
class Sample:
    latency: float  # seconds, request start to the complete answer (direct: process exit)
    ttft: float | None = None  # seconds to the first content delta (streaming API, direct CLI)
    error: str | None = None


@dataclass
class Cell:
    samples: list[Sample]
    wall: float  # seconds for the measured phase
    routes: dict[str, int] = field(default_factory=dict)  # /health route counters gained during the measured phase

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None]

    @property
    def errors(self) -> list[str]:
        return [s.error for s in self.samples if s.error is not None]

    def latencies(self) -> list[float]:
        return [s.latency for s in self.ok]

    def ttfts(self) -> list[float]:
        return [s.ttft for s in self.ok if s.ttft is not None]

    def rps(self) -> float:
        return len(self.ok) / self.wall if self.wall > 0 else 0.0


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (the 19th of 20)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def fmt_routes(routes: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(routes.items())) or "none"


@dataclass
class Results:
    plan: Plan
    cells: dict[str, Cell] = field(default_factory=dict)
    memory: Memory | None = None  # steady state after every run
    memory_loaded: Memory | None = None  # after the new conversations at every concurrency
    boot_seconds: list[float] = field(default_factory=list)  # fresh servers: process start to /health answering
    plugins: dict[str, TurnCosts] = field(default_factory=dict)
    ready_seconds: list[float] = field(default_factory=list)  # successive GET /ready
    direct_peak_rss_kb: int = 0
    server_cli_argv: list[str] = field(default_factory=list)
    load: Load = field(default_factory=Load)
    machine: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, cell: Cell) -> None:
        self.cells[key] = cell
        values = cell.ttfts() if "stream" in key else cell.latencies()
        extra = f", routes {fmt_routes(cell.routes)}" if cell.routes else ""
        errors = f", {len(cell.errors)} errors: {cell.errors[0]}" if cell.errors else ""
        print(f"  {key:<16} p50 {ms(p50(values))}  p95 {ms(p95(values))}{extra}{errors}", file=sys.stderr, flush=True)
