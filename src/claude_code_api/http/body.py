"""Reading a JSON request body into a front end's wire model, with every failure a 400 that says what is wrong.

The body is read and parsed here rather than by FastAPI's body parameter, so that: a JSON body sent with another
content type (``text/plain``, as some HTTP tools do) is still read as JSON; text that cannot be encoded (a lone
surrogate such as ``"\\ud800"``) is refused up front instead of failing deep inside; and validation errors name
the field (400, never 422). ``documented_body`` keeps the OpenAPI description of the body and of the 400 it sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ValidationError

from claude_code_api.errors import InvalidRequest
from claude_code_api.protocol.errors import ErrorResponse

M = TypeVar("M", bound=BaseModel)
_SURROGATE = re.compile("[\ud800-\udfff]")


async def parse_body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        content_type = request.headers.get("content-type", "")
        hint = "" if "json" in content_type else f" (sent as {content_type or 'no content type'})"
        raise InvalidRequest(f"The request body must be a JSON object{hint}.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    where = _unencodable(data, "")
    if where is not None:
        raise InvalidRequest("The text contains a lone surrogate, which is not valid Unicode.", param=where or None)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _invalid(exc: ValidationError) -> InvalidRequest:
    first = exc.errors()[0]
    param = ".".join(str(p) for p in first.get("loc", ())) or None
    return InvalidRequest(f"Invalid value for '{param or 'body'}': {first.get('msg', 'invalid')}.", param=param)


def _unencodable(value: Any, path: str) -> str | None:
    """The path of the first string (key or value) holding a lone surrogate, else None."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if _SURROGATE.search(str(key)):
                return where
            found = _unencodable(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _unencodable(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """Route options that describe ``model`` as the JSON body and the 400 error envelope in ``/openapi.json``."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        "openapi_extra": {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}},
        "responses": {400: {"model": ErrorResponse, "description": "The request is invalid; `param` names the field."}},
    }


def install_openapi(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    """Add the documented body models to the OpenAPI components (FastAPI only adds the ones it parses itself)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
