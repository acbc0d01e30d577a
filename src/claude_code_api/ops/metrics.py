"""Prometheus metrics on a per-app ``CollectorRegistry`` (no global registry, so several apps can live in one
process, as in the tests). Engine gauges are read from ``engine.stats()`` at scrape time, never cached.

Labels stay bounded: routes are path templates, models are configured ids, errors are class names or statuses;
key names are deliberately not labels (the usage ledger has them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from claude_code_api.ops.usage import RequestRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NS = "claude_code_api"
_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 60)

# engine.stats() key → (metric name, help, is a counter)
_ENGINE_STATS: dict[str, tuple[str, str, bool]] = {
    "running": ("processes_active", "Claude Code processes running a request.", False),
    "queued": ("requests_queued", "Requests waiting for a free Claude Code slot.", False),
    "idle": ("processes_warm", "Idle live Claude Code processes kept warm for reuse.", False),
    "live": ("processes_live", "Live Claude Code processes, busy, idle or parked.", False),
    "parked": ("processes_parked", "Claude Code processes parked at client function calls, awaiting results.", False),
    "retiring": ("processes_retiring", "Claude Code processes being let go of (transcript kept first).", False),
    "spawning": ("processes_spawning", "Claude Code processes being started.", False),
    "spawned": ("process_spawns", "Claude Code processes started on a request's path since the server started.", True),
    "prestarted": ("process_prestarts", "Spare Claude Code processes started ahead of requests.", True),
    "warmed": ("process_warm_ups", "Spares warmed up against the loopback responder before serving.", True),
    "emptied": (
        "spares_emptied",
        "Spares made by rewinding an old conversation's process, off the request path.",
        True,
    ),
}


class EngineCollector(Collector):
    def __init__(self, stats: Callable[[], dict[str, int]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        for key, value in stats.items():
            if key in _ENGINE_STATS:
                name, doc, counter = _ENGINE_STATS[key]
                family = CounterMetricFamily if counter else GaugeMetricFamily
                yield family(f"{NS}_{name}", doc, value=value)
        routes = CounterMetricFamily(
            f"{NS}_process_routes",
            "How requests found a Claude Code process: reuse, spare, rewind, resume, spawn, and the fallbacks "
            "(rewind_failed, resume_failed, flattened).",
            labels=["route"],
        )
        for key, value in stats.items():
            if key.startswith("route_"):
                routes.add_metric([key.removeprefix("route_")], value)
        yield routes


class Metrics:
    def __init__(self, engine_stats: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(f"{NS}_requests", "HTTP requests.", ["route", "model", "status"], registry=r)
        self.latency = Histogram(
            f"{NS}_request_duration_seconds",
            "Time to the last byte.",
            ["route", "model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            f"{NS}_time_to_first_token_seconds",
            "Time to the first output.",
            ["model"],
            buckets=_TTFT_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(f"{NS}_tokens", "Tokens reported by Claude.", ["model", "kind"], registry=r)
        self.cost = Counter(f"{NS}_cost_usd", "Cost reported by Claude Code, in USD.", ["model"], registry=r)
        self.errors = Counter(f"{NS}_errors", "Failed requests by kind.", ["kind"], registry=r)
        r.register(EngineCollector(engine_stats))

    def observe(self, record: RequestRecord) -> None:
        status = record.status or 500
        self.requests.labels(record.route, record.model, str(status)).inc()
        self.latency.labels(record.route, record.model).observe(record.latency())
        ttft = record.time_to_first_output()
        if ttft is not None:
            self.ttft.labels(record.model).observe(ttft)
        if record.completed:
            self._tokens(record)
        if record.error or status >= 400:
            self.errors.labels(record.error or f"http_{status}").inc()

    def _tokens(self, record: RequestRecord) -> None:
        u = record.usage
        for kind, n in (
            ("input", u.input_tokens),
            ("output", u.output_tokens),
            ("cache_read", u.cache_read_tokens),
            ("cache_write", u.cache_write_tokens),
        ):
            self.tokens.labels(record.model, kind).inc(n)
        self.cost.labels(record.model).inc(record.cost_usd)

    def render(self) -> bytes:
        return generate_latest(self.registry)
