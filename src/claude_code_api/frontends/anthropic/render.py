"""Neutral events → Anthropic's ``Message`` (non-streaming, by folding) and its event stream (streaming).

The lossless view: blocks keep Claude's order and indices, thinking keeps its signature, tool_use keeps Claude's
``toolu_…`` id, ``stop_reason``/``stop_sequence`` are Claude's own, and usage keeps cache reads and writes apart
from ``input_tokens``. Every key of the current ``Message`` schema is present (null where unknown), since strict
clients validate it and send ``content`` back as the next turn. An agent's activity is never a content block (the
client would send it back): it is the ``claude_code`` extension of the message, streamed as ``claude_code_activity``
events.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from claude_code_api.core.events import (
    BlockStarted,
    BlockStopped,
    Completed,
    Event,
    MessageStarted,
    SignatureDelta,
    TextDelta,
    ThinkingDelta,
    TokenUsage,
    ToolActivity,
    ToolInputDelta,
)
from claude_code_api.core.fold import AnswerFold, FoldedBlock
from claude_code_api.errors import ApiError
from claude_code_api.frontends.anthropic.errors import AnthropicErrors
from claude_code_api.http.sse import event_frame

# Agent mode: each step of the agent as it happens; the anthropic SDKs pass event types they do not know through.
ACTIVITY_EVENT = "claude_code_activity"
PING = 'event: ping\ndata: {"type":"ping"}\n\n'


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def usage_json(usage: TokenUsage, *, output: bool = True, cost_usd: float | None = None) -> dict[str, Any]:
    """Anthropic's usage object; ``cost_usd`` (an extension: a stream has no cost header) once the answer is priced."""
    priced = {"cost_usd": cost_usd} if cost_usd is not None else {}
    return {
        **priced,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens if output else 0,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation": None,
        "server_tool_use": None,
        "service_tier": "standard",
        "inference_geo": None,
        "output_tokens_details": None,
        "speed": None,
    }


def message_json(
    message_id: str, model: str, content: list[dict[str, Any]], completed: Completed | None, usage: TokenUsage
) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": (completed.model if completed else "") or model,
        "content": content,
        "stop_reason": completed.stop_reason if completed else None,
        "stop_sequence": completed.stop_sequence if completed else None,
        "stop_details": None,
        "container": None,
        "diagnostics": None,
        "usage": usage_json(usage, cost_usd=completed.cost_usd if completed else None),
    }


def block_json(block: FoldedBlock) -> dict[str, Any]:
    if block.kind == "text":
        return {"type": "text", "text": block.content, "citations": None}
    if block.kind == "thinking":
        return {"type": "thinking", "thinking": block.content, "signature": block.signature}
    if block.kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input() or {}, "caller": _DIRECT}


_DIRECT = {"type": "direct"}


def build_message(fold: AnswerFold, model: str, message_id: str | None = None) -> dict[str, Any]:
    content = [block_json(b) for b in fold.ordered() if not (b.kind == "text" and not b.content)]
    message = message_json(message_id or new_message_id(), model, content, fold.completed, fold.usage)
    if fold.activity:
        message["claude_code"] = {"activity": fold.activity_records()}
    return message


def _start_block(event: BlockStarted) -> dict[str, Any]:
    if event.kind == "text":
        return {"type": "text", "text": "", "citations": None}
    if event.kind == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    if event.kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": event.data}
    return {"type": "tool_use", "id": event.id, "name": event.name, "input": {}, "caller": _DIRECT}


def _delta(event: Event) -> dict[str, Any] | None:
    if isinstance(event, TextDelta):
        return {"type": "text_delta", "text": event.text}
    if isinstance(event, ThinkingDelta):
        return {"type": "thinking_delta", "thinking": event.thinking}
    if isinstance(event, SignatureDelta):
        return {"type": "signature_delta", "signature": event.signature}
    if isinstance(event, ToolInputDelta):
        return {"type": "input_json_delta", "partial_json": event.partial_json}
    return None


@dataclass
class MessageFraming:
    """Anthropic's stream: every event with its ``event:`` line (the SDK drops events without one), ``ping`` during
    silences, ``message_start`` first, ``message_delta`` and ``message_stop`` last, no ``[DONE]``."""

    model: str
    request_id: str = ""
    message_id: str = field(default_factory=new_message_id)
    heartbeat: str = PING
    started: bool = False

    def opening(self) -> list[str]:
        return []

    def _start(self, usage: TokenUsage) -> list[str]:
        self.started = True
        message = message_json(self.message_id, self.model, [], None, usage)
        message["usage"] = usage_json(usage, output=False)
        return [event_frame("message_start", {"type": "message_start", "message": message})]

    def frames(self, item: tuple[int, Event]) -> list[str]:
        _, event = item
        out = [] if self.started else self._start(event.usage if isinstance(event, MessageStarted) else TokenUsage())
        if isinstance(event, BlockStarted):
            block = {"type": "content_block_start", "index": event.index, "content_block": _start_block(event)}
            out.append(event_frame("content_block_start", block))
        elif isinstance(event, BlockStopped):
            out.append(event_frame("content_block_stop", {"type": "content_block_stop", "index": event.index}))
        elif isinstance(event, Completed):
            out += self._finish(event)
        elif isinstance(event, ToolActivity):
            out.append(event_frame(ACTIVITY_EVENT, {"type": ACTIVITY_EVENT, "activity": event.record()}))
        elif (delta := _delta(event)) is not None:
            index = getattr(event, "index", 0)
            out.append(
                event_frame("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            )
        return out

    def _finish(self, completed: Completed) -> list[str]:
        delta = {"stop_reason": completed.stop_reason, "stop_sequence": completed.stop_sequence, "stop_details": None}
        usage = usage_json(completed.usage, cost_usd=completed.cost_usd)
        message_delta = {"type": "message_delta", "delta": delta, "usage": usage}
        return [event_frame("message_delta", message_delta), event_frame("message_stop", {"type": "message_stop"})]

    def closing(self) -> list[str]:
        return []  # message_stop went out with Completed; Anthropic streams have no terminator

    def failure(self, exc: ApiError) -> list[str]:
        _, body, _ = AnthropicErrors().render(exc, self.request_id)
        return [event_frame("error", body)]
