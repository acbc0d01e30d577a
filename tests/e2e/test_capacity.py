"""Capacity: the global cap on Claude Code processes queues, then rejects; the pool respects its memory cap."""

from __future__ import annotations

import concurrent.futures
import json
import time

import httpx
import openai
import pytest

pytestmark = pytest.mark.e2e


def slow_messages(marker: str, seconds: float) -> list[dict[str, str]]:
    directive = json.dumps({"reply": "a b c d", "chunk_delay": seconds / 4})
    return [{"role": "user", "content": f"{marker}\nFAKE:{directive}"}]


def test_a_full_server_queues_then_rejects_with_retry_after(make_server, marker):
    running = make_server(max_processes=1, max_queue=1, queue_timeout=20)
    client = running.client()
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        first = pool.submit(client.chat.completions.create, model="sonnet", messages=slow_messages(marker, 2))
        time.sleep(0.8)  # the first request holds the only slot
        queued = pool.submit(client.chat.completions.create, model="sonnet", messages=slow_messages(marker + "q", 0.1))
        time.sleep(0.3)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="sonnet", messages=slow_messages(marker + "r", 0.1))
        assert int(caught.value.response.headers["retry-after"]) >= 1
        assert first.result().choices[0].message.content == "a b c d"
        assert queued.result().choices[0].message.content == "a b c d", "the queued request runs once a slot frees"


def test_idle_processes_beyond_the_memory_cap_are_closed(make_server, marker):
    running = make_server(pool_max_memory_mb=1, pool_prestart=False)
    running.client().chat.completions.create(model="sonnet", messages=[{"role": "user", "content": marker}])
    assert httpx.get(running.url + "/health").json()["processes"]["live"] == 0
    roomy = make_server(pool_prestart=False)
    roomy.client().chat.completions.create(model="sonnet", messages=[{"role": "user", "content": marker}])
    assert httpx.get(roomy.url + "/health").json()["processes"]["live"] == 1
