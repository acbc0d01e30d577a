"""The capacity gate admits at most ``limit`` running plus ``queue`` waiting, even when a burst arrives at once."""

from __future__ import annotations

import asyncio

import pytest

from claude_code_api.engine.capacity import Capacity
from claude_code_api.errors import CapacityExceeded


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_a_burst_of_100_admits_exactly_limit_plus_queue_and_rejects_the_rest_at_once():
    async def main() -> None:
        capacity = Capacity(limit=4, queue=8, wait=60.0)
        release = asyncio.Event()
        served = 0

        async def request() -> None:
            nonlocal served
            async with capacity.slot():
                await release.wait()
                served += 1

        tasks = [asyncio.create_task(request()) for _ in range(100)]
        await _settle()
        rejected = [t for t in tasks if t.done() and isinstance(t.exception(), CapacityExceeded)]
        assert len(rejected) == 88, "the rest are turned away before any admitted request has finished"
        assert all(t.exception().retry_after for t in rejected)  # type: ignore[union-attr]
        assert (capacity.running, capacity.waiting) == (4, 8)
        release.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert served == 12
        assert (capacity.running, capacity.waiting) == (0, 0)

    asyncio.run(main())


def test_a_queued_request_that_waits_too_long_is_rejected_and_frees_its_place():
    async def main() -> None:
        capacity = Capacity(limit=1, queue=1, wait=0.05)
        release = asyncio.Event()

        async def hold() -> None:
            async with capacity.slot():
                await release.wait()

        holder = asyncio.create_task(hold())
        await _settle()
        with pytest.raises(CapacityExceeded):
            async with capacity.slot():
                pass
        assert (capacity.running, capacity.waiting) == (1, 0)
        release.set()
        await holder
        async with capacity.slot():
            assert capacity.running == 1

    asyncio.run(main())
