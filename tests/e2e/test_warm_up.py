"""Spares warmed up before they serve: one turn against the loopback responder, never Claude's API, rewound away,
so the first real request of a spare is what a cold process would send, answered and priced as usual."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import RunningServer, cli_settings, requests_with, routes
from tests.e2e.test_pool_spares import MODEL, echo, health, wait_for_spares
from tests.e2e.test_transcript_store import assistant_messages, blocks_of, echo_turn, thinking_turn
from tests.fake_anthropic_host import FakeAnthropicHost

from claude_code_api.core.request import AgentSpec, CompletionRequest, Turn
from claude_code_api.engine.claude import pool as pool_module
from claude_code_api.engine.claude.agent import sandbox_problem
from claude_code_api.engine.claude.options import SessionPaths, agent_options
from claude_code_api.engine.claude.session import LiveSession
from claude_code_api.engine.claude.warm_up import WARM_UP_PROMPT, Responder, WarmUpFailed, warm_up
from claude_code_api.testing.fake_upstream import FakeUpstream, LoggedRequest

pytestmark = pytest.mark.e2e
MODEL_ID = "claude-sonnet-4-20250514"


def warm_up_requests(upstream: FakeUpstream) -> list[LoggedRequest]:
    return [r for r in upstream.messages_requests() if WARM_UP_PROMPT in " ".join(t for _, t in r.turns())]


# Headers that differ between any two requests (ids, sizes); the rest (betas, version, key) must match.
PER_REQUEST_HEADERS = {
    "x-client-request-id",
    "x-claude-code-session-id",
    "x-claude-code-prompt-id",
    "content-length",
    "x-stainless-timeout",
}


def comparable(entry: LoggedRequest) -> dict[str, Any]:
    """A request without what differs between any two (ids, metadata, the billing header's hash)."""
    body = dict(entry.json)
    body.pop("metadata", None)
    body["system"] = [b for b in body["system"] if not b["text"].startswith("x-anthropic-billing-header")]
    headers: dict[str, Any] = {k: v for k, v in entry.headers.items() if k not in PER_REQUEST_HEADERS}
    # A set, which a warmed process talking to api.anthropic.com lists in another order: the betas its warm-up
    # turn sent come first.
    headers["anthropic-beta"] = sorted(headers.get("anthropic-beta", "").split(","))
    return {"path": entry.path, "headers": headers, "body": body}


def first_request(server: RunningServer, text: str) -> Any:
    wait_for_spares(server, 1)
    return server.client().chat.completions.create(model=MODEL, messages=[echo(text)])  # type: ignore[list-item]


def test_a_spare_is_warmed_without_any_request_to_the_upstream(make_server, upstream, marker):
    server = make_server(pool_spares=1)
    result = first_request(server, f"{marker} first")
    stats = health(server)
    assert stats["warmed"] >= 1 and stats["route_spare"] == 1 and stats["spawned"] == 0, stats
    assert warm_up_requests(upstream) == []  # (the upstream is shared: no test's warm-up ever reached it)
    (sent,) = requests_with(upstream, marker)
    assert [m["role"] for m in sent.json["messages"]] == ["user"]  # the warm-up turn was rewound away
    assert result.choices[0].message.content.startswith(f"{marker} first")
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0


def test_a_warmed_spare_sends_what_a_cold_one_sends(make_server, upstream, marker):
    warmed = first_request(make_server(pool_spares=1), f"{marker} same prompt")
    cold = first_request(make_server(pool_spares=1, pool_warm_up=False), f"{marker} same prompt")
    warm_sent, cold_sent = requests_with(upstream, marker)
    assert json.dumps(comparable(warm_sent), sort_keys=True) == json.dumps(comparable(cold_sent), sort_keys=True)
    assert warmed.usage.model_dump() == cold.usage.model_dump()  # its cost and usage are its own turn's only


def test_follow_ups_on_a_warmed_spare_keep_their_history(make_server, upstream, marker):
    server = make_server(pool_spares=1)
    messages = [echo(f"{marker} one")]
    messages.append({"role": "assistant", "content": first_request(server, f"{marker} one").choices[0].message.content})
    messages.append(echo(f"{marker} two"))
    server.client().chat.completions.create(model=MODEL, messages=messages)
    last = requests_with(upstream, marker)[-1]
    assert [m["role"] for m in last.json["messages"]] == ["user", "assistant", "user"]
    assert health(server)["route_reuse"] == 1


def test_a_failed_warm_up_discards_that_process_and_spares_start_cold(make_server, monkeypatch, marker):
    killed: list[int | None] = []

    async def answered_otherwise(session: Any, responder: Any, base_url: str | None) -> None:
        await warm_up(session, responder, base_url)
        killed.append(session.pid)
        raise WarmUpFailed("as if the CLI had sent the turn elsewhere")

    monkeypatch.setattr(pool_module, "warm_up", answered_otherwise)
    server = make_server(pool_spares=1)
    result = first_request(server, f"{marker} after a failed warm-up")
    assert result.choices[0].message.content.startswith(f"{marker} after a failed warm-up")
    stats = health(server)
    assert stats["route_warm_up_failed"] == 1 and stats["warmed"] == 0 and stats["route_spare"] == 1, stats
    assert killed and killed[0] not in server.engine.live_pids()


def test_a_warmed_spare_keeps_a_transcript_that_resumes_without_the_warm_up(make_server, upstream, marker):
    first = make_server(pool_spares=1)
    wait_for_spares(first, 1)
    messages = [thinking_turn(marker, "deep thought", "forty-two")]
    first.client().chat.completions.create(model=MODEL, messages=messages)
    assert health(first)["route_spare"] == 1 and health(first)["warmed"] >= 1
    first.stop()  # shutdown keeps the idle process's transcript

    second = make_server(pool_prestart=False, data_dir=first.settings.data_dir)
    messages += [{"role": "assistant", "content": "forty-two"}, echo_turn(f"{marker} after restart")]
    second.client().chat.completions.create(model=MODEL, messages=messages)
    assert routes(second).get("route_stored_resume") == 1
    resumed = requests_with(upstream, f"{marker} after restart")[-1]
    assert [role for role, _ in resumed.turns()] == ["user", "assistant", "user"]
    assert WARM_UP_PROMPT not in json.dumps(resumed.json)
    (earlier,) = assistant_messages(resumed)
    assert [b["thinking"] for b in blocks_of(earlier, "thinking")] == ["deep thought"]


@pytest.fixture
def anthropic_host(tmp_path: Path) -> Iterator[FakeAnthropicHost]:
    host = FakeAnthropicHost(tmp_path)
    yield host
    host.close()


def test_a_process_with_no_base_url_still_goes_to_anthropic_after_its_warm_up(anthropic_host, make_server, marker):
    """Most users set no ``ANTHROPIC_BASE_URL``: after the warm-up it must be unset again in effect (the CLI would
    take null for the text "null", an invalid URL), and the first request what a cold process sends."""
    answers = []
    for index, warm in enumerate((True, False)):
        home = anthropic_host.ca_file.parent / f"home{index}"
        home.mkdir()
        server = make_server(pool_spares=1, pool_warm_up=warm, cli_env=anthropic_host.cli_env(home))
        answers.append(first_request(server, f"{marker} no base URL"))
        assert health(server)["warmed"] == (1 if warm else 0) and health(server)["route_spare"] == 1
    warm_sent, cold_sent = [r for r in anthropic_host.upstream.messages_requests() if marker in json.dumps(r.json)]
    assert comparable(warm_sent) == comparable(cold_sent)
    assert [a.choices[0].message.content for a in answers] == [f"{marker} no base URL"] * 2
    assert set(anthropic_host.tunnels) == {"CONNECT api.anthropic.com:443 HTTP/1.1"}


@pytest.mark.parametrize("agent", [False, True], ids=["chat", "agent with Bash"])
def test_the_settings_a_process_started_with_survive_its_warm_up(tmp_path, upstream, agent):
    """The agent's sandbox (and chat mode's plugins off) are in the process's ``--settings``, which the warm-up's
    ``apply_flag_settings`` is merged into: they must come out of it unchanged."""
    if agent and sandbox_problem():
        pytest.skip(f"Claude Code's sandbox cannot run here: {sandbox_problem()}")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    spec = AgentSpec("w", tools=("Read", "Bash"), max_turns=2, directory=str(workspace)) if agent else None
    request = CompletionRequest(model=MODEL_ID, system="s", history=(), prompt=Turn("user", ()), agent=spec)
    paths = SessionPaths(tmp_path / "session")
    paths.create("s")
    options = agent_options(cli_settings(upstream, tmp_path, agent=True), request, paths)
    started_with = json.loads(str(options.settings))

    async def settings_after_warm_up() -> dict[str, Any]:
        session = LiveSession("k", options, paths.root, tmp_path / "projects", shared_cwd=agent)
        await session.connect()
        try:
            async with Responder() as responder:
                await warm_up(session, responder, upstream.url)
            return dict((await session._control({"subtype": "get_settings"}))["effective"])
        finally:
            await session.close(kill=True)

    effective = asyncio.run(settings_after_warm_up())
    assert effective.pop("env") == {"ANTHROPIC_BASE_URL": upstream.url}
    assert effective == started_with
    assert ("sandbox" in started_with) is agent and ("enabledPlugins" in started_with) is not agent


@pytest.mark.parametrize("warm", [True, False], ids=["warmed", "cold"])
def test_an_agent_turn_limit_counts_only_the_requests_turns(tmp_path, upstream, marker, warm):
    """``max_turns`` is per request: the warm-up turn must not use up one of an agent spare's turns."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "a.txt").write_text("a")
    spec = AgentSpec("w", tools=("Read",), max_turns=1, directory=str(workspace))
    request = CompletionRequest(model=MODEL_ID, system="s", history=(), prompt=Turn("user", ()), agent=spec)
    paths = SessionPaths(tmp_path / "session")
    paths.create("s")
    options = agent_options(cli_settings(upstream, tmp_path, agent=True), request, paths)
    prompt = f'{marker}\nFAKE:{{"tool_calls": [{{"name": "Read", "arguments": {{"file_path": "a.txt"}}}}]}}'

    async def run() -> Any:
        session = LiveSession("k", options, paths.root, tmp_path / "projects", shared_cwd=True)
        await session.connect()
        try:
            if warm:
                async with Responder() as responder:
                    await warm_up(session, responder, upstream.url)
            await session.send(Turn("user", ({"type": "text", "text": prompt},)))
            async for message in session.messages():
                if type(message).__name__ == "ResultMessage":
                    return message
        finally:
            await session.close(kill=True)

    result = asyncio.run(run())
    assert result.subtype == "error_max_turns" and len(requests_with(upstream, marker)) == 1
