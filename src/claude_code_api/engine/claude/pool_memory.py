"""What a live Claude Code process costs in memory: its PSS, read from ``/proc/<pid>/smaps_rollup`` (Linux).

PSS (proportional set size) counts each shared page once across the processes that share it, so the sum over the
pool is what the pool really holds; RSS would count the CLI's shared binary pages once per process (170-200 MiB RSS
against 100-160 MiB PSS each). Reading ``smaps_rollup`` walks the process's mappings (~1-3 ms each), so the pool
never reads it on a request's path: ``PssCache.refresh`` reads every live process in a worker thread from the pool's
reaper loop, and a process not yet measured counts as the mean of those measured (or ``PSS_PER_PROCESS_MB``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


def pss_mb(pid: int) -> float:
    """PSS of a process in MiB; 0 where it cannot be read (not Linux, or the process is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


class PssCache:
    """The last measured PSS of each live process."""

    def __init__(self, default_mb: float) -> None:
        self._default = default_mb
        self._values: dict[int, float] = {}

    def of(self, pid: int | None) -> float:
        """The measured PSS of ``pid``, else what a process is expected to take (``typical``)."""
        value = self._values.get(pid) if pid is not None else None
        return value if value else self.typical()

    def typical(self) -> float:
        known = [value for value in self._values.values() if value > 0]
        return sum(known) / len(known) if known else self._default

    async def refresh(self, pids: Iterable[int]) -> None:
        """Measure every pid in a worker thread; forget processes no longer live."""
        wanted = list(pids)
        values = await asyncio.to_thread(lambda: [pss_mb(pid) for pid in wanted])
        self._values = dict(zip(wanted, values, strict=True))
