"""The measured scenarios and the order they run in: ``run_all`` drives one whole benchmark run.

Owns the phases: the first request of freshly started servers; interleaved batches of direct ``claude -p``, API pool
off and API pool on (new conversations, streaming and not) at concurrency 1 and 4, then direct and pool on at 8 and
16; follow-up turns on the pooled server; N conversations taking turns, each follow-up alternating with a direct run;
the per-turn cost of the CLI's built-in plugins; the pooled server's memory and CLI flags. The fake upstream and the
servers run as subprocesses in a temporary workspace for the whole run.
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from api_client import Conversation, Server, api_stream, complete_new, complete_plain, serving
from direct_cli import Direct
from inputs import (
    CONCURRENCIES,
    FIRST_REQUEST_RUNS,
    INTERLEAVED,
    LOAD_CONCURRENCIES,
    READY_CALLS,
    SETUP_EXCHANGES,
    Plan,
    measured_requests,
)
from machine import describe_machine
from plugins import measure_plugins
from processes import Workspace, cli_argv, fake_upstream_command, free_port, running, wait_http, warm_up_upstream
from procfs import measure_memory
from stats import Cell, Results, Sample

Request = Callable[[int], Awaitable[Sample]]


async def run_requests(request: Request, indices: range, concurrency: int) -> tuple[list[Sample], float]:
    """``concurrency`` workers take the next index until none is left; returns the samples and the wall time."""
    pending: Iterator[int] = iter(indices)
    samples: list[Sample] = []

    async def worker() -> None:
        for index in pending:
            samples.append(await request(index))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples, time.perf_counter() - start


def route_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


@dataclass(frozen=True)
class Kind:
    """One thing to measure: a request function, and the server it goes to (None: direct ``claude -p``)."""

    key: str
    request: Request
    server: Server | None = None


async def measure_batch(kind: Kind, indices: range, cell: Cell) -> None:
    """Run ``indices`` at once (concurrency = their number) and add the samples, wall time and routes to ``cell``."""
    before = await kind.server.routes() if kind.server else {}
    samples, wall = await run_requests(kind.request, indices, len(indices))
    cell.samples.extend(samples)
    cell.wall += wall
    if kind.server:
        for route, count in route_delta(before, await kind.server.routes()).items():
            cell.routes[route] = cell.routes.get(route, 0) + count
        await kind.server.settle()


async def measure_interleaved(kinds: list[Kind], concurrency: int, plan: Plan) -> dict[str, Cell]:
    """Warm every kind up, then measure them in turn, one batch of ``concurrency`` requests each per round.

    Interleaving gives direct ``claude -p`` and the API the same machine load even when other work comes and goes,
    so their ratios stay meaningful on a shared machine.
    """
    for kind in kinds:
        await run_requests(kind.request, range(plan.warmups), concurrency)
        if kind.server:
            await kind.server.settle()
    cells = {kind.key: Cell([], 0.0) for kind in kinds}
    first, stop = plan.warmups, plan.warmups + plan.requests
    for batch_start in range(first, stop, concurrency):
        batch = range(batch_start, min(batch_start + concurrency, stop))
        for kind in kinds:
            await measure_batch(kind, batch, cells[kind.key])
    return cells


async def measure_follow_ups(server: Server, concurrency: int, plan: Plan) -> Cell:
    """Each worker holds one conversation: SETUP_EXCHANGES excluded turns, then measured follow-ups."""
    conversations = [Conversation(server.client, seed=3 * w) for w in range(concurrency)]
    for _ in range(SETUP_EXCHANGES):
        await asyncio.gather(*(c.turn() for c in conversations))
    await server.settle()
    shares = [plan.requests // concurrency + (w < plan.requests % concurrency) for w in range(concurrency)]
    samples: list[Sample] = []

    async def worker(conversation: Conversation, count: int) -> None:
        for _ in range(count):
            samples.append(await conversation.turn())

    before = await server.routes()
    start = time.perf_counter()
    await asyncio.gather(*(worker(c, n) for c, n in zip(conversations, shares, strict=True)))
    wall = time.perf_counter() - start
    return Cell(samples, wall, route_delta(before, await server.routes()))


async def measure_conversations(server: Server, direct: Direct, count: int, plan: Plan) -> tuple[Cell, Cell]:
    """``count`` conversations take turns, one request at a time (each needs its own live process to be reused);
    each measured follow-up is followed by one direct ``claude -p`` run, so both see the same load."""
    conversations = [Conversation(server.client, seed=101 + 7 * w) for w in range(count)]
    for _ in range(SETUP_EXCHANGES):
        for conversation in conversations:
            await conversation.turn()
    await server.settle()
    api, baseline = Cell([], 0.0), Cell([], 0.0)
    before = await server.routes()
    for round_ in range(max(2, math.ceil(plan.requests / count))):
        for index, conversation in enumerate(conversations):
            for cell, sample in ((api, await conversation.turn()), (baseline, await direct.run(round_ + index))):
                cell.samples.append(sample)
                cell.wall += sample.latency
    api.routes = route_delta(before, await server.routes())
    return api, baseline


async def measure_first_requests(ws: Workspace, results: Results) -> None:
    """Fresh pooled servers, each sent one ordinary request (the default configuration) as soon as /health answers.

    One more server goes first, unmeasured: the ``openai`` library's first chat completion in this process costs it
    ~20 ms of its own (lazy imports), which ``GET /v1/models`` does not pay off and no server can save.
    """
    cell = Cell([], 0.0)
    for run in range(-1, FIRST_REQUEST_RUNS):
        async with serving(ws, pool=True, name=f"first{run}") as server:
            await server.client.models.list()  # the client's own first-call work is not the server's
            sample = await complete_plain(server.client, run)
            if run < 0:
                continue
            results.boot_seconds.append(server.boot_seconds)
            cell.samples.append(sample)
            cell.wall += sample.latency
            for route, count in (await server.routes()).items():
                cell.routes[route] = cell.routes.get(route, 0) + count
    results.add("first", cell)


def kinds_for(direct: Direct, cold: Server, pooled: Server, concurrency: int) -> list[Kind]:
    def complete(server: Server) -> Request:
        return lambda index: complete_new(server.client, index)

    def stream(server: Server) -> Request:
        return lambda index: api_stream(server.client, index)

    kinds = [
        Kind("direct", direct.run),
        Kind("cold", complete(cold), cold),
        Kind("cold-stream", stream(cold), cold),
        Kind("new", complete(pooled), pooled),
        Kind("new-stream", stream(pooled), pooled),
    ]
    return [Kind(f"{k.key}/c{concurrency}", k.request, k.server) for k in kinds]


async def run_servers(ws: Workspace, results: Results) -> None:
    direct = Direct.prepare(ws)
    print("first request of a freshly started server", file=sys.stderr, flush=True)
    await measure_first_requests(ws, results)
    async with serving(ws, pool=False, name="nopool") as cold, serving(ws, pool=True, name="pool") as pooled:
        for c in CONCURRENCIES:
            print(f"direct claude -p, API pool off, API pool on (new conversations), concurrency {c}", file=sys.stderr)
            for key, cell in (await measure_interleaved(kinds_for(direct, cold, pooled, c), c, results.plan)).items():
                results.add(key, cell)
        # Every direct process has been reaped, the servers (and the CLI processes they reaped) have not.
        results.direct_peak_rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        for c in (c for c in LOAD_CONCURRENCIES if c not in CONCURRENCIES):
            print(f"direct claude -p, API pool on (new conversations), concurrency {c}", file=sys.stderr, flush=True)
            plan = Plan(requests=measured_requests(results.plan, c), warmups=max(results.plan.warmups, c))
            kinds = [k for k in kinds_for(direct, cold, pooled, c) if k.key.split("/")[0] in ("direct", "new")]
            for key, cell in (await measure_interleaved(kinds, c, plan)).items():
                results.add(key, cell)
        await pooled.settle()
        results.memory_loaded = measure_memory(pooled.process.pid)
        print("API pool on, follow-up turns", file=sys.stderr, flush=True)
        for c in CONCURRENCIES:
            results.add(f"follow/c{c}", await measure_follow_ups(pooled, c, results.plan))
        for n in INTERLEAVED:
            print(
                f"{n} conversations taking turns, each follow-up then a direct claude -p", file=sys.stderr, flush=True
            )
            api, baseline = await measure_conversations(pooled, direct, n, results.plan)
            results.add(f"talk/n{n}", api)
            results.add(f"talk-direct/n{n}", baseline)
        print("per-turn cost of the CLI's built-in plugins", file=sys.stderr, flush=True)
        results.plugins = await measure_plugins(ws, results.plan.requests * 2)
        await pooled.settle()
        results.ready_seconds = await pooled.ready_seconds(READY_CALLS)
        await asyncio.sleep(1.0)
        results.memory = measure_memory(pooled.process.pid)
        results.server_cli_argv = cli_argv(pooled.process.pid, ws)


async def run_all(plan: Plan) -> Results:
    results = Results(plan)
    results.machine = await describe_machine()
    with tempfile.TemporaryDirectory(prefix="claude-code-api-bench-") as tmp:
        root = Path(tmp)
        port = free_port()
        log = root / "fake-upstream.log"
        fake = fake_upstream_command(port)
        results.load.start()
        async with running([*fake, "--log-level", "warning"], dict(os.environ), log) as process:
            await wait_http(f"http://127.0.0.1:{port}/_log", process, log)
            await warm_up_upstream(f"http://127.0.0.1:{port}")
            ws = Workspace(root, f"http://127.0.0.1:{port}")
            ws.home.mkdir()
            await run_servers(ws, results)
        results.load.stop()
    return results
