"""``GET /v1/models`` and ``GET /v1/models/{id}``: the names this server accepts."""

from __future__ import annotations

from fastapi import APIRouter, Request

from claude_code_api.http.deps import state_of
from claude_code_api.protocol.models import Model, ModelList

router = APIRouter()
CREATED = 1_735_689_600  # a fixed date: the list is configuration, not a history


@router.get("/v1/models")
async def list_models(request: Request) -> ModelList:
    names = state_of(request).models.listed()
    return ModelList(data=[Model(id=name, created=CREATED) for name in names])


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> Model:
    """Any name a chat request would accept (listed names, and full ``claude-…`` ids); else 404."""
    state_of(request).models.resolve(model_id)  # raises ModelNotFound
    return Model(id=model_id, created=CREATED)
