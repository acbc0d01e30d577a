"""RedisStore, AsyncRedisStore and RedisLimiter against a real redis-server, and the CLI pointed at it.

Each test works under its own key prefix (or Redis database, for the CLI), so tests share one server safely.
Two limiters on two clients stand for two replicas.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
import redis.asyncio

from claude_code_api import cli
from claude_code_api.core.events import TokenUsage
from claude_code_api.errors import RateLimited, Unauthenticated
from claude_code_api.http.errors import error_payload
from claude_code_api.ops.keys import KeyRing, Principal, hash_key, mint_key
from claude_code_api.ops.redis_limits import RedisLimiter
from claude_code_api.ops.redis_store import AsyncRedisStore, RedisStore, StoreUnavailable
from claude_code_api.ops.store import KeyExists
from claude_code_api.testing import redis_server
from claude_code_api.testing.redis_server import RedisServer

pytestmark = pytest.mark.skipif(
    not redis_server.available(), reason="redis-server not found (the dev dependencies bring one)"
)
T = TypeVar("T")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def store(redis_url: str, prefix: str) -> Iterator[RedisStore]:
    opened = RedisStore.from_url(redis_url, prefix)
    yield opened
    opened.close()


def run(factory: Callable[[redis.asyncio.Redis], Awaitable[T]], url: str) -> T:
    """Run a coroutine with a fresh async client: redis.asyncio connections belong to the loop that made them."""

    async def main() -> T:
        client = redis.asyncio.Redis.from_url(url, decode_responses=True)
        try:
            return await factory(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_keys_are_stored_by_hash_unique_by_name_and_revocable(store: RedisStore, redis_url: str, prefix: str):
    key = mint_key(store, "alice", rpm=5, models=["sonnet", "haiku"])
    record = store.key_by_hash(hash_key(key))
    assert record is not None and (record.name, record.rpm, record.tpm, record.models) == (
        "alice",
        5,
        None,
        ("sonnet", "haiku"),
    )
    with pytest.raises(KeyExists):
        mint_key(store, "alice")
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    stored = " ".join(str(v) for k in raw.keys(prefix + "*") for v in raw.hgetall(k).values())
    raw.close()
    assert key not in stored and hash_key(key) in stored  # only the SHA-256 is ever written
    mint_key(store, "bob")
    assert [k.name for k in store.list_keys()] == ["alice", "bob"]
    assert store.revoke_key("alice") and not store.revoke_key("alice") and not store.revoke_key("nobody")
    assert store.list_keys()[0].revoked


def test_a_revoked_key_is_refused_and_auth_stays_on(store: RedisStore):
    ring = KeyRing(store, [], None)
    assert ring.authenticate(None).name == "anonymous"  # no key anywhere yet: open
    key = mint_key(store, "carol", tpm=10)
    assert ring.authenticate(key).tpm == 10
    store.revoke_key("carol")
    with pytest.raises(Unauthenticated, match="revoked"):
        ring.authenticate(key)
    with pytest.raises(Unauthenticated):
        ring.authenticate(None)


def test_the_request_path_authenticates_through_the_async_store(store: RedisStore, redis_url: str, prefix: str):
    key = mint_key(store, "dave", max_concurrent=3)

    async def check(client: redis.asyncio.Redis) -> list[Principal | str]:
        ring = KeyRing(store, [], None, live=AsyncRedisStore(client, prefix))
        found: list[Principal | str] = [await ring.authenticate_async(key)]
        try:
            await ring.authenticate_async("sk-cca-wrong")
        except Unauthenticated as exc:
            found.append(exc.message)
        return found

    principal, refused = run(check, redis_url)
    assert isinstance(principal, Principal) and (principal.name, principal.max_concurrent) == ("dave", 3)
    assert "Incorrect API key" in str(refused)


def test_usage_from_sync_and_async_writers_sums_per_key_model_and_day(store: RedisStore, redis_url: str, prefix: str):
    day1, day2 = date(2026, 3, 1), date(2026, 3, 2)
    store.add_usage("a", "m", TokenUsage(10, 2, 3, 4), 0.5, day1)

    async def write(client: redis.asyncio.Redis) -> None:
        await AsyncRedisStore(client, prefix).add_usage("a", "m", TokenUsage(1, 1, 1, 1), 0.25, day1)

    run(write, redis_url)
    store.add_usage("b:with:colons", "m", TokenUsage(7, 7), 1.0, day2)
    rows = store.usage()
    assert [(r.day, r.key_name) for r in rows] == [("2026-03-01", "a"), ("2026-03-02", "b:with:colons")]
    first = rows[0]
    assert (first.requests, first.input_tokens, first.output_tokens) == (2, 11, 3)
    assert (first.cache_read_tokens, first.cache_write_tokens, first.cost_usd) == (4, 5, 0.75)
    assert [r.key_name for r in store.usage(key_name="a")] == ["a"]
    assert [r.day for r in store.usage(since=day2)] == ["2026-03-02"]


def limiters(url: str, prefix: str, lease_ttl: float = 60.0) -> Callable[[Callable[..., Awaitable[T]]], T]:
    """Run ``body(replica_a, replica_b)``: two limiters on two clients (two connection pools) sharing one Redis."""

    def runner(body: Callable[..., Awaitable[T]]) -> T:
        async def main(client_a: redis.asyncio.Redis) -> T:
            client_b = redis.asyncio.Redis.from_url(url, decode_responses=True)
            try:
                return await body(RedisLimiter(client_a, lease_ttl, prefix), RedisLimiter(client_b, lease_ttl, prefix))
            finally:
                await client_b.aclose()

        return run(main, url)

    return runner


def test_requests_per_minute_hold_across_replicas_with_retry_after(redis_url: str, prefix: str):
    key = Principal("k", rpm=2)

    async def body(a: RedisLimiter, b: RedisLimiter) -> RateLimited:
        await (await a.acquire(key)).release()
        await (await b.acquire(key)).release()
        with pytest.raises(RateLimited) as caught:
            await a.acquire(key)
        with pytest.raises(RateLimited):
            await b.acquire(key)
        await a.acquire(Principal("other", rpm=2))  # windows are per key name
        return caught.value

    rejected = limiters(redis_url, prefix)(body)
    assert rejected.retry_after in (59.0, 60.0) and rejected.code == "rate_limit_exceeded"
    status, _, headers = error_payload(rejected)
    assert status == 429 and headers["Retry-After"] in ("59", "60")


def test_tokens_per_minute_count_what_either_replica_recorded(redis_url: str, prefix: str):
    key = Principal("k", tpm=100)

    async def body(a: RedisLimiter, b: RedisLimiter) -> str:
        await a.add_tokens(key, 60)
        await (await b.acquire(key)).release()  # 60 < 100
        await b.add_tokens(key, 50)
        with pytest.raises(RateLimited) as caught:
            await a.acquire(key)
        return caught.value.message

    assert "used 110" in limiters(redis_url, prefix)(body)


def test_concurrency_is_shared_and_released_once(redis_url: str, prefix: str):
    key = Principal("k", max_concurrent=1)

    async def body(a: RedisLimiter, b: RedisLimiter) -> None:
        lease = await a.acquire(key)
        with pytest.raises(RateLimited, match="concurrent"):
            await b.acquire(key)
        await lease.release()
        await lease.release()  # idempotent: must not free a slot someone else holds
        held = await b.acquire(key)
        with pytest.raises(RateLimited):
            await a.acquire(key)
        await held.release()

    limiters(redis_url, prefix)(body)


def test_a_crashed_replicas_slots_expire_with_their_leases(redis_url: str, prefix: str):
    key = Principal("k", max_concurrent=1)

    async def body(a: RedisLimiter, b: RedisLimiter) -> None:
        await a.acquire(key)  # replica A dies holding its slot: never released
        with pytest.raises(RateLimited):
            await b.acquire(key)
        await asyncio.sleep(0.35)
        await (await b.acquire(key)).release()

    limiters(redis_url, prefix, lease_ttl=0.3)(body)


def test_unlimited_keys_cost_no_round_trip_and_leave_nothing(redis_url: str, prefix: str):
    async def body(a: RedisLimiter, b: RedisLimiter) -> None:
        for _ in range(5):
            await (await a.acquire(Principal("admin", admin=True))).release()
        await a.add_tokens(Principal("static"), 1000)

    limiters(redis_url, prefix)(body)
    raw = redis.Redis.from_url(redis_url)
    assert raw.keys(prefix + "*") == []
    raw.close()


def test_an_unreachable_redis_is_a_503_not_a_crash():
    async def check(client: redis.asyncio.Redis) -> Any:
        with pytest.raises(StoreUnavailable) as caught:
            await AsyncRedisStore(client).has_keys()
        return caught.value

    dead = f"redis://127.0.0.1:{redis_server.RedisServer(Path('.')).port}/0"  # a free port: nothing listens
    assert error_payload(run(check, dead))[0] == 503


def test_cli_keys_and_usage_work_against_redis(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    url = redis_url.rsplit("/", 1)[0] + "/1"  # the CLI uses the default prefix: a database of its own
    monkeypatch.setenv("CLAUDE_CODE_API_REDIS_URL", url)
    monkeypatch.setenv("CLAUDE_CODE_API_DATA_DIR", str(tmp_path))
    assert cli.main(["keys", "create", "--name", "ci", "--rpm", "7"]) == 0
    key = capsys.readouterr().out.strip()
    shared = RedisStore.from_url(url)
    assert KeyRing(shared, [], None).authenticate(key).rpm == 7
    shared.add_usage("ci", "claude-sonnet-4-5", TokenUsage(100, 20), 0.01, date(2026, 3, 1))
    shared.close()
    assert cli.main(["usage", "--key", "ci"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:6] == [
        "2026-03-01",
        "ci",
        "claude-sonnet-4-5",
        "1",
        "100",
        "20",
    ]
    assert cli.main(["keys", "revoke", "ci"]) == 0
    cli.main(["keys", "list"])
    assert "ci" in capsys.readouterr().out and not (tmp_path / "claude-code-api.sqlite3").exists()
