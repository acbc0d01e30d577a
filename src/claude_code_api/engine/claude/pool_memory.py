"""What a live Claude Code process costs in memory: its PSS, read from ``/proc/<pid>/smaps_rollup`` (Linux).

PSS (proportional set size) counts each shared page once across the processes that share it, so the sum over the
pool is what the pool really holds; RSS would count the CLI's shared binary pages once per process (170-200 MiB RSS
against 100-145 MiB PSS each). Reading ``smaps_rollup`` walks the process's mappings (about a millisecond), so a
value is reused for ``MAX_AGE`` seconds.
"""

from __future__ import annotations

import time

MAX_AGE = 5.0


def pss_mb(pid: int | None) -> float:
    """PSS of a process in MiB; 0 where it cannot be read, so a budget never closes a process blindly."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


class PssCache:
    """PSS per pid, refreshed when older than ``MAX_AGE`` seconds."""

    def __init__(self) -> None:
        self._values: dict[int, tuple[float, float]] = {}

    def of(self, pid: int | None) -> float:
        if pid is None:
            return 0.0
        now = time.monotonic()
        cached = self._values.get(pid)
        if cached is not None and now - cached[0] < MAX_AGE:
            return cached[1]
        value = pss_mb(pid)
        self._values[pid] = (now, value)
        return value

    def forget(self, pid: int | None) -> None:
        if pid is not None:
            self._values.pop(pid, None)

    def typical(self, default: float) -> float:
        """The mean PSS of the processes measured so far (what one more is expected to take), else ``default``."""
        known = [value for _, value in self._values.values() if value > 0]
        return sum(known) / len(known) if known else default
