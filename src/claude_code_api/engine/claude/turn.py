"""One turn on a live process, between writing the prompt and the ``result``: what to emit and what it leaves.

Owns the stop-sequence cut (which interrupts Claude Code), the ``max_tokens`` interrupt (Claude Code would
otherwise send "resume" retries), the early end at client function calls (the turn then waits, parked), and
the record of what the process holds afterwards, as the client will send it back.
"""

from __future__ import annotations

import json

from claude_code_api.core.events import Completed, Event, TextDelta, ToolCallArguments, ToolCallStarted
from claude_code_api.core.request import Block, CompletionRequest, Turn
from claude_code_api.core.stop import StopSequenceCutter
from claude_code_api.engine.claude.session import LiveSession
from claude_code_api.engine.claude.translate import TurnTranslator, usage_from_result


class TurnRun:
    def __init__(self, session: LiveSession, request: CompletionRequest) -> None:
        self.session = session
        self.request = request
        # A continued turn was already under way (its earlier legs were reported); a re-run one starts now.
        continued = session.submitted == "continue"
        self.translator = TurnTranslator(request.want_reasoning, request.output_schema is not None, continued=continued)
        self.cutter = StopSequenceCutter(request.stop)
        self.answer = AnswerRecorder()
        self.interrupted = False

    async def begin(self) -> None:
        if self.session.submitted:  # the CLI already runs this turn: nothing to write on its stdin
            self.session.submitted = ""
        else:
            await self.session.send(self.request.prompt)

    @property
    def done(self) -> bool:
        return self.translator.result is not None

    @property
    def stops_at_tool_calls(self) -> bool:
        return self.session.tools is not None and self.translator.saw_client_tool_stop

    def park(self) -> list[Event]:
        """Claude called client functions: the answer ends here, while the turn waits for their results."""
        self.session.record_answer(self.answer.turn())
        self.session.pending_calls = self.answer.call_ids()
        return self.translator.finish_at_tool_calls()

    async def feed(self, message: object) -> list[Event]:
        out: list[Event] = []
        for event in self.translator.feed(message):
            for kept in await self._cut(event):
                self.answer.add(kept)
                out.append(kept)
        if self.translator.hit_max_tokens and not self.interrupted:
            self.interrupted = True
            await self.session.interrupt()
        return out

    async def _cut(self, event: Event) -> list[Event]:
        """Applies the stop sequences; on the first hit, interrupts the CLI (its result still reports usage)."""
        if self.cutter.hit:
            return []
        if not isinstance(event, TextDelta):
            return [event]
        text = self.cutter.feed(event.text)
        if self.cutter.hit:
            await self.session.interrupt()
        return [TextDelta(text)] if text else []

    def closing_events(self) -> list[Event]:
        """After the ``result``: the held-back tail, the finish (or the turn's error), and the record of the turn."""
        result = self.translator.result
        assert result is not None
        if self.cutter.hit:
            self.session.record_answer(None)
            return [Completed("stop", usage_from_result(result.usage), result.total_cost_usd)]
        tail = self.cutter.flush()
        events: list[Event] = [TextDelta(tail)] if tail else []
        events += self.translator.finish()
        for event in events:
            self.answer.add(event)
        exact = not (self.request.output_schema or self.interrupted)
        self.session.record_answer(self.answer.turn() if exact else None)
        return events


class AnswerRecorder:
    """Rebuilds the assistant turn as the client will send it back in its next request's history."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: dict[int, Block] = {}
        self.arguments: dict[int, list[str]] = {}

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.text.append(event.text)
        elif isinstance(event, ToolCallStarted):
            self.calls[event.index] = {"type": "tool_use", "id": event.id, "name": event.name}
            self.arguments[event.index] = []
        elif isinstance(event, ToolCallArguments):
            self.arguments[event.index].append(event.fragment)

    def call_ids(self) -> list[str]:
        return [str(self.calls[i]["id"]) for i in sorted(self.calls)]

    def turn(self) -> Turn | None:
        blocks: list[Block] = [{"type": "text", "text": "".join(self.text)}] if "".join(self.text) else []
        for index in sorted(self.calls):
            try:
                arguments = json.loads("".join(self.arguments[index]) or "{}")
            except json.JSONDecodeError:
                return None
            blocks.append({**self.calls[index], "input": arguments})
        return Turn("assistant", tuple(blocks)) if blocks else None
