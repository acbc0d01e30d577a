"""Structured output (response_format) and images, through the real CLI and the fake upstream (issue 4)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import openai
import pytest
from tests.conftest import requests_with

pytestmark = pytest.mark.e2e
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name"],
}
# A real 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def structured(server: Any, marker: str, fmt: dict[str, Any], obj: Any, stream: bool = False) -> str:
    messages = [{"role": "user", "content": f"{marker}\nFAKE:" + json.dumps({"json": obj})}]
    client = server.client()
    if not stream:
        result = client.chat.completions.create(model="claude-sonnet-4", messages=messages, response_format=fmt)
        assert result.choices[0].finish_reason == "stop"
        return result.choices[0].message.content or ""
    chunks = client.chat.completions.create(
        model="claude-sonnet-4", messages=messages, response_format=fmt, stream=True
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("stream", [False, True])
def test_json_schema_answer_is_the_validated_object(server, upstream, marker, stream):
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}
    content = structured(server, marker, fmt, {"name": "Ada", "age": 36}, stream)
    assert json.loads(content) == {"name": "Ada", "age": 36}
    request = requests_with(upstream, marker)[0]
    assert "StructuredOutput" in request.tool_names
    tool = next(t for t in request.body["tools"] if t["name"] == "StructuredOutput")
    assert tool["input_schema"]["required"] == ["name"]


def test_json_object_gets_a_json_object(server, marker):
    content = structured(server, marker, {"type": "json_object"}, {"ok": True})
    assert json.loads(content) == {"ok": True}


def test_output_that_never_matches_the_schema_is_an_error_not_bad_json(server, marker):
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}
    with pytest.raises(openai.APIStatusError) as caught:
        structured(server, marker, fmt, {"age": "not a person"})
    assert caught.value.status_code == 502
    assert "schema" in caught.value.message.lower()


def test_data_url_image_reaches_upstream_byte_identical(server, upstream, marker):
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    content = [{"type": "text", "text": f"{marker} what is this?"}, {"type": "image_url", "image_url": {"url": url}}]
    server.client().chat.completions.create(model="claude-sonnet-4", messages=[{"role": "user", "content": content}])
    request = requests_with(upstream, marker)[0]
    images = [
        b
        for m in request.body["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "image"
    ]
    assert len(images) == 1
    assert images[0]["source"]["media_type"] == "image/png"
    assert hashlib.sha256(base64.b64decode(images[0]["source"]["data"])).digest() == hashlib.sha256(PNG).digest()


def test_image_in_an_earlier_turn_is_preserved(server, upstream, marker):
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": f"{marker} look"}, {"type": "image_url", "image_url": {"url": url}}],
        },
        {"role": "assistant", "content": "A pixel."},
        {"role": "user", "content": f"{marker} and now?"},
    ]
    server.client().chat.completions.create(model="claude-sonnet-4", messages=messages)
    request = requests_with(upstream, f"{marker} and now?")[-1]
    first = request.body["messages"][0]["content"]
    assert any(b.get("type") == "image" and base64.b64decode(b["source"]["data"]) == PNG for b in first)


def test_https_image_url_is_passed_for_claude_to_fetch(server, upstream, marker):
    content = [
        {"type": "text", "text": marker},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    server.client().chat.completions.create(model="claude-sonnet-4", messages=[{"role": "user", "content": content}])
    body = json.dumps(requests_with(upstream, marker)[0].body)
    assert "https://example.com/cat.png" in body


def test_bad_image_is_400(server):
    content = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,###"}}]
    with pytest.raises(openai.BadRequestError) as caught:
        server.client().chat.completions.create(
            model="claude-sonnet-4", messages=[{"role": "user", "content": content}]
        )
    assert caught.value.body["param"] == "messages[0].content[0].image_url.url"  # type: ignore[index]
