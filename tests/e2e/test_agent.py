"""Agent mode through the real server and the real Claude Code CLI, steered by the fake upstream's tool directives:
Claude Code's own tools really run, in the workspace, and the server's guard decides every call."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from tests.conftest import RunningServer, assert_gone, cli_settings, requests_with, routes

from claude_code_api.engine.claude.agent import sandbox_problem
from claude_code_api.testing.fake_upstream import FakeUpstream

pytestmark = pytest.mark.e2e
PASSWD_LINE = "root:x:0:0"  # what /etc/passwd starts with; it must never reach the upstream
SANDBOX_PROBLEM = sandbox_problem()  # None where Claude Code's sandbox can run (bubblewrap, socat, namespaces)


def calls(*tool_calls: dict[str, Any]) -> str:
    return "FAKE:" + json.dumps({"tool_calls": list(tool_calls)})


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def ask(marker: str, *tool_calls: dict[str, Any]) -> Any:
    return [{"role": "user", "content": f"{marker}\n{calls(*tool_calls)}"}]


@pytest.fixture(scope="module")
def agent(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(cli_settings(upstream, tmp_path_factory.mktemp("agent"), agent=True))
    yield running
    running.stop()


def workspace(server: RunningServer, name: str) -> Path:
    """The workspace directory of the server's local (keyless) user."""
    path: Path = server.app.state.api.service.workspaces.directory(None, name)
    return path


def chat(server: RunningServer, marker: str, *tool_calls: dict[str, Any], ws: str, **ext: Any) -> Any:
    return server.client().chat.completions.create(
        model="claude-sonnet-4", messages=ask(marker, *tool_calls), extra_body={"claude_code": {"workspace": ws, **ext}}
    )


def upstream_text(upstream: FakeUpstream, marker: str) -> str:
    return json.dumps([r.body for r in requests_with(upstream, marker)])


def test_a_write_lands_in_the_workspace_and_nowhere_else(agent, upstream, marker, tmp_path):
    ws = workspace(agent, "writes")
    outside = tmp_path / "outside.txt"
    completion = chat(
        agent,
        marker,
        call("Write", file_path=str(ws / "hello.txt"), content="hello from the agent"),
        call("Write", file_path=str(outside), content="escaped"),
        ws="writes",
    )
    assert (ws / "hello.txt").read_text() == "hello from the agent"
    assert not outside.exists()
    message = completion.choices[0].message
    records = message.model_extra["claude_code"]["activity"]
    results = {r["tool_use_id"]: r for r in records if r["type"] == "tool_result"}
    uses = [r for r in records if r["type"] == "tool_use"]
    assert [u["name"] for u in uses] == ["Write", "Write"]
    assert results[uses[0]["id"]]["is_error"] is False
    assert results[uses[1]["id"]]["is_error"] is True and "outside the workspace" in results[uses[1]["id"]]["content"]
    assert "Write hello.txt" in message.model_extra["reasoning_content"]
    assert "tool_use" not in (message.content or "") and not message.tool_calls, "the answer is clean of tool calls"


def test_reads_outside_the_workspace_are_denied_and_never_reach_the_upstream(agent, upstream, marker):
    ws = workspace(agent, "reads")
    other = workspace(agent, "other")
    (other / "secret.txt").write_text("other workspace secret")
    (ws / "escape").symlink_to("/etc/passwd")
    chat(
        agent,
        marker,
        call("Read", file_path="/etc/passwd"),
        call("Read", file_path="../other/secret.txt"),
        call("Read", file_path=str(ws / "escape")),
        call("Grep", pattern="root", path="/etc"),
        ws="reads",
    )
    sent = upstream_text(upstream, marker)
    assert sent.count("outside the workspace") >= 4, "every escape is denied with a reason Claude can read"
    assert PASSWD_LINE not in sent and "other workspace secret" not in sent


def test_tools_offered_are_the_operators_bound_narrowed_by_the_request(agent, upstream, marker):
    chat(agent, marker + "a", ws="tools")
    offered = requests_with(upstream, marker + "a")[0].tool_names
    assert {"Read", "Write", "Edit", "Glob", "Grep"} <= set(offered)
    assert "Bash" not in offered and "WebFetch" not in offered
    chat(agent, marker + "b", ws="tools", tools=["Read"])
    assert [t for t in requests_with(upstream, marker + "b")[0].tool_names if t != "DeferredToolPlaceholder"] == [
        "Read"
    ]
    with pytest.raises(openai.BadRequestError) as refused:
        chat(agent, marker + "c", ws="tools", tools=["Read", "Bash"])
    assert "Bash" in refused.value.message


