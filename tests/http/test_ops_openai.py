"""The official openai client against a real uvicorn: auth and rate-limit failures raise the exceptions
OpenAI users already handle, with the retry hint the SDK reads."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import uvicorn

from claude_code_api.app import create_app
from claude_code_api.engine.fake import FakeEngine
from claude_code_api.ops.keys import mint_key
from claude_code_api.settings import Settings

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real server with one managed key (2 requests/minute); yields (base URL, key)."""
    app = create_app(Settings(data_dir=tmp_path), engine=FakeEngine())
    key = mint_key(app.state.ops.store, "sdk", rpm=2)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=uv.run, args=([sock],), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v1", key
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


def test_wrong_key_raises_authentication_error(server: tuple[str, str]) -> None:
    url, _ = server
    client = openai.OpenAI(base_url=url, api_key="sk-cca-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="sonnet", messages=MESSAGES)
    assert caught.value.code == "invalid_api_key"


def test_rate_limit_raises_rate_limit_error_with_retry_after(server: tuple[str, str]) -> None:
    url, key = server
    client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
    for _ in range(2):
        assert client.chat.completions.create(model="sonnet", messages=MESSAGES).choices[0].message.content
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="sonnet", messages=MESSAGES, stream=True)
    assert caught.value.code == "rate_limit_exceeded"
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
