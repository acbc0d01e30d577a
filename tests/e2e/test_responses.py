"""The OpenAI Responses API through the real server, the real Claude Code CLI and the fake upstream, judged by
the official ``openai`` client and by OpenAI's published schema (issue 11)."""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

import httpx
import openai
import pytest
from tests.conftest import RunningServer, requests_with, routes
from tests.e2e.test_readme_examples import code_blocks, openai_node  # noqa: F401 - the fixture
from tests.openai_spec import assert_valid

pytestmark = pytest.mark.e2e
MODEL = "claude-sonnet-4"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}
CALL_PARIS = {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def fake(**directive: Any) -> str:
    return "FAKE:" + json.dumps(directive)


def ask(marker: str, **directive: Any) -> str:
    return f"{marker}\n{fake(**directive)}" if directive else marker


def raw(server: RunningServer, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(server.url + "/v1/responses", json=body, headers=headers, timeout=60)


def sse_events(server: RunningServer, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(event line, parsed data) of every event of a streamed response."""
    with httpx.stream("POST", server.url + "/v1/responses", json={**body, "stream": True}, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = []
    for frame in text.split("\n\n"):
        lines = frame.strip().splitlines()
        if not lines or lines[0].startswith(":"):
            continue
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), frame
        events.append((lines[0][7:], json.loads(lines[1][6:])))
    return events


def test_string_input_gives_a_schema_valid_response_with_usage(server, upstream, marker):
    usage = {"input_tokens": 11, "output_tokens": 7, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 3}
    response = raw(server, {"model": MODEL, "input": ask(marker, reply="Paris.", usage=usage)})
    assert response.status_code == 200
    body = response.json()
    assert_valid("Response", body)
    assert body["id"].startswith("resp_") and body["object"] == "response" and body["status"] == "completed"
    assert body["model"].startswith("claude-sonnet-4")
    (item,) = body["output"]
    assert item["type"] == "message" and item["role"] == "assistant" and item["status"] == "completed"
    assert item["content"] == [{"type": "output_text", "text": "Paris.", "annotations": [], "logprobs": []}]
    assert body["usage"] == {
        "input_tokens": 11 + 5 + 3,
        "input_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 3},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 26,
        "cost_usd": pytest.approx(float(response.headers["x-claude-cost-usd"]), abs=1e-6),
    }
    assert body["error"] is None and body["incomplete_details"] is None and body["store"] is True
    assert float(response.headers["x-claude-cost-usd"]) > 0
    (entry,) = requests_with(upstream, marker)
    assert entry.turns() == [("user", ask(marker, reply="Paris.", usage=usage))]


def test_openai_client_output_text_and_instructions_as_system_prompt(server, upstream, marker):
    client = server.client()
    result = client.responses.create(
        model=MODEL,
        instructions=f"You are terse {marker}-sys.",
        input=ask(marker, reply="Bonjour."),
        temperature=0.2,
        metadata={"k": "v"},
    )
    assert result.output_text == "Bonjour."
    assert result.instructions == f"You are terse {marker}-sys."
    assert result.temperature == 0.2 and result.metadata == {"k": "v"}
    (entry,) = requests_with(upstream, marker)
    assert f"You are terse {marker}-sys." in entry.system_text


def test_item_input_reaches_upstream_role_separated(server, upstream, marker):
    client = server.client()
    result = client.responses.create(
        model=MODEL,
        input=[
            {"role": "developer", "content": f"dev rule {marker}"},
            {"role": "user", "content": f"{marker} first"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "first answer"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": ask(marker, reply="ok")}]},
        ],
    )
    assert result.output_text == "ok"
    entry = requests_with(upstream, marker)[-1]
    assert entry.turns() == [
        ("user", f"{marker} first"),
        ("assistant", "first answer"),
        ("user", ask(marker, reply="ok")),
    ]
    assert f"dev rule {marker}" in entry.system_text


def test_previous_response_id_chain_reaches_upstream_role_separated(server, upstream, marker):
    client = server.client()
    reused = routes(server).get("route_reuse", 0)
    first = client.responses.create(model=MODEL, input=ask(marker, reply="one"))
    second = client.responses.create(model=MODEL, input=ask(marker, reply="two"), previous_response_id=first.id)
    third = client.responses.create(model=MODEL, input=ask(marker, reply="three"), previous_response_id=second.id)
    assert (first.output_text, second.output_text, third.output_text) == ("one", "two", "three")
    assert third.previous_response_id == second.id
    assert routes(server)["route_reuse"] == reused + 2  # the live process that answered goes on
    last = requests_with(upstream, marker)[-1]
    assert last.turns() == [
        ("user", ask(marker, reply="one")),
        ("assistant", "one"),
        ("user", ask(marker, reply="two")),
        ("assistant", "two"),
        ("user", ask(marker, reply="three")),
    ]


def test_retrieve_input_items_and_delete(server, marker):
    client = server.client()
    created = client.responses.create(model=MODEL, input=ask(marker, reply="kept"))
    fetched = client.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == "kept"
    assert_valid("Response", fetched.model_dump(mode="json", exclude_unset=True))
    items = client.responses.input_items.list(created.id)
    assert [i.type for i in items.data] == ["message"]
    assert items.data[0].content[0].text == ask(marker, reply="kept")
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input="again", previous_response_id=created.id)
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_store_false_keeps_nothing(server, marker):
    client = server.client()
    created = client.responses.create(model=MODEL, input=ask(marker, reply="gone"), store=False)
    assert created.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_another_key_cannot_see_read_continue_or_delete_a_response(make_server, marker):
    server = make_server(api_keys=["sk-alice", "sk-bob"])
    alice = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-alice", max_retries=0)
    bob = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-bob", max_retries=0)
    created = alice.responses.create(model=MODEL, input=ask(marker, reply="secret"))
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.input_items.list(created.id)
    with pytest.raises(openai.BadRequestError):
        bob.responses.create(model=MODEL, input="more", previous_response_id=created.id)
    assert alice.responses.retrieve(created.id).output_text == "secret"


def test_stream_events_order_sequence_numbers_and_schema(server, marker):
    events = sse_events(server, {"model": MODEL, "input": ask(marker, reply="one two three")})
    names = [name for name, _ in events]
    assert [data["type"] for _, data in events] == names
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    deltas = [d["delta"] for n, d in events if n == "response.output_text.delta"]
    assert "".join(deltas) == "one two three" and len(deltas) >= 3
    assert names[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert names[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    for _, data in events:
        assert_valid("ResponseStreamEvent", data)
    added = next(d for n, d in events if n == "response.output_item.added")
    done = next(d for n, d in events if n == "response.output_item.done")
    final = events[-1][1]["response"]
    assert added["item"]["id"] == done["item"]["id"] == final["output"][0]["id"]
    assert added["output_index"] == done["output_index"] == 0
    assert final["status"] == "completed" and final["output"][0]["content"][0]["text"] == "one two three"
    assert "[DONE]" not in json.dumps(events)


def test_openai_stream_helper_final_response(server, marker):
    client = server.client()
    with client.responses.stream(model=MODEL, input=ask(marker, reply="streamed answer")) as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(texts) == "streamed answer"
    assert final.output_text == "streamed answer" and final.status == "completed"
    assert client.responses.retrieve(final.id).output_text == "streamed answer"


def test_function_call_round_trip_stateless(server, upstream, marker):
    client = server.client()
    inputs: list[Any] = [{"role": "user", "content": ask(marker, **CALL_PARIS)}]
    first = client.responses.create(model=MODEL, input=inputs, tools=[WEATHER], store=False)
    assert_valid("Response", first.model_dump(mode="json", exclude_unset=True))
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id.startswith("toolu_") and call.status == "completed"
    inputs += [item.model_dump(exclude_unset=True) for item in first.output]
    inputs.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"})
    second = client.responses.create(model=MODEL, input=inputs, tools=[WEATHER], store=False)
    assert second.output_text == "Tool results: sunny, 21C"
    _, continued = requests_with(upstream, marker)
    assert_tool_pair(continued, call.call_id, "sunny, 21C")


def test_function_call_round_trip_through_previous_response_id(server, upstream, marker):
    client = server.client()
    first = client.responses.create(model=MODEL, input=ask(marker, **CALL_PARIS), tools=[WEATHER])
    (call,) = [item for item in first.output if item.type == "function_call"]
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "rainy, 12C"}],
        tools=[WEATHER],
    )
    assert second.output_text == "Tool results: rainy, 12C"
    _, continued = requests_with(upstream, marker)
    assert_tool_pair(continued, call.call_id, "rainy, 12C")


def assert_tool_pair(entry: Any, call_id: str, result: str) -> None:
    """The upstream saw Claude's own tool_use answered by a tool_result with the client's output."""
    messages = entry.body["messages"]
    uses = [b for m in messages if m["role"] == "assistant" for b in m["content"] if b.get("type") == "tool_use"]
    assert [u["id"] for u in uses] == [call_id] and uses[0]["input"] == {"city": "Paris"}
    results = [
        b
        for m in messages
        if m["role"] == "user" and isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"] for r in results] == [call_id]
    assert result in json.dumps(results[0]["content"])


def test_streamed_function_call_events(server, marker):
    events = sse_events(server, {"model": MODEL, "input": ask(marker, **CALL_PARIS), "tools": [WEATHER]})
    for _, data in events:
        assert_valid("ResponseStreamEvent", data)
    done = next(d for n, d in events if n == "response.function_call_arguments.done")
    assert done["name"] == "get_weather" and json.loads(done["arguments"]) == {"city": "Paris"}
    deltas = "".join(d["delta"] for n, d in events if n == "response.function_call_arguments.delta")
    assert json.loads(deltas) == {"city": "Paris"}
    final = events[-1][1]["response"]
    (call,) = [i for i in final["output"] if i["type"] == "function_call"]
    assert call["id"] == done["item_id"] and call["arguments"] == done["arguments"]


def test_json_schema_output_is_valid_against_the_schema(server, marker):
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    result = server.client().responses.create(
        model=MODEL,
        input=ask(marker, json={"name": "Ada"}),
        text={"format": {"type": "json_schema", "name": "person", "schema": schema, "strict": True}},
    )
    assert json.loads(result.output_text) == {"name": "Ada"}
    assert result.text is not None and result.text.format is not None and result.text.format.type == "json_schema"


def test_image_and_pdf_reach_the_upstream(server, upstream, marker):
    content = [
        {"type": "input_text", "text": ask(marker, reply="seen")},
        {"type": "input_image", "image_url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
        {
            "type": "input_file",
            "filename": "doc.pdf",
            "file_data": "data:application/pdf;base64," + base64.b64encode(PDF).decode(),
        },
    ]
    result = server.client().responses.create(model=MODEL, input=[{"role": "user", "content": content}])
    assert result.output_text == "seen"
    (entry,) = requests_with(upstream, marker)
    blocks = entry.body["messages"][-1]["content"]
    image = next(b for b in blocks if b.get("type") == "image")
    document = next(b for b in blocks if b.get("type") == "document")
    assert base64.b64decode(image["source"]["data"]) == PNG
    assert base64.b64decode(document["source"]["data"]) == PDF


def test_max_output_tokens_gives_an_incomplete_response(server, marker):
    body = raw(server, {"model": MODEL, "input": ask(marker, reply="cut", stop_reason="max_tokens")}).json()
    assert_valid("Response", body)
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": MODEL, "input": [{"role": "robot", "content": "hi"}]}, "input[0].role"),
        ({"model": MODEL, "input": "hi", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"model": MODEL, "input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({"model": MODEL, "input": [{"role": "assistant", "content": "prefill"}]}, "input"),
        ({"model": MODEL, "input": "hi", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"model": MODEL}, "input"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(server, body, param):
    response = raw(server, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_unknown_model_is_404_and_unknown_subpaths_are_404(server):
    with pytest.raises(openai.NotFoundError) as caught:
        server.client().responses.create(model="gpt-unknown-model", input="hi")
    assert caught.value.code == "model_not_found"
    for method in ("POST", "GET"):
        response = httpx.request(method, server.url + "/v1/responses/compact/x", timeout=10)
        assert response.status_code == 404 and response.json()["error"]["type"] == "invalid_request_error"
    compact = httpx.post(server.url + "/v1/responses/compact", json={}, timeout=10)
    assert compact.status_code == 404 and "error" in compact.json()
    missing = httpx.get(server.url + "/v1/responses/resp_missing", timeout=10)
    assert missing.status_code == 404 and "resp_missing" in missing.json()["error"]["message"]


def test_openai_node_runs_the_readme_responses_example_and_its_stream_helper(server, openai_node, marker):  # noqa: F811 - the imported fixture
    """openai-node's ``responses.stream`` checks item ids and output indexes across added/done/completed."""
    example = code_blocks("javascript")[1].replace("http://localhost:8000", server.url)
    example = example.replace("'Write a haiku'", f'\'{marker} FAKE: {{"reply": "a haiku"}}\'')
    example += "\nconsole.log('\\nFINAL ' + final.output_text + ' ' + final.output[0].id);\n"
    script = openai_node / f"responses_{marker}.mjs"
    script.write_text(example)
    result = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.startswith("Hello from the fake upstream.")
    final_line = result.stdout.strip().splitlines()[-1]
    assert final_line.startswith("FINAL a haiku msg_")
    assert "a haiku" in result.stdout.split("FINAL")[0]
