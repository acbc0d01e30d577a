"""Per-key limits: requests per minute, tokens per minute and concurrent requests.

``Limiter`` is the interface of a limiter in this process: ``MemoryLimiter`` keeps sliding one-minute windows in
memory. The request path talks to an ``AsyncLimiter``: ``InlineLimiter`` adapts a ``Limiter`` to it, and
``RedisLimiter`` (``redis_limits.py``) implements it so limits hold across replicas. Tokens are only known once a
request has finished, so the tokens/minute check admits a request while the last minute's recorded tokens are under
the limit, and the request's own tokens count against the following ones.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Protocol

from claude_code_api.errors import RateLimited
from claude_code_api.ops.keys import Principal

WINDOW = 60.0


class Lease(Protocol):
    def release(self) -> None:
        """End the request's hold on its key's concurrency (idempotent)."""
        ...


class Limiter(Protocol):
    def acquire(self, principal: Principal) -> Lease:
        """Admit one request or raise ``RateLimited`` with a ``retry_after`` hint."""
        ...

    def add_tokens(self, principal: Principal, tokens: int) -> None: ...


class AsyncLease(Protocol):
    async def release(self) -> None:
        """End the request's hold on its key's concurrency (idempotent)."""
        ...


class AsyncLimiter(Protocol):
    async def acquire(self, principal: Principal) -> AsyncLease:
        """Admit one request or raise ``RateLimited`` with a ``retry_after`` hint."""
        ...

    async def add_tokens(self, principal: Principal, tokens: int) -> None: ...


class _InlineLease:
    def __init__(self, lease: Lease) -> None:
        self._lease = lease

    async def release(self) -> None:
        self._lease.release()


class InlineLimiter:
    """A ``Limiter`` as an ``AsyncLimiter``; calls run inline, so check-and-admit stays atomic on the event loop."""

    def __init__(self, limiter: Limiter) -> None:
        self._limiter = limiter

    async def acquire(self, principal: Principal) -> AsyncLease:
        return _InlineLease(self._limiter.acquire(principal))

    async def add_tokens(self, principal: Principal, tokens: int) -> None:
        self._limiter.add_tokens(principal, tokens)


class _MemoryLease:
    def __init__(self, active: dict[str, int], name: str) -> None:
        self._active = active
        self._name = name
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._active[self._name] -= 1


class MemoryLimiter:
    """Sliding windows per key name. Check-and-admit never awaits, so it is atomic on the event loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._requests: defaultdict[str, deque[float]] = defaultdict(deque)
        self._tokens: defaultdict[str, deque[tuple[float, int]]] = defaultdict(deque)
        self._active: defaultdict[str, int] = defaultdict(int)

    def acquire(self, principal: Principal) -> Lease:
        name, now = principal.name, self._clock()
        self._check_concurrency(principal)
        self._check_requests(principal, now)
        self._check_tokens(principal, now)
        if principal.rpm is not None:
            self._requests[name].append(now)
        self._active[name] += 1
        return _MemoryLease(self._active, name)

    def add_tokens(self, principal: Principal, tokens: int) -> None:
        if principal.tpm is not None and tokens > 0:
            self._tokens[principal.name].append((self._clock(), tokens))

    def _check_concurrency(self, principal: Principal) -> None:
        limit = principal.max_concurrent
        if limit is not None and self._active[principal.name] >= limit:
            raise limit_exceeded(principal, "concurrency", 1.0)

    def _check_requests(self, principal: Principal, now: float) -> None:
        limit = principal.rpm
        if limit is None:
            return
        window = self._requests[principal.name]
        _expire(window, now)
        if len(window) >= limit:
            # Wait until enough old requests leave the window for one more to fit.
            retry = window[len(window) - limit] + WINDOW - now
            raise limit_exceeded(principal, "requests", _ceil(retry))

    def _check_tokens(self, principal: Principal, now: float) -> None:
        limit = principal.tpm
        if limit is None:
            return
        window = self._tokens[principal.name]
        while window and window[0][0] <= now - WINDOW:
            window.popleft()
        used = sum(n for _, n in window)
        if used >= limit:
            retry, excess = WINDOW, used - limit
            for stamp, n in window:  # the moment enough tokens have aged out to be under the limit again
                excess -= n
                if excess < 0:
                    retry = stamp + WINDOW - now
                    break
            raise limit_exceeded(principal, "tokens", _ceil(retry), used)


def limit_exceeded(principal: Principal, kind: str, retry_after: float, used: object = None) -> RateLimited:
    """The 429 for a key over one of its limits; every limiter (in memory, Redis) words it the same way."""
    name = principal.name
    if kind == "concurrency":
        message = f"Too many concurrent requests for key '{name}' (limit {principal.max_concurrent})."
    elif kind == "requests":
        message = f"Rate limit reached for key '{name}': {principal.rpm} requests per minute."
    else:
        message = f"Rate limit reached for key '{name}': {principal.tpm} tokens per minute (used {used})."
    return RateLimited(message, retry_after=retry_after)


def _expire(window: deque[float], now: float) -> None:
    while window and window[0] <= now - WINDOW:
        window.popleft()


def _ceil(seconds: float) -> float:
    return float(max(1, math.ceil(seconds)))
