"""Admin endpoints (the access middleware admits only the admin key): ``GET /v1/admin/usage`` and
``GET /v1/admin/keys``, the JSON twins of the ``usage`` and ``keys list`` commands; ``POST /v1/admin/keys`` and
``DELETE /v1/admin/keys/{name}``, the twins of ``keys create`` and ``keys revoke``; ``GET /v1/admin/errors``, the
recent failed requests.

State-changing calls are guarded against cross-site requests beyond the admin key itself: a foreign ``Origin``
is refused, and a create must be ``application/json`` (which a plain HTML form cannot send without a pre-flight).
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from claude_code_api.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from claude_code_api.http.auth import ops_of
from claude_code_api.ops.keys import mint_key
from claude_code_api.ops.store import KeyExists
from claude_code_api.ops.usage import usage_json

router = APIRouter()


@router.get("/v1/admin/usage")
async def usage(request: Request, key: str | None = None, since: str | None = None) -> dict[str, Any]:
    store = ops_of(request).store
    rows = await asyncio.to_thread(store.usage, key, _date(since))
    return {"object": "list", "data": usage_json(rows)}


@router.get("/v1/admin/keys")
async def keys(request: Request) -> dict[str, Any]:
    records = await asyncio.to_thread(ops_of(request).store.list_keys)
    data = [
        {
            "name": r.name,
            "prefix": r.prefix,
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
            "rpm": r.rpm,
            "tpm": r.tpm,
            "max_concurrent": r.max_concurrent,
            "models": list(r.models),
            "agent": r.agent,
        }
        for r in records
    ]
    return {"object": "list", "data": data}


def same_origin(request: Request) -> None:
    """Refuse a state-changing call a page on another site makes (browsers always send ``Origin`` on those)."""
    origin = request.headers.get("origin")
    if origin is None:
        return  # not a browser (curl, SDKs): the admin key alone decides
    if urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
        raise PermissionDenied("Cross-site admin requests are refused.")


def json_body(request: Request) -> None:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise InvalidRequest("Send the body as JSON (Content-Type: application/json).")


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    rpm: int | None = Field(None, ge=1)
    tpm: int | None = Field(None, ge=1)
    max_concurrent: int | None = Field(None, ge=1)
    models: list[str] = Field(default_factory=list)
    agent: bool = False


@router.post("/v1/admin/keys", dependencies=[Depends(same_origin), Depends(json_body)], status_code=201)
async def create_key(request: Request, body: NewKey) -> dict[str, Any]:
    """The new key is in this answer only: the store keeps its hash."""
    store = ops_of(request).store
    models = [m.strip() for m in body.models if m.strip()]
    limits = {"rpm": body.rpm, "tpm": body.tpm, "max_concurrent": body.max_concurrent}
    try:
        key = await asyncio.to_thread(mint_key, store, body.name.strip(), models=models, agent=body.agent, **limits)
    except KeyExists:
        raise Conflict(f"A key named {body.name!r} exists already.") from None
    return {"object": "api_key", "name": body.name.strip(), "key": key, **limits, "models": models, "agent": body.agent}


@router.delete("/v1/admin/keys/{name}", dependencies=[Depends(same_origin)])
async def revoke_key(request: Request, name: str) -> dict[str, Any]:
    if not await asyncio.to_thread(ops_of(request).store.revoke_key, name):
        raise NotFound(f"No active key named {name!r}.")
    return {"object": "api_key", "name": name, "revoked": True}


@router.get("/v1/admin/errors")
async def recent_errors(request: Request) -> dict[str, Any]:
    return {"object": "list", "data": ops_of(request).recent_errors.newest_first()}


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest("'since' must be a date as YYYY-MM-DD.", param="since") from None
