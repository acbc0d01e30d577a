"""Cutting output at the first stop sequence, across delta boundaries (pure; the engine drives it).

Claude Code has no stop-sequence flag, so the server watches the text itself: it holds back any tail
that could be the start of a stop sequence, and reports a hit so the engine can stop the work.
"""

from __future__ import annotations


class StopSequenceCutter:
    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._pending = ""
        self.hit = False
        self.matched: str | None = None  # the stop sequence that was hit

    def feed(self, text: str) -> str:
        """Returns the text that is safe to emit now; after a hit, always ''."""
        if self.hit:
            return ""
        if not self._stops:
            return text
        buffer = self._pending + text
        found = [(i, s) for s in self._stops if (i := buffer.find(s)) >= 0]
        if found:
            cut, self.matched = min(found, key=lambda hit: hit[0])
            self.hit = True
            self._pending = ""
            return buffer[:cut]
        hold = self._held_tail(buffer)
        self._pending = buffer[len(buffer) - hold :]
        return buffer[: len(buffer) - hold]

    def flush(self) -> str:
        out, self._pending = ("" if self.hit else self._pending), ""
        return out

    def _held_tail(self, buffer: str) -> int:
        longest = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(buffer)), longest, -1):
                if buffer.endswith(stop[:size]):
                    longest = size
                    break
        return longest
