"""Managed keys and the usage ledger in Redis, shared by every replica (``CLAUDE_CODE_API_REDIS_URL``).

``RedisStore`` implements ``Store`` on the synchronous client (the CLI, the admin endpoints' worker threads);
``AsyncRedisStore`` implements ``AsyncStore`` on ``redis.asyncio`` for the request path. Both use one layout:

- ``<prefix>keys``: a hash, key name -> SHA-256 of the key (names are unique for good; it exists once any key was
  created, which is what turns auth on);
- ``<prefix>key:<sha256>``: a hash per key: name, prefix, created_at, revoked_at, rpm, tpm, max_concurrent, models,
  agent (``""`` stands for unset). Only the hash of a key is ever stored;
- ``<prefix>usage:rows``: a set of row ids, ``["day", "key", "model"]`` as JSON;
- ``<prefix>usage:row:<row id>``: a hash of counters per row, bumped with HINCRBY / HINCRBYFLOAT in a MULTI.

Creating and revoking a key are Lua scripts, so two CLIs racing on one name cannot both win.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import cast

import redis
import redis.asyncio

from claude_code_api.core.events import TokenUsage
from claude_code_api.errors import EngineUnavailable
from claude_code_api.ops.store import KeyExists, KeyRecord, UsageRow, utc_now

DEFAULT_PREFIX = "cca:"

# KEYS: names hash, record hash. ARGV: name, key hash, then the record's field/value pairs.
_CREATE_KEY = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# KEYS: record hash. ARGV: now. Revokes only a key that exists and is not revoked yet.
_REVOKE_KEY = """
local revoked = redis.call('HGET', KEYS[1], 'revoked_at')
if revoked ~= '' then return 0 end
redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1])
return 1
"""

_COUNTERS = ("requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


class StoreUnavailable(EngineUnavailable):
    """The shared store cannot be reached: 503, like any other reason the server cannot serve right now."""


@contextmanager
def reachable() -> Iterator[None]:
    """Turn a Redis failure on the request path into a clean 503 instead of an unhandled 500."""
    try:
        yield
    except redis.RedisError as exc:
        raise StoreUnavailable(f"The shared store (Redis) is unavailable: {type(exc).__name__}.") from exc


class _Layout:
    """Key names under one prefix, so several deployments can share a Redis database."""

    def __init__(self, prefix: str) -> None:
        self.names = prefix + "keys"
        self._record = prefix + "key:"
        self.rows = prefix + "usage:rows"
        self._row = prefix + "usage:row:"

    def record(self, key_hash: str) -> str:
        return self._record + key_hash

    def row(self, row_id: str) -> str:
        return self._row + row_id


def _fields(record: KeyRecord) -> list[str]:
    values = {
        "name": record.name,
        "prefix": record.prefix,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at or "",
        "rpm": _text(record.rpm),
        "tpm": _text(record.tpm),
        "max_concurrent": _text(record.max_concurrent),
        "models": ",".join(record.models),
        "agent": "1" if record.agent else "",
    }
    return [item for pair in values.items() for item in pair]


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def _record(key_hash: str, data: Mapping[str, str]) -> KeyRecord | None:
    if not data:
        return None
    return KeyRecord(
        name=data["name"],
        key_hash=key_hash,
        prefix=data.get("prefix", ""),
        created_at=data.get("created_at", ""),
        revoked_at=data.get("revoked_at") or None,
        rpm=_int(data.get("rpm")),
        tpm=_int(data.get("tpm")),
        max_concurrent=_int(data.get("max_concurrent")),
        models=tuple(m for m in data.get("models", "").split(",") if m),
        agent=data.get("agent") == "1",
    )


def _int(value: str | None) -> int | None:
    return int(value) if value else None


def _row_id(day: date, key_name: str, model: str) -> str:
    return json.dumps([day.isoformat(), key_name, model])


def _increments(usage: TokenUsage) -> dict[str, int]:
    return {
        "requests": 1,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
    }


def _wanted(row_ids: set[str], key_name: str | None, since: date | None) -> list[tuple[str, str, str, str]]:
    """Row ids matching the filters, as (id, day, key, model), in the ledger's order (day, key, model)."""
    rows = []
    for row_id in row_ids:
        day, name, model = json.loads(row_id)
        if (key_name is None or name == key_name) and (since is None or day >= since.isoformat()):
            rows.append((row_id, day, name, model))
    return sorted(rows, key=lambda r: r[1:])


