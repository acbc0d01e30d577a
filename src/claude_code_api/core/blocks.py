"""Making an engine's event stream well formed: every delta inside an opened block, one block open at a time,
every block closed before the next opens and before ``Completed``.

Engines may leave block starts and stops implicit (a scripted engine yields bare ``TextDelta``s); front ends may
then rely on the full lifecycle, which the Anthropic stream requires (``content_block_start`` … ``_stop``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from claude_code_api.core.events import (
    BlockKind,
    BlockStarted,
    BlockStopped,
    Completed,
    Delta,
    Event,
    SignatureDelta,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
)

DELTA_KINDS: dict[type, BlockKind] = {
    TextDelta: "text",
    ThinkingDelta: "thinking",
    SignatureDelta: "thinking",
    ToolInputDelta: "tool_use",
}


class BlockLifecycle:
    """Feed it events in order; it returns them with the implicit starts and stops made explicit."""

    def __init__(self) -> None:
        self.open: int | None = None

    def feed(self, event: Event) -> list[Event]:
        if isinstance(event, BlockStarted):
            return [] if self.open == event.index else [*self._switch_to(event.index), event]
        if isinstance(event, Delta):
            if self.open == event.index:
                return [event]
            return [*self._switch_to(event.index), BlockStarted(event.index, DELTA_KINDS[type(event)]), event]
        if isinstance(event, BlockStopped):
            return self._switch_to(None) if self.open == event.index else []
        if isinstance(event, Completed):
            return [*self._switch_to(None), event]
        return [event]

    def _switch_to(self, index: int | None) -> list[Event]:
        """Close the open block (if any) and note ``index`` as the open one."""
        closed: list[Event] = [BlockStopped(self.open)] if self.open is not None else []
        self.open = index
        return closed


async def well_formed(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    lifecycle = BlockLifecycle()
    try:
        async for event in events:
            for out in lifecycle.feed(event):
                yield out
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
