"""Reading ``/proc``: the process tree (pid, parent, start time), RSS and PSS, and the memory of a server.

Used to stop a server together with every Claude Code process it started, and to measure their steady-state memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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


def kb_field(path: str, name: str) -> int:
    """The ``name:`` value (in kB) of a /proc file such as ``status`` or ``meminfo``; 0 if absent."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid: int) -> int:
    return kb_field(f"/proc/{pid}/status", "VmRSS")


def pss_kb(pid: int) -> int:
    return kb_field(f"/proc/{pid}/smaps_rollup", "Pss")


@dataclass(frozen=True)
class Memory:
    server_rss_kb: int
    children: int
    children_rss_kb: int
    total_pss_kb: int
    children_pss_kb: int = 0

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
        children_pss_kb=sum(pss_kb(pid) for pid in kids),
    )
