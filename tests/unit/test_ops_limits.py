"""Per-key sliding-window limits: what is admitted, and the Retry-After a rejected client is told."""

from __future__ import annotations

import pytest

from claude_code_api.errors import RateLimited
from claude_code_api.ops.keys import Principal
from claude_code_api.ops.limits import MemoryLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_requests_per_minute_rejects_with_the_time_until_a_slot_frees() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    key = Principal("k", rpm=2)
    limiter.acquire(key).release()
    clock.now += 20
    limiter.acquire(key).release()
    with pytest.raises(RateLimited) as caught:
        limiter.acquire(key)
    assert caught.value.retry_after == 40  # the first request leaves the window 60 s after it came
    assert caught.value.code == "rate_limit_exceeded"
    clock.now += 40
    limiter.acquire(key).release()


def test_tokens_per_minute_counts_recorded_usage() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    key = Principal("k", tpm=100)
    limiter.acquire(key).release()
    limiter.add_tokens(key, 60)
    clock.now += 10
    limiter.acquire(key).release()  # 60 < 100: admitted
    limiter.add_tokens(key, 50)
    with pytest.raises(RateLimited) as caught:
        limiter.acquire(key)
    assert caught.value.retry_after == 50  # once the first 60 tokens age out, 50 < 100
    clock.now += 50
    limiter.acquire(key).release()


def test_concurrency_is_held_until_release_and_release_is_idempotent() -> None:
    limiter = MemoryLimiter(Clock())
    key = Principal("k", max_concurrent=1)
    lease = limiter.acquire(key)
    with pytest.raises(RateLimited, match="concurrent"):
        limiter.acquire(key)
    lease.release()
    lease.release()
    limiter.acquire(key)
    with pytest.raises(RateLimited):
        limiter.acquire(key)


def test_keys_do_not_share_limits_and_unlimited_keys_are_never_limited() -> None:
    limiter = MemoryLimiter(Clock())
    limiter.acquire(Principal("a", rpm=1))
    limiter.acquire(Principal("b", rpm=1))
    for _ in range(100):
        limiter.acquire(Principal("free"))
