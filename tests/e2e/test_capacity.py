"""Capacity: the global cap on Claude Code processes queues, then rejects; the pool respects its memory cap."""

from __future__ import annotations

import concurrent.futures
import json
import socket
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


def _post_all_at_once(url: str, bodies: list[bytes]) -> list[tuple[int, dict[str, str], bytes]]:
    """Open one connection per body first, then send every request in one go, so they arrive as one burst."""
    host, port = url.removeprefix("http://").split(":")
    sockets = [socket.create_connection((host, int(port))) for _ in bodies]
    try:
        for sock, body in zip(sockets, bodies, strict=True):
            head = (
                f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            sock.sendall(head.encode() + body)
        return [_read_response(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    raw = b""
    while chunk := sock.recv(65536):
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_a_burst_admits_processes_plus_queue_and_rejects_the_rest_at_once(make_server, marker):
    running = make_server(max_processes=2, max_queue=2, queue_timeout=60, pool_prestart=False)
    directive = json.dumps({"reply": "ok", "delay": 1})
    bodies = [
        json.dumps({"model": "sonnet", "messages": [{"role": "user", "content": f"{marker}-{i}\nFAKE:{directive}"}]})
        for i in range(12)
    ]
    responses = _post_all_at_once(running.url, [b.encode() for b in bodies])
    statuses = sorted(status for status, _, _ in responses)
    assert statuses == [200] * 4 + [429] * 8
    for status, headers, body in responses:
        if status == 429:
            assert int(headers["retry-after"]) >= 1
        else:
            assert json.loads(body)["choices"][0]["message"]["content"] == "ok"
