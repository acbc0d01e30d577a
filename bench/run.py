"""Benchmark: the API server against a direct `claude -p`, on the fake upstream (issue 2 "Benchmark", issue 3 "bench/").

One run with pinned inputs (model, system prompt, prompts, request counts; warm-up requests excluded). It starts the
fake Anthropic upstream and the server as subprocesses on free ports (the server twice: pool on, then pool off),
drives the API with the official ``openai`` client and the CLI with ``asyncio.create_subprocess_exec`` using the
server's own flags and environment, then prints markdown tables and writes them to ``docs/benchmarks.md``:

- issue 2: p50/p95 end-to-end latency (non-streaming) and time to first token (streaming) at concurrency 1 and 4,
  API vs direct ``claude -p``, with ratios;
- issue 3: (a) a new conversation on a reused process, (b) a follow-up turn, (c) a cold spawn (pool off),
  (d) direct ``claude -p``, at concurrency 1 and 4, the throughput of new conversations at concurrency 4, and the
  route counters of ``GET /health`` for every measured phase (proof of which route was measured);
- memory: the steady-state RSS (and PSS) of the pooled server plus its Claude Code processes.

Run ``make bench`` (about 2 minutes on 2 cores) or ``python bench/run.py --quick`` (smoke run, writes no file).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import shlex
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from claude_code_api.core.models import BUILTIN_MODELS
from claude_code_api.core.request import CompletionRequest, Turn
from claude_code_api.engine.claude.options import SessionPaths, bundled_cli_path, child_env
from claude_code_api.settings import Settings

# ------------------------------------------------------------------------------------------------------ pinned inputs
MODEL = "claude-sonnet-4"
MODEL_ID = BUILTIN_MODELS[MODEL]
SYSTEM_PROMPT = "You are a concise assistant. Answer in one short sentence."
PROMPTS = (
    "What is the capital of France?",
    "Name a prime number above 100.",
    "What colour is the sky on a clear day?",
    "How many legs does a spider have?",
    "Suggest a name for a grey cat.",
    "What is 17 times 3?",
    "Give one synonym for quick.",
    "Which planet is closest to the sun?",
)
SETUP_EXCHANGES = 2  # a follow-up is measured only once its conversation holds at least this many exchanges
POOL_SIZE = 4  # idle processes kept per configuration: enough for concurrency 4
MAX_PROCESSES = 8
API_KEY = "sk-bench"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
# Inherited variables that would change what is measured (server settings, a real login or gateway).
SCRUBBED_PREFIXES = ("CLAUDE_CODE_API_", "ANTHROPIC_", "CLAUDE_CONFIG_DIR", "CLAUDE_CLI_PATH", "CLAUDE_TIMEOUT")
EXPECTED_ROUTES = {"new": {"rewind", "reuse"}, "follow": {"reuse"}, "cold": {"spawn"}}


@dataclass(frozen=True)
class Plan:
    requests: int  # measured requests per cell
    warmups: int  # excluded requests per cell, run first at the cell's concurrency


FULL = Plan(requests=20, warmups=5)
QUICK = Plan(requests=4, warmups=4)


def prompt_for(index: int) -> str:
    return PROMPTS[index % len(PROMPTS)]


# --------------------------------------------------------------------------------------------------------- results
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


# ----------------------------------------------------------------------------------------------------------- /proc
def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from "state" on; the name may contain spaces


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, start time) for every process; the start time tells a reused pid apart."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                table[int(entry)] = (int(fields[1]), fields[19])
    return table


def descendants(root: int) -> list[tuple[int, str]]:
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: list[tuple[int, str]] = []
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        found.append((pid, table[pid][1]))
        stack.extend(children.get(pid, []))
    return found


def _kb_field(path: str, name: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid: int) -> int:
    return _kb_field(f"/proc/{pid}/status", "VmRSS")


def pss_kb(pid: int) -> int:
    return _kb_field(f"/proc/{pid}/smaps_rollup", "Pss")


@dataclass(frozen=True)
class Memory:
    server_rss_kb: int
    children: int
    children_rss_kb: int
    total_pss_kb: int

    @property
    def total_rss_kb(self) -> int:
        return self.server_rss_kb + self.children_rss_kb


def measure_memory(server_pid: int) -> Memory:
    kids = [pid for pid, _ in descendants(server_pid)]
    return Memory(
        server_rss_kb=rss_kb(server_pid),
        children=len(kids),
        children_rss_kb=sum(rss_kb(pid) for pid in kids),
        total_pss_kb=pss_kb(server_pid) + sum(pss_kb(pid) for pid in kids),
    )


def cli_argv(server_pid: int, ws: Workspace) -> list[str]:
    """The command line of one of the server's Claude Code processes, temp paths shortened (proof of the flags)."""
    for pid, _ in descendants(server_pid):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            return [arg.decode().replace(str(ws.root), "$BENCH") for arg in argv]
    return []


