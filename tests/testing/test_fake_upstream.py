"""The fake Anthropic upstream: SSE shape, directives, errors, the request log, and the real CLI against it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from claude_code_api.testing import fake_upstream
from claude_code_api.testing.fake_upstream import DEFAULT_REPLY, FakeUpstream, LoggedRequest, fetch_log

Event = tuple[str, dict[str, Any]]


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeUpstream]:
    # One server per module: stopping uvicorn takes ~0.2 s, clearing the log takes nothing.
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def fake(shared_fake: FakeUpstream) -> FakeUpstream:
    shared_fake.clear()
    return shared_fake


@pytest.fixture
def client(fake: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=10) as http:
        yield http


def body(*messages: dict[str, Any], stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {"model": "claude-test-1", "max_tokens": 100, "stream": stream, "messages": list(messages), **extra}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def parse_sse(text: str) -> list[Event]:
    events = []
    for frame in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        data = json.loads(lines["data"])
        assert data["type"] == lines["event"]
        events.append((lines["event"], data))
    return events


def post_sse(client: httpx.Client, payload: dict[str, Any]) -> list[Event]:
    response = client.post("/v1/messages?beta=true", json=payload)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


def deltas(events: list[Event], kind: str) -> list[str]:
    key = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}[kind]
    return [
        data["delta"][key] for name, data in events if name == "content_block_delta" and data["delta"]["type"] == kind
    ]


def blocks(events: list[Event]) -> list[dict[str, Any]]:
    return [data["content_block"] for name, data in events if name == "content_block_start"]


def final(events: list[Event]) -> dict[str, Any]:
    return next(data for name, data in events if name == "message_delta")


def test_default_reply_streams_the_anthropic_event_sequence_one_delta_per_word(client: httpx.Client) -> None:
    events = post_sse(client, body(user("hello there")))
    names = [name for name, _ in events]
    block = ["content_block_start", *["content_block_delta"] * 5, "content_block_stop"]
    assert names == ["message_start", "ping", *block, "message_delta", "message_stop"]
    message = events[0][1]["message"]
    assert message["id"].startswith("msg_") and message["model"] == "claude-test-1"
    assert message["usage"] == {
        "input_tokens": 2,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
    }
    text = deltas(events, "text_delta")
    assert text == ["Hello ", "from ", "the ", "fake ", "upstream."] and "".join(text) == DEFAULT_REPLY
    assert final(events) == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 5},
    }


def test_non_streaming_request_gets_the_same_content_as_one_message(client: httpx.Client) -> None:
    payload = body(user('x FAKE:{"reply": "one two", "thinking": "hm"}'), stream=False)
    message = client.post("/v1/messages", json=payload).json()
    assert message["type"] == "message" and message["role"] == "assistant" and message["model"] == "claude-test-1"
    assert [b["type"] for b in message["content"]] == ["thinking", "text"]
    assert message["content"][1] == {"type": "text", "text": "one two"}
    assert message["stop_reason"] == "end_turn" and message["stop_sequence"] is None


def test_reply_and_chunks_split_the_text_into_that_many_deltas(client: httpx.Client) -> None:
    events = post_sse(client, body(user('FAKE:{"reply": "abcdefghij", "chunks": 3}')))
    assert deltas(events, "text_delta") == ["abc", "def", "ghij"]
    assert final(events)["usage"]["output_tokens"] == 3


def test_echo_answers_the_last_user_text_without_directive_or_reminders(client: httpx.Client) -> None:
    reminder = {"type": "text", "text": "<system-reminder>\nignore me\n</system-reminder>"}
    last = {"role": "user", "content": [reminder, {"type": "text", "text": 'repeat FAKE:{"echo": true}\nthis please'}]}
    events = post_sse(client, body(user("first"), {"role": "assistant", "content": "ok"}, last))
    assert "".join(deltas(events, "text_delta")) == "repeat\nthis please"


def test_directive_is_taken_from_the_last_user_message_that_has_one(client: httpx.Client) -> None:
    history = [user('FAKE:{"reply": "old"}'), {"role": "assistant", "content": "old"}]
    assert "".join(deltas(post_sse(client, body(*history, user("no directive"))), "text_delta")) == "old"
    newer = user('FAKE:{"reply": "new"}')
    assert "".join(deltas(post_sse(client, body(*history, newer)), "text_delta")) == "new"


def test_thinking_comes_first_with_a_signature_then_the_text(client: httpx.Client) -> None:
    events = post_sse(client, body(user('FAKE:{"thinking": "let me see", "reply": "done"}')))
    assert [b["type"] for b in blocks(events)] == ["thinking", "text"]
    assert "".join(deltas(events, "thinking_delta")) == "let me see"
    signatures = [
        d["delta"] for n, d in events if n == "content_block_delta" and d["delta"]["type"] == "signature_delta"
    ]
    assert len(signatures) == 1 and signatures[0]["signature"]


def test_tool_calls_resolve_mcp_names_and_stream_json_in_fragments(client: httpx.Client) -> None:
    directive = 'FAKE:{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "Other"}]}'
    tools = [{"name": "Bash"}, {"name": "mcp__fn__get_weather", "defer_loading": True}]
    events = post_sse(client, body(user(directive), tools=tools))
    starts = blocks(events)
    assert [(b["type"], b["name"]) for b in starts] == [("tool_use", "mcp__fn__get_weather"), ("tool_use", "Other")]
    assert all(b["id"].startswith("toolu_") for b in starts) and starts[0]["id"] != starts[1]["id"]
    fragments = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta" and d["index"] == 0]
    assert len(fragments) >= 2 and json.loads("".join(fragments)) == {"city": "Paris"}
    assert final(events)["delta"]["stop_reason"] == "tool_use"


def test_explicit_reply_is_sent_as_text_before_the_tool_calls(client: httpx.Client) -> None:
    events = post_sse(client, body(user('FAKE:{"reply": "calling", "tool_calls": [{"name": "X", "arguments": {}}]}')))
    assert [b["type"] for b in blocks(events)] == ["text", "tool_use"]


def test_json_directive_calls_the_structured_output_tool(client: httpx.Client) -> None:
    events = post_sse(client, body(user('FAKE:{"json": {"name": "fake", "age": 1}}')))
    assert [(b["type"], b["name"]) for b in blocks(events)] == [("tool_use", "StructuredOutput")]
    assert json.loads("".join(deltas(events, "input_json_delta"))) == {"name": "fake", "age": 1}
    assert final(events)["delta"]["stop_reason"] == "tool_use"


def test_stop_reason_and_usage_can_be_overridden(client: httpx.Client) -> None:
    usage = {"input_tokens": 7, "output_tokens": 9, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 2}
    events = post_sse(client, body(user("FAKE:" + json.dumps({"stop_reason": "max_tokens", "usage": usage}))))
    assert events[0][1]["message"]["usage"] == usage | {"output_tokens": 1}
    assert final(events)["delta"]["stop_reason"] == "max_tokens" and final(events)["usage"]["output_tokens"] == 9


def test_tool_results_get_the_default_tool_results_reply(client: httpx.Client) -> None:
    call = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "X", "input": {}}]}
    results = [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "21C"}]},
    ]
    first = user('FAKE:{"tool_calls": [{"name": "X", "arguments": {}}]}')
    events = post_sse(client, body(first, call, {"role": "user", "content": results}))
    assert "".join(deltas(events, "text_delta")) == "Tool results: sunny; 21C"
    own = {"role": "user", "content": [*results, {"type": "text", "text": 'FAKE:{"reply": "mine"}'}]}
    assert "".join(deltas(post_sse(client, body(first, call, own)), "text_delta")) == "mine"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ],
)
def test_status_directive_answers_with_the_anthropic_error_envelope(
    client: httpx.Client, status: int, kind: str
) -> None:
    response = client.post("/v1/messages", json=body(user(f'FAKE:{{"status": {status}}}')))
    assert response.status_code == status
    assert response.json() == {"type": "error", "error": {"type": kind, "message": f"fake {kind}"}}


def test_error_type_message_and_retry_after_are_used(client: httpx.Client) -> None:
    directive = {"status": 429, "error_type": "custom_error", "error_message": "slow down", "retry_after": "2"}
    response = client.post("/v1/messages", json=body(user("FAKE:" + json.dumps(directive))))
    assert response.status_code == 429 and response.headers["retry-after"] == "2"
    assert response.json()["error"] == {"type": "custom_error", "message": "slow down"}


def test_fail_first_fails_only_the_first_requests_with_that_line(client: httpx.Client, fake: FakeUpstream) -> None:
    payload = body(user('FAKE:{"status": 529, "fail_first": 2, "reply": "finally"}'))
    assert [client.post("/v1/messages", json=payload).status_code for _ in range(3)] == [529, 529, 200]
    other = body(user('FAKE:{"status": 529, "fail_first": 1}'))
    assert client.post("/v1/messages", json=other).status_code == 529
    fake.clear()  # clearing also resets the counters
    assert client.post("/v1/messages", json=payload).status_code == 529


def test_unknown_directive_key_is_a_400_naming_it(client: httpx.Client) -> None:
    response = client.post("/v1/messages", json=body(user('FAKE:{"rply": "typo"}')))
    assert response.status_code == 400 and "rply" in response.json()["error"]["message"]


def test_delay_holds_back_the_headers(client: httpx.Client) -> None:
    started = time.monotonic()
    post_sse(client, body(user('FAKE:{"delay": 0.3}')))
    assert time.monotonic() - started >= 0.3


def test_stall_and_chunk_delay_do_not_block_other_requests(fake: FakeUpstream, client: httpx.Client) -> None:
    done: list[float] = []

    def slow_request() -> None:
        started = time.monotonic()
        with httpx.Client(base_url=fake.url, timeout=10) as other:
            post_sse(other, body(user('FAKE:{"stall": 0.6, "chunk_delay": 0.1, "reply": "a b c"}')))
        done.append(time.monotonic() - started)

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    post_sse(client, body(user("quick")))
    assert time.monotonic() - started < 0.4
    thread.join()
    assert done and done[0] >= 0.8  # the stall plus two chunk delays


def test_stop_does_not_wait_for_a_stalled_stream() -> None:
    upstream = FakeUpstream().start()
    errors: list[Exception] = []

    def stalled_request() -> None:
        try:
            httpx.post(upstream.url + "/v1/messages", json=body(user('FAKE:{"stall": 30}')), timeout=60)
        except httpx.HTTPError as exc:
            errors.append(exc)

    thread = threading.Thread(target=stalled_request)
    thread.start()
    while not upstream.messages_requests():
        time.sleep(0.01)
    started = time.monotonic()
    upstream.stop()
    thread.join(timeout=10)
    assert time.monotonic() - started < 5 and not thread.is_alive() and errors


def test_the_cli_request_body_shape_is_tolerated(client: httpx.Client) -> None:
    payload = body(
        {"role": "user", "content": [{"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}]},
        {"role": "system", "content": [], "output_config": {"effort": "medium"}},
        system=[{"type": "text", "text": "You are X.", "cache_control": {"type": "ephemeral"}}],
        tools=[{"name": "Read", "input_schema": {"type": "object"}, "defer_loading": True}],
        metadata={"user_id": '{"device_id":"abc"}'},
        thinking={"type": "adaptive", "display": "omitted"},
        context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        output_config={"effort": "medium"},
    )
    assert "".join(deltas(post_sse(client, payload), "text_delta")) == DEFAULT_REPLY


def test_preflight_count_tokens_and_unknown_paths(client: httpx.Client) -> None:
    assert [client.head("/").status_code, client.head("/api/hello").status_code, client.get("/").status_code] == [
        200
    ] * 3
    counted = client.post("/v1/messages/count_tokens", json={"messages": [user("x" * 400)]})
    assert counted.status_code == 200 and 90 < counted.json()["input_tokens"] < 130
    missing = client.get("/v1/nope")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


def test_every_request_is_logged_with_helpers_for_assertions(fake: FakeUpstream, client: httpx.Client) -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"}, image]},
        {"role": "system", "content": "env"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "t"}, {"type": "tool_use", "name": "R", "input": {"a": 1}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "out"}]},
    ]
    system = [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    client.post(
        "/v1/messages?beta=true", json=body(*messages, system=system, tools=[{"name": "R"}]), headers={"X-Up": "1"}
    )
    client.head("/")
    log = fake.requests
    assert [(r.method, r.path) for r in log] == [("POST", "/v1/messages?beta=true"), ("HEAD", "/")]
    entry = fake.messages_requests()[0]
    assert entry.headers["x-up"] == "1" and entry.time <= time.time()
    assert (entry.model, entry.max_tokens, entry.system_text, entry.tool_names) == (
        "claude-test-1",
        100,
        "one\ntwo",
        ["R"],
    )
    digest = hashlib.sha256(b"\x89PNG fake").hexdigest()[:12]
    assert entry.turns() == [
        ("user", f"[image image/png {digest}]"),
        ("assistant", 't\n[tool_use R {"a":1}]'),
        ("user", "[tool_result toolu_1: out]"),
    ]
    fake.clear()
    assert fake.requests == []


def test_log_endpoint_serves_and_clears_the_log_without_logging_itself(
    fake: FakeUpstream, client: httpx.Client
) -> None:
    post_sse(client, body(user("hi")))
    served = client.get("/_log").json()
    assert len(served) == 1 and LoggedRequest.from_dict(served[0]) == fake.requests[0]
    assert fetch_log(fake.url) == fake.requests
    assert client.delete("/_log").json() == {"cleared": 1}
    assert client.get("/_log").json() == [] and fake.requests == []


def test_module_runs_in_the_foreground_with_a_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    src = str(Path(fake_upstream.__file__).parents[2])
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    args = [
        sys.executable,
        "-m",
        "claude_code_api.testing.fake_upstream",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(args, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                assert httpx.head(url).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
        httpx.post(url + "/v1/messages", json=body(user("hi"), stream=False))
        assert [r.path for r in fetch_log(url)] == ["/", "/v1/messages"]
    finally:
        process.terminate()
        process.wait(timeout=10)


# ------------------------------------------------------------------------------------------- the real CLI, end to end


def cli_path() -> Path:
    sdk = pytest.importorskip("claude_agent_sdk")
    path = Path(sdk.__file__).parent / "_bundled" / "claude"
    if not path.exists():
        pytest.skip("claude_agent_sdk has no bundled CLI")
    return path


def run_cli(fake: FakeUpstream, tmp_path: Path, prompt: str, *flags: str) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CLAUDE_CONFIG_DIR": str(tmp_path / ".claude"),
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_API_KEY": "sk-test",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "CLAUDE_CODE_TMPDIR": str(tmp_path),
    }
    args = [str(cli_path()), "-p", prompt, "--output-format", "json", "--tools", "", "--system-prompt", "X", *flags]
    done = subprocess.run(args, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert done.returncode == 0, (done.stdout, done.stderr)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.e2e
def test_real_cli_gets_the_directed_reply_and_is_logged(fake: FakeUpstream, tmp_path: Path) -> None:
    result = run_cli(fake, tmp_path, 'hi FAKE:{"reply":"pong"}')
    assert result["result"] == "pong" and result["is_error"] is False
    (request,) = fake.messages_requests()
    assert request.path == "/v1/messages?beta=true" and request.model and request.model.startswith("claude-")
    assert request.turns()[0] == ("user", 'hi FAKE:{"reply":"pong"}')
    assert request.system_text.endswith("X") and request.headers["x-api-key"] == "sk-test"


@pytest.mark.e2e
def test_real_cli_returns_structured_output_from_the_json_directive(fake: FakeUpstream, tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}
    prompt = 'give FAKE:{"json": {"name": "fake", "age": 1}}'
    result = run_cli(fake, tmp_path, prompt, "--json-schema", json.dumps(schema))
    assert result["structured_output"] == {"name": "fake", "age": 1}
    assert "StructuredOutput" in fake.messages_requests()[0].tool_names
