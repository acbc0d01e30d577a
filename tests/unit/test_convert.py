"""OpenAI request → neutral request: roles, merging, content parts and the 400s that name the field."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from claude_code_api.core.models import ModelRegistry
from claude_code_api.engine.claude.config import config_key
from claude_code_api.errors import InvalidRequest, ModelNotFound
from claude_code_api.frontends.openai_chat.convert import to_completion_request
from claude_code_api.frontends.openai_chat.models import ChatCompletionRequest

REGISTRY = ModelRegistry.build({"gpt-4o": "sonnet"})


def convert(**body: Any):
    body.setdefault("model", "claude-sonnet-4")
    return to_completion_request(
        ChatCompletionRequest.model_validate(body), REGISTRY, default_system="DEFAULT", show_thinking=False
    )


def test_history_keeps_roles_and_order_and_the_last_user_turn_is_the_prompt():
    req = convert(
        messages=[
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "u1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": [{"type": "text", "text": "u2"}]},
        ]
    )
    assert req.system == "sys"
    assert [(t.role, t.text()) for t in req.history] == [("user", "u1"), ("assistant", "a1")]
    assert req.prompt.text() == "u2"


def test_no_system_message_uses_the_default_prompt():
    assert convert(messages=[{"role": "user", "content": "hi"}]).system == "DEFAULT"


def test_tool_results_merge_into_one_user_turn_after_the_calls():
    req = convert(
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
                    {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "r1"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "r2"}]},
        ]
    )
    assert req.history[-1].blocks[0] == {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}}
    assert [b["tool_use_id"] for b in req.prompt.blocks] == ["c1", "c2"]
    assert req.prompt.blocks[1]["content"] == "r2"


def test_empty_assistant_content_is_dropped_and_neighbours_merge():
    req = convert(
        messages=[
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "b"},
        ]
    )
    assert req.history == ()
    assert [b["text"] for b in req.prompt.blocks] == ["a", "b"]


def test_data_url_image_becomes_a_base64_block_and_https_a_url_source():
    png = base64.b64encode(b"\x89PNG fake").decode()
    req = convert(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ]
    )
    assert req.prompt.blocks[0] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": png},
    }
    assert req.prompt.blocks[1]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "assistant", "content": "x"}]}, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "messages[0].content[0].type"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}
                ]
            },
            "messages[0].content[0].image_url.url",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA=="}}],
                    }
                ]
            },
            "messages[0].content[0].image_url.url",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "extreme"}, "reasoning_effort"),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function", "function": {"name": "bad name"}}],
            },
            "tools[0].function.name",
        ),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}],
            },
            "tools[0].function.parameters",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}}, "response_format"),
    ],
)
def test_invalid_requests_name_the_offending_field(body, param):
    with pytest.raises(InvalidRequest) as caught:
        convert(**body)
    assert caught.value.param == param


def test_request_fields_map_to_engine_options():
    req = convert(
        messages=[{"role": "user", "content": "x"}],
        max_completion_tokens=10,
        max_tokens=99,
        reasoning_effort="minimal",
        stop="END",
        response_format={"type": "json_object"},
        temperature=0.2,
        seed=1,
        unknown_field=True,
    )
    assert (req.max_tokens, req.effort, req.stop_sequences, req.output_schema) == (
        10,
        "low",
        ("END",),
        {"type": "object"},
    )


def test_tool_choice_none_offers_no_tools():
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert convert(messages=[{"role": "user", "content": "x"}], tools=tools, tool_choice="none").tools == ()
    assert len(convert(messages=[{"role": "user", "content": "x"}], tools=tools).tools) == 1


def test_models_resolve_through_aliases_and_reject_unknown_names():
    assert REGISTRY.resolve("gpt-4o") == "claude-sonnet-5-5"
    assert REGISTRY.resolve("claude-opus-4.1") == "claude-opus-4-1-20250805"
    assert REGISTRY.resolve("claude-sonnet-4-5-20250929") == "claude-sonnet-4-5-20250929"
    with pytest.raises(ModelNotFound):
        REGISTRY.resolve("llama3")


def test_config_key_separates_what_a_process_is_bound_to():
    a = convert(messages=[{"role": "user", "content": "x"}])
    b = convert(messages=[{"role": "user", "content": "other"}])
    c = convert(messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "x"}])
    assert config_key(a) == config_key(b) != config_key(c)
