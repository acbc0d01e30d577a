"""Whether a client's JSON Schema (a tool's ``parameters``) is a valid JSON Schema, checked by ``jsonschema``.

A schema Claude Code cannot use is dropped without a word (Claude is then offered no tool at all), so a bad one
must be a 400 before any process is touched. The check is the metaschema's, by the ``jsonschema`` library: the
draft the schema declares in ``$schema`` (zod-to-json-schema declares draft-07), else Draft 2020-12.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from claude_code_api.errors import InvalidRequest


def check_json_schema(schema: dict[str, Any], param: str) -> None:
    """Raise ``InvalidRequest(param=param)`` unless ``schema`` is a valid JSON Schema object."""
    if not isinstance(schema, dict):
        raise InvalidRequest(f"Invalid JSON schema for {param}: it must be a JSON object.", param=param)
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        raise InvalidRequest(f"Invalid JSON schema for {param}: {_describe(exc)}", param=param) from None
    except RecursionError:
        raise InvalidRequest(f"Invalid JSON schema for {param}: it is nested too deeply.", param=param) from None


def _describe(error: SchemaError) -> str:
    """The failing keyword's location in the schema (``properties``, ``properties/city/type``) and the reason."""
    where = "/".join(str(part) for part in error.path)
    return f"at '{where}': {error.message}" if where else error.message
