"""``GET /v1/models`` and ``GET /v1/models/{id}``: the names this server accepts, in OpenAI's shape, or in
Anthropic's (``{"data": [{"type": "model", "id", "display_name", "created_at"}], "has_more", "first_id",
"last_id"}``) when the request carries ``anthropic-version`` as Anthropic clients do."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Request

from claude_code_api.http.deps import state_of
from claude_code_api.protocol.models import Model, ModelList

router = APIRouter()
CREATED = 1_735_689_600  # a fixed date: the list is configuration, not a history
CREATED_AT = datetime.fromtimestamp(CREATED, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _anthropic(request: Request) -> bool:
    return "anthropic-version" in request.headers


def _anthropic_model(name: str) -> dict[str, Any]:
    return {"type": "model", "id": name, "display_name": name, "created_at": CREATED_AT}


@router.get("/v1/models", response_model=None)
async def list_models(request: Request) -> ModelList | dict[str, Any]:
    state = state_of(request)
    names = state.models.listed(agent=state.settings.agent)
    if _anthropic(request):
        data = [_anthropic_model(name) for name in names]
        return {
            "data": data,
            "has_more": False,
            "first_id": names[0] if names else None,
            "last_id": names[-1] if names else None,
        }
    return ModelList(data=[Model(id=name, created=CREATED) for name in names])


@router.get("/v1/models/{model_id:path}", response_model=None)
async def get_model(model_id: str, request: Request) -> Model | dict[str, Any]:
    """Any name a chat request would accept (listed names, and full ``claude-…`` ids); else 404."""
    state = state_of(request)
    agent_base = state.models.agent_base(model_id) if state.settings.agent else None
    state.models.resolve(agent_base or model_id)  # raises ModelNotFound
    if _anthropic(request):
        return _anthropic_model(model_id)
    return Model(id=model_id, created=CREATED)
