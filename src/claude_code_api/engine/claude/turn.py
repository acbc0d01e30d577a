"""One turn on a live process, between writing the prompt and the ``result``: what to emit and what it leaves.

Owns the stop-sequence cut (which interrupts Claude Code), the ``max_tokens`` interrupt (Claude Code would
otherwise send "resume" retries), and the early end at client function calls (the turn then waits, parked).
It does not change the conversation the session records (it only notes the CLI session ids it sees, whose files
the session removes when it closes): it ends with a ``TurnOutcome`` saying what the process now holds, and the pool
applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

from claude_code_api.core.events import BlockStopped, Completed, Event, TextDelta
from claude_code_api.core.fold import AnswerFold
from claude_code_api.core.request import CompletionRequest, Turn
from claude_code_api.core.stop import StopSequenceCutter
from claude_code_api.engine.claude.session import LiveSession
from claude_code_api.engine.claude.translate import TurnTranslator, usage_from_result


@dataclass(frozen=True)
class TurnOutcome:
    """What a finished turn leaves: the answer as the client will send it back (None: the process holds something
    the client won't echo), and the client function calls it now waits for (parked when not empty)."""

    answer: Turn | None
    pending_calls: tuple[str, ...] = ()
    priced_total: float | None = None  # the process's running total cost after the turn, when it reported one


class TurnRun:
    def __init__(self, session: LiveSession, request: CompletionRequest) -> None:
        self.session = session
        self.request = request
        # A continued turn was already under way (its earlier legs were reported); a re-run one starts now.
        self.translator = TurnTranslator(
            show_thinking=request.show_thinking,
            structured=request.output_schema is not None,
            continued=session.submitted == "continue",
            model=request.model,
            workspace=request.agent.directory if request.agent else None,
            separate_legs=request.client_view == "openai",
            priced_before=session.priced_total,
        )
        self.cutter = StopSequenceCutter(request.stop_sequences)
        self.answer = AnswerFold()
        self.interrupted = False
        self.outcome: TurnOutcome | None = None

    async def begin(self) -> None:
        if not self.session.submitted:  # else the CLI already runs this turn: nothing to write on its stdin
            await self.session.send(self.request.prompt)

    @property
    def done(self) -> bool:
        return self.translator.result is not None

    @property
    def stops_at_tool_calls(self) -> bool:
        return self.session.tools is not None and self.translator.saw_client_tool_stop

    def park(self) -> list[Event]:
        """Claude called client functions: the answer ends here, while the turn waits for their results."""
        events = self.translator.finish_at_tool_calls()
        self._record(events)
        calls = tuple(b.id for b in self.answer.of_kind("tool_use"))
        self.outcome = TurnOutcome(self.answer.as_turn(self.request.client_view), calls)
        return events

    async def feed(self, message: object) -> list[Event]:
        self.session.note_cli_session(message)
        out: list[Event] = []
        for event in self.translator.feed(message):
            out += await self._cut(event)
        self._record(out)
        if self.translator.hit_max_tokens and not self.interrupted:
            self.interrupted = True
            await self.session.interrupt()
        return out

    async def _cut(self, event: Event) -> list[Event]:
        """Applies the stop sequences; on the first hit, interrupts the CLI (its result still reports usage)."""
        if self.cutter.hit:
            return []
        if isinstance(event, BlockStopped):
            tail = self.cutter.flush()  # a text block ends: what was held back for a possible match is text
            return [TextDelta(tail, event.index), event] if tail else [event]
        if not isinstance(event, TextDelta):
            return [event]
        text = self.cutter.feed(event.text)
        if self.cutter.hit:
            await self.session.interrupt()
        return [TextDelta(text, event.index)] if text else []

    def closing_events(self) -> list[Event]:
        """After the ``result``: the held-back tail and the finish (or the turn's error)."""
        result = self.translator.result
        assert result is not None
        if self.cutter.hit:
            usage = usage_from_result(result.usage)
            cost = self.translator.turn_cost(result)
            events: list[Event] = [Completed("stop_sequence", usage, cost, self.cutter.matched, self.request.model)]
            self.outcome = TurnOutcome(None, priced_total=result.total_cost_usd)
            return events
        tail = self.cutter.flush()
        events = [TextDelta(tail, max(self.translator.next_index - 1, 0))] if tail else []
        events += self.translator.finish()
        self._record(events)
        exact = not (self.request.output_schema or self.interrupted)
        answer = self.answer.as_turn(self.request.client_view) if exact else None
        self.outcome = TurnOutcome(answer, priced_total=result.total_cost_usd)
        return events

    def _record(self, events: list[Event]) -> None:
        for event in events:
            self.answer.add(event)