def _usage_row(day: str, key_name: str, model: str, data: Mapping[str, str]) -> UsageRow:
    counts = {f: int(data.get(f, 0)) for f in _COUNTERS}
    return UsageRow(day, key_name, model, **counts, cost_usd=float(data.get("cost_usd", 0.0)))


class RedisStore:
    """``Store`` on the synchronous client. Its connection pool is thread-safe, as the admin endpoints need."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = client
        self._at = _Layout(prefix)
        self._create = client.register_script(_CREATE_KEY)
        self._revoke = client.register_script(_REVOKE_KEY)

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        return cls(redis.Redis.from_url(url, decode_responses=True), prefix)

    def create_key(self, record: KeyRecord) -> None:
        keys = [self._at.names, self._at.record(record.key_hash)]
        if not self._create(keys=keys, args=[record.name, record.key_hash, *_fields(record)]):
            raise KeyExists(record.name)

    def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        return _record(key_hash, cast("dict[str, str]", self._redis.hgetall(self._at.record(key_hash))))

    def list_keys(self) -> list[KeyRecord]:
        hashes = list(cast("dict[str, str]", self._redis.hgetall(self._at.names)).values())
        pipe = self._redis.pipeline(transaction=False)
        for key_hash in hashes:
            pipe.hgetall(self._at.record(key_hash))
        found = [_record(h, data) for h, data in zip(hashes, pipe.execute(), strict=True)]
        return sorted((r for r in found if r is not None), key=lambda r: (r.created_at, r.name))

    def revoke_key(self, name: str) -> bool:
        key_hash = cast("str | None", self._redis.hget(self._at.names, name))
        if key_hash is None:
            return False
        return bool(self._revoke(keys=[self._at.record(key_hash)], args=[utc_now()]))

    def has_keys(self) -> bool:
        return bool(self._redis.exists(self._at.names))

    def add_usage(self, key_name: str, model: str, usage: TokenUsage, cost_usd: float, day: date) -> None:
        row_id = _row_id(day, key_name, model)
        pipe = self._redis.pipeline(transaction=True)  # MULTI: a row never shows half a request
        pipe.sadd(self._at.rows, row_id)
        for field, amount in _increments(usage).items():
            pipe.hincrby(self._at.row(row_id), field, amount)
        pipe.hincrbyfloat(self._at.row(row_id), "cost_usd", cost_usd)
        pipe.execute()

    def usage(self, key_name: str | None = None, since: date | None = None) -> list[UsageRow]:
        wanted = _wanted(cast("set[str]", self._redis.smembers(self._at.rows)), key_name, since)
        pipe = self._redis.pipeline(transaction=False)
        for row_id, *_ in wanted:
            pipe.hgetall(self._at.row(row_id))
        return [_usage_row(d, k, m, data) for (_, d, k, m), data in zip(wanted, pipe.execute(), strict=True)]

    def close(self) -> None:
        self._redis.close()


class AsyncRedisStore:
    """``AsyncStore`` on ``redis.asyncio``: the request path's key lookups and usage writes. It owns its client,
    which ``RedisLimiter`` borrows, so one connection pool serves both."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self._at = _Layout(prefix)

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX) -> AsyncRedisStore:
        # Connections are made lazily, on the event loop that serves requests, not where the app is built.
        return cls(redis.asyncio.Redis.from_url(url, decode_responses=True), prefix)

    async def has_keys(self) -> bool:
        with reachable():
            return bool(await self.client.exists(self._at.names))

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        with reachable():
            data = cast("dict[str, str]", await self.client.hgetall(self._at.record(key_hash)))
        return _record(key_hash, data)

    async def add_usage(self, key_name: str, model: str, usage: TokenUsage, cost_usd: float, day: date) -> None:
        row_id = _row_id(day, key_name, model)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.sadd(self._at.rows, row_id)
            for field, amount in _increments(usage).items():
                pipe.hincrby(self._at.row(row_id), field, amount)
            pipe.hincrbyfloat(self._at.row(row_id), "cost_usd", cost_usd)
            with reachable():
                await pipe.execute()

    async def aclose(self) -> None:
        await self.client.aclose()
