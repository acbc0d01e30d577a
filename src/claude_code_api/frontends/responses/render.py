"""Neutral events → Responses API stream events, and → one ``Response`` object by folding the same events.

An ``Assembly`` folds one answer (``AnswerFold``) and gives each visible Claude block its output item: the id and
``output_index`` are fixed when the block starts, so ``output_item.added``, ``.done`` and the final response always
agree (openai-node's stream helper rejects streams where they differ). Text blocks become ``message`` items with
one ``output_text`` part, ``tool_use`` blocks ``function_call`` items (``call_id`` is Claude's ``toolu_`` id), and
thinking (present only when the server exposes it) ``reasoning`` items with a summary; redacted thinking is not shown.
An agent's activity is the ``claude_code`` extension of the response, streamed as ``response.claude_code.activity``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from claude_code_api.core.events import (
    BlockStarted,
    BlockStopped,
    Event,
    TextDelta,
    ThinkingDelta,
    TokenUsage,
    ToolActivity,
    ToolInputDelta,
)
from claude_code_api.core.fold import AnswerFold, FoldedBlock
from claude_code_api.errors import ApiError, CapacityExceeded, RateLimited
from claude_code_api.frontends.responses.models import CreateResponse
from claude_code_api.http.errors import status_and_type
from claude_code_api.http.sse import event_frame

Json = dict[str, Any]
_PREFIX = {"text": "msg_", "tool_use": "fc_", "thinking": "rs_"}
# Agent mode: each step of the agent as it happens (the openai SDKs pass unknown event types through).
ACTIVITY_EVENT = "response.claude_code.activity"
_INCOMPLETE = {"max_tokens": "max_output_tokens", "model_context_window_exceeded": "max_output_tokens"}


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(24)


def echoed_settings(req: CreateResponse, response_id: str, model: str) -> Json:
    """The response object before it has output: its id, the model and the request's settings, echoed."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": req.instructions,
        "max_output_tokens": req.max_output_tokens,
        "model": model,
        "output": [],
        "parallel_tool_calls": req.parallel_tool_calls if req.parallel_tool_calls is not None else True,
        "previous_response_id": req.previous_response_id,
        "reasoning": {"effort": req.reasoning.effort if req.reasoning else None, "summary": None},
        "store": req.store,
        "temperature": req.temperature if req.temperature is not None else 1.0,
        "text": {"format": (req.text.format if req.text and req.text.format else None) or {"type": "text"}},
        "tool_choice": req.tool_choice if req.tool_choice is not None else "auto",
        "tools": [_echo_tool(t) for t in req.tools or []],
        "top_p": req.top_p if req.top_p is not None else 1.0,
        "truncation": req.truncation or "disabled",
        "metadata": req.metadata or {},
        **({"user": req.user} if req.user is not None else {}),  # the schema has no null user
    }


def _echo_tool(tool: Json) -> Json:
    return {"strict": True, "description": None, "parameters": None, **tool}


def usage_of(usage: TokenUsage, cost_usd: float | None = None) -> Json:
    """Responses usage: ``input_tokens`` includes cached input, as OpenAI counts it; ``cost_usd`` (an extension:
    a stream has no cost header) once the answer is priced."""
    return {
        **({"cost_usd": cost_usd} if cost_usd is not None else {}),
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def text_part(text: str) -> Json:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def item_of(block: FoldedBlock, item_id: str, status: str = "completed") -> Json:
    """The output item of one folded block (``status`` ``in_progress`` gives the empty item of ``.added``)."""
    done = status == "completed"
    if block.kind == "text":
        content = [text_part(block.content)] if done else []
        return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}
    if block.kind == "tool_use":
        arguments = (block.content or "{}") if done else ""
        return {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "call_id": block.id,
            "name": block.name,
            "arguments": arguments,
        }
    summary = [{"type": "summary_text", "text": block.content}] if done else []
    return {"id": item_id, "type": "reasoning", "summary": summary}


