"""``count_tokens``: exact where Claude's API can be asked with the credentials Claude Code is configured with
(an API key, or a gateway in ``ANTHROPIC_BASE_URL`` with its token), otherwise an estimate.

The answer says which in the ``X-Token-Count`` header (``exact`` or ``estimate``). The estimate counts about four
characters of text per token and a flat 1,600 tokens per image or document page-less file; it is meant for
budgeting, not billing. No completion is run either way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

ESTIMATE_CHARS_PER_TOKEN = 4
ESTIMATE_MEDIA_TOKENS = 1600
DEFAULT_BASE_URL = "https://api.anthropic.com"
TIMEOUT = 10.0


def credentials(env: Mapping[str, str]) -> dict[str, str] | None:
    """Headers that authenticate to Claude's API the way Claude Code would, or None (e.g. a ``claude login``)."""
    if env.get("ANTHROPIC_API_KEY"):
        return {"x-api-key": env["ANTHROPIC_API_KEY"]}
    if env.get("ANTHROPIC_AUTH_TOKEN"):
        return {"authorization": "Bearer " + env["ANTHROPIC_AUTH_TOKEN"]}
    return None


async def exact_count(env: Mapping[str, str], body: dict[str, Any]) -> int | None:
    """Claude's own count, or None where it cannot be had (no credentials, or the API did not answer)."""
    headers = credentials(env)
    if headers is None:
        return None
    url = env.get("ANTHROPIC_BASE_URL", DEFAULT_BASE_URL).rstrip("/") + "/v1/messages/count_tokens"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            response = await client.post(url, json=body, headers={**headers, "anthropic-version": "2023-06-01"})
        count = response.json().get("input_tokens") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return count if isinstance(count, int) else None


def estimate(system: str, blocks: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    chars = len(system) + len(json.dumps(tools)) if tools else len(system)
    media = 0
    for block in blocks:
        if block.get("type") in ("image", "document"):
            media += 1
        else:
            chars += len(json.dumps(block, ensure_ascii=False))
    return max(1, chars // ESTIMATE_CHARS_PER_TOKEN + media * ESTIMATE_MEDIA_TOKENS)
