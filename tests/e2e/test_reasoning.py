"""Thinking is kept out of content; with expose_reasoning it arrives as reasoning_content. Refusals map too."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.e2e


def thinking_request(marker: str, stream: bool) -> dict[str, object]:
    directive = json.dumps({"thinking": "Let me think step by step.", "reply": "42"})
    return {
        "model": "claude-sonnet-4",
        "stream": stream,
        "messages": [{"role": "user", "content": f"{marker}\nFAKE:{directive}"}],
    }


def test_thinking_never_mixes_into_content(server, marker):
    body = httpx.post(server.url + "/v1/chat/completions", json=thinking_request(marker, False), timeout=60).json()
    message = body["choices"][0]["message"]
    assert message["content"] == "42"
    assert "reasoning_content" not in message


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_content_when_exposed(make_server, marker, stream):
    running = make_server(expose_reasoning=True)
    response = httpx.post(running.url + "/v1/chat/completions", json=thinking_request(marker, stream), timeout=60)
    if not stream:
        message = response.json()["choices"][0]["message"]
        assert (message["content"], message["reasoning_content"]) == ("42", "Let me think step by step.")
        return
    deltas = [json.loads(line[6:])["choices"] for line in response.text.splitlines() if line.startswith("data: {")]
    reasoning = "".join(c[0]["delta"].get("reasoning_content", "") for c in deltas if c)
    content = "".join(c[0]["delta"].get("content") or "" for c in deltas if c)
    assert (content, reasoning) == ("42", "Let me think step by step.")


def test_a_refusal_finishes_with_content_filter(server, marker):
    directive = json.dumps({"reply": "I can't help with that.", "stop_reason": "refusal"})
    messages = [{"role": "user", "content": f"{marker}\nFAKE:{directive}"}]
    result = server.client().chat.completions.create(model="claude-sonnet-4", messages=messages)
    assert result.choices[0].finish_reason == "content_filter"


@pytest.mark.parametrize("stream", [False, True])
def test_max_tokens_finishes_with_length_after_one_upstream_call(server, upstream, marker, stream):
    from tests.conftest import requests_with

    directive = json.dumps({"reply": "cut short here", "stop_reason": "max_tokens"})
    messages = [{"role": "user", "content": f"{marker}\nFAKE:{directive}"}]
    client = server.client()
    if stream:
        chunks = list(
            client.chat.completions.create(model="claude-sonnet-4", messages=messages, max_tokens=3, stream=True)
        )
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        result = client.chat.completions.create(model="claude-sonnet-4", messages=messages, max_tokens=3)
        finish, text = [result.choices[0].finish_reason], result.choices[0].message.content
    assert finish == ["length"]
    assert text == "cut short here"
    # Left alone, Claude Code would send 3 "resume" retries (4 requests, then an error); the interrupt stops it at
    # once, though a retry may already be on its way when it lands.
    assert len(requests_with(upstream, marker)) <= 2
