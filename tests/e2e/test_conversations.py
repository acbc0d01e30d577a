"""Multi-turn conversations and live-process reuse, proven at the fake upstream (issue 3)."""

from __future__ import annotations

import concurrent.futures
import json
from typing import Any

import httpx
import pytest
from tests.conftest import requests_with

pytestmark = pytest.mark.e2e
MODEL = "claude-sonnet-4"


def stats(server: Any) -> dict[str, int]:
    return dict(httpx.get(server.url + "/health").json()["processes"])


def ask(server: Any, messages: list[dict[str, Any]], **kwargs: Any) -> str:
    result = server.client().chat.completions.create(model=MODEL, messages=messages, **kwargs)
    return result.choices[0].message.content or ""


def echo_turn(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text + '\nFAKE:{"echo": true}'}


def test_five_turn_conversation_reaches_upstream_role_separated_in_order(server, upstream, marker):
    messages: list[dict[str, Any]] = [{"role": "system", "content": "Be terse."}]
    for turn in range(5):
        messages.append(echo_turn(f"{marker} question {turn}"))
        messages.append({"role": "assistant", "content": ask(server, messages)})
    last = requests_with(upstream, f"{marker} question 4")[-1]
    roles = [role for role, _ in last.turns()]
    assert roles == ["user", "assistant"] * 4 + ["user"]
    texts = [text for _, text in last.turns()]
    for turn in range(5):
        assert f"{marker} question {turn}" in texts[2 * turn]
    assert messages[-1]["content"].startswith(f"{marker} question 4")


def test_follow_up_on_a_live_conversation_spawns_nothing(server, upstream, marker):
    messages = [echo_turn(f"{marker} first")]
    messages.append({"role": "assistant", "content": ask(server, messages)})
    before = stats(server)
    messages.append(echo_turn(f"{marker} second"))
    assert ask(server, messages).startswith(f"{marker} second")
    after = stats(server)
    assert after["spawned"] == before["spawned"]
    assert after.get("route_reuse", 0) == before.get("route_reuse", 0) + 1
    turns = requests_with(upstream, f"{marker} second")[-1].turns()
    assert [r for r, _ in turns] == ["user", "assistant", "user"]
    assert f"{marker} first" in turns[0][1] and turns[1][1].startswith(f"{marker} first")


def test_an_edited_assistant_turn_reaches_upstream_as_edited(server, upstream, marker):
    messages = [echo_turn(f"{marker} q1")]
    ask(server, messages)  # the live process now holds the real answer
    messages += [{"role": "assistant", "content": "EDITED ANSWER"}, echo_turn(f"{marker} q2")]
    ask(server, messages)
    turns = requests_with(upstream, f"{marker} q2")[-1].turns()
    assert turns[1] == ("assistant", "EDITED ANSWER")


def test_a_new_conversation_on_a_reused_process_carries_no_old_turns(server, upstream, marker):
    ask(server, [echo_turn(f"{marker} old conversation")])
    before = stats(server)
    ask(server, [echo_turn(f"{marker} new conversation")])
    after = stats(server)
    assert after["spawned"] == before["spawned"], "a live process should have been reused"
    turns = requests_with(upstream, f"{marker} new conversation")[-1].turns()
    assert len(turns) == 1 and "old conversation" not in turns[0][1]


def test_regenerating_the_last_answer_rewinds_the_live_process(server, upstream, marker):
    history = [echo_turn(f"{marker} a"), {"role": "assistant", "content": "A"}, echo_turn(f"{marker} b")]
    ask(server, history)
    ask(server, history)  # the same request again: the process must drop its own answer to "b" first
    last = requests_with(upstream, f"{marker} b")[-1].turns()
    assert [r for r, _ in last] == ["user", "assistant", "user"]


def test_conversation_continues_after_a_server_restart(make_server, upstream, marker):
    first = make_server()
    messages = [{"role": "system", "content": "S"}, echo_turn(f"{marker} before restart")]
    messages.append({"role": "assistant", "content": ask(first, messages)})
    first.stop()
    second = make_server()
    messages.append(echo_turn(f"{marker} after restart"))
    assert ask(second, messages).startswith(f"{marker} after restart")
    turns = requests_with(upstream, f"{marker} after restart")[-1].turns()
    assert [r for r, _ in turns] == ["user", "assistant", "user"]
    assert f"{marker} before restart" in turns[0][1]
    assert stats(second).get("route_resume") == 1


def test_two_concurrent_continuations_of_one_history_both_succeed(server, upstream, marker):
    base = [echo_turn(f"{marker} root")]
    base.append({"role": "assistant", "content": ask(server, base)})
    branches = [base + [echo_turn(f"{marker} branch {i}")] for i in range(2)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda m: ask(server, m), branches))
    for i, answer in enumerate(answers):
        assert answer.startswith(f"{marker} branch {i}")
        turns = requests_with(upstream, f"{marker} branch {i}")[-1].turns()
        assert [r for r, _ in turns] == ["user", "assistant", "user"]
        assert f"{marker} root" in turns[0][1]


def test_a_conversation_may_start_with_an_assistant_turn(server, upstream, marker):
    messages = [{"role": "assistant", "content": "How can I help?"}, echo_turn(f"{marker} hi")]
    assert ask(server, messages).startswith(f"{marker} hi")
    turns = requests_with(upstream, f"{marker} hi")[-1].turns()
    assert turns[0] == ("assistant", "How can I help?")


def test_with_the_pool_off_every_request_spawns_and_still_works(make_server, upstream, marker):
    running = make_server(pool_enabled=False)
    messages = [echo_turn(f"{marker} one")]
    messages.append({"role": "assistant", "content": ask(running, messages)})
    messages.append(echo_turn(f"{marker} two"))
    assert ask(running, messages).startswith(f"{marker} two")
    assert stats(running)["live"] == 0
    assert json.dumps(requests_with(upstream, f"{marker} two")[-1].turns()).count(f"{marker} one") == 2


def test_a_transcript_the_cli_refuses_falls_back_to_a_flattened_history(make_server, upstream, marker):
    from claude_code_api.engine.claude.transcript import Transcript

    running = make_server()
    running.engine._pool._build_transcript = lambda turns, cwd, model: Transcript(
        "00000000-0000-4000-8000-000000000000", (), ()
    )
    messages = [echo_turn(f"{marker} earlier"), {"role": "assistant", "content": "EARLIER ANSWER"}]
    messages.append(echo_turn(f"{marker} now"))
    assert ask(running, messages).endswith(f"{marker} now")
    assert stats(running)["route_flattened"] == 1 and stats(running)["route_resume_failed"] == 1
    (only,) = requests_with(upstream, f"{marker} now")[-1:]
    text = only.turns()[-1][1]
    assert "User: " in text and "Assistant: EARLIER ANSWER" in text
