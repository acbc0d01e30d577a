"""Spawns off the request path: spares started at boot and kept warm, conversations kept live while new ones arrive,
and ``/ready`` answered from cached facts (the CLI is not started on every probe)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import httpx
import pytest
from tests.conftest import RunningServer, logging_cli, pid_alive, requests_with

pytestmark = pytest.mark.e2e

MODEL = "claude-sonnet-4"


def health(server: RunningServer) -> dict[str, int]:
    return dict(httpx.get(server.url + "/health").json()["processes"])


def wait_for_spares(server: RunningServer, count: int) -> None:
    """Spares start in the background; wait (bounded) until ``count`` are idle."""
    deadline = time.monotonic() + 60
    while health(server).get("spares", 0) < count:
        assert time.monotonic() < deadline, f"no {count} spares: {health(server)}"
        time.sleep(0.05)


def ask(server: RunningServer, messages: list[dict[str, Any]]) -> str:
    result = server.client().chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]
    return result.choices[0].message.content or ""


def echo(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text + '\nFAKE:{"echo": true}'}


def test_the_first_request_after_start_is_served_by_a_prestarted_process(make_server, marker):
    server = make_server()
    # Sent as soon as the server answers: start-up waits for the first spare.
    assert ask(server, [echo(f"{marker} first")]).startswith(f"{marker} first")
    stats = health(server)
    assert stats["spawned"] == 0 and "route_spawn" not in stats
    assert stats["route_spare"] == 1 and stats["prestarted"] >= 1


def test_a_new_conversation_takes_a_spare_and_leaves_the_other_conversation_live(make_server, marker):
    server = make_server(pool_spares=1)
    first = [echo(f"{marker} A1")]
    first.append({"role": "assistant", "content": ask(server, first)})
    wait_for_spares(server, 1)
    second = [echo(f"{marker} B1")]
    second.append({"role": "assistant", "content": ask(server, second)})
    wait_for_spares(server, 1)
    first.append(echo(f"{marker} A2"))
    assert ask(server, first).startswith(f"{marker} A2")
    second.append(echo(f"{marker} B2"))
    assert ask(server, second).startswith(f"{marker} B2")
    stats = health(server)
    assert stats["route_spare"] == 2 and stats["route_reuse"] == 2, stats  # each follow-up on its own process
    assert "route_rewind" not in stats and "route_resume" not in stats and stats["spawned"] == 0


def test_conversations_and_a_spare_are_kept_warm_up_to_max_processes(make_server, marker):
    server = make_server(pool_spares=1, max_processes=4)
    for i in range(3):
        wait_for_spares(server, 1)  # (without a spare, a new conversation would rewind the oldest one)
        ask(server, [echo(f"{marker} {i}")])
    wait_for_spares(server, 1)
    stats = health(server)
    assert stats["idle"] == 4 and stats["live"] == 4  # three conversations kept, one spare, up to max_processes


def test_ready_answers_from_cached_facts_instead_of_starting_the_cli_per_probe(make_server, tmp_path):
    cli, log = logging_cli(tmp_path)
    server = make_server(cli_path=str(cli), pool_prestart=False)
    for _ in range(5):
        ready = httpx.get(server.url + "/ready", timeout=30)
        assert ready.status_code == 200 and ready.json()["version"].startswith("2.1.332")
    calls = log.read_text().splitlines()
    assert calls.count("--version") == 1 and calls.count("auth status --json") == 1, calls


def test_a_configuration_gets_spares_once_it_starts_a_second_conversation(make_server, marker):
    server = make_server(pool_spares=1)
    wait_for_spares(server, 1)  # the default configuration's
    system = {"role": "system", "content": f"{marker}: a system prompt made for one client"}
    ask(server, [system, echo(f"{marker} first conversation")])
    ask(server, [system, echo(f"{marker} second conversation")])  # rewinds the first's process: no spare yet
    wait_for_spares(server, 2)
    stats = health(server)
    assert stats["route_spawn"] == 1 and stats["route_rewind"] == 1
    assert stats["prestarted"] == 2, "one spare at boot, one once the configuration recurred; none after the first"


def test_a_spare_that_died_while_idle_is_never_handed_to_a_request(make_server, marker):
    server = make_server(pool_spares=1)
    wait_for_spares(server, 1)
    (pid,) = server.engine.live_pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(pid):  # reaped, so the pool can tell
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert ask(server, [echo(f"{marker} after the kill")]).startswith(f"{marker} after the kill")


def test_an_old_conversations_process_becomes_the_next_spare_and_the_conversation_still_resumes(
    make_server, upstream, marker
):
    # No room to start a spare (max_processes=1): the one way to get one is to empty the conversation's process.
    server = make_server(pool_spares=1, max_processes=1, pool_recent=0.3)
    first = [echo(f"{marker} A1")]
    first.append({"role": "assistant", "content": ask(server, first)})  # on the spare started at boot
    wait_for_spares(server, 1)  # A's process, emptied once A is no longer recent
    stats = health(server)
    assert stats["emptied"] == 1 and stats["prestarted"] == 1 and stats["live"] == 1, stats
    assert "claude_code_api_spares_emptied_total 1.0" in httpx.get(server.url + "/metrics").text

    assert ask(server, [echo(f"{marker} B1")]).startswith(f"{marker} B1")
    stats = health(server)
    assert stats["route_spare"] == 2 and "route_rewind" not in stats, "no rewind on the new conversation's path"
    (b1,) = [r for r in requests_with(upstream, marker) if f"{marker} B1" in r.turns()[-1][1]]
    assert len(b1.turns()) == 1, "the emptied process no longer holds A"

    first.append(echo(f"{marker} A2"))
    assert ask(server, first).startswith(f"{marker} A2")
    assert health(server).get("route_resume") == 1, "A is no longer live: it resumes from its messages"
    a2 = requests_with(upstream, f"{marker} A2")[-1]
    assert [text.split("\n")[0] for _, text in a2.turns()][::2] == [f"{marker} A1", f"{marker} A2"]


def test_a_full_pool_keeps_its_recent_conversations_live_rather_than_making_a_spare(make_server, marker):
    server = make_server(pool_spares=1, max_processes=2, pool_recent=60)  # (a slow machine stays within it)
    first = [echo(f"{marker} A1")]
    first.append({"role": "assistant", "content": ask(server, first)})  # on the spare started at boot
    wait_for_spares(server, 1)  # started into the free room
    second = [echo(f"{marker} B1")]
    second.append({"role": "assistant", "content": ask(server, second)})  # the pool is full now
    time.sleep(0.5)  # (time for a spare to be made, if one were)
    for conversation, turn in ((first, "A2"), (second, "B2"), (first, "A3")):
        conversation.append(echo(f"{marker} {turn}"))
        answer = ask(server, conversation)
        assert answer.startswith(f"{marker} {turn}")
        conversation.append({"role": "assistant", "content": answer})
    stats = health(server)
    assert stats["route_reuse"] == 3 and stats["emptied"] == 0 and stats["spawned"] == 0, stats