@pytest.mark.parametrize("name", ["../up", "a/b", "/abs", "", "x" * 65, ".."])
def test_a_bad_workspace_name_is_a_400(agent, marker, name):
    with pytest.raises(openai.BadRequestError) as caught:
        chat(agent, marker, ws=name)
    assert caught.value.body["param"] == "workspace"  # type: ignore[index]


def test_activity_streams_before_the_final_answer(agent, marker):
    ws = workspace(agent, "stream")
    (ws / "notes.md").write_text("one\ntwo\nthree\n")
    stream = agent.client().chat.completions.create(
        model="claude-sonnet-4-agent",
        messages=ask(marker, call("Read", file_path="notes.md")),
        stream=True,
        extra_body={"claude_code": {"workspace": "stream"}},
    )
    order = []
    for chunk in stream:
        delta = chunk.choices[0].delta if chunk.choices else None
        if delta is not None and (delta.model_extra or {}).get("reasoning_content"):
            order.append(("activity", delta.model_extra["reasoning_content"]))
        if delta is not None and delta.content:
            order.append(("text", delta.content))
    kinds = [k for k, _ in order]
    assert kinds.index("activity") < kinds.index("text")
    assert "text" not in kinds[: kinds.index("activity") + 2]
    assert ("activity", "Read notes.md: 3 lines\n") in order


def test_a_follow_up_carries_the_agents_tool_turns_upstream(agent, upstream, marker):
    ws = workspace(agent, "followup")
    (ws / "data.txt").write_text("forty-two")
    client = agent.client()
    extra = {"claude_code": {"workspace": "followup"}}
    messages = ask(marker, call("Read", file_path="data.txt"))
    first = client.chat.completions.create(model="claude-sonnet-4", messages=messages, extra_body=extra)
    messages += [
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "and now? FAKE:" + json.dumps({"reply": "done"})},
    ]
    second = client.chat.completions.create(model="claude-sonnet-4", messages=messages, extra_body=extra)
    assert second.choices[0].message.content == "done"
    last = requests_with(upstream, marker)[-1]
    roles = [(role, text) for role, text in last.turns()]
    assert any("[tool_use Read" in text for role, text in roles if role == "assistant")
    assert any("forty-two" in text for role, text in roles if role == "user"), "the tool result is still there"


def test_upload_agent_edit_download_round_trip(agent, marker):
    base = agent.url + "/v1/workspaces/roundtrip/files"
    put = httpx.put(base + "/in/todo.txt", content=b"draft\n", timeout=30)
    assert put.status_code == 201 and put.json()["bytes"] == 6
    client = agent.client()
    extra = {"claude_code": {"workspace": "roundtrip"}}
    messages = ask(marker, call("Read", file_path="in/todo.txt"))
    first = client.chat.completions.create(model="claude-sonnet-4", messages=messages, extra_body=extra)
    edit = call("Edit", file_path="in/todo.txt", old_string="draft", new_string="final")
    messages += [
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": calls(edit)},
    ]
    client.chat.completions.create(model="claude-sonnet-4", messages=messages, extra_body=extra)
    assert httpx.get(base + "/in/todo.txt", timeout=30).content == b"final\n"
    listed = httpx.get(base, timeout=30).json()["data"]
    assert [f["path"] for f in listed] == ["in/todo.txt"]
    names = [w["name"] for w in httpx.get(agent.url + "/v1/workspaces", timeout=30).json()["data"]]
    assert "roundtrip" in names
    assert httpx.get(base + "/../../etc/passwd", timeout=30).status_code in (400, 404)
    assert httpx.delete(agent.url + "/v1/workspaces/roundtrip", timeout=30).json()["deleted"] is True
    assert httpx.get(base, timeout=30).status_code == 404


def test_disconnect_stops_the_agent(agent, marker):
    body = {
        "model": "claude-sonnet-4-agent",
        "messages": [
            {"role": "user", "content": marker + "\nFAKE:" + json.dumps({"reply": "w " * 200, "chunk_delay": 0.05})}
        ],
        "stream": True,
    }
    with httpx.stream("POST", agent.url + "/v1/chat/completions", json=body, timeout=60) as response:
        lines = response.iter_lines()
        assert any("content" in next(lines) for _ in range(6))
        pids = agent.engine.busy_pids()
        assert pids
    assert_gone(pids, within=1.5)


