"""Agent mode at the HTTP seam, on a scripted engine: what the engine is asked (the workspace resolved for the
key, the tools within the operator's bound, the turn limit), the 400s and 403s, and each dialect's rendering of the
activity, streaming and not. (tests/e2e/test_agent.py runs the same through the real Claude Code.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from claude_code_api.app import create_app
from claude_code_api.core.events import Completed, TextDelta, TokenUsage, ToolActivity
from claude_code_api.engine.fake import FakeEngine
from claude_code_api.settings import Settings

pytestmark = pytest.mark.anyio
USE = ToolActivity("tool_use", "toolu_1", "Read", "Read a.txt", input={"file_path": "a.txt"})
RESULT = ToolActivity("tool_result", "toolu_1", "Read", "Read a.txt: 1 lines", content="1\thi", is_error=False)
SCRIPT = (USE, RESULT, TextDelta("Done."), Completed("end_turn", TokenUsage(input_tokens=5, output_tokens=2), 0.01))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _client(tmp_path: Path, engine: FakeEngine, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(data_dir=tmp_path, **settings), engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
async def agent_client(tmp_path: Path, engine: FakeEngine) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(tmp_path, engine, agent=True, agent_tools=["Read", "Edit"], agent_max_turns=8):
        yield client


def chat(ext: Any = None, model: str = "sonnet", **extra: Any) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "go"}], **extra}
    return body if ext is None else {**body, "claude_code": ext}


async def test_the_engine_gets_the_workspace_tools_and_turn_limit(agent_client, engine, tmp_path):
    assert (await agent_client.post("/v1/chat/completions", json=chat({"workspace": "w", "max_turns": 50}))).is_success
    spec = engine.calls[-1].agent
    assert spec is not None and spec.workspace == "w" and spec.tools == ("Read", "Edit") and spec.max_turns == 8
    assert spec.directory == str((tmp_path / "workspaces" / "local" / "w").resolve())
    await agent_client.post("/v1/chat/completions", json=chat({"tools": ["Read"], "max_turns": 3}))
    spec = engine.calls[-1].agent
    assert spec is not None and spec.workspace == "default" and spec.tools == ("Read",) and spec.max_turns == 3
    await agent_client.post("/v1/chat/completions", json=chat(model="sonnet-agent"))
    spec = engine.calls[-1].agent
    assert spec is not None and engine.calls[-1].model == "claude-sonnet-5-5"
    await agent_client.post("/v1/chat/completions", json=chat())
    assert engine.calls[-1].agent is None, "a plain request stays in chat mode"


@pytest.mark.parametrize(
    ("ext", "param"),
    [
        ({"workspace": "../x"}, "workspace"),
        ({"tools": ["Bash"]}, "claude_code.tools"),
        ({"tools": []}, "claude_code.tools"),
        ({"max_turns": 0}, "claude_code.max_turns"),
        ({"surprise": 1}, "claude_code"),
        ("w", "claude_code"),
    ],
)
async def test_a_bad_extension_is_a_400_naming_the_field(agent_client, engine, ext, param):
    response = await agent_client.post("/v1/chat/completions", json=chat(ext))
    assert response.status_code == 400 and response.json()["error"]["param"] == param
    assert engine.calls == []


async def test_agent_mode_does_not_take_client_functions(agent_client):
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    response = await agent_client.post("/v1/chat/completions", json=chat({}, tools=tools))
    assert response.status_code == 400 and response.json()["error"]["param"] == "tools"


async def test_with_agent_mode_off_nothing_of_it_exists(tmp_path, engine):
    async for client in _client(tmp_path, engine):
        off = await client.post("/v1/chat/completions", json=chat({"workspace": "w"}))
        assert off.status_code == 400 and "CLAUDE_CODE_API_AGENT" in off.json()["error"]["message"]
        assert (await client.post("/v1/chat/completions", json=chat(model="sonnet-agent"))).status_code == 404
        assert (await client.get("/v1/workspaces")).status_code == 404
        assert "sonnet-agent" not in [m["id"] for m in (await client.get("/v1/models")).json()["data"]]
        ready = (await client.get("/ready")).json()
        assert ready.get("agent", {"enabled": False})["enabled"] is False


async def test_each_dialect_shows_the_activity_beside_a_clean_answer(agent_client, engine):
    engine.script(*SCRIPT)
    body = (await agent_client.post("/v1/chat/completions", json=chat({}))).json()
    message = body["choices"][0]["message"]
    assert message["content"] == "Done." and message["reasoning_content"] == "Read a.txt\nRead a.txt: 1 lines\n"
    assert message["claude_code"]["activity"] == [USE.record(), RESULT.record()]
    engine.script(*SCRIPT)
    headers = {"anthropic-version": "2023-06-01"}
    anthropic_body = {"model": "sonnet", "max_tokens": 64, "messages": chat()["messages"], "claude_code": {}}
    anthropic = (await agent_client.post("/v1/messages", json=anthropic_body, headers=headers)).json()
    assert anthropic["content"] == [{"type": "text", "text": "Done.", "citations": None}]
    assert anthropic["claude_code"]["activity"][1]["content"] == "1\thi"
    engine.script(*SCRIPT)
    responses = await agent_client.post("/v1/responses", json={"model": "sonnet", "input": "go", "claude_code": {}})
    assert [item["type"] for item in responses.json()["output"]] == ["message"]
    assert responses.json()["claude_code"]["activity"][0]["name"] == "Read"


async def test_streams_carry_each_step_before_the_answer(agent_client, engine):
    engine.script(*SCRIPT)
    stream = await agent_client.post("/v1/chat/completions", json=chat({}, stream=True))
    deltas = [json.loads(line[6:])["choices"][0]["delta"] for line in stream.text.splitlines() if line[6:7] == "{"]
    steps = [d for d in deltas if "claude_code" in d]
    assert [d["reasoning_content"] for d in steps] == ["Read a.txt\n", "Read a.txt: 1 lines\n"]
    assert deltas.index(steps[-1]) < next(i for i, d in enumerate(deltas) if d.get("content") == "Done.")
    engine.script(*SCRIPT)
    anthropic_body = {
        "model": "sonnet",
        "max_tokens": 64,
        "messages": chat()["messages"],
        "claude_code": {},
        "stream": True,
    }
    events = (await agent_client.post("/v1/messages", json=anthropic_body)).text
    names = [line[7:] for line in events.splitlines() if line.startswith("event: ")]
    assert names.count("claude_code_activity") == 2 and names[0] == "message_start" and names[-1] == "message_stop"
    engine.script(*SCRIPT)
    responses = await agent_client.post(
        "/v1/responses", json={"model": "sonnet", "input": "go", "claude_code": {}, "stream": True}
    )
    kinds = [line[7:] for line in responses.text.splitlines() if line.startswith("event: ")]
    assert kinds.count("response.claude_code.activity") == 2 and kinds[-1] == "response.completed"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/workspaces/w/files/..%2F..%2Fsecret",
        "/v1/workspaces/w/files/a/%2E%2E/%2E%2E/secret",
        "/v1/workspaces/w/files/%00",
        "/v1/workspaces/..%2Fw/files/a.txt",
    ],
)
async def test_hostile_file_paths_are_refused_cleanly(agent_client, tmp_path, path):
    (tmp_path / "secret").write_text("server secret")
    for method in ("GET", "PUT"):
        response = await agent_client.request(method, path, content=b"x")
        assert response.status_code in (400, 404), (method, path, response.status_code)
        assert "server secret" not in response.text and "error" in response.json()


async def test_a_doubled_slash_is_still_a_path_inside_the_workspace(agent_client, tmp_path):
    response = await agent_client.put("/v1/workspaces/w/files//etc/motd", content=b"inside")
    assert response.status_code == 201 and response.json()["path"] == "etc/motd"
    assert (tmp_path / "workspaces" / "local" / "w" / "etc" / "motd").read_bytes() == b"inside"
