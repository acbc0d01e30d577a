"""The Responses front end without a CLI: input items → role-separated turns, the stream framing (reasoning items
and in-band failures, validated against OpenAI's schema) and the response store (SQLite and Redis)."""

from __future__ import annotations

import asyncio
import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.openai_spec import assert_valid

from claude_code_api.core.events import (
    BlockStarted,
    BlockStopped,
    Completed,
    Event,
    TextDelta,
    ThinkingDelta,
    TokenUsage,
)
from claude_code_api.core.models import ModelRegistry
from claude_code_api.core.request import Turn
from claude_code_api.errors import InvalidRequest, UpstreamError
from claude_code_api.frontends.responses.convert import to_completion_request
from claude_code_api.frontends.responses.models import CreateResponse
from claude_code_api.frontends.responses.render import Assembly, ResponsesFraming, echoed_settings
from claude_code_api.frontends.responses.store import (
    RedisResponseStore,
    SqliteResponseStore,
    StoredResponse,
)
from claude_code_api.testing import redis_server
from claude_code_api.testing.redis_server import RedisServer

REGISTRY = ModelRegistry.build({})


def convert(body: dict[str, Any], stored: tuple[Turn, ...] = ()) -> Any:
    req = CreateResponse.model_validate({"model": "claude-sonnet-4", **body})
    return to_completion_request(req, REGISTRY, stored, default_system="default", show_thinking=False)


def test_output_items_sent_back_become_claude_tool_turns():
    call = {"type": "function_call", "id": "fc_1", "call_id": "toolu_1", "name": "f", "arguments": '{"a": 1}'}
    request = convert(
        {
            "instructions": "be brief",
            "input": [
                {"role": "user", "content": "go"},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
                call,
                {"type": "function_call_output", "call_id": "toolu_1", "output": "42"},
            ],
        }
    )
    assert request.system == "be brief"
    assert request.history == (
        Turn("user", ({"type": "text", "text": "go"},)),
        Turn(
            "assistant",
            (
                {"type": "text", "text": "calling"},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
            ),
        ),
    )
    assert request.prompt == Turn("user", ({"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"},))


def test_a_stored_conversation_comes_before_the_new_input():
    stored = (Turn("user", ({"type": "text", "text": "hi"},)), Turn("assistant", ({"type": "text", "text": "yo"},)))
    request = convert({"input": "again"}, stored)
    assert request.history == stored and request.prompt.text() == "again"


def test_only_instructions_get_answered_like_openai_does():
    request = convert({"input": [{"role": "system", "content": "summarise"}]})
    assert request.system == "summarise" and request.prompt.text()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
        ({"input": "x", "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice"),
        ({"input": "x", "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].file_id",
        ),
        ({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}]}, "input[0].arguments"),
    ],
)
def test_rejections_name_the_field(body, param):
    with pytest.raises(InvalidRequest) as caught:
        convert(body)
    assert caught.value.param == param


def frames_of(framing: ResponsesFraming, assembly: Assembly, events: list[Event]) -> list[str]:
    frames = framing.opening()
    for event in events:
        assembly.add(event)
        frames += framing.frames((0, event))
    return frames


def parsed(frames: list[str]) -> list[dict[str, Any]]:
    return [json.loads(f.split("data: ", 1)[1]) for f in frames]


def assembly_for(**body: Any) -> Assembly:
    req = CreateResponse.model_validate({"model": "claude-sonnet-4", "input": "x", **body})
    return Assembly(echoed_settings(req, "resp_test", "claude-sonnet-4-5"))


def test_exposed_thinking_is_a_reasoning_item_with_a_summary():
    assembly = assembly_for()
    framing = ResponsesFraming(assembly)
    events: list[Event] = [
        BlockStarted(0, "thinking"),
        ThinkingDelta("hmm", 0),
        BlockStopped(0),
        BlockStarted(1, "redacted_thinking", data="xyz"),
        BlockStopped(1),
        BlockStarted(2, "text"),
        TextDelta("hi", 2),
        BlockStopped(2),
        Completed("end_turn", TokenUsage(3, 2, reasoning_tokens=1), model="claude-sonnet-4-5-20990101"),
    ]
    data = parsed(frames_of(framing, assembly, events) + framing.closing())
    for event in data:
        assert_valid("ResponseStreamEvent", event)
    assert [e["sequence_number"] for e in data] == list(range(len(data)))
    final = data[-1]["response"]
    assert [i["type"] for i in final["output"]] == ["reasoning", "message"]  # redacted thinking is not shown
    assert final["output"][0]["summary"] == [{"type": "summary_text", "text": "hmm"}]
    assert final["model"] == "claude-sonnet-4-5-20990101"
    assert final["usage"]["output_tokens_details"] == {"reasoning_tokens": 1}


def test_a_failure_mid_stream_is_an_error_event_then_response_failed():
    assembly = assembly_for()
    framing = ResponsesFraming(assembly)
    frames = frames_of(framing, assembly, [BlockStarted(0, "text"), TextDelta("par", 0)])
    data = parsed(frames + framing.failure(UpstreamError("upstream overloaded", status=529)))
    for event in data:
        assert_valid("ResponseStreamEvent", event)
    assert [e["type"] for e in data[-2:]] == ["error", "response.failed"]
    assert data[-2]["message"] == "upstream overloaded"
    assert data[-1]["response"]["status"] == "failed"
    assert data[-1]["response"]["error"]["code"] == "server_error"


def stored_entry(owner: str = "alice") -> StoredResponse:
    turns = (Turn("user", ({"type": "text", "text": "hi"},)), Turn("assistant", ({"type": "text", "text": "yo"},)))
    return StoredResponse(owner, {"id": "resp_1", "object": "response"}, [{"id": "msg_1"}], turns)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sqlite_store_is_private_keeps_entries_until_retention_and_deletes(tmp_path: Path):
    clock = Clock()
    path = tmp_path / "data" / "responses.sqlite3"

    async def main() -> list[StoredResponse | None]:
        store = SqliteResponseStore(path, retention_s=60, clock=clock)
        await store.save("resp_1", stored_entry())
        await store.save("resp_2", stored_entry())
        found = [await store.load("resp_1")]
        await store.delete("resp_2")
        found.append(await store.load("resp_2"))
        clock.now += 61
        found.append(await store.load("resp_1"))
        await store.aclose()
        return found

    kept, deleted, expired = asyncio.run(main())
    assert kept == stored_entry() and deleted is None and expired is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not redis_server.available():
        pytest.skip("redis-server is not installed")
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


def test_redis_store_round_trips_with_an_expiry(redis_url: str):
    import redis.asyncio

    prefix = f"test:{uuid.uuid4().hex}:"

    async def main() -> tuple[StoredResponse | None, int, StoredResponse | None]:
        client = redis.asyncio.Redis.from_url(redis_url)
        store = RedisResponseStore(client, retention_s=3600, prefix=prefix)
        await store.save("resp_1", stored_entry())
        loaded = await store.load("resp_1")
        ttl = await client.ttl(prefix + "resp_1")
        await store.delete("resp_1")
        gone = await store.load("resp_1")
        await store.aclose()
        return loaded, ttl, gone

    loaded, ttl, gone = asyncio.run(main())
    assert loaded == stored_entry() and 0 < ttl <= 3600 and gone is None
