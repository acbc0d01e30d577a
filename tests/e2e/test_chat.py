"""Chat completions through the real server, the real Claude Code CLI and the fake upstream, judged by openai."""

from __future__ import annotations

import concurrent.futures
import json
import time
from typing import Any

import httpx
import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from tests.conftest import RunningServer, assert_gone, requests_with

pytestmark = pytest.mark.e2e


def fake(**directive: Any) -> str:
    return "FAKE:" + json.dumps(directive)


def user(marker: str, **directive: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"{marker}\n{fake(**directive)}" if directive else marker}]


def raw_post(server: RunningServer, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    headers = {"content-type": "application/json"}
    return httpx.post(server.url + "/v1/chat/completions", content=content, headers=headers, timeout=60, **kwargs)


def test_completion_returns_upstream_text_and_real_usage(server, upstream, marker):
    usage = {"input_tokens": 11, "output_tokens": 7, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 3}
    response = raw_post(server, {"model": "claude-sonnet-4", "messages": user(marker, reply="Paris.", usage=usage)})
    assert response.status_code == 200
    body = response.json()
    completion = ChatCompletion.model_validate(body)
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Paris.", "refusal": None}
    assert choice["logprobs"] is None and choice["finish_reason"] == "stop"
    assert "system_fingerprint" not in body
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 11 + 5 + 3
    assert completion.usage.completion_tokens == 7
    assert completion.usage.total_tokens == 26
    assert completion.usage.prompt_tokens_details and completion.usage.prompt_tokens_details.cached_tokens == 5
    assert float(response.headers["x-claude-cost-usd"]) >= 0
    assert response.headers["x-request-id"]


def test_streaming_sends_token_deltas_role_once_and_done(server, marker):
    reply = "one two three four five six"
    chunks: list[dict[str, Any]] = []
    with httpx.stream(
        "POST",
        server.url + "/v1/chat/completions",
        json={"model": "claude-sonnet-4", "messages": user(marker, reply=reply), "stream": True},
        timeout=60,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
        assert "usage" not in chunk
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:])
    assert len({c["id"] for c in chunks}) == 1
    contents = [c["choices"][0]["delta"].get("content") for c in chunks[1:] if c["choices"][0]["delta"].get("content")]
    assert "".join(contents) == reply
    assert len(contents) >= 6, "expected token-by-token deltas, not one block"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]]
    assert finishes == ["stop"]


