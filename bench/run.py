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
- issue 14 (default settings): new conversations at concurrency 1, 4, 8 and 16 (latency and throughput against
  direct ``claude -p``), 1, 4 and 8 conversations taking turns, the first request of a freshly started server, and the
  per-turn cost of the CLI's built-in plugins;
- memory: the RSS and PSS of the pooled server plus its Claude Code processes, after the load and at the end.

Run ``make bench`` (about 5 minutes on 2 cores) or ``python bench/run.py --quick`` (smoke run, writes no file).
"""

# The benchmark's modules, all in bench/ (imported as siblings: the script's directory is first on sys.path):
#   inputs      pinned inputs (model, prompts, request counts, server sizes, paths)
#   procfs      /proc: process tree, RSS/PSS, memory of a server
#   machine     machine description and load around the run
#   processes   workspace, subprocess start/stop, wait for HTTP, server command and environment
#   stats       samples, cells, percentiles, results of a run
#   direct_cli  direct `claude -p` runs
#   api_client  the API server and timed requests with the openai client
#   scenarios   the measured phases and their order (run_all)
#   report      the markdown report
# This module owns the command line: parse the arguments, run, print and write the report.

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from inputs import DEFAULT_OUTPUT, FULL, QUICK
from processes import scrub_environment
from report import Report
from scenarios import run_all


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
