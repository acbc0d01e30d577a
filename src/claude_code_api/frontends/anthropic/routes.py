"""``POST /v1/messages`` (streaming and not, ``?beta=true`` too) and ``POST /v1/messages/count_tokens``."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from claude_code_api.core.events import Event
from claude_code_api.core.fold import AnswerFold
from claude_code_api.engine.claude.options import base_env
from claude_code_api.frontends.agent import agent_ask
from claude_code_api.frontends.anthropic.convert import conversation, to_completion_request
from claude_code_api.frontends.anthropic.count import estimate, exact_count
from claude_code_api.frontends.anthropic.models import CountTokensRequest, MessagesRequest
from claude_code_api.frontends.anthropic.render import MessageFraming, build_message
from claude_code_api.http.body import documented_body, parse_body
from claude_code_api.http.deps import record_of, state_of
from claude_code_api.http.sse import sse_response
from claude_code_api.http.whole import whole_answer

router = APIRouter()
Tagged = tuple[int, Event]


@router.post("/v1/messages", response_model=None, **documented_body(MessagesRequest))
async def create_message(request: Request) -> Response:
    body = await parse_body(request, MessagesRequest)
    state = state_of(request)
    model, agent = agent_ask(body.model, body.claude_code, state.models, enabled=state.settings.agent)
    completion = to_completion_request(
        body.model_copy(update={"model": model}), state.models, default_system=state.settings.default_system_prompt
    )
    completion = replace(completion, agent=agent)
    events = await state.service.stream(record_of(request), completion, requested_model=body.model)
    if body.stream:
        framing = MessageFraming(completion.model, request_id=_request_id(request))
        return await sse_response(request.receive, events, framing, state.settings.keepalive_interval)
    return await whole_answer(request, _complete(events, completion.model))


async def _complete(events: AsyncGenerator[Tagged, None], model: str) -> Response:
    fold = AnswerFold()
    async for _, event in events:
        fold.add(event)
    cost = fold.completed.cost_usd if fold.completed else None
    return JSONResponse(build_message(fold, model), headers={"X-Claude-Cost-USD": f"{cost or 0.0:.6f}"})


@router.post("/v1/messages/count_tokens", response_model=None, **documented_body(CountTokensRequest))
async def count_tokens(request: Request) -> Response:
    body = await parse_body(request, CountTokensRequest)
    state = state_of(request)
    # An agent model name counts as its chat model: the agent's own tools and prompt are not in the count.
    model = state.models.resolve(agent_ask(body.model, None, state.models, enabled=state.settings.agent)[0])
    system, turns = conversation(body, "")
    messages = [{"role": t.role, "content": list(t.blocks)} for t in turns]
    tools = [{k: v for k, v in t.items() if k in ("name", "description", "input_schema")} for t in body.tools or []]
    upstream: dict[str, object] = {"model": model, "messages": messages}
    if system:
        upstream["system"] = system
    if tools:
        upstream["tools"] = tools
    exact = await exact_count(base_env(state.settings), upstream)
    if exact is not None:
        return JSONResponse({"input_tokens": exact}, headers={"X-Token-Count": "exact"})
    counted = estimate(system, [b for t in turns for b in t.blocks], tools)
    return JSONResponse({"input_tokens": counted}, headers={"X-Token-Count": "estimate"})


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))
