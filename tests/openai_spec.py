"""Validation against OpenAI's published OpenAPI schema (vendored in ``tests/specs``).

The spec is a 3.1 document with two 3.0 leftovers that 2020-12 validators misread: ``nullable: true`` (turned into
``anyOf [X, null]``) and ``discriminator`` without ``mapping`` (dropped; the ``oneOf`` still validates).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).parent / "specs" / "openai-openapi-2.3.0.yaml"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Keeps YAML timestamps as strings, as JSON has them."""


_Loader.yaml_implicit_resolvers = {
    key: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _Loader.yaml_implicit_resolvers.copy().items()
}


def _fix(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _fix(v) for k, v in node.items()}
        node.pop("discriminator", None)
        if node.pop("nullable", False) is True:
            return {"anyOf": [node, {"type": "null"}]}
        return node
    return [_fix(x) for x in node] if isinstance(node, list) else node


@functools.cache
def _registry() -> Registry:
    with SPEC.open() as f:
        spec = yaml.load(f, Loader=_Loader)  # a SafeLoader subclass
    spec["components"]["schemas"] = _fix(spec["components"]["schemas"])
    registry: Registry = Registry().with_resource(
        "urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return registry


def schema_errors(schema_name: str, instance: Any) -> list[str]:
    validator = Draft202012Validator({"$ref": f"urn:spec#/components/schemas/{schema_name}"}, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(instance)]


def assert_valid(schema_name: str, instance: Any) -> None:
    errors = schema_errors(schema_name, instance)
    assert not errors, f"{schema_name} violations: {errors[:5]}"
