"""The pure parts of ``engine/claude/tools.py``: what the CLI is given for the client's functions."""

from __future__ import annotations

import asyncio

from claude_code_api.core.request import CompletionRequest, ToolChoice, ToolSpec, Turn
from claude_code_api.engine.claude.tools import (
    ClientTools,
    answers_tool_calls,
    cli_turns,
    mcp_result,
    mcp_tool,
    system_prompt,
    tool_results,
)

SPEC = ToolSpec("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})
CALL = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}


def request(prompt: Turn, history: tuple[Turn, ...] = (), choice: ToolChoice | None = None) -> CompletionRequest:
    return CompletionRequest("m", "Be brief.", history, prompt, tools=(SPEC,), tool_choice=choice or ToolChoice())


def test_the_mcp_tool_carries_name_description_and_schema_verbatim():
    dumped = mcp_tool(SPEC).model_dump(by_alias=True, exclude_none=True)
    assert dumped == {"name": "get_weather", "description": "Weather", "inputSchema": SPEC.parameters}


def test_a_client_result_becomes_mcp_content():
    assert mcp_result(RESULT) == {"content": [{"type": "text", "text": "sunny"}], "isError": False}
    parts = [{"type": "text", "text": "a"}]
    assert mcp_result({**RESULT, "content": parts, "is_error": True}) == {"content": parts, "isError": True}


def test_only_a_turn_of_tool_results_continues_a_parked_turn():
    assert tool_results(Turn("user", (RESULT,))) == {"toolu_1": RESULT}
    assert tool_results(Turn("user", (RESULT, {"type": "text", "text": "and?"}))) is None
    assert tool_results(Turn("user", ())) is None


def test_a_request_answers_tool_calls_only_after_an_assistant_call():
    asked = (Turn("user", ({"type": "text", "text": "hi"},)), Turn("assistant", (CALL,)))
    assert answers_tool_calls(request(Turn("user", (RESULT,)), asked))
    assert not answers_tool_calls(request(Turn("user", (RESULT,))))
    plain = (asked[0], Turn("assistant", ({"type": "text", "text": "ok"},)))
    assert not answers_tool_calls(request(Turn("user", ({"type": "text", "text": "x"},)), plain))


def test_history_gets_the_mcp_prefix_back_for_client_functions_only():
    other = {**CALL, "name": "unknown"}
    (turn,) = cli_turns([Turn("assistant", (CALL, other))], [SPEC])
    assert [b["name"] for b in turn.blocks] == ["mcp__fn__get_weather", "unknown"]


def test_tool_choice_adds_a_system_prompt_rule_when_it_must_call():
    prompt = Turn("user", ({"type": "text", "text": "x"},))
    assert system_prompt(request(prompt)) == "Be brief."
    assert "one or more of the provided functions" in system_prompt(request(prompt, choice=ToolChoice("any")))
    assert "mcp__fn__get_weather" in system_prompt(request(prompt, choice=ToolChoice("tool", "get_weather")))


def test_results_delivered_before_or_after_the_call_asks_reach_it():
    async def run() -> list[str]:
        tools = ClientTools([SPEC])
        tools.deliver({"toolu_early": {**RESULT, "content": "early"}})
        early = await tools._future("toolu_early")
        waiting = asyncio.ensure_future(tools._future("toolu_late"))
        await asyncio.sleep(0)
        tools.deliver({"toolu_late": {**RESULT, "content": "late"}})
        return [early["content"], (await waiting)["content"]]

    assert asyncio.run(run()) == ["early", "late"]


def test_only_client_functions_are_allowed():
    async def run() -> tuple[str, str]:
        tools = ClientTools([SPEC])
        allowed = await tools.can_use_tool("mcp__fn__get_weather", {}, None)  # type: ignore[arg-type]
        denied = await tools.can_use_tool("Bash", {}, None)  # type: ignore[arg-type]
        return allowed.behavior, denied.behavior

    assert asyncio.run(run()) == ("allow", "deny")