@dataclass
class Assembly:
    """One response being built: the echoed settings, the fold of its events and each visible block's item."""

    base: Json
    fold: AnswerFold = field(default_factory=AnswerFold)
    slots: dict[int, tuple[int, str]] = field(default_factory=dict)  # block index → (output_index, item id)

    @property
    def id(self) -> str:
        return str(self.base["id"])

    def add(self, event: Event) -> None:
        if isinstance(event, BlockStarted) and event.kind in _PREFIX:
            self.slots[event.index] = (len(self.slots), new_id(_PREFIX[event.kind]))
        self.fold.add(event)

    def output(self) -> list[Json]:
        return [item_of(self.fold.blocks[index], item_id) for index, (_, item_id) in sorted(self.slots.items())]

    def response(self) -> Json:
        """The response as it stands: in progress, or finished with its status, output and usage."""
        completed = self.fold.completed
        if completed is None:
            return dict(self.base)
        reason = _INCOMPLETE.get(completed.stop_reason) or (
            "content_filter" if completed.stop_reason == "refusal" else None
        )
        return {
            **self.base,
            "status": "incomplete" if reason else "completed",
            "completed_at": int(time.time()),
            "incomplete_details": {"reason": reason} if reason else None,
            "model": completed.model or self.base["model"],
            "output": self.output(),
            "usage": usage_of(completed.usage, completed.cost_usd),
            **({"claude_code": {"activity": self.fold.activity_records()}} if self.fold.activity else {}),
        }

    def failed(self, exc: ApiError) -> Json:
        code = "rate_limit_exceeded" if isinstance(exc, RateLimited | CapacityExceeded) else "server_error"
        return {
            **self.base,
            "status": "failed",
            "error": {"code": code, "message": exc.message},
            "output": self.output(),
        }


class ResponsesFraming:
    """The Responses stream: ``event:`` + ``data:`` frames numbered by ``sequence_number``, no ``[DONE]``.

    The events reach the framing already folded into the assembly (the route folds them before they are framed,
    so the response is stored before ``response.completed`` goes out).
    """

    heartbeat = ": keep-alive\n\n"

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self._sequence = 0

    def _event(self, kind: str, **payload: Any) -> str:
        frame = event_frame(kind, {"type": kind, "sequence_number": self._sequence, **payload})
        self._sequence += 1
        return frame

    def opening(self) -> list[str]:
        response = self.assembly.response()
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def frames(self, item: tuple[int, Event]) -> list[str]:
        _, event = item
        if isinstance(event, ToolActivity):
            return [self._event(ACTIVITY_EVENT, activity=event.record())]
        index = getattr(event, "index", None)
        if index not in self.assembly.slots:
            return []
        output_index, item_id = self.assembly.slots[index]
        block = self.assembly.fold.blocks[index]
        at: Json = {"item_id": item_id, "output_index": output_index}
        if isinstance(event, BlockStarted):
            return self._started(block, output_index, item_id, at)
        if isinstance(event, TextDelta):
            return [self._event("response.output_text.delta", **at, content_index=0, delta=event.text, logprobs=[])]
        if isinstance(event, ToolInputDelta):
            return [self._event("response.function_call_arguments.delta", **at, delta=event.partial_json)]
        if isinstance(event, ThinkingDelta):
            return [self._event("response.reasoning_summary_text.delta", **at, summary_index=0, delta=event.thinking)]
        if isinstance(event, BlockStopped):
            return self._stopped(block, output_index, item_id, at)
        return []

    def _started(self, block: FoldedBlock, output_index: int, item_id: str, at: Json) -> list[str]:
        added = [
            self._event(
                "response.output_item.added", output_index=output_index, item=item_of(block, item_id, "in_progress")
            )
        ]
        if block.kind == "text":
            added.append(self._event("response.content_part.added", **at, content_index=0, part=text_part("")))
        elif block.kind == "thinking":
            part = {"type": "summary_text", "text": ""}
            added.append(self._event("response.reasoning_summary_part.added", **at, summary_index=0, part=part))
        return added

    def _stopped(self, block: FoldedBlock, output_index: int, item_id: str, at: Json) -> list[str]:
        item = item_of(block, item_id)
        if block.kind == "text":
            text = block.content
            done = [
                self._event("response.output_text.done", **at, content_index=0, text=text, logprobs=[]),
                self._event("response.content_part.done", **at, content_index=0, part=text_part(text)),
            ]
        elif block.kind == "tool_use":
            done = [
                self._event("response.function_call_arguments.done", **at, name=block.name, arguments=item["arguments"])
            ]
        else:
            part = {"type": "summary_text", "text": block.content}
            done = [
                self._event("response.reasoning_summary_text.done", **at, summary_index=0, text=block.content),
                self._event("response.reasoning_summary_part.done", **at, summary_index=0, part=part),
            ]
        return [*done, self._event("response.output_item.done", output_index=output_index, item=item)]

    def closing(self) -> list[str]:
        response = self.assembly.response()
        if response["status"] == "in_progress":  # the engine ended without Completed: a bug, reported as one
            return self.failure(ApiError("The answer ended before it was complete."))
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return [self._event(kind, response=response)]

    def failure(self, exc: ApiError) -> list[str]:
        _, error_type = status_and_type(exc)
        error = self._event("error", code=exc.code or error_type, message=exc.message, param=exc.param)
        return [error, self._event("response.failed", response=self.assembly.failed(exc))]
