"""The fake upstream's request log (`fake_upstream`): what it received, shared between threads and processes.

Owns `LoggedRequest` (one request as received, with accessors tests assert on), `RequestLog` (the thread-safe log
and the fail_first counters) and `fetch_log` (reading the log of a fake running in another process via `GET /_log`).
Standard library only.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import urllib.request
from dataclasses import dataclass
from typing import Any

from claude_code_api.testing.fake_body import JSONObject, blocks_of, messages_of, render_block, texts_of, tool_names_of


@dataclass
class LoggedRequest:
    """One request as the fake received it."""

    method: str
    path: str  # with the query string, e.g. "/v1/messages?beta=true"
    headers: dict[str, str]  # lower-case keys
    json: Any  # the parsed body; None when empty or not JSON
    time: float  # time.time() on arrival

    @property
    def body(self) -> JSONObject:
        return self.json if isinstance(self.json, dict) else {}

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path.split("?", 1)[0] == "/v1/messages"

    @property
    def model(self) -> str | None:
        model = self.body.get("model")
        return model if isinstance(model, str) else None

    @property
    def max_tokens(self) -> int | None:
        max_tokens = self.body.get("max_tokens")
        return max_tokens if isinstance(max_tokens, int) else None

    @property
    def system_text(self) -> str:
        return "\n".join(texts_of(self.body.get("system"), reminders=True))

    @property
    def tool_names(self) -> list[str]:
        return tool_names_of(self.body)

    def turns(self) -> list[tuple[str, str]]:
        """(role, text) per message without role "system"; non-text blocks become short `[kind ...]` markers."""
        turns = []
        for message in messages_of(self.body):
            if message.get("role") != "system":
                parts = [render_block(b) for b in blocks_of(message.get("content"))]
                turns.append((str(message.get("role")), "\n".join(p for p in parts if p is not None)))
        return turns

    def to_dict(self) -> JSONObject:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: JSONObject) -> LoggedRequest:
        return cls(**data)


class RequestLog:
    """The request log and the fail_first counters, shared by the server thread and the test thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []
        self._attempts: dict[str, int] = {}

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> int:
        """Forget all requests and fail_first counters (a cleared fake behaves like a fresh one)."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._attempts.clear()
            return count

    def attempt(self, line: str) -> int:
        """Count one more request carrying this directive line; return the count so far."""
        with self._lock:
            self._attempts[line] = self._attempts.get(line, 0) + 1
            return self._attempts[line]


def fetch_log(base_url: str, timeout: float = 5.0) -> list[LoggedRequest]:
    """Read the log of a fake running in another process (`GET /_log`)."""
    with urllib.request.urlopen(base_url.rstrip("/") + "/_log", timeout=timeout) as response:
        return [LoggedRequest.from_dict(item) for item in json.load(response)]
