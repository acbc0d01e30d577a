"""The warm-up responder speaks the Messages API well enough for a client to parse (the anthropic SDK judges), costs
nothing, answers nothing else, and reads no more than it must; which configurations may be warmed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import anthropic
import httpx
import pytest

from claude_code_api.engine.claude import warm_up as warm_up_module
from claude_code_api.engine.claude.warm_up import MAX_BODY, READY, Responder, warmable


def run(test: Callable[[Responder], Awaitable[None]]) -> None:  # each check needs a running responder
    async def main() -> None:
        async with Responder() as responder:
            await test(responder)

    asyncio.run(main())


def test_a_streamed_turn_parses_as_a_zero_cost_message():
    async def check(responder: Responder) -> None:
        client = anthropic.AsyncAnthropic(base_url=responder.url, api_key="never-read", max_retries=0)
        async with client.messages.stream(
            model="claude-sonnet-4", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            message = await stream.get_final_message()
        assert [b.text for b in message.content if b.type == "text"] == [READY]
        assert message.stop_reason == "end_turn"
        assert (message.usage.input_tokens, message.usage.output_tokens) == (0, 0)
        assert message.model == "claude-sonnet-4"  # as asked, so the CLI files the turn under its own model
        assert responder.answered == 1

    run(check)


def test_a_whole_turn_and_keep_alive_on_one_connection():
    async def check(responder: Responder) -> None:
        client = anthropic.AsyncAnthropic(base_url=responder.url, api_key="never-read", max_retries=0)
        for _ in range(2):
            message = await client.messages.create(
                model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            )
            assert message.content[0].type == "text" and message.content[0].text == READY
        assert responder.answered == 2

    run(check)


def test_anything_but_a_messages_request_is_refused_and_not_counted():
    async def check(responder: Responder) -> None:
        async with httpx.AsyncClient(base_url=responder.url) as client:
            assert (await client.get("/v1/messages")).status_code == 404
            assert (await client.post("/v1/models", json={})).status_code == 404
            bad = await client.post("/v1/messages", content=b"not json")
            assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
            big = await client.post("/v1/messages", content=b"x" * (MAX_BODY + 1))
            assert big.status_code == 413
        assert responder.answered == 0

    run(check)


def test_a_client_that_breaks_http_loses_only_its_connection():
    async def check(responder: Responder) -> None:
        port = int(responder.url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed
        async with httpx.AsyncClient(base_url=responder.url) as client:
            assert (await client.post("/v1/messages", json={"stream": False})).status_code == 200

    run(check)


def test_an_idle_kept_alive_connection_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm_up_module, "IDLE_CONNECTION", 0.2)

    async def check(responder: Responder) -> None:
        port = int(responder.url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b'{"stream": false}'
        writer.write(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)  # all of it: the answer, then the close once idle
        assert answer.startswith(b"HTTP/1.1 200") and READY.encode() in answer
        writer.close()

    run(check)


def test_a_flood_of_connections_is_capped_and_answering_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm_up_module, "MAX_CONNECTIONS", 3)

    async def check(responder: Responder) -> None:
        port = int(responder.url.rsplit(":", 1)[1])
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        await asyncio.sleep(0.1)  # (each is registered once its handler runs)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the fourth is closed at once
        for _, held_writer in held:
            held_writer.close()
        await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=responder.url) as client:
            assert (await client.post("/v1/messages", json={"stream": False})).status_code == 200

    run(check)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, True),
        ({"ANTHROPIC_BASE_URL": "https://gateway.example"}, True),
        ({"CLAUDE_CODE_USE_BEDROCK": "0"}, True),
        ({"CLAUDE_CODE_USE_BEDROCK": "1"}, False),
        ({"CLAUDE_CODE_USE_VERTEX": "true"}, False),
        ({"CLAUDE_CODE_USE_FOUNDRY": "1"}, False),
        ({"CLAUDE_CODE_USE_GATEWAY": "1"}, False),
        ({"CLAUDE_CODE_USE_SOMETHING_NEW": "yes"}, False),
        ({"CLAUDE_CODE_USE_VERTEX": "off"}, True),
        ({"ANTHROPIC_UNIX_SOCKET": "/run/gateway.sock"}, False),
        # A proxy would see the plain-HTTP warm-up turn's headers (credentials): only where it is bypassed.
        ({"HTTPS_PROXY": "http://proxy:3128"}, False),
        ({"http_proxy": "http://proxy:3128"}, False),
        ({"ALL_PROXY": "socks5://proxy:1080", "NO_PROXY": "localhost"}, False),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "example.com, 127.0.0.1"}, True),
        ({"HTTP_PROXY": "http://proxy:3128", "no_proxy": "*"}, True),
    ],
)
def test_only_configurations_that_anthropic_base_url_steers_are_warmed(env: dict[str, str], expected: bool) -> None:
    assert warmable(env) is expected
