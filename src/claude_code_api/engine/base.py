"""The engine contract: one streaming method, plus lifecycle and a readiness probe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from claude_code_api.core.events import Event
from claude_code_api.core.request import CompletionRequest


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    def stream(self, request: CompletionRequest) -> AsyncIterator[Event]:
        """Yield the completion's events, ending with exactly one ``Completed``; raise ``ApiError`` on failure.

        Closing the iterator early (client gone) must stop the underlying work promptly.
        """
        ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    async def readiness(self) -> Readiness: ...

    def stats(self) -> dict[str, int]:
        """Counters for health and metrics (processes live, busy, spawned...)."""
        ...