# ---------------------------------------------------------------------------------------------------------- machine
def cpu_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU time of this process and its reaped descendants (the servers reap their Claude Code processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def ram_gib() -> float:
    return _kb_field("/proc/meminfo", "MemTotal") / (1024 * 1024)


async def cli_version(cli: str) -> str:
    process = await asyncio.create_subprocess_exec(
        cli, "--version", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return out.decode().strip()


@dataclass
class Load:
    """Machine load around the run: load averages, and the CPU share used by processes other than ours."""

    before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    wall: float = 0.0
    busy: float = 0.0
    own: float = 0.0
    _start: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def start(self) -> None:
        self.before = os.getloadavg()
        self._start = (time.monotonic(), cpu_busy_seconds(), own_cpu_seconds())

    def stop(self) -> None:
        self.after = os.getloadavg()
        self.wall = time.monotonic() - self._start[0]
        self.busy = cpu_busy_seconds() - self._start[1]
        self.own = own_cpu_seconds() - self._start[2]

    def foreign_share(self) -> float:
        """Share of all cores used by other processes during the run (0..1)."""
        capacity = self.wall * (os.cpu_count() or 1)
        return max(0.0, self.busy - self.own) / capacity if capacity > 0 else 0.0

    def shared(self) -> bool:
        return self.foreign_share() > 0.10 or self.before[0] > 0.5


# ------------------------------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrub_environment() -> None:
    for name in list(os.environ):
        if name.startswith(SCRUBBED_PREFIXES) or name in ("API_PORT", "CLAUDECODE"):
            del os.environ[name]


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after 10 s; then kill any of its descendants that outlived it (same pid and start)."""
    family = descendants(process.pid)
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
    table = process_table()
    for pid, started in family:
        if pid in table and table[pid][1] == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.asynccontextmanager
async def running(argv: list[str], env: dict[str, str], log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    try:
        yield process
    finally:
        await stop_process(process)


async def wait_http(url: str, process: asyncio.subprocess.Process, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"{url}: process exited with {process.returncode}\n{_log_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s\n{_log_tail(log)}")


# ----------------------------------------------------------------------------------------------------- environment
@dataclass(frozen=True)
class Workspace:
    root: Path
    upstream: str  # the fake upstream's base URL

    @property
    def home(self) -> Path:
        return self.root / "home"

    def cli_env(self) -> dict[str, str]:
        return {"HOME": str(self.home), "ANTHROPIC_BASE_URL": self.upstream, "ANTHROPIC_API_KEY": API_KEY}


def server_env(ws: Workspace, *, pool: bool, name: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CLAUDE_CODE_API_CLI_ENV": json.dumps(ws.cli_env()),
            "CLAUDE_CODE_API_DATA_DIR": str(ws.root / f"data-{name}"),
            "CLAUDE_CODE_API_POOL_ENABLED": "true" if pool else "false",
            "CLAUDE_CODE_API_POOL_IDLE_PER_CONFIG": str(POOL_SIZE),
            "CLAUDE_CODE_API_POOL_MAX_IDLE": str(POOL_SIZE),
            "CLAUDE_CODE_API_MAX_PROCESSES": str(MAX_PROCESSES),
            "CLAUDE_CODE_API_POOL_PRESTART": "true",
            "CLAUDE_CODE_API_LOG_LEVEL": "warning",
        }
    )
    return env


def server_command(port: int) -> list[str]:
    script = Path(sys.executable).parent / "claude-code-api"
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "claude_code_api"]
    return [*launcher, "serve", "--host", "127.0.0.1", "--port", str(port)]


@dataclass(frozen=True)
class Direct:
    """``claude -p`` with the flags and environment the server gives its Claude Code processes."""

    cli: str
    env: dict[str, str]
    cwd: Path

    @classmethod
    def prepare(cls, ws: Workspace) -> Direct:
        paths = SessionPaths(ws.root / "direct")
        paths.create(SYSTEM_PROMPT)
        settings = Settings(cli_env=ws.cli_env(), data_dir=ws.root / "direct-data")
        turn = Turn("user", ({"type": "text", "text": PROMPTS[0]},))
        request = CompletionRequest(model=MODEL_ID, system=SYSTEM_PROMPT, history=(), prompt=turn)
        return cls(str(bundled_cli_path()), child_env(settings, request, paths), paths.cwd)

    def argv(self) -> list[str]:
        return [
            *(self.cli, "-p", "--model", MODEL_ID, "--tools", "", "--system-prompt", SYSTEM_PROMPT),
            *("--output-format", "stream-json", "--verbose", "--include-partial-messages"),
            *("--setting-sources", "", "--strict-mcp-config", "--bare"),
        ]

    async def run(self, index: int) -> Sample:
        start = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *self.argv(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            limit=64 * 1024 * 1024,
        )
        try:
            return await self._collect(process, prompt_for(index), start)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    @staticmethod
    async def _collect(process: asyncio.subprocess.Process, prompt: str, start: float) -> Sample:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(prompt.encode())
        await process.stdin.drain()
        process.stdin.close()
        ttft: float | None = None
        async for line in process.stdout:
            if ttft is None and is_text_delta(line):
                ttft = time.perf_counter() - start
        code = await process.wait()
        latency = time.perf_counter() - start
        if code != 0 or ttft is None:
            return Sample(latency, ttft, f"claude -p exited {code}, text delta seen: {ttft is not None}")
        return Sample(latency, ttft)


def is_text_delta(line: bytes) -> bool:
    if b'"text_delta"' not in line:
        return False
    message = json.loads(line)
    event = message.get("event") or {}
    return bool(message.get("type") == "stream_event" and (event.get("delta") or {}).get("type") == "text_delta")


# ------------------------------------------------------------------------------------------------------------- API
def new_conversation(prompt: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]


def describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


async def api_complete(client: openai.AsyncOpenAI, messages: list[ChatCompletionMessageParam]) -> tuple[Sample, str]:
    start = time.perf_counter()
    try:
        response = await client.chat.completions.create(model=MODEL, messages=messages)
    except openai.APIError as exc:
        return Sample(time.perf_counter() - start, error=describe(exc)), ""
    latency = time.perf_counter() - start
    content = response.choices[0].message.content or ""
    return (Sample(latency) if content else Sample(latency, error="empty content")), content


async def api_stream(client: openai.AsyncOpenAI, index: int) -> Sample:
    start = time.perf_counter()
    ttft: float | None = None
    try:
        stream = await client.chat.completions.create(
            model=MODEL, messages=new_conversation(prompt_for(index)), stream=True
        )
        async for chunk in stream:
            if ttft is None and chunk.choices and chunk.choices[0].delta.content:
                ttft = time.perf_counter() - start
    except openai.APIError as exc:
        return Sample(time.perf_counter() - start, error=describe(exc))
    latency = time.perf_counter() - start
    return Sample(latency, ttft) if ttft is not None else Sample(latency, error="no content delta")


class Server:
    """A running ``claude-code-api serve`` and its ``/health`` counters."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.client = openai.AsyncOpenAI(base_url=self.url + "/v1", api_key="not-needed", max_retries=0, timeout=120)

    async def stats(self) -> dict[str, int]:
        async with httpx.AsyncClient(timeout=5.0) as http:
            body = (await http.get(self.url + "/health")).json()
        return {k: int(v) for k, v in body["processes"].items()}

    async def routes(self) -> dict[str, int]:
        return {k.removeprefix("route_"): v for k, v in (await self.stats()).items() if k.startswith("route_")}

    async def settle(self, timeout: float = 20.0) -> None:
        """Wait until no request runs and no spare process is starting, so a phase starts from a steady pool."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = await self.stats()
            if stats.get("spawning", 0) == 0 and stats.get("busy", 0) == 0 and stats.get("running", 0) == 0:
                return
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def serving(ws: Workspace, *, pool: bool, name: str) -> AsyncIterator[Server]:
    port = free_port()
    log = ws.root / f"server-{name}.log"
    async with running(server_command(port), server_env(ws, pool=pool, name=name), log) as process:
        await wait_http(f"http://127.0.0.1:{port}/health", process, log)
        server = Server(process, port)
        try:
            yield server
        finally:
            await server.client.close()


# ---------------------------------------------------------------------------------------------------------- phases
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


class Conversation:
    """One client-side conversation: every request carries the whole history, as OpenAI clients do."""

    def __init__(self, client: openai.AsyncOpenAI, seed: int) -> None:
        self.client = client
        self.seed = seed
        self.messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": SYSTEM_PROMPT}]

    async def turn(self) -> Sample:
        exchanges = (len(self.messages) - 1) // 2
        self.messages.append({"role": "user", "content": prompt_for(self.seed + exchanges)})
        sample, content = await api_complete(self.client, self.messages)
        if sample.error is None:
            self.messages.append({"role": "assistant", "content": content})
        else:
            self.messages.pop()
        return sample


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


# ------------------------------------------------------------------------------------------------------------ run
@dataclass
class Results:
    plan: Plan
    cells: dict[str, Cell] = field(default_factory=dict)
    memory: Memory | None = None
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


def kinds_for(direct: Direct, cold: Server, pooled: Server, concurrency: int) -> list[Kind]:
    def complete(server: Server) -> Request:
        return lambda index: _complete_new(server.client, index)

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
    async with serving(ws, pool=False, name="nopool") as cold, serving(ws, pool=True, name="pool") as pooled:
        for c in (1, 4):
            print(f"direct claude -p, API pool off, API pool on (new conversations), concurrency {c}", file=sys.stderr)
            for key, cell in (await measure_interleaved(kinds_for(direct, cold, pooled, c), c, results.plan)).items():
                results.add(key, cell)
        # Every direct process has been reaped, the servers (and the CLI processes they reaped) have not.
        results.direct_peak_rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print("API pool on, follow-up turns", file=sys.stderr, flush=True)
        for c in (1, 4):
            results.add(f"follow/c{c}", await measure_follow_ups(pooled, c, results.plan))
        await pooled.settle()
        await asyncio.sleep(1.0)
        results.memory = measure_memory(pooled.process.pid)
        results.server_cli_argv = cli_argv(pooled.process.pid, ws)


async def _complete_new(client: openai.AsyncOpenAI, index: int) -> Sample:
    sample, _ = await api_complete(client, new_conversation(prompt_for(index)))
    return sample


async def run_all(plan: Plan) -> Results:
    results = Results(plan)
    results.machine = await describe_machine()
    with tempfile.TemporaryDirectory(prefix="claude-code-api-bench-") as tmp:
        root = Path(tmp)
        port = free_port()
        log = root / "fake-upstream.log"
        fake = [sys.executable, "-m", "claude_code_api.testing.fake_upstream", "--port", str(port)]
        results.load.start()
        async with running([*fake, "--log-level", "warning"], dict(os.environ), log) as process:
            await wait_http(f"http://127.0.0.1:{port}/_log", process, log)
            ws = Workspace(root, f"http://127.0.0.1:{port}")
            ws.home.mkdir()
            await run_servers(ws, results)
        results.load.stop()
    return results


async def output_of(*argv: str) -> str:
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE
        )
    except OSError:
        return ""
    out, _ = await process.communicate()
    return out.decode().strip() if process.returncode == 0 else ""


async def code_under_test() -> str:
    """The commit the server ran from, and whether src/ had uncommitted changes."""
    commit = await output_of("git", "rev-parse", "--short", "HEAD")
    dirty = await output_of("git", "status", "--porcelain", "--", "src")
    return (commit or "unknown") + (" + uncommitted changes in src/" if dirty else "")


async def describe_machine() -> dict[str, str]:
    cli = str(bundled_cli_path())
    return {
        "code under test": await code_under_test(),
        "CPU": cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": f"{ram_gib():.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Claude Code": await cli_version(cli),
        "openai client": openai.__version__,
    }


# ---------------------------------------------------------------------------------------------------------- report
def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def pair(values: list[float]) -> str:
    return f"{ms(p50(values))} / {ms(p95(values))}"


def ratio(api: list[float], direct: list[float]) -> str:
    def one(a: float, d: float) -> str:
        return "n/a" if math.isnan(a) or math.isnan(d) or d == 0 else f"{a / d:.2f}x"

    return f"{one(p50(api), p50(direct))} / {one(p95(api), p95(direct))}"


def fmt_routes(routes: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(routes.items())) or "none"


def route_check(key: str, cell: Cell) -> str:
    expected = EXPECTED_ROUTES[key.split("/")[0].removesuffix("-stream")]
    unexpected = {k: v for k, v in cell.routes.items() if k not in expected}
    served = sum(v for k, v in cell.routes.items() if k in expected)
    good = not unexpected and served == len(cell.samples)
    return fmt_routes(cell.routes) + ("" if good else " (**unexpected**)")


class Report:
    """Builds the markdown that is printed and written to docs/benchmarks.md."""

    def __init__(self, results: Results) -> None:
        self.r = results
        self.lines: list[str] = []

    def cell(self, key: str) -> Cell:
        return self.r.cells[key]

    def values(self, key: str, ttft: bool = False) -> list[float]:
        return self.cell(key).ttfts() if ttft else self.cell(key).latencies()

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def build(self) -> str:
        self.intro()
        self.machine()
        self.issue2()
        self.issue3()
        self.throughput()
        self.memory()
        self.flags()
        self.errors()
        self.interpretation()
        return "\n".join(self.lines) + "\n"

    def intro(self) -> None:
        plan = self.r.plan
        self.add(
            "# Benchmarks",
            "",
            "What the server costs and saves compared with running Claude Code directly, measured against the "
            "fake Anthropic upstream (`claude_code_api.testing.fake_upstream`, instant replies) so that only Claude "
            "Code and the server are timed. Generated by `bench/run.py`; rerun with `make bench` (full run, about "
            "2 minutes, rewrites this file) or `python bench/run.py --quick` (smoke run, writes nothing).",
            "",
            f"- Pinned inputs: model `{MODEL}` (`{MODEL_ID}`), system prompt `{SYSTEM_PROMPT}`, {len(PROMPTS)} fixed "
            f"prompts in rotation; {plan.requests} measured requests per cell after {plan.warmups} warm-up requests "
            "(excluded) at the same concurrency.",
            '- Direct: `claude -p` (the bundled CLI) with the server\'s flags (`--model <id> --tools "" '
            "--system-prompt <same> --output-format stream-json --verbose --include-partial-messages "
            '--setting-sources "" --strict-mcp-config --bare`) and the environment the server builds for its CLI '
            "(`child_env`), prompt on stdin, stdin closed. End-to-end = until the process exits; time to first "
            "token = the first `stream_event` with a `text_delta` on stdout.",
            "- API: the official `openai` client (`AsyncOpenAI`, no retries). End-to-end = the whole non-streaming "
            "response; time to first token = the first chunk with content. Server settings: "
            f"`POOL_IDLE_PER_CONFIG={POOL_SIZE}`, `POOL_MAX_IDLE={POOL_SIZE}`, `MAX_PROCESSES={MAX_PROCESSES}`, "
            "prestart on; all else default. The cold-spawn rows use a second server with `POOL_ENABLED=false`.",
            "- Order: both servers run side by side. At each concurrency, every kind (direct, API pool off, API pool "
            "off streaming, API pool on, API pool on streaming) gets its warm-ups, then the kinds take turns, one "
            "batch of `concurrency` simultaneous requests each per round, so all of them see the same machine load. "
            "Follow-ups (b) run afterwards: one conversation per concurrent client, "
            f"{SETUP_EXCHANGES} excluded exchanges, then measured turns carrying the whole history.",
            "- p95 is nearest-rank (the 19th of 20). Ratios are API/direct, shown as p50 / p95. Routes are the "
            "`GET /health` route counters gained during the measured requests (proof of the route measured).",
            "",
        )

    def machine(self) -> None:
        load = self.r.load
        self.add("## Machine", "", "| | |", "|---|---|")
        self.add(*(f"| {k} | {v} |" for k, v in self.r.machine.items()))
        self.add(
            f"| load average before / after (1, 5, 15 min) | {fmt_load(load.before)} / {fmt_load(load.after)} |",
            f"| CPU used by other processes during the run | {load.foreign_share() * 100:.0f}% of all cores |",
            f"| run time | {load.wall:.0f} s |",
            "",
        )
        if load.shared():
            self.add(
                "**The machine was shared**: other work ran on the same cores during this run (see the load above), "
                "so the figures are noisier, and the absolute times slower, than on an idle machine.",
                "",
            )

    def issue2(self) -> None:
        self.add(
            "## Issue 2: API overhead over `claude -p`",
            "",
            "| measurement | concurrency | direct `claude -p` p50 / p95 | API, pool on p50 / p95 | ratio | "
            "API, pool off p50 / p95 | ratio |",
            "|---|---|---|---|---|---|---|",
        )
        for label, new, cold, ttft in (
            ("end-to-end, non-streaming", "new", "cold", False),
            ("time to first token, streaming", "new-stream", "cold-stream", True),
        ):
            for c in (1, 4):
                direct = self.values(f"direct/c{c}", ttft)
                pooled, spawned = self.values(f"{new}/c{c}", ttft), self.values(f"{cold}/c{c}", ttft)
                self.add(
                    f"| {label} | {c} | {pair(direct)} | {pair(pooled)} | {ratio(pooled, direct)} | "
                    f"{pair(spawned)} | {ratio(spawned, direct)} |"
                )
        self.add("")

    def issue3(self) -> None:
        self.add(
            "## Issue 3: reused processes, follow-ups, cold spawns",
            "",
            "| scenario | c=1 p50 / p95 | ratio to (d) | c=4 p50 / p95 | ratio to (d) | goal | routes c=1; c=4 |",
            "|---|---|---|---|---|---|---|",
        )
        rows = (
            ("(a) new conversation, reused process", "new", "≤ 0.25x"),
            ("(b) follow-up turn (≥ 2 prior exchanges)", "follow", "≤ 0.25x"),
            ("(c) cold spawn (pool off)", "cold", ""),
        )
        for label, key, goal in rows:
            cells = []
            for c in (1, 4):
                values, direct = self.values(f"{key}/c{c}"), self.values(f"direct/c{c}")
                cells.append(f"{pair(values)} | {ratio(values, direct)}")
            routes = "; ".join(route_check(f"{key}/c{c}", self.cell(f"{key}/c{c}")) for c in (1, 4))
            self.add(f"| {label} | {' | '.join(cells)} | {self.goal(key, goal)} | {routes} |")
        direct_cells = " | ".join(f"{pair(self.values(f'direct/c{c}'))} | 1.00x" for c in (1, 4))
        self.add(f"| (d) direct `claude -p` | {direct_cells} | | |", "")

    def goal(self, key: str, goal: str) -> str:
        if not goal:
            return ""
        met = all(self.p50_ratio(f"{key}/c{c}", f"direct/c{c}") <= 0.25 for c in (1, 4))
        return f"{goal}: {'met' if met else '**missed**'}"

    def p50_ratio(self, key: str, direct: str) -> float:
        return p50(self.values(key)) / p50(self.values(direct))

    def throughput_ratio(self) -> float:
        direct = self.cell("direct/c4").rps()
        return self.cell("new/c4").rps() / direct if direct else math.nan

    def throughput(self) -> None:
        api, direct = self.cell("new/c4"), self.cell("direct/c4")
        verdict = "met" if self.throughput_ratio() >= 3 else "**missed**"
        self.add(
            "## Throughput of new conversations at concurrency 4",
            "",
            "Measured requests divided by the time their batches of 4 simultaneous requests took.",
            "",
            "| | requests | wall time | requests/s |",
            "|---|---|---|---|",
            f"| API, pool on | {len(api.ok)} | {api.wall:.2f} s | {api.rps():.1f} |",
            f"| direct `claude -p` | {len(direct.ok)} | {direct.wall:.2f} s | {direct.rps():.1f} |",
            f"| ratio API/direct | | | {self.throughput_ratio():.1f}x (goal ≥ 3x: {verdict}) |",
            "",
        )

    def memory(self) -> None:
        m = self.r.memory
        if m is None:
            return
        self.add(
            "## Memory (pooled server, steady state after the runs)",
            "",
            "| | |",
            "|---|---|",
            f"| server process RSS | {mib(m.server_rss_kb)} |",
            f"| Claude Code processes (children) | {m.children} |",
            f"| their RSS, summed | {mib(m.children_rss_kb)} ({mib(m.children_rss_kb // max(1, m.children))} each) |",
            f"| total RSS, server + children | {mib(m.total_rss_kb)} |",
            f"| total PSS (shared pages counted once) | {mib(m.total_pss_kb)} |",
            f"| peak RSS of one direct `claude -p` | {mib(self.r.direct_peak_rss_kb)} |",
            "",
        )

    def flags(self) -> None:
        argv = self.r.server_cli_argv
        if not argv:
            return
        shown = " ".join(shlex.quote(arg) for arg in [Path(argv[0]).name, *argv[1:]])
        self.add(
            "## Flags check",
            "",
            "A Claude Code process of the pooled server ran with (the server passes the system prompt in a file and "
            "talks stream-json on stdin; direct `claude -p` gets the same prompt with `--system-prompt`):",
            "",
            f"```\n{shown}\n```",
            "",
        )

    def errors(self) -> None:
        failing = {k: c.errors for k, c in self.r.cells.items() if c.errors}
        if failing:
            self.add("## Errors", "")
            self.add(*(f"- `{k}`: {len(e)} failed; first: {e[0]}" for k, e in failing.items()))
            self.add("")

    def interpretation(self) -> None:
        r = self.r_ratio
        self.add(
            "## Interpretation",
            "",
            "- Without the pool the API does what `claude -p` does (one Claude Code start per request) plus the "
            f"server's own work: {r('cold/c1')} of direct at concurrency 1 ({self.delta('cold/c1')}; time to first "
            f"token {self.delta('cold-stream/c1', ttft=True)}), {r('cold/c4')} at concurrency 4.",
            f"- With the pool a new conversation takes an idle process rewound to empty instead of spawning one: "
            f"{r('new/c1')} of direct at concurrency 1, {r('new/c4')} at concurrency 4; a follow-up goes to the "
            f"process that holds the conversation: {r('follow/c1')} and {r('follow/c4')}.",
            f"- Time to first token follows the same pattern: {self.r_ratio('new-stream/c1', ttft=True)} of direct "
            f"with the pool, {self.r_ratio('cold-stream/c1', ttft=True)} without (concurrency 1).",
            f"- New conversations at concurrency 4: {self.throughput_ratio():.1f}x the throughput of direct "
            "`claude -p`, because no request pays Claude Code's ~0.3 s CPU-bound start-up.",
            "- Memory is the price: every live process holds its own RSS (see above); the pool size caps it.",
        )

    def r_ratio(self, key: str, ttft: bool = False) -> str:
        direct = self.values(f"direct/{key.split('/')[1]}", ttft)
        value = p50(self.values(key, ttft)) / p50(direct)
        return f"{value:.2f}x"

    def delta(self, key: str, ttft: bool = False) -> str:
        direct = self.values(f"direct/{key.split('/')[1]}", ttft)
        difference = (p50(self.values(key, ttft)) - p50(direct)) * 1000
        return f"{difference:+.0f} ms at p50"


def fmt_load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in load)


def mib(kb: int) -> str:
    return f"{kb / 1024:.0f} MiB"


# ------------------------------------------------------------------------------------------------------------ main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK.requests} requests per cell")
    parser.add_argument("--output", type=Path, help=f"markdown file (default: {DEFAULT_OUTPUT}; none with --quick)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scrub_environment()
    results = asyncio.run(run_all(QUICK if args.quick else FULL))
    markdown = Report(results).build()
    print(markdown)
    output: Path | None = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None and not args.no_write:
        output.write_text(markdown, encoding="utf-8")
        print(f"written to {output}", file=sys.stderr)
    return 1 if any(c.errors for c in results.cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