def test_agent_model_names_are_listed_and_usage_covers_every_call(agent, upstream, marker):
    ids = [m.id for m in agent.client().models.list().data]
    assert "claude-sonnet-4-agent" in ids and "sonnet-agent" in ids
    ws = workspace(agent, "default")
    (ws / "a.txt").write_text("a")
    first_leg = {"tool_calls": [call("Read", file_path="a.txt")], "usage": {"input_tokens": 1000, "output_tokens": 500}}
    completion = agent.client().chat.completions.create(
        model="claude-sonnet-4-agent", messages=[{"role": "user", "content": f"{marker}\nFAKE:{json.dumps(first_leg)}"}]
    )
    legs = requests_with(upstream, marker)
    assert len(legs) == 2, "a tool call and the answer after it"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 1000 and completion.usage.completion_tokens > 500, "both calls count"


def test_anthropic_and_responses_sdks_parse_the_activity(agent, marker):
    ws = workspace(agent, "sdks")
    (ws / "f.txt").write_text("x")
    ext = {"workspace": "sdks"}
    claude = anthropic.Anthropic(base_url=agent.url, api_key="unused", max_retries=0)
    message = claude.messages.create(
        model="claude-sonnet-4",
        max_tokens=256,
        messages=ask(marker + "m", call("Read", file_path="f.txt")),
        extra_body={"claude_code": ext},
    )
    assert [b.type for b in message.content] == ["text"]
    assert message.model_extra["claude_code"]["activity"][0]["name"] == "Read"  # type: ignore[index]
    with claude.messages.stream(
        model="claude-sonnet-4",
        max_tokens=256,
        messages=ask(marker + "s", call("Read", file_path="f.txt")),
        extra_body={"claude_code": ext},
    ) as stream:
        kinds: list[str] = [event.type for event in stream]
        final = stream.get_final_message()
    assert "claude_code_activity" in kinds and kinds.index("claude_code_activity") < kinds.index("message_stop")
    assert [b.type for b in final.content] == ["text"]
    responses = agent.client().responses
    streamed = list(
        responses.create(
            model="claude-sonnet-4",
            input=f"{marker}r\n{calls(call('Read', file_path='f.txt'))}",
            stream=True,
            extra_body={"claude_code": ext},
        )
    )
    types = [e.type for e in streamed]
    assert "response.claude_code.activity" in types
    done = streamed[-1]
    assert done.type == "response.completed"
    assert done.response.model_extra["claude_code"]["activity"][0]["name"] == "Read"


def test_agent_mode_is_off_by_default(server, marker):
    with pytest.raises(openai.BadRequestError) as caught:
        server.client().chat.completions.create(
            model="claude-sonnet-4", messages=ask(marker), extra_body={"claude_code": {"workspace": "w"}}
        )
    assert "CLAUDE_CODE_API_AGENT" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        server.client().chat.completions.create(model="claude-sonnet-4-agent", messages=ask(marker))
    assert httpx.get(server.url + "/v1/workspaces", timeout=30).status_code == 404


