"""Claude Code's real transcripts kept in the server's store, proven at the fake upstream through the real CLI.

A process the pool lets go of (here: at shutdown) leaves its transcript in the store under the conversation the
client sees; a later request with that history resumes it, so what only the real transcript has (Claude's signed
thinking blocks) reaches Claude again, and a resumed tool turn keeps thinking on. Compare tests/e2e/test_tools.py,
which covers the transcript built from the request's messages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import RunningServer, requests_with, routes
from tests.e2e.test_tools import WEATHER, answer_calls, assert_follow_up_carries

from claude_code_api.testing import redis_server
from claude_code_api.testing.redis_server import RedisServer

pytestmark = pytest.mark.e2e
MODEL = "claude-sonnet-4"


def thinking_turn(marker: str, thought: str, reply: str) -> dict[str, Any]:
    return {"role": "user", "content": f"{marker} think\nFAKE:" + json.dumps({"thinking": thought, "reply": reply})}


def fake_signature(thinking: str) -> str:
    """The signature the fake upstream gives a thinking block (a real one is opaque and checked by the API)."""
    return base64.b64encode(hashlib.sha256(thinking.encode()).digest()).decode()


def echo_turn(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text + '\nFAKE:{"echo": true}'}


def assistant_messages(entry: Any) -> list[dict[str, Any]]:
    return [m for m in entry.body["messages"] if m.get("role") == "assistant"]


def blocks_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind] if isinstance(content, list) else []


def transcripts_left(server: RunningServer) -> list[Path]:
    home = Path(server.settings.cli_env["HOME"])
    return list((home / ".claude" / "projects").glob("*/*.jsonl"))


def test_a_stored_transcript_is_never_offered_under_another_system_prompt(make_server, upstream, marker):
    first = make_server(pool_prestart=False)
    system = {"role": "system", "content": "Secret instructions of tenant A."}
    messages = [system, thinking_turn(marker, "tenant A's private reasoning", "ok")]
    first.client().chat.completions.create(model=MODEL, messages=messages)
    first.stop()

    second = make_server(pool_prestart=False, data_dir=first.settings.data_dir)
    other = [{"role": "system", "content": "Tenant B."}, *messages[1:]]
    other += [{"role": "assistant", "content": "ok"}, echo_turn(f"{marker} tenant B")]
    second.client().chat.completions.create(model=MODEL, messages=other)
    assert "route_stored_resume" not in routes(second)
    (earlier,) = assistant_messages(requests_with(upstream, f"{marker} tenant B")[-1])
    assert blocks_of(earlier, "thinking") == [], "tenant A's thinking must not reach tenant B's conversation"


def test_a_restarted_server_resumes_the_real_transcript_with_its_thinking(make_server, upstream, marker):
    first = make_server(pool_prestart=False)
    messages = [thinking_turn(marker, "deep thought", "forty-two")]
    answer = first.client().chat.completions.create(model=MODEL, messages=messages)
    assert answer.choices[0].message.content == "forty-two"
    first.stop()  # shutdown keeps the idle process's transcript
    assert not transcripts_left(first), "nothing may stay under the CLI's projects directory"

    second = make_server(pool_prestart=False, data_dir=first.settings.data_dir)
    messages += [{"role": "assistant", "content": "forty-two"}, echo_turn(f"{marker} after restart")]
    reply = second.client().chat.completions.create(model=MODEL, messages=messages)
    assert (reply.choices[0].message.content or "").startswith(f"{marker} after restart")
    assert routes(second).get("route_stored_resume") == 1 and routes(second).get("route_resume") == 1

    resumed = requests_with(upstream, f"{marker} after restart")[-1]
    assert [role for role, _ in resumed.turns()] == ["user", "assistant", "user"]
    (earlier,) = assistant_messages(resumed)
    (thinking,) = blocks_of(earlier, "thinking")
    # The signed block exactly as Claude sent it: only the CLI's own transcript could have kept it.
    assert thinking == {"type": "thinking", "thinking": "deep thought", "signature": fake_signature("deep thought")}
    assert blocks_of(earlier, "text")[0]["text"] == "forty-two"

    # The restored user turn kept its CLI uuid: a new conversation rewinds this process instead of spawning.
    spawned = second.engine.stats()["spawned"]
    second.client().chat.completions.create(model=MODEL, messages=[echo_turn(f"{marker} fresh")])
    assert second.engine.stats()["spawned"] == spawned and routes(second).get("route_rewind") == 1
    (fresh,) = requests_with(upstream, f"{marker} fresh")
    assert len(fresh.turns()) == 1 and "think" not in fresh.turns()[0][1]


def test_a_tool_loop_whose_parked_process_was_lost_resumes_with_thinking_on(make_server, upstream, marker):
    first = make_server(pool_prestart=False)
    calls = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    directive = {"thinking": "which tool", "tool_calls": calls}
    messages = [{"role": "user", "content": f"{marker} weather?\nFAKE:{json.dumps(directive)}"}]
    made = first.client().chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    assert made.choices[0].finish_reason == "tool_calls" and first.engine.stats()["parked"] == 1
    first.stop()  # the parked process is lost with the server; its transcript is kept

    second = make_server(pool_prestart=False, data_dir=first.settings.data_dir)
    message = made.choices[0].message.model_dump()
    follow_up = answer_calls(messages, message, ["sunny, 21C"])
    done = second.client().chat.completions.create(model=MODEL, messages=follow_up, tools=[WEATHER])
    assert done.choices[0].message.content == "Tool results: sunny, 21C"
    assert routes(second).get("route_tool_resume") == 1 and routes(second).get("route_stored_resume") == 1

    original, resumed = requests_with(upstream, marker)
    assert_follow_up_carries(resumed, message["tool_calls"], ["sunny, 21C"])
    assert original.body["thinking"]["type"] != "disabled"
    assert resumed.body["thinking"]["type"] != "disabled", "a stored transcript keeps the signed thinking block"
    (calling,) = assistant_messages(resumed)
    assert [b["type"] for b in calling["content"]][:2] == ["thinking", "tool_use"]


def test_an_edited_assistant_turn_never_matches_a_stored_transcript(make_server, upstream, marker):
    first = make_server(pool_prestart=False)
    messages = [thinking_turn(marker, "deep thought", "the real answer")]
    first.client().chat.completions.create(model=MODEL, messages=messages)
    first.stop()

    second = make_server(pool_prestart=False, data_dir=first.settings.data_dir)
    messages += [{"role": "assistant", "content": "AN EDITED ANSWER"}, echo_turn(f"{marker} after edit")]
    second.client().chat.completions.create(model=MODEL, messages=messages)
    assert "route_stored_resume" not in routes(second) and routes(second).get("route_resume") == 1
    resumed = requests_with(upstream, f"{marker} after edit")[-1]
    assert resumed.turns()[1] == ("assistant", "AN EDITED ANSWER")
    assert not blocks_of(assistant_messages(resumed)[0], "thinking")


def test_with_the_store_off_nothing_is_kept(make_server, upstream, marker):
    first = make_server(pool_prestart=False, transcript_store=False)
    messages = [thinking_turn(marker, "deep thought", "off")]
    first.client().chat.completions.create(model=MODEL, messages=messages)
    first.stop()
    assert not (first.settings.data_dir / "transcripts.sqlite3").exists()
    second = make_server(pool_prestart=False, data_dir=first.settings.data_dir)
    messages += [{"role": "assistant", "content": "off"}, echo_turn(f"{marker} later")]
    second.client().chat.completions.create(model=MODEL, messages=messages)
    assert "route_stored_resume" not in routes(second) and routes(second).get("route_resume") == 1


def test_a_stored_transcript_the_cli_refuses_falls_back_to_a_built_one(make_server, upstream, marker):
    first = make_server(pool_prestart=False)
    messages = [thinking_turn(marker, "deep thought", "kept")]
    first.client().chat.completions.create(model=MODEL, messages=messages)
    first.stop()
    with sqlite3.connect(first.settings.data_dir / "transcripts.sqlite3") as db:  # no conversation in it any more
        (count,) = db.execute("SELECT count(*) FROM transcripts").fetchone()
        db.execute("UPDATE transcripts SET lines = ?", (zlib.compress(b'{"type":"atis-latch","sessionId":"x"}'),))
    assert count == 1

    second = make_server(pool_prestart=False, data_dir=first.settings.data_dir)
    messages += [{"role": "assistant", "content": "kept"}, echo_turn(f"{marker} after")]
    reply = second.client().chat.completions.create(model=MODEL, messages=messages)
    assert (reply.choices[0].message.content or "").startswith(f"{marker} after")
    assert routes(second).get("route_stored_resume_failed") == 1 and "route_stored_resume" not in routes(second)
    assert [role for role, _ in requests_with(upstream, f"{marker} after")[-1].turns()] == ["user", "assistant", "user"]


@pytest.mark.skipif(not redis_server.available(), reason="redis-server not found (the dev dependencies bring one)")
def test_with_redis_another_replica_resumes_the_real_transcript(make_server, upstream, marker, tmp_path):
    with RedisServer(tmp_path / "redis") as redis:
        first = make_server(pool_prestart=False, redis_url=redis.url)
        messages = [thinking_turn(marker, "deep thought", "shared")]
        first.client().chat.completions.create(model=MODEL, messages=messages)
        first.stop()  # a replica that lets the conversation go (here: shuts down) leaves it in Redis
        other = make_server(pool_prestart=False, redis_url=redis.url)  # its own data_dir: only Redis is shared
        messages += [{"role": "assistant", "content": "shared"}, echo_turn(f"{marker} elsewhere")]
        other.client().chat.completions.create(model=MODEL, messages=messages)
        assert routes(other).get("route_stored_resume") == 1
        (earlier,) = assistant_messages(requests_with(upstream, f"{marker} elsewhere")[-1])
        assert blocks_of(earlier, "thinking")[0]["signature"] == fake_signature("deep thought")
        other.stop()
