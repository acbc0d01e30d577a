"""``POST /v1/chat/completions``: JSON or SSE, both from the same event stream of the completion service.

Streaming: a ``role`` chunk per choice, then one chunk per delta, a finish chunk per choice, the usage chunk when
``stream_options.include_usage`` asks for it, and ``data: [DONE]``; an error after the first byte goes in-band as
``data: {"error": …}`` before ``[DONE]`` (``http/sse.py`` owns the timing of all this).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from claude_code_api.core.events import Completed, Event, TokenUsage
from claude_code_api.core.fold import AnswerFold
from claude_code_api.errors import ApiError
from claude_code_api.frontends.agent import agent_ask
from claude_code_api.frontends.openai_chat.convert import to_completion_request
from claude_code_api.frontends.openai_chat.models import ChatCompletionRequest, dump_chunk, dump_completion
from claude_code_api.frontends.openai_chat.render import ChunkFactory, build_completion, total_cost
from claude_code_api.http.body import documented_body, parse_body
from claude_code_api.http.deps import record_of, state_of
from claude_code_api.http.errors import error_payload
from claude_code_api.http.sse import data_frame, sse_response
from claude_code_api.http.whole import whole_answer

router = APIRouter()
Tagged = tuple[int, Event]


@router.post("/v1/chat/completions", response_model=None, **documented_body(ChatCompletionRequest))
async def create_chat_completion(request: Request) -> Response:
    body = await parse_body(request, ChatCompletionRequest)
    state = state_of(request)
    model, agent = agent_ask(body.model, body.claude_code, state.models, enabled=state.settings.agent)
    completion = to_completion_request(
        body.model_copy(update={"model": model}),
        state.models,
        default_system=state.settings.default_system_prompt,
        show_thinking=state.settings.expose_reasoning,
    )
    completion = replace(completion, agent=agent)
    events = await state.service.stream(record_of(request), completion, requested_model=body.model, n=body.n)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        framing = ChatFraming(ChunkFactory(completion.model), body.n, include_usage)
        return await sse_response(request.receive, events, framing, state.settings.keepalive_interval)
    return await whole_answer(request, _complete(events, completion.model, body.n))


async def _complete(events: AsyncGenerator[Tagged, None], model: str, n: int) -> Response:
    choices = [AnswerFold() for _ in range(n)]
    async for index, event in events:
        choices[index].add(event)
    result = build_completion(model, choices)
    cost = total_cost(choices) or 0.0
    return JSONResponse(dump_completion(result), headers={"X-Claude-Cost-USD": f"{cost:.6f}"})


class ChatFraming:
    """OpenAI's chat stream: ``data:`` lines, a comment as keep-alive, ``[DONE]`` at the end, always."""

    heartbeat = ": keep-alive\n\n"

    def __init__(self, factory: ChunkFactory, n: int, include_usage: bool) -> None:
        self.factory = factory
        self.n = n
        self.include_usage = include_usage
        self.usage = TokenUsage()
        self.cost: float | None = None

    def _frame(self, chunk_json: str) -> str:
        return data_frame(chunk_json)

    def opening(self) -> list[str]:
        return [
            self._frame(dump_chunk(self.factory.role(i), include_usage_key=self.include_usage)) for i in range(self.n)
        ]

    def frames(self, item: Tagged) -> list[str]:
        index, event = item
        if isinstance(event, Completed):
            self.usage = self.usage + event.usage
            if event.cost_usd is not None:
                self.cost = (self.cost or 0.0) + event.cost_usd
        chunk = self.factory.for_event(event, index)
        return [self._frame(dump_chunk(chunk, include_usage_key=self.include_usage))] if chunk is not None else []

    def closing(self) -> list[str]:
        usage = [self._frame(dump_chunk(self.factory.usage(self.usage, self.cost), include_usage_key=True))]
        return [*(usage if self.include_usage else []), "data: [DONE]\n\n"]

    def failure(self, exc: ApiError) -> list[str]:
        _, payload, _ = error_payload(exc)
        return [data_frame(json.dumps(payload)), "data: [DONE]\n\n"]
