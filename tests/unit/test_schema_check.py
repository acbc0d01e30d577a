"""A tool's JSON schema is checked against the JSON Schema metaschema; a bad one is a 400 naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest

from claude_code_api.core.schema_check import check_json_schema
from claude_code_api.errors import InvalidRequest

PARAM = "tools[0].function.parameters"
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "schema",
    [
        WEATHER,
        {"type": "object", "properties": {}},
        {},
        # What Pydantic (2020-12) and zod-to-json-schema (draft-07, declared) emit for clients' tools.
        {"$defs": {"Unit": {"enum": ["c", "f"]}}, "type": "object", "properties": {"u": {"$ref": "#/$defs/Unit"}}},
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"pair": {"type": "array", "items": [{"type": "string"}, {"type": "number"}]}},
        },
    ],
)
def test_valid_schemas_pass(schema: dict[str, Any]) -> None:
    check_json_schema(schema, PARAM)


@pytest.mark.parametrize(
    ("schema", "mentions"),
    [
        ({"type": "object", "properties": "bad"}, "properties"),
        ({"type": "object", "properties": {"city": {"type": "string"}}, "required": "city"}, "required"),
        ({"type": "objekt"}, "type"),
        ({"type": "object", "properties": {"n": {"type": "integer", "minimum": "one"}}}, "minimum"),
        ({"type": "array", "items": [{"type": "string"}]}, "items"),  # tuple form is not 2020-12
    ],
)
def test_invalid_schemas_are_a_clear_invalid_request_naming_the_param(schema: dict[str, Any], mentions: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_json_schema(schema, PARAM)
    assert caught.value.param == PARAM
    assert PARAM in caught.value.message and mentions in caught.value.message


def test_a_schema_that_is_not_an_object_is_invalid() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_json_schema(["type", "object"], PARAM)  # type: ignore[arg-type]
    assert caught.value.param == PARAM


def test_a_pathologically_deep_schema_is_an_invalid_request_not_a_crash() -> None:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(5000):
        schema = {"type": "object", "properties": {"x": schema}}
    with pytest.raises(InvalidRequest) as caught:
        check_json_schema(schema, PARAM)
    assert caught.value.param == PARAM
