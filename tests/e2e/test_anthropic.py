"""The Anthropic Messages API through the real Claude Code CLI and the fake upstream, judged by the anthropic SDK.

The upstream log is the proof of fidelity: system prompts, role-separated turns, tool_use/tool_result pairs,
signed thinking blocks, images and documents reach Claude as the client sent them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter
from tests.conftest import RunningServer, cli_settings, requests_with, routes

from claude_code_api.core.events import TextDelta
from claude_code_api.engine.fake import FakeEngine
from claude_code_api.errors import UpstreamError

pytestmark = pytest.mark.e2e

MODEL = "claude-sonnet-4"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
WEATHER = {
    "name": "get_weather",
    "description": "Get the weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
EVENTS = TypeAdapter(RawMessageStreamEvent)


def client(server: RunningServer, key: str = "not-needed") -> Any:
    """The SDK's client (typed Any: the tests pass plain dicts where the SDK types TypedDicts)."""
    return anthropic.Anthropic(base_url=server.url, api_key=key, max_retries=0)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def raw_events(server: RunningServer, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) per SSE event of a streamed /v1/messages?beta=true request."""
    with httpx.stream("POST", server.url + "/v1/messages?beta=true", json={**body, "stream": True}, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    assert "[DONE]" not in text
    events = []
    for frame in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def blocks_of(request: Any, kind: str) -> list[dict[str, Any]]:
    return [
        b
        for m in request.body["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == kind
    ]


def test_basic_message_is_a_valid_message(server, upstream, marker):
    message = client(server).messages.create(model=MODEL, max_tokens=200, messages=[user(f"{marker} hi")])
    assert isinstance(message, Message)
    assert message.id.startswith("msg_") and message.role == "assistant" and message.type == "message"
    assert message.content[0].type == "text" and message.content[0].text == "Hello from the fake upstream."
    assert message.model == "claude-sonnet-4-20250514"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens is not None
    assert len(requests_with(upstream, marker)) == 1


@pytest.mark.parametrize("system", ["You are terse.", [{"type": "text", "text": "You are terse."}]])
def test_system_prompt_reaches_upstream_as_the_system_prompt(server, upstream, marker, system):
    client(server).messages.create(model=MODEL, max_tokens=100, system=system, messages=[user(f"{marker} hi")])
    request = requests_with(upstream, marker)[0]
    assert "You are terse." in request.system_text
    assert all("You are terse." not in text for _, text in request.turns())


def test_multi_turn_reaches_upstream_role_separated(server, upstream, marker):
    messages = [user(f"{marker} first"), {"role": "assistant", "content": "ANSWER ONE"}, user(f"{marker} second")]
    client(server).messages.create(model=MODEL, max_tokens=100, messages=messages)
    turns = requests_with(upstream, marker)[-1].turns()
    assert [role for role, _ in turns] == ["user", "assistant", "user"]
    assert turns[1][1] == "ANSWER ONE"


def test_stream_helper_gives_text_and_the_final_message(server, marker):
    with client(server).messages.stream(model=MODEL, max_tokens=100, messages=[user(f"{marker} hi")]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the fake upstream."
    assert final.content[0].type == "text" and final.content[0].text == text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_raw_stream_has_event_lines_and_the_full_block_lifecycle(server, marker):
    events = raw_events(server, {"model": MODEL, "max_tokens": 100, "messages": [user(f"{marker} hi")]})
    names = [name for name, _ in events if name != "ping"]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert names[1] == "content_block_start" and names[-3] == "content_block_stop"
    assert set(names[2:-3]) == {"content_block_delta"}
    for name, data in events:
        assert data["type"] == name
        EVENTS.validate_python(data)  # the SDK's typed models parse every event
    start = events[0][1]["message"]
    assert start["usage"]["input_tokens"] > 0 and start["content"] == []
    delta = next(data for name, data in events if name == "message_delta")
    assert delta["delta"]["stop_reason"] == "end_turn" and delta["usage"]["output_tokens"] > 0


def test_tool_use_round_trip_reaches_upstream_as_a_real_pair(server, upstream, marker):
    directive = json.dumps({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]})
    messages: list[dict[str, Any]] = [user(f"{marker} weather?\nFAKE:{directive}")]
    first = client(server).messages.create(model=MODEL, max_tokens=200, tools=[WEATHER], messages=messages)
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.id.startswith("toolu_") and call.name == "get_weather" and call.input == {"city": "Paris"}
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},  # sent back as is
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21C"}]},
    ]
    second = client(server).messages.create(model=MODEL, max_tokens=200, tools=[WEATHER], messages=messages)
    assert second.stop_reason == "end_turn"
    last = requests_with(upstream, marker)[-1]
    uses = blocks_of(last, "tool_use")
    results = blocks_of(last, "tool_result")
    assert [u["id"] for u in uses] == [call.id] and uses[0]["name"].endswith("get_weather")
    assert results[0]["tool_use_id"] == call.id and "sunny, 21C" in json.dumps(results[0]["content"])
    assert routes(server).get("route_tool_continue", 0) >= 1


def test_thinking_with_signature_survives_a_resend_and_reuses_the_process(server, upstream, marker):
    thinking = {"type": "enabled", "budget_tokens": 2048}
    messages: list[dict[str, Any]] = [user(f'{marker} think\nFAKE: {{"thinking": "deep thought {marker}"}}')]
    first = client(server).messages.create(model=MODEL, max_tokens=4000, thinking=thinking, messages=messages)
    block = first.content[0]
    assert block.type == "thinking" and block.thinking == f"deep thought {marker}" and block.signature
    before = routes(server).get("route_reuse", 0)
    messages += [{"role": "assistant", "content": [b.model_dump() for b in first.content]}, user(f"{marker} more")]
    client(server).messages.create(model=MODEL, max_tokens=4000, thinking=thinking, messages=messages)
    assert routes(server).get("route_reuse", 0) == before + 1  # the live process held exactly this history
    sent = blocks_of(requests_with(upstream, marker)[-1], "thinking")
    assert sent and sent[0]["signature"] == block.signature and sent[0]["thinking"] == block.thinking


def test_thinking_is_not_shown_unless_enabled(server, marker):
    message = client(server).messages.create(
        model=MODEL, max_tokens=100, messages=[user(f'{marker} FAKE: {{"thinking": "secret"}}')]
    )
    assert [b.type for b in message.content] == ["text"]


def test_thinking_resent_to_a_new_server_reaches_upstream_signed(make_server, upstream, marker):
    """A follow-up on a server that never saw the conversation resumes it with the signed block intact."""
    first_server, second_server = make_server(), make_server()
    thinking = {"type": "enabled", "budget_tokens": 2048}
    messages: list[dict[str, Any]] = [user(f'{marker} think\nFAKE: {{"thinking": "plan {marker}"}}')]
    first = client(first_server).messages.create(model=MODEL, max_tokens=4000, thinking=thinking, messages=messages)
    messages += [{"role": "assistant", "content": [b.model_dump() for b in first.content]}, user(f"{marker} next")]
    client(second_server).messages.create(model=MODEL, max_tokens=4000, thinking=thinking, messages=messages)
    sent = blocks_of(requests_with(upstream, marker)[-1], "thinking")
    assert [(b["thinking"], b["signature"]) for b in sent] == [(first.content[0].thinking, first.content[0].signature)]


def test_image_and_pdf_reach_upstream_byte_identical(server, upstream, marker):
    content = [
        {"type": "text", "text": f"{marker} describe"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()},
        },
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(PDF).decode()},
        },
    ]
    client(server).messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": content}])
    request = requests_with(upstream, marker)[0]
    (image,) = blocks_of(request, "image")
    (document,) = blocks_of(request, "document")
    assert hashlib.sha256(base64.b64decode(image["source"]["data"])).digest() == hashlib.sha256(PNG).digest()
    assert document["source"]["media_type"] == "application/pdf"
    assert base64.b64decode(document["source"]["data"]) == PDF


def test_stop_sequences_cut_the_text_and_say_which(server, marker):
    message = client(server).messages.create(
        model=MODEL,
        max_tokens=100,
        stop_sequences=["NEVER", "the fake"],
        messages=[user(f"{marker} hi")],
    )
    assert message.content[0].type == "text" and message.content[0].text == "Hello from "
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "the fake"


def _status_error(server: RunningServer, **kwargs: Any) -> anthropic.APIStatusError:
    with pytest.raises(anthropic.APIStatusError) as caught:
        client(server).messages.create(**{"model": MODEL, "max_tokens": 100, **kwargs})
    return caught.value


def test_errors_use_anthropics_envelope_and_statuses(server, marker):
    missing = httpx.post(server.url + "/v1/messages", json={"model": MODEL, "messages": [user("x")]})
    assert missing.status_code == 400 and missing.json()["type"] == "error"
    assert missing.json()["error"] == {"type": "invalid_request_error", "message": missing.json()["error"]["message"]}
    assert "max_tokens" in missing.json()["error"]["message"] and missing.headers["request-id"]
    assert missing.json()["request_id"] == missing.headers["request-id"]
    unknown = _status_error(server, model="llama3", messages=[user("x")])
    assert unknown.status_code == 404 and unknown.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    overloaded = _status_error(server, messages=[user(f'{marker} FAKE: {{"status": 529}}')])
    assert overloaded.status_code == 529 and overloaded.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    limited = _status_error(server, messages=[user(f'{marker} FAKE: {{"status": 429}}')])
    assert limited.status_code == 429 and limited.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    prefill = _status_error(server, messages=[user("x"), {"role": "assistant", "content": "pre"}])
    assert prefill.status_code == 400


def test_an_error_after_the_first_byte_is_an_error_event(upstream, tmp_path):
    engine = FakeEngine()
    engine.script(TextDelta("partial"), 0.2, UpstreamError("Overloaded", status=529))
    server = RunningServer(cli_settings(upstream, tmp_path, keepalive_interval=0.05), engine)
    try:
        body = {"model": MODEL, "max_tokens": 100, "stream": True, "messages": [user("hi")]}
        with httpx.stream("POST", server.url + "/v1/messages", json=body, timeout=30) as r:
            assert r.status_code == 200
            text = "".join(r.iter_text())
    finally:
        server.stop()
    frames = [f for f in text.strip().split("\n\n") if not f.startswith("event: ping")]
    assert frames[-1].startswith("event: error\n") and "[DONE]" not in text
    error = json.loads(frames[-1].split("data: ", 1)[1])
    assert error["type"] == "error" and error["error"]["type"] == "overloaded_error"
    assert "event: ping" in text  # the silence before the failure was filled with Anthropic's keep-alive


def test_count_tokens_without_running_a_completion(server, upstream, marker):
    before = len(upstream.messages_requests())
    counted = client(server).messages.count_tokens(model=MODEL, messages=[user(f"{marker} how many tokens")])
    assert counted.input_tokens > 0
    assert len(upstream.messages_requests()) == before  # no completion ran
    raw = httpx.post(
        server.url + "/v1/messages/count_tokens?beta=true", json={"model": MODEL, "messages": [user("hi")]}
    )
    assert raw.headers["x-token-count"] == "exact"  # the tests' CLI has an API key and a base URL


def test_count_tokens_is_an_estimate_without_credentials(make_server):
    server = make_server(cli_env={"HOME": "/nonexistent", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    raw = httpx.post(server.url + "/v1/messages/count_tokens", json={"model": MODEL, "messages": [user("hi " * 40)]})
    assert raw.status_code == 200 and raw.headers["x-token-count"] == "estimate"
    assert raw.json()["input_tokens"] >= 30


def test_models_in_both_shapes(server):
    anthropic_list = client(server).models.list()
    ids = [m.id for m in anthropic_list.data]
    assert MODEL in ids and all(m.type == "model" and m.display_name for m in anthropic_list.data)
    assert client(server).models.retrieve(MODEL).id == MODEL
    openai_list = httpx.get(server.url + "/v1/models").json()
    assert openai_list["object"] == "list" and openai_list["data"][0]["object"] == "model"


def test_keys_limits_and_model_permissions_apply_through_x_api_key(make_server, marker):
    server = make_server(api_keys=["sk-one"])
    assert client(server, "sk-one").messages.create(model=MODEL, max_tokens=50, messages=[user(f"{marker} a")])
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client(server, "sk-wrong").messages.create(model=MODEL, max_tokens=50, messages=[user("x")])
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    bearer = httpx.post(
        server.url + "/v1/messages",
        headers={"Authorization": "Bearer sk-one", "anthropic-version": "2026-10-21"},
        json={"model": MODEL, "max_tokens": 50, "messages": [user(f"{marker} b")]},
    )
    assert bearer.status_code == 200
