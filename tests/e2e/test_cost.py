"""Each answer's cost in USD, as Claude Code priced it, in the usage of every dialect: streamed answers have no
cost header, so the usage is where a streaming client finds it (the ``cost_usd`` extension). The four requests
below share one live process, whose own running total must not leak into the later answers' costs."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

pytestmark = pytest.mark.e2e
USAGE = {"input_tokens": 1200, "output_tokens": 300}


def prompt(marker: str) -> str:
    return f"{marker}\nFAKE:" + json.dumps({"reply": "Priced.", "usage": USAGE})


def test_the_cost_is_in_the_usage_streaming_or_not_in_every_dialect(server, marker):
    client = server.client()
    messages: Any = [{"role": "user", "content": prompt(marker)}]
    whole = httpx.post(
        server.url + "/v1/chat/completions", json={"model": "claude-sonnet-4", "messages": messages}, timeout=60
    )
    header_cost = float(whole.headers["x-claude-cost-usd"])
    assert header_cost > 0 and whole.json()["usage"]["cost_usd"] == pytest.approx(header_cost, abs=1e-6)
    chunks = list(
        client.chat.completions.create(
            model="claude-sonnet-4", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.model_extra or {})["cost_usd"] == pytest.approx(header_cost, rel=1e-6)
    claude = anthropic.Anthropic(base_url=server.url, api_key="unused", max_retries=0)
    raw = list(claude.messages.create(model="claude-sonnet-4", max_tokens=64, messages=messages, stream=True))
    delta = next(e for e in raw if e.type == "message_delta")
    assert (delta.usage.model_extra or {})["cost_usd"] == pytest.approx(header_cost, rel=1e-6)
    events = list(client.responses.create(model="claude-sonnet-4", input=prompt(marker), stream=True))
    completed = events[-1]
    assert completed.type == "response.completed" and completed.response.usage is not None
    assert (completed.response.usage.model_extra or {})["cost_usd"] == pytest.approx(header_cost, rel=1e-6)
