"""The global cap on requests running Claude Code: ``limit`` run at once, ``queue`` more wait, the rest get 429.

Admission is decided and counted in one synchronous step, before the request first awaits, so a burst that arrives
in one event-loop tick cannot all pass the check (a semaphore's ``locked()`` stays false until the waiters it has
not yet run take their permits).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from claude_code_api.errors import CapacityExceeded


class Capacity:
    """At most ``limit`` requests run Claude Code at once; at most ``queue`` wait, each up to ``wait`` seconds."""

    def __init__(self, limit: int, queue: int, wait: float) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._admitted_max = limit + queue
        self._wait = wait
        self._admitted = 0  # running plus waiting
        self.running = 0

    @property
    def waiting(self) -> int:
        return self._admitted - self.running

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._admitted >= self._admitted_max:
            raise CapacityExceeded("All Claude Code slots are busy and the queue is full.", retry_after=2)
        self._admitted += 1
        try:
            # A cancel scope rather than asyncio.wait_for: a permit granted just as the wait times out is never lost.
            with anyio.move_on_after(self._wait) as waited:
                await self._slots.acquire()
            if waited.cancelled_caught:
                raise CapacityExceeded("Timed out waiting for a free Claude Code slot.", retry_after=5)
            self.running += 1
            try:
                yield
            finally:
                self.running -= 1
                self._slots.release()
        finally:
            self._admitted -= 1
