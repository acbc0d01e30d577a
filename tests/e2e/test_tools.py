"""OpenAI tool calling through the real Claude Code CLI and the fake upstream, judged by the openai client.

The upstream log is the proof: the client's functions reach Claude as real tools, and the client's results
come back as real tool_use / tool_result blocks (never prose, never a "denied" result), both when the process
that made the calls is still waiting for them and when a new process has to resume the conversation.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from tests.conftest import RunningServer, pid_alive, requests_with, routes

pytestmark = pytest.mark.e2e

MODEL = "claude-sonnet-4"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Get the weather for a city", "parameters": WEATHER_SCHEMA},
}
# What Claude Code writes when a tool call was refused or cut short; none of it may reach Claude.
NOT_A_RESULT = ("denied", "rejected", "interrupted", "doesn't want to proceed", "No response requested")


def ask(marker: str, *cities: str) -> list[dict[str, Any]]:
    calls = [{"name": "get_weather", "arguments": {"city": c}} for c in cities]
    return [{"role": "user", "content": f"{marker} weather?\nFAKE:{json.dumps({'tool_calls': calls})}"}]


def answer_calls(messages: list[dict[str, Any]], message: dict[str, Any], results: list[str]) -> list[dict[str, Any]]:
    """The client's next request: the assistant's calls echoed back, then one tool message per call."""
    calls = message["tool_calls"]
    tool_messages = [
        {"role": "tool", "tool_call_id": c["id"], "content": r} for c, r in zip(calls, results, strict=True)
    ]
    return [*messages, {"role": "assistant", "content": message.get("content"), "tool_calls": calls}, *tool_messages]


def post(server: RunningServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server.url + "/v1/chat/completions", json=body, timeout=60)


def stream_chunks(server: RunningServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    with httpx.stream("POST", server.url + "/v1/chat/completions", json={**body, "stream": True}, timeout=60) as r:
        assert r.status_code == 200
        lines = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    return chunks


def assemble(chunks: list[dict[str, Any]]) -> ChatCompletion:
    state = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.get_final_completion()


def upstream_messages(entry: Any) -> list[dict[str, Any]]:
    return [m for m in entry.body["messages"] if m.get("role") != "system"]


def blocks(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind] if isinstance(content, list) else []


def result_text(block: dict[str, Any]) -> str:
    content = block["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def assert_follow_up_carries(entry: Any, calls: list[dict[str, Any]], results: list[str]) -> None:
    """The upstream saw the assistant's tool_use blocks and then the client's results as tool_result blocks."""
    messages = upstream_messages(entry)
    uses = [b for m in messages if m["role"] == "assistant" for b in blocks(m, "tool_use")]
    assert [(u["id"], u["name"], u["input"]) for u in uses] == [
        (c["id"], "mcp__fn__" + c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls
    ]
    last_user = [m for m in messages if m["role"] == "user"][-1]
    tool_results = blocks(last_user, "tool_result")
    assert [(b["tool_use_id"], result_text(b)) for b in tool_results] == [
        (c["id"], r) for c, r in zip(calls, results, strict=True)
    ]
    assert not any(b.get("is_error") for b in tool_results)
    assert not any(word in json.dumps(entry.body) for word in NOT_A_RESULT)


def test_tool_loop_non_streaming_continues_the_waiting_turn(server, upstream, marker):
    client = server.client()
    messages = ask(marker, "Paris")
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id.startswith("toolu_")  # Claude's own id, so the client's tool_call_id maps back
    (offered,) = requests_with(upstream, marker)
    assert offered.tool_names == ["mcp__fn__get_weather"]
    (tool,) = offered.body["tools"]
    assert tool["input_schema"] == WEATHER_SCHEMA and tool["description"] == "Get the weather for a city"

    before = routes(server).get("route_tool_continue", 0)
    follow_up = answer_calls(messages, first.choices[0].message.model_dump(), ["sunny, 21C"])
    second = client.chat.completions.create(model=MODEL, messages=follow_up, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Tool results: sunny, 21C"
    assert routes(server)["route_tool_continue"] == before + 1
    _, continued = requests_with(upstream, marker)
    assert_follow_up_carries(continued, [call.model_dump()], ["sunny, 21C"])

    # The conversation goes on in the same process, which now holds the whole loop.
    third = [*follow_up, {"role": "assistant", "content": second.choices[0].message.content}]
    third.append({"role": "user", "content": "thanks FAKE:" + json.dumps({"reply": "bye"})})
    reused = routes(server).get("route_reuse", 0)
    last = client.chat.completions.create(model=MODEL, messages=third, tools=[WEATHER])
    assert last.choices[0].message.content == "bye"
    assert routes(server)["route_reuse"] == reused + 1


def test_tool_loop_streaming_sends_openai_tool_deltas(server, upstream, marker):
    messages = ask(marker, "Paris")
    body = {"model": MODEL, "messages": messages, "tools": [WEATHER]}
    chunks = stream_chunks(server, body)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    deltas = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or []]
    assert len(deltas) >= 3, "arguments should arrive in fragments"
    assert all(d["index"] == 0 for d in deltas)
    assert deltas[0]["id"].startswith("toolu_") and deltas[0]["function"]["name"] == "get_weather"
    assert all("id" not in d and "name" not in d["function"] and "type" not in d for d in deltas[1:])
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == ["tool_calls"]
    message = assemble(chunks).choices[0].message
    (call,) = message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    follow_up = answer_calls(messages, message.model_dump(), ["cloudy, 12C"])
    final = assemble(stream_chunks(server, {**body, "messages": follow_up}))
    assert final.choices[0].message.content == "Tool results: cloudy, 12C"
    assert final.choices[0].finish_reason == "stop"
    _, continued = requests_with(upstream, marker)
    assert_follow_up_carries(continued, [call.model_dump()], ["cloudy, 12C"])


def test_parallel_calls_come_back_together_in_order(server, upstream, marker):
    client = server.client()
    messages = ask(marker, "Paris", "Rome")
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    calls = first.choices[0].message.tool_calls or []
    assert first.choices[0].finish_reason == "tool_calls"
    assert [json.loads(c.function.arguments)["city"] for c in calls] == ["Paris", "Rome"]
    assert len({c.id for c in calls}) == 2

    follow_up = answer_calls(messages, first.choices[0].message.model_dump(), ["sunny", "rainy"])
    second = client.chat.completions.create(model=MODEL, messages=follow_up, tools=[WEATHER])
    assert second.choices[0].message.content == "Tool results: sunny; rainy"
    _, continued = requests_with(upstream, marker)
    assert_follow_up_carries(continued, [c.model_dump() for c in calls], ["sunny", "rainy"])


def test_without_a_waiting_process_the_results_resume_as_real_blocks(make_server, upstream, marker):
    server = make_server(pool_enabled=False)  # every request gets a new process: the resume route
    client = server.client()
    messages = ask(marker, "Oslo")
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    (call,) = first.choices[0].message.tool_calls or []
    follow_up = answer_calls(messages, first.choices[0].message.model_dump(), ["snow, -3C"])
    second = client.chat.completions.create(model=MODEL, messages=follow_up, tools=[WEATHER])
    assert second.choices[0].message.content == "Tool results: snow, -3C"
    assert routes(server).get("route_tool_resume") == 1
    original, resumed = requests_with(upstream, marker)
    assert_follow_up_carries(resumed, [call.model_dump()], ["snow, -3C"])
    roles = [m["role"] for m in upstream_messages(resumed)]
    assert roles == ["user", "assistant", "user"]
    assert original.body["thinking"]["type"] == "enabled"
    # The rebuilt assistant turn has no signed thinking block, so the resumed turn must not ask for thinking.
    assert resumed.body.get("thinking", {"type": "disabled"}).get("type") == "disabled"


def test_a_parked_process_is_killed_after_its_ttl_and_the_loop_still_completes(make_server, upstream, marker):
    server = make_server(pool_idle_ttl=1.0, pool_prestart=False)
    client = server.client()
    messages = ask(marker, "Lima")
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    stats = server.engine.stats()
    assert stats["parked"] == 1
    (pid,) = server.engine.live_pids()
    deadline = time.monotonic() + 10
    while (server.engine.stats()["parked"] or pid_alive(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.engine.stats()["parked"] == 0 and not pid_alive(pid)
    follow_up = answer_calls(messages, first.choices[0].message.model_dump(), ["warm"])
    second = client.chat.completions.create(model=MODEL, messages=follow_up, tools=[WEATHER])
    assert second.choices[0].message.content == "Tool results: warm"
    assert routes(server).get("route_tool_resume") == 1


def test_tool_choice_none_offers_no_client_tools(server, upstream, marker):
    messages = [{"role": "user", "content": f"{marker} FAKE:" + json.dumps({"reply": "no tools"})}]
    body = {"model": MODEL, "messages": messages, "tools": [WEATHER], "tool_choice": "none"}
    response = post(server, body)
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "no tools"
    (entry,) = requests_with(upstream, marker)
    assert not [name for name in entry.tool_names if name.startswith("mcp__")]


@pytest.mark.parametrize(
    ("choice", "rule"),
    [
        ("required", "You must answer by calling one or more of the provided functions"),
        ({"type": "function", "function": {"name": "get_weather"}}, "calling the function mcp__fn__get_weather"),
    ],
)
def test_required_and_named_tool_choice_become_a_system_prompt_rule(server, upstream, marker, choice, rule):
    body = {"model": MODEL, "messages": ask(marker, "Kyiv"), "tools": [WEATHER], "tool_choice": choice}
    assert post(server, body).json()["choices"][0]["finish_reason"] == "tool_calls"
    (entry,) = requests_with(upstream, marker)
    assert rule in entry.system_text
    assert "tool_choice" not in entry.body  # Claude Code has no way to send one


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        ({"type": "function", "function": {"name": "get weather!"}}, "tools[0].function.name"),
        (
            {"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}},
            "tools[0].function.parameters",
        ),
    ],
)
def test_invalid_tool_definitions_get_a_400_naming_the_field(server, marker, tool, param):
    response = post(server, {"model": MODEL, "messages": ask(marker), "tools": [tool]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
