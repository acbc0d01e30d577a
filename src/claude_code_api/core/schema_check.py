"""Checking that a client's JSON Schema (tool parameters, output formats) is a valid schema before any Claude
Code process is touched: an invalid one would otherwise be dropped by the CLI without a word.

Uses the ``jsonschema`` library's metaschema check (Draft 2020-12) rather than hand-written rules.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]

from claude_code_api.errors import InvalidRequest


def check_json_schema(schema: dict[str, Any], param: str) -> None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        at = f" at '{where}'" if where else ""
        raise InvalidRequest(f"Invalid JSON Schema{at}: {exc.message}", param=param) from None
