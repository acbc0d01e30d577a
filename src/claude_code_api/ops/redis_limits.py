"""Per-key limits in Redis, so requests/minute, tokens/minute and concurrency hold across every replica.

The same rules as ``MemoryLimiter``, kept in sorted sets per key name and checked-and-admitted by one Lua script
(atomic in Redis, one round trip), with Redis's own clock so replicas' clocks never disagree:

- ``<prefix>limit:<name>:requests``: admitted requests, scored by time (sliding 60-second window);
- ``<prefix>limit:<name>:tokens``: finished requests' tokens as ``<id>:<tokens>`` members, scored by time;
- ``<prefix>limit:<name>:leases``: requests in flight, scored by when their lease expires. A lease, not a bare
  INCR/DECR counter: a replica that dies mid-request never releases, and its leases drop out one by one when they
  expire (``lease_ttl``, longer than any request may run), where a counter's TTL would be pushed back by every new
  request and, when it did lapse, would forget the live requests too.

Every key carries a TTL, so an idle key name leaves nothing behind.
"""

from __future__ import annotations

import math
import uuid

import redis.asyncio

from claude_code_api.errors import RateLimited
from claude_code_api.ops.keys import Principal
from claude_code_api.ops.limits import WINDOW, AsyncLease, limit_exceeded
from claude_code_api.ops.redis_store import DEFAULT_PREFIX, reachable

_WINDOW_MS = int(WINDOW * 1000)
_UNLIMITED = -1

# KEYS: requests, tokens, leases. ARGV: rpm, tpm, max_concurrent (-1: unlimited), window ms, lease id, lease ttl ms.
# Returns {"ok"} or {kind, retry_ms[, used]}, checking in MemoryLimiter's order: concurrency, requests, tokens.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rpm, tpm, conc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window, ttl = tonumber(ARGV[4]), tonumber(ARGV[6])
if conc >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= conc then return {'concurrency', 1000} end
end
if rpm >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[1])
  if n >= rpm then
    if rpm == 0 then return {'requests', window} end
    local oldest = redis.call('ZRANGE', KEYS[1], n - rpm, n - rpm, 'WITHSCORES')
    return {'requests', tonumber(oldest[2]) + window - now}
  end
end
if tpm >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  local used = 0
  for i = 1, #entries, 2 do used = used + tonumber(string.match(entries[i], ':(%d+)$')) end
  if used >= tpm then
    local excess, retry = used - tpm, window
    for i = 1, #entries, 2 do
      excess = excess - tonumber(string.match(entries[i], ':(%d+)$'))
      if excess < 0 then
        retry = tonumber(entries[i + 1]) + window - now
        break
      end
    end
    return {'tokens', retry, used}
  end
end
if rpm >= 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], window)
end
if conc >= 0 then
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[5])
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return {'ok'}
"""

# KEYS: tokens. ARGV: member (<id>:<tokens>), window ms.
_ADD_TOKENS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class _NoLease:
    """What an unlimited key holds: nothing in Redis, so nothing to release."""

    async def release(self) -> None:
        return None


class _RedisLease:
    def __init__(self, client: redis.asyncio.Redis, leases: str, lease_id: str) -> None:
        self._client = client
        self._leases = leases
        self._id = lease_id
        self._held = True

    async def release(self) -> None:
        if self._held:
            self._held = False
            await self._client.zrem(self._leases, self._id)


class RedisLimiter:
    """``AsyncLimiter`` on a borrowed ``redis.asyncio`` client (``AsyncRedisStore`` owns and closes it).

    ``lease_ttl`` (seconds) must outlast the longest request (queue wait plus the overall deadline): it only
    matters for a replica that died holding slots.
    """

    def __init__(self, client: redis.asyncio.Redis, lease_ttl: float, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._lease_ttl_ms = int(lease_ttl * 1000)
        self._prefix = prefix + "limit:"
        self._acquire = client.register_script(_ACQUIRE)
        self._add_tokens = client.register_script(_ADD_TOKENS)

    async def acquire(self, principal: Principal) -> AsyncLease:
        if not principal.limited:
            return _NoLease()  # no round trip for keys without limits (the admin key, static keys)
        keys = [self._key(principal, kind) for kind in ("requests", "tokens", "leases")]
        lease_id = uuid.uuid4().hex
        limits = [_arg(principal.rpm), _arg(principal.tpm), _arg(principal.max_concurrent)]
        with reachable():
            verdict = await self._acquire(keys=keys, args=[*limits, _WINDOW_MS, lease_id, self._lease_ttl_ms])
        if verdict[0] != "ok":
            raise _rejection(principal, verdict)
        if principal.max_concurrent is None:
            return _NoLease()
        return _RedisLease(self._client, keys[2], lease_id)

    async def add_tokens(self, principal: Principal, tokens: int) -> None:
        if principal.tpm is not None and tokens > 0:
            member = f"{uuid.uuid4().hex}:{tokens}"
            await self._add_tokens(keys=[self._key(principal, "tokens")], args=[member, _WINDOW_MS])

    def _key(self, principal: Principal, kind: str) -> str:
        return f"{self._prefix}{principal.name}:{kind}"


def _arg(limit: int | None) -> int:
    return _UNLIMITED if limit is None else limit


def _rejection(principal: Principal, verdict: list[object]) -> RateLimited:
    """The Lua verdict as the same 429 ``MemoryLimiter`` gives (Retry-After in whole seconds, at least 1)."""
    used = verdict[2] if len(verdict) > 2 else None
    return limit_exceeded(principal, str(verdict[0]), _seconds(int(str(verdict[1]))), used)


def _seconds(milliseconds: int) -> float:
    return float(max(1, math.ceil(milliseconds / 1000)))
