"""The machine a run measured on: its description (code, CPU, RAM, versions) and the load around the run.

``Load`` tells whether other work shared the cores, which the report states next to the figures.
"""

from __future__ import annotations

import asyncio
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import openai

from claude_code_api.engine.claude.options import bundled_cli_path
from inputs import ROOT
from procfs import kb_field


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
    return kb_field("/proc/meminfo", "MemTotal") / (1024 * 1024)


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
        # Measured during the run itself; a load average taken before it also counts work that had already ended.
        return self.foreign_share() > 0.10


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
