"""A scripted engine for fast tests of the HTTP and protocol layers (in the spirit of pydantic-ai's TestModel).

Tests queue scripts of events (and exceptions) and read back the requests the engine received.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence

from claude_code_api.core.events import Completed, Event, TextDelta, TokenUsage
from claude_code_api.core.request import CompletionRequest
from claude_code_api.engine.base import Readiness

Step = Event | BaseException | float  # a float is a pause in seconds


class FakeEngine:
    def __init__(self) -> None:
        self.calls: list[CompletionRequest] = []
        self.scripts: deque[Sequence[Step]] = deque()

    def script(self, *steps: Step) -> None:
        self.scripts.append(steps)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Event]:
        self.calls.append(request)
        steps = self.scripts.popleft() if self.scripts else self.default_script(request)
        for step in steps:
            if isinstance(step, BaseException):
                raise step
            if isinstance(step, float):
                await asyncio.sleep(step)
                continue
            yield step

    @staticmethod
    def default_script(request: CompletionRequest) -> Sequence[Step]:
        return (
            TextDelta("Hello"),
            TextDelta(" world"),
            Completed("end_turn", TokenUsage(input_tokens=5, output_tokens=2)),
        )

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def readiness(self) -> Readiness:
        return Readiness(True, {"engine": "fake"})

    def stats(self) -> dict[str, int]:
        return {"calls": len(self.calls)}
