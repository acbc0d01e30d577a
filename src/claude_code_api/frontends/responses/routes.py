"""``/v1/responses``: create (JSON or SSE), retrieve, delete and list input items of stored responses.

A created response runs through the completion service like every completion (keys, limits, accounting); its
events are folded into an ``Assembly`` as they pass, and the response is stored (unless ``store`` is false)
before the last event goes out, so a client may continue it as soon as it has seen ``response.completed``.
Any other path under ``/v1/responses/`` is a 404 in OpenAI's envelope (FastAPI would say 405).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from claude_code_api.core.request import CompletionRequest
from claude_code_api.errors import InvalidRequest, NotFound
from claude_code_api.frontends.agent import agent_ask
from claude_code_api.frontends.responses.convert import append_merged, to_completion_request
from claude_code_api.frontends.responses.models import CreateResponse
from claude_code_api.frontends.responses.render import Assembly, ResponsesFraming, echoed_settings, new_id
from claude_code_api.frontends.responses.store import ResponseStore, StoredResponse, open_store
from claude_code_api.http.body import documented_body, parse_body
from claude_code_api.http.deps import record_of, state_of
from claude_code_api.http.sse import sse_response
from claude_code_api.http.whole import whole_answer
from claude_code_api.ops.redis_store import reachable
from claude_code_api.ops.usage import Tagged
from claude_code_api.settings import Settings

Json = dict[str, Any]


class StoreHolder:
    """Opens the response store on first use (no import-time state; ASGI test clients run no lifespan)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: ResponseStore | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> ResponseStore:
        async with self._lock:
            if self._store is None:
                self._store = await open_store(self._settings)
            return self._store

    async def aclose(self) -> None:
        if self._store is not None:
            await self._store.aclose()
            self._store = None


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    try:
        yield
    finally:
        holder: StoreHolder | None = getattr(app.state, "responses_store", None)
        if holder is not None:
            await holder.aclose()


router = APIRouter(lifespan=_lifespan)


async def store_of(request: Request) -> ResponseStore:
    holder: StoreHolder | None = getattr(request.app.state, "responses_store", None)
    if holder is None:
        holder = request.app.state.responses_store = StoreHolder(state_of(request).settings)
    with reachable():
        return await holder.get()


def owner_of(request: Request) -> str:
    record = record_of(request)
    return record.key_name if record is not None else ""


async def owned(request: Request, response_id: str, param: str | None = None) -> StoredResponse:
    """The stored response, if it exists and belongs to the caller's key; another key's is "not found" too."""
    store = await store_of(request)
    with reachable():
        entry = await store.load(response_id)
    if entry is None or entry.owner != owner_of(request):
        message = f"Response with id '{response_id}' not found."
        raise InvalidRequest(message, param=param) if param else NotFound(message)
    return entry


@router.post("/v1/responses", response_model=None, **documented_body(CreateResponse))
async def create_response(request: Request) -> Response:
    body = await parse_body(request, CreateResponse)
    state = state_of(request)
    previous = (
        await owned(request, body.previous_response_id, "previous_response_id") if body.previous_response_id else None
    )
    model, agent = agent_ask(body.model, body.claude_code, state.models, enabled=state.settings.agent)
    completion = to_completion_request(
        body.model_copy(update={"model": model}),
        state.models,
        previous.turns if previous else (),
        default_system=state.settings.default_system_prompt,
        show_thinking=state.settings.expose_reasoning,
    )
    completion = replace(completion, agent=agent)
    assembly = Assembly(echoed_settings(body, new_id("resp_"), completion.model))
    entry = _Entry(owner_of(request), input_items(body.input), completion) if body.store else None
    events = await state.service.stream(record_of(request), completion, requested_model=body.model)
    folded = _folded(events, assembly, await store_of(request) if entry else None, entry)
    if body.stream:
        return await sse_response(
            request.receive, folded, ResponsesFraming(assembly), state.settings.keepalive_interval
        )
    return await whole_answer(request, _complete(folded, assembly))


class _Entry:
    """What is stored once the answer is known: the owner, the input items and the conversation so far."""

    def __init__(self, owner: str, items: list[Json], completion: CompletionRequest) -> None:
        self.owner = owner
        self.items = items
        self.completion = completion

    def with_answer(self, assembly: Assembly) -> StoredResponse:
        turns = [*self.completion.history, self.completion.prompt]
        answer = assembly.fold.as_turn("openai")
        if answer is not None:
            append_merged(turns, answer)
        return StoredResponse(self.owner, assembly.response(), self.items, tuple(turns))


async def _folded(
    events: AsyncGenerator[Tagged, None], assembly: Assembly, store: ResponseStore | None, entry: _Entry | None
) -> AsyncGenerator[Tagged, None]:
    """Pass the events on, folded into ``assembly``; store the response once the answer completed."""
    try:
        async for index, event in events:
            assembly.add(event)
            yield index, event
    finally:
        await events.aclose()
    if store is not None and entry is not None and assembly.fold.completed is not None:
        with reachable():
            await store.save(assembly.id, entry.with_answer(assembly))


async def _complete(events: AsyncGenerator[Tagged, None], assembly: Assembly) -> Response:
    async for _ in events:
        pass
    completed = assembly.fold.completed
    cost = (completed.cost_usd or 0.0) if completed else 0.0
    return JSONResponse(assembly.response(), headers={"X-Claude-Cost-USD": f"{cost:.6f}"})


def input_items(value: str | list[Json]) -> list[Json]:
    """The request's input as the ``input_items`` list shows it: every item with an id."""
    items = [{"type": "message", "role": "user", "content": value}] if isinstance(value, str) else value
    listed = []
    for item in items:
        listed_item = {"id": new_id("msg_" if item.get("type", "message") == "message" else "item_"), **item}
        if listed_item.get("type", "message") == "message":
            content = listed_item.get("content")
            if isinstance(content, str):
                listed_item["content"] = [{"type": "input_text", "text": content}]
            listed_item.setdefault("type", "message")
            listed_item.setdefault("status", "completed")
        listed.append(listed_item)
    return listed


@router.get("/v1/responses/{response_id}", response_model=None)
async def retrieve_response(request: Request, response_id: str) -> JSONResponse:
    entry = await owned(request, response_id)
    return JSONResponse(entry.response)


@router.delete("/v1/responses/{response_id}", response_model=None)
async def delete_response(request: Request, response_id: str) -> JSONResponse:
    await owned(request, response_id)
    store = await store_of(request)
    with reachable():
        await store.delete(response_id)
    return JSONResponse({"id": response_id, "object": "response", "deleted": True})


@router.get("/v1/responses/{response_id}/input_items", response_model=None)
async def list_input_items(
    request: Request, response_id: str, order: str = "desc", limit: int = 20, after: str | None = None
) -> JSONResponse:
    if order not in ("asc", "desc"):
        raise InvalidRequest("order must be asc or desc.", param="order")
    if not 1 <= limit <= 100:
        raise InvalidRequest("limit must be between 1 and 100.", param="limit")
    entry = await owned(request, response_id)
    items = entry.input_items if order == "asc" else entry.input_items[::-1]
    if after is not None:
        ids = [i.get("id") for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    return JSONResponse(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
    )


async def _unknown(request: Request) -> Response:
    raise HTTPException(404)  # rendered by the app as its 404 listing the endpoints it offers


# A plain route (not an APIRoute), so it is neither documented nor listed among the offered endpoints.
router.add_route(
    "/v1/responses/{rest:path}", _unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