def test_only_agent_keys_may_use_it_and_each_key_has_its_own_workspaces(make_server, marker):
    running = make_server(agent=True, admin_key="admin-secret")
    admin = {"Authorization": "Bearer admin-secret"}

    def new_key(name: str, agent: bool) -> str:
        body = {"name": name, "agent": agent}
        response = httpx.post(running.url + "/v1/admin/keys", json=body, headers=admin, timeout=30)
        return str(response.json()["key"])

    plain, alice, bob = new_key("plain", False), new_key("alice", True), new_key("bob", True)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        openai.OpenAI(base_url=running.url + "/v1", api_key=plain, max_retries=0).chat.completions.create(
            model="claude-sonnet-4-agent", messages=ask(marker)
        )
    assert "--agent" in denied.value.message
    claude = anthropic.Anthropic(base_url=running.url, api_key=plain, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as anthropic_denied:
        claude.messages.create(model="claude-sonnet-4-agent", max_tokens=64, messages=ask(marker))
    assert anthropic_denied.value.body["type"] == "error"  # type: ignore[index]
    files = running.url + "/v1/workspaces/shared/files"
    assert httpx.put(files + "/mine.txt", content=b"alice", headers={"x-api-key": alice}).status_code == 201
    assert httpx.get(files, headers={"x-api-key": bob}, timeout=30).status_code == 404
    assert httpx.get(files, headers={"x-api-key": plain}, timeout=30).status_code == 403
    bob_client = openai.OpenAI(base_url=running.url + "/v1", api_key=bob, max_retries=0)
    bob_client.chat.completions.create(
        model="claude-sonnet-4",
        messages=ask(marker, call("Write", file_path="theirs.txt", content="bob")),
        extra_body={"claude_code": {"workspace": "shared"}},
    )
    alice_files = [f["path"] for f in httpx.get(files, headers={"x-api-key": alice}, timeout=30).json()["data"]]
    bob_files = [f["path"] for f in httpx.get(files, headers={"x-api-key": bob}, timeout=30).json()["data"]]
    assert alice_files == ["mine.txt"] and bob_files == ["theirs.txt"]


@pytest.mark.skipif(SANDBOX_PROBLEM is not None, reason=f"Claude Code's sandbox cannot run here: {SANDBOX_PROBLEM}")
def test_bash_runs_in_the_sandbox_only_when_the_operator_allows_it(make_server, upstream, marker, tmp_path):
    running = make_server(agent=True, agent_tools=["Read", "Write", "Bash"])
    ready = httpx.get(running.url + "/ready", timeout=30).json()
    assert ready["agent"]["sandbox"] == "active"
    outside = tmp_path / "bash-escape.txt"
    ws = running.app.state.api.service.workspaces.directory(None, "shell")
    (ws / "in.txt").write_text("inside text")
    secret = running.settings.data_dir / "secret.txt"
    secret.write_text("server secret")
    port = upstream.url.rsplit(":", 1)[1].strip("/")
    running.client().chat.completions.create(
        model="claude-sonnet-4",
        messages=ask(
            marker,
            call("Bash", command="cat in.txt > made.txt"),
            call("Bash", command=f"echo out > {outside}"),
            call("Bash", command=f"cat {secret}"),
            call(
                "Bash",
                command=f"(echo > /dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo NET-$((1+1)) || echo NO-NET-$((1+1))",
            ),
        ),
        extra_body={"claude_code": {"workspace": "shell"}},
    )
    assert "Bash" in requests_with(upstream, marker)[0].tool_names
    assert (ws / "made.txt").read_text() == "inside text"
    assert not outside.exists(), "the sandbox keeps Bash's writes inside the workspace"
    sent = json.dumps([r.body for r in requests_with(upstream, marker)])
    assert "server secret" not in sent
    assert "NO-NET-2" in sent and "NET-2" not in sent.replace("NO-NET-2", ""), "no network from inside the sandbox"


def test_max_turns_pauses_the_agent_loop(agent, marker):
    ws = workspace(agent, "turns")
    (ws / "a.txt").write_text("a")
    completion = chat(agent, marker, call("Read", file_path="a.txt"), ws="turns", max_turns=1)
    assert completion.choices[0].finish_reason == "stop"
    claude = anthropic.Anthropic(base_url=agent.url, api_key="unused", max_retries=0)
    message = claude.messages.create(
        model="claude-sonnet-4",
        max_tokens=64,
        messages=ask(marker + "m", call("Read", file_path="a.txt")),
        extra_body={"claude_code": {"workspace": "turns", "max_turns": 1}},
    )
    assert message.stop_reason == "pause_turn"


def test_a_follow_up_after_the_process_is_gone_resumes_the_kept_transcript(make_server, upstream, marker):
    running = make_server(agent=True, pool_idle_ttl=1.0, pool_prestart=False)
    ws = running.app.state.api.service.workspaces.directory(None, "kept")
    (ws / "data.txt").write_text("seventeen")
    client = running.client()
    extra = {"claude_code": {"workspace": "kept"}}
    messages = ask(marker, call("Read", file_path="data.txt"))
    first = client.chat.completions.create(model="claude-sonnet-4", messages=messages, extra_body=extra)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (running.engine.stats()["live"] or running.engine.stats()["retiring"]):
        time.sleep(0.1)  # the idle process is let go of after its TTL; its transcript is kept first
    assert running.engine.stats()["live"] == 0
    messages += [
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "and now? FAKE:" + json.dumps({"reply": "done"})},
    ]
    assert client.chat.completions.create(model="claude-sonnet-4", messages=messages, extra_body=extra)
    assert routes(running).get("route_stored_resume") == 1
    turns = requests_with(upstream, marker)[-1].turns()
    assert any("[tool_use Read" in text for role, text in turns if role == "assistant")
    assert any("seventeen" in text for role, text in turns if role == "user")
