"""The pool's policy, as pure functions: which idle process serves a request, which idle processes go when the pool
is over its limits, which conversation's process is emptied into a spare, and whether a spare should be started.

No I/O and no asyncio: the pool (``pool.py``) describes its processes as ``Idle`` values, asks, and applies the
answer, so the rules are unit-tested on their own (``tests/unit/test_pool_policy.py``).

The rules, and why:
- A process that holds exactly the request's history serves it (``reuse``): only the new turn is sent. For a new
  conversation that is an empty spare (``spare``).
- Otherwise a process is rewound (``rewind``, ~2-4 ms on the request's path) to the history, dropping the later
  turns it holds: the least recently used one, the least likely to come back. For a new conversation those turns
  are someone else's conversation, whose next follow-up must then resume from a transcript (~0.4 s, a spawn), so a
  new conversation rewinds one only when no spare is left.
- Spares are refilled off the request path (``to_empty``): the process of a conversation not answered within
  ``recent`` seconds (``CLAUDE_CODE_API_POOL_RECENT``; a conversation that recent is likely mid-exchange: a tool
  loop, a quick reply) is rewound into an empty spare, the least recently used first, before a new process is
  started: a rewind costs ~2 ms of Claude Code's time, a start ~0.3 s of a core. A recent conversation's process
  is never emptied ahead of time, not even in a full pool: that would save the next new conversation ~2 ms on its
  path but cost the emptied conversation ~0.4 s if it comes back first, a bad bet unless fewer than one in ~200 do.
- Eviction (the pool is over its idle caps or its memory budget): the least recently used idle processes go first,
  spares included; busy and parked processes are never evicted here (``max_processes`` caps those).
- Spares are started only into free room (under ``max_processes``, the idle caps and the memory budget): starting
  one never evicts a conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Route = Literal["reuse", "rewind", "spare"]


@dataclass(frozen=True)
class Idle:
    """An idle process as the policy sees it."""

    ident: int
    key: str  # its configuration
    last_used: float  # monotonic time of its last answer (or start, for a spare)
    pss_mb: float = 0.0  # its own memory, proportional share of shared pages


@dataclass(frozen=True)
class Fit:
    """An idle process of the request's configuration that can hold the request's history."""

    ident: int
    exact: bool  # it holds exactly the history
    last_used: float
    held: int = 0  # turns it holds; 0: an empty spare


@dataclass(frozen=True)
class Choice:
    ident: int
    route: Route


def choose(fits: Sequence[Fit]) -> Choice | None:
    """The process to serve a request (see the module docstring for the order and why)."""
    follow_up = [f for f in fits if f.exact and f.held > 0]
    if follow_up:
        return Choice(follow_up[0].ident, "reuse")
    spares = [f for f in fits if f.exact]
    if spares:
        return Choice(min(spares, key=lambda f: f.last_used).ident, "spare")
    holders = [f for f in fits if not f.exact]
    if holders:
        return Choice(min(holders, key=lambda f: f.last_used).ident, "rewind")
    return None


def to_empty(holders: Sequence[Fit], now: float, recent: float) -> int | None:
    """The process to rewind into an empty spare (off the request path), if any: of those holding a conversation, the
    least recently used one not answered within ``recent`` seconds."""
    old = [h for h in holders if h.held > 0 and h.last_used < now - recent]
    return min(old, key=lambda h: h.last_used).ident if old else None


@dataclass(frozen=True)
class Limits:
    per_config: int  # idle processes kept per configuration
    max_idle: int  # idle processes kept in all
    budget_mb: float  # PSS all live processes may hold; 0: no budget


def evict(idle: Sequence[Idle], limits: Limits, busy_pss_mb: float = 0.0) -> list[int]:
    """Idle processes to let go, least recently used first, so that the rest fit every limit.

    ``busy_pss_mb``: memory of the live processes that cannot be let go (busy, parked), which counts against the
    budget too.
    """
    oldest_first = sorted(idle, key=lambda s: s.last_used)
    doomed: set[int] = set()
    per_key: dict[str, int] = {}
    for process in reversed(oldest_first):  # the newest of each configuration are kept
        per_key[process.key] = per_key.get(process.key, 0) + 1
        if per_key[process.key] > limits.per_config:
            doomed.add(process.ident)
    kept = [p for p in oldest_first if p.ident not in doomed]
    excess = max(0, len(kept) - limits.max_idle)
    doomed.update(p.ident for p in kept[:excess])
    kept = kept[excess:]
    if limits.budget_mb > 0:
        total = busy_pss_mb + sum(p.pss_mb for p in kept)
        for process in kept:
            if total <= limits.budget_mb:
                break
            doomed.add(process.ident)
            total -= process.pss_mb
    return [p.ident for p in oldest_first if p.ident in doomed]


@dataclass(frozen=True)
class Room:
    """The pool's occupancy when a spare is considered."""

    live: int  # every live process, being started included
    max_live: int
    idle: int  # idle processes in all
    max_idle: int
    config_idle: int  # idle processes of the spare's configuration
    per_config: int
    pss_mb: float = 0.0  # memory of every live process
    budget_mb: float = 0.0  # 0: no budget
    process_mb: float = 0.0  # what one more process is expected to take


def spare_wanted(spares: int, target: int, room: Room) -> bool:
    """Whether to start one more empty spare for a configuration that has ``spares`` of them: only into free room,
    so that starting a spare never evicts a conversation."""
    if spares >= target or room.live >= room.max_live:
        return False
    if room.idle >= room.max_idle or room.config_idle >= room.per_config:
        return False
    return room.budget_mb <= 0 or room.pss_mb + room.process_mb <= room.budget_mb
