"""Claude Code's messages (as claude-agent-sdk parses them) → neutral events, for one turn (pure).

Text comes from the partial-message stream (``--include-partial-messages``) so deltas are true tokens;
the final ``result`` supplies usage, cost and the stop reason, and decides success or failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from claude_agent_sdk import AssistantMessage, ResultMessage, StreamEvent, ToolResultBlock, ToolUseBlock, UserMessage

from claude_code_api.core.activity import result_summary, use_summary
from claude_code_api.core.events import (
    BlockStarted,
    BlockStopped,
    Completed,
    Event,
    MessageStarted,
    SignatureDelta,
    StopReason,
    TextDelta,
    ThinkingDelta,
    TokenUsage,
    ToolActivity,
    ToolInputDelta,
)
from claude_code_api.engine.claude.upstream_text import without_addresses
from claude_code_api.errors import ApiError, NotLoggedIn, OutputInvalid, UpstreamError

CLIENT_TOOL_PREFIX = "mcp__fn__"
STRUCTURED_OUTPUT_TOOL = "StructuredOutput"


def usage_from_result(usage: dict[str, Any] | None) -> TokenUsage:
    usage = usage or {}
    details = usage.get("output_tokens_details") or {}
    return TokenUsage(
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
        reasoning_tokens=int(details.get("thinking_tokens") or 0),
    )


def error_from_result(result: ResultMessage) -> ApiError:
    text = without_addresses(result.result or "; ".join(result.errors or []) or result.subtype)
    if "Not logged in" in text or "/login" in text:
        return NotLoggedIn(text)
    status = result.api_error_status
    if status is None and result.subtype.startswith("error_max_turns"):
        return OutputInvalid(f"Claude Code stopped: {text}")
    return UpstreamError(text or "Claude Code failed.", status=status)


@dataclass
class TurnTranslator:
    """Feed it every SDK message of one turn; it returns the events to emit.

    A turn may make several upstream calls (each numbers its content blocks from 0); the answer the client sees
    numbers the blocks it shows in one sequence. Shown are text (not with ``structured``: the JSON answer comes
    from the result's ``structured_output`` once Claude Code has validated it), thinking with its signature (with
    ``show_thinking``) and calls of the client's functions; Claude Code's own tool calls are not. In agent mode
    (``workspace`` set) they become ``ToolActivity`` beside the blocks, each with its result; with ``separate_legs``
    (a client that joins text blocks into one string), text after activity starts on a new paragraph.
    """

    show_thinking: bool = False
    structured: bool = False
    continued: bool = False  # a parked turn going on: the result's usage also counts the earlier legs
    model: str = ""
    tool_calls: int = 0
    result: ResultMessage | None = None
    next_index: int = 0  # the answer's next block index
    _leg_blocks: dict[int, int] = field(default_factory=dict)  # this call's block index → the answer's
    started: bool = False
    saw_client_tool_stop: bool = False
    stream_usage: TokenUsage = field(default_factory=TokenUsage)  # this leg's upstream calls only
    last_stop_reason: str | None = None  # of the latest API response in this turn
    max_tokens_hit: bool = False  # sticky: what follows is Claude Code's own "resume" retry, not the answer
    priced_before: float = 0.0  # the process's total cost before this turn (Claude Code reports a running total)
    workspace: str | None = None  # agent mode: the workspace directory (paths in summaries are relative to it)
    separate_legs: bool = False
    _uses: dict[str, ToolActivity] = field(default_factory=dict)  # agent tool calls by id, awaiting their result
    _text_shown: bool = False
    _activity_since_text: bool = False

    @property
    def hit_max_tokens(self) -> bool:
        """Claude stopped at max_tokens. Claude Code would then retry with "resume" nudges (3 more requests,
        then an error), so the engine interrupts it and reports ``max_tokens`` as the API would."""
        return self.max_tokens_hit

    def feed(self, message: object) -> list[Event]:
        if isinstance(message, StreamEvent) and message.parent_tool_use_id is None:
            return self._stream_event(message.event)
        if isinstance(message, ResultMessage):
            self.result = message
        if self.workspace is not None and isinstance(message, AssistantMessage | UserMessage):
            return self._activity(message)
        return []

    def _activity(self, message: AssistantMessage | UserMessage) -> list[Event]:
        """Agent mode: Claude Code's own tool calls (complete, as each leg's message files them) and their
        results, in the order they happen."""
        if message.parent_tool_use_id is not None or isinstance(message.content, str):
            return []  # a subagent's inner work: its own call (and result) is what the client sees
        events: list[Event] = []
        for block in message.content:
            if isinstance(block, ToolUseBlock) and _is_agent_tool(block.name):
                use = ToolActivity(
                    "tool_use",
                    block.id,
                    block.name,
                    use_summary(block.name, block.input, self.workspace or ""),
                    input=dict(block.input),
                )
                self._uses[block.id] = use
                events.append(use)
            elif isinstance(block, ToolResultBlock) and block.tool_use_id in self._uses:
                use = self._uses.pop(block.tool_use_id)
                content, failed = _result_text(block.content), bool(block.is_error)
                summary = result_summary(use.name, use.summary, content, failed)
                events.append(ToolActivity("tool_result", use.id, use.name, summary, content=content, is_error=failed))
        self._activity_since_text = self._activity_since_text or bool(events)
        return events

    def _stream_event(self, event: dict[str, Any]) -> list[Event]:
        kind = event.get("type")
        if kind == "content_block_start":
            return self._block_start(event.get("index", 0), event.get("content_block") or {})
        if kind == "content_block_delta":
            return self._block_delta(event.get("index", 0), event.get("delta") or {})
        if kind == "content_block_stop":
            index = self._leg_blocks.get(event.get("index", 0))
            return [BlockStopped(index)] if index is not None and not self.max_tokens_hit else []
        if kind == "message_start":
            return self._message_start(event)
        if kind == "message_delta":
            output = int((event.get("usage") or {}).get("output_tokens") or 0)
            self.stream_usage = replace(self.stream_usage, output_tokens=self.stream_usage.output_tokens + output)
            self.last_stop_reason = (event.get("delta") or {}).get("stop_reason")
            self.max_tokens_hit = self.max_tokens_hit or self.last_stop_reason == "max_tokens"
            if self.last_stop_reason == "tool_use" and self.tool_calls:
                self.saw_client_tool_stop = True
        return []

    def _message_start(self, event: dict[str, Any]) -> list[Event]:
        self._leg_blocks = {}
        # Output tokens are counted once, from message_delta; message_start carries only a placeholder.
        start = replace(usage_from_result((event.get("message") or {}).get("usage")), output_tokens=0)
        self.stream_usage = self.stream_usage + start
        if self.started:
            return []
        self.started = True
        return [MessageStarted(start)]

    def _block_start(self, index: int, block: dict[str, Any]) -> list[Event]:
        if self.max_tokens_hit:
            return []
        kind = block.get("type")
        name = str(block.get("name", ""))
        if kind == "text" and not self.structured:
            return self._open_text(index)
        if kind == "thinking" and self.show_thinking:
            return [self._open(index, BlockStarted(self.next_index, "thinking"))]
        if kind == "redacted_thinking" and self.show_thinking:
            data = str(block.get("data", ""))
            return [self._open(index, BlockStarted(self.next_index, "redacted_thinking", data=data))]
        if kind == "tool_use" and name.startswith(CLIENT_TOOL_PREFIX):
            self.tool_calls += 1
            started = BlockStarted(
                self.next_index, "tool_use", str(block.get("id", "")), name[len(CLIENT_TOOL_PREFIX) :]
            )
            return [self._open(index, started)]
        return []

    def _open_text(self, leg_index: int) -> list[Event]:
        started = self._open(leg_index, BlockStarted(self.next_index, "text"))
        separate = self.separate_legs and self._text_shown and self._activity_since_text
        self._text_shown, self._activity_since_text = True, False
        return [started, TextDelta("\n\n", started.index)] if separate else [started]

    def _open(self, leg_index: int, started: BlockStarted) -> BlockStarted:
        self._leg_blocks[leg_index] = started.index
        self.next_index += 1
        return started

    def _block_delta(self, leg_index: int, delta: dict[str, Any]) -> list[Event]:
        index = self._leg_blocks.get(leg_index)
        if self.max_tokens_hit or index is None:
            return []  # a retry Claude Code may start before the engine's interrupt lands is not the answer
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [TextDelta(delta["text"], index)]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [ThinkingDelta(delta["thinking"], index)]
        if kind == "signature_delta" and delta.get("signature"):
            return [SignatureDelta(delta["signature"], index)]
        if kind == "input_json_delta" and delta.get("partial_json"):
            return [ToolInputDelta(delta["partial_json"], index)]
        return []

    def turn_cost(self, result: ResultMessage) -> float | None:
        """This turn's cost: Claude Code's ``total_cost_usd`` is the running total of the process (measured on CLI
        2.1.332: the second turn on a process reports both), so the total before the turn is taken off."""
        total = result.total_cost_usd
        if total is None:
            return None
        return total - self.priced_before if total >= self.priced_before else total

    def finish_at_tool_calls(self) -> list[Event]:
        """Ends the response where Claude called client functions, while the turn itself waits for results."""
        return [Completed("tool_use", self.stream_usage, model=self.model)]

    def finish(self) -> list[Event]:
        """Events that close the turn once ``result`` arrived; raises the turn's error if it failed."""
        result = self.result
        assert result is not None
        usage = self.stream_usage if self.continued else usage_from_result(result.usage)
        # Claude Code prices the whole turn; for a continued turn that includes the leg that ended at the calls
        # (reported without a cost), so the turn's cost is counted once, here.
        cost = self.turn_cost(result)
        if self.tool_calls and (self.saw_client_tool_stop or result.terminal_reason == "aborted_tools"):
            return [Completed("tool_use", usage, cost, model=self.model)]
        if self.max_tokens_hit or self.last_stop_reason == "refusal":
            # Claude Code reports both as errors; clients expect a normal finish with what was said.
            reason: StopReason = "max_tokens" if self.max_tokens_hit else "refusal"
            return [Completed(reason, usage, cost, model=self.model)]
        if self.workspace is not None and result.subtype == "error_max_turns":
            # The agent loop reached its bound: Claude's own word for a turn paused mid-work is pause_turn.
            return [Completed("pause_turn", usage, cost, model=self.model)]
        if result.is_error:
            raise error_from_result(result)
        events: list[Event] = []
        if self.structured:
            if result.structured_output is None:
                raise OutputInvalid("Claude did not produce JSON that matches the requested schema.")
            index = self.next_index
            self.next_index += 1
            text = json.dumps(result.structured_output, ensure_ascii=False)
            events += [BlockStarted(index, "text"), TextDelta(text, index), BlockStopped(index)]
        events.append(Completed(_stop_reason(result.stop_reason), usage, cost, model=self.model))
        return events


def _is_agent_tool(name: str) -> bool:
    return not name.startswith(CLIENT_TOOL_PREFIX) and name != STRUCTURED_OUTPUT_TOOL


def _result_text(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, str):
        return content
    parts = content or []
    return "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text")


def _stop_reason(reported: str | None) -> StopReason:
    if reported in STOP_REASONS:
        return STOP_REASONS[reported]
    return "end_turn"  # includes "tool_use": Claude Code's own tool use (e.g. structured output), not a client call


STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "stop_sequence": "stop_sequence",
    "pause_turn": "pause_turn",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "model_context_window_exceeded",
    "refusal": "refusal",
}