def test_stream_usage_chunk_only_with_include_usage(server, marker):
    client = server.client()
    stream = client.chat.completions.create(
        model="claude-sonnet-4",
        messages=user(marker, reply="hi there", usage={"input_tokens": 9, "output_tokens": 2}),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    state = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(chunk)
    assert state.get_final_completion().choices[0].message.content == "hi there"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 9 and chunks[-1].usage.completion_tokens == 2
    assert all(c.usage is None for c in chunks[:-1])
    assert sum(1 for c in chunks if not c.choices) == 1


def test_system_and_developer_messages_become_the_system_prompt(server, upstream, marker):
    messages = [
        {"role": "system", "content": "You are a pirate."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        *user(marker),
    ]
    server.client().chat.completions.create(model="claude-sonnet-4", messages=messages)
    (request,) = requests_with(upstream, marker)
    assert "You are a pirate." in request.system_text
    assert "Answer in French." in request.system_text
    assert "Claude Code" not in request.system_text.replace("Claude Agent SDK", "")


def test_default_system_prompt_is_short_and_neutral(server, upstream, marker):
    server.client().chat.completions.create(model="claude-sonnet-4", messages=user(marker))
    (request,) = requests_with(upstream, marker)
    assert "You are a helpful assistant." in request.system_text
    assert len(request.system_text) < 500
    assert request.tool_names == []


@pytest.mark.parametrize(
    ("name", "upstream_id"),
    [
        ("claude-sonnet-4", "claude-sonnet-4-20250514"),
        ("claude-opus-4", "claude-opus-4-20250514"),
        ("claude-opus-4.1", "claude-opus-4-1-20250805"),
        ("claude-sonnet-3.7", "claude-3-7-sonnet-20250219"),
        ("claude-haiku-3.5", "claude-3-5-haiku-20241022"),
        ("sonnet", "claude-sonnet-5-5"),
        ("opus", "claude-opus-5-5"),
        ("haiku", "claude-haiku-5-5"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
    ],
)
def test_model_names_reach_upstream_as_full_ids(server, upstream, marker, name, upstream_id):
    completion = server.client().chat.completions.create(model=name, messages=user(marker))
    (request,) = requests_with(upstream, marker)
    assert request.model == upstream_id
    assert completion.model == upstream_id


def test_unknown_model_is_404_model_not_found(server):
    with pytest.raises(openai.NotFoundError) as caught:
        server.client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_operator_alias_maps_a_foreign_name(make_server, upstream, marker):
    running = make_server(model_aliases={"gpt-4o": "sonnet"})
    running.client().chat.completions.create(model="gpt-4o", messages=user(marker))
    assert requests_with(upstream, marker)[0].model == "claude-sonnet-5-5"


def test_max_tokens_is_sent_upstream(server, upstream, marker):
    server.client().chat.completions.create(model="claude-sonnet-4", messages=user(marker), max_tokens=77)
    assert requests_with(upstream, marker)[0].max_tokens == 77
    marker2 = marker + "b"
    server.client().chat.completions.create(model="claude-sonnet-4", messages=user(marker2), max_completion_tokens=55)
    assert requests_with(upstream, marker2)[0].max_tokens == 55


@pytest.mark.parametrize("stream", [False, True])
def test_stop_sequence_cuts_the_output(server, marker, stream):
    client = server.client()
    messages = user(marker, reply="alpha beta STOP gamma delta")
    if stream:
        chunks = list(
            client.chat.completions.create(model="claude-sonnet-4", messages=messages, stop="STOP", stream=True)
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    else:
        result = client.chat.completions.create(model="claude-sonnet-4", messages=messages, stop=["STOP", "zzz"])
        text, finish = result.choices[0].message.content or "", [result.choices[0].finish_reason]
    assert text == "alpha beta "
    assert finish == ["stop"]


def test_n_runs_independent_completions(server, upstream, marker):
    result = server.client().chat.completions.create(model="claude-sonnet-4", messages=user(marker, reply="x y"), n=2)
    assert [c.index for c in result.choices] == [0, 1]
    assert all(c.message.content == "x y" for c in result.choices)
    assert len(requests_with(upstream, marker)) == 2


@pytest.mark.parametrize(
    ("status", "error_class", "our_status"),
    [
        (429, openai.RateLimitError, 429),
        (529, openai.InternalServerError, 503),
        (401, openai.InternalServerError, 502),
    ],
)
def test_upstream_errors_map_to_openai_errors(server, marker, status, error_class, our_status):
    with pytest.raises(error_class) as caught:
        server.client().chat.completions.create(model="claude-sonnet-4", messages=user(marker, status=status))
    assert caught.value.status_code == our_status
    body = caught.value.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
    assert str(status) in body["message"]
    if our_status in (429, 503):
        assert caught.value.response.headers["retry-after"]


def test_upstream_error_in_a_stream_gets_its_status_before_the_first_byte(server, marker):
    with pytest.raises(openai.RateLimitError):
        list(
            server.client().chat.completions.create(
                model="claude-sonnet-4", messages=user(marker, status=429), stream=True
            )
        )


def test_stalled_upstream_gives_504(make_server, marker):
    running = make_server(idle_timeout=1.5)
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        running.client().chat.completions.create(model="claude-sonnet-4", messages=user(marker, stall=20))
    assert caught.value.status_code == 504
    assert time.monotonic() - started < 10
    assert running.engine.busy_pids() == []


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        {"model": "claude-sonnet-4"},
        {"model": "claude-sonnet-4", "messages": []},
        {"model": "claude-sonnet-4", "messages": [{"role": "wizard", "content": "hi"}]},
        {"model": "claude-sonnet-4", "messages": [{"role": "assistant", "content": "prefill"}]},
        {"model": "claude-sonnet-4", "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
    ],
)
def test_malformed_requests_get_400_in_the_openai_envelope(server, body):
    response = raw_post(server, body)
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_disconnect_mid_stream_kills_the_cli_process(server, marker):
    body = {"model": "claude-sonnet-4", "messages": user(marker, reply="w " * 200, chunk_delay=0.05), "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=60) as response:
        lines = response.iter_lines()
        got = [next(lines) for _ in range(6)]
        assert any("content" in line for line in got)
        pids = server.engine.busy_pids()
        assert pids, "the request should be running on a Claude Code process"
    assert_gone(pids, within=1.5)


def test_not_logged_in_says_how_to_fix_it(make_server, marker):
    running = make_server(cli_env={"HOME": "/nonexistent-home", "ANTHROPIC_API_KEY": "", "ANTHROPIC_BASE_URL": ""})
    with pytest.raises(openai.APIStatusError) as caught:
        running.client().chat.completions.create(model="claude-sonnet-4", messages=user(marker))
    assert caught.value.status_code == 503
    assert "claude login" in caught.value.message
    ready = httpx.get(running.url + "/ready", timeout=30)
    assert ready.status_code == 503 and ready.json()["logged_in"] is False


def test_health_and_ready(server):
    assert httpx.get(server.url + "/health").json()["status"] == "ok"
    ready = httpx.get(server.url + "/ready", timeout=30).json()
    assert ready["logged_in"] is True and ready["version"].startswith("2.1.332")


def test_models_list_and_lookup(server):
    client = server.client()
    ids = [m.id for m in client.models.list().data]
    assert {"claude-sonnet-4", "claude-opus-4", "claude-opus-4.1", "claude-sonnet-3.7", "claude-haiku-3.5"} <= set(ids)
    assert client.models.retrieve("claude-opus-4.1").id == "claude-opus-4.1"
    assert client.models.retrieve("claude-sonnet-4-5").id == "claude-sonnet-4-5", "any id a chat would accept"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def assert_giving_up_kills_the_cli_process(server: RunningServer, body: dict[str, Any]) -> None:
    """The client gives up after 1.5 s, long before the answer; its Claude Code process must be gone ~1 s later."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(httpx.post, server.url + "/v1/chat/completions", json=body, timeout=1.5)
        deadline = time.monotonic() + 1.4
        while not server.engine.busy_pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        pids = server.engine.busy_pids()
        assert pids, "the request should be running on a Claude Code process"
        with pytest.raises(httpx.ReadTimeout):
            waiting.result()
    assert_gone(pids, within=1.5)


def test_disconnect_while_waiting_for_a_non_streaming_answer_kills_the_cli_process(server, marker):
    body = {"model": "claude-sonnet-4", "messages": user(marker, reply="w " * 200, chunk_delay=0.05)}
    assert_giving_up_kills_the_cli_process(server, body)


def test_disconnect_before_the_first_streamed_byte_kills_the_cli_process(server, marker):
    # Nothing is sent before Claude's first token (4 s away), so only the disconnect itself can tell.
    body = {"model": "claude-sonnet-4", "messages": user(marker, delay=4), "stream": True}
    assert_giving_up_kills_the_cli_process(server, body)
