"""Admin endpoints (the access middleware admits only the admin key): ``GET /v1/admin/usage`` and
``GET /v1/admin/keys``, the JSON twins of the ``usage`` and ``keys list`` commands."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, Request

from claude_code_api.errors import InvalidRequest
from claude_code_api.http.auth import ops_of
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
        }
        for r in records
    ]
    return {"object": "list", "data": data}


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest("'since' must be a date as YYYY-MM-DD.", param="since") from None
