"""The `FAKE: {...}` prompt directives that steer each reply of the fake upstream (`fake_upstream`).

Owns their parsing (`Directive`, `DirectiveError`) and the choice of the directive for a request body
(`select_directive`). Standard library only.

Directive keys (JSON object after `FAKE:` up to the end of the line, read from the last user message that has one):
reply, echo, chunks, chunk_delay, delay, stall, status, error_type, error_message, retry_after, thinking,
tool_calls [{name, arguments}], json, stop_reason, usage, fail_first. See `Directive`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from claude_code_api.testing.fake_body import JSONObject, messages_of, texts_of, tool_results_of

MARK = "FAKE:"


class DirectiveError(ValueError):
    """A FAKE: line that is not a JSON object of known keys; answered with a 400 so the test sees the typo."""


@dataclass(frozen=True)
class Directive:
    """A parsed `FAKE: {...}` line. Times are seconds; `line` (the JSON text) keys the fail_first counter."""

    line: str = ""
    reply: str | None = None  # answer text (default DEFAULT_REPLY)
    echo: bool = False  # answer with the last user message's text
    chunks: int | None = None  # number of text deltas (default: one per word)
    chunk_delay: float = 0.0  # between deltas
    delay: float = 0.0  # before the response headers
    stall: float = 0.0  # after message_start, before any content
    status: int | None = None  # answer with this HTTP error instead
    error_type: str | None = None
    error_message: str | None = None
    retry_after: str | None = None
    thinking: str | None = None  # emit a thinking block first
    tool_calls: list[JSONObject] = field(default_factory=list)  # [{"name": str, "arguments": object}]
    json: JSONObject | None = None  # structured output via the StructuredOutput tool
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    fail_first: int | None = None  # with status: only the first N requests with this line fail

    @classmethod
    def parse(cls, line: str) -> Directive:
        try:  # raw_decode tolerates trailing text after the object
            data, _ = json.JSONDecoder().raw_decode(line)
        except json.JSONDecodeError as exc:
            raise DirectiveError(f"FAKE: directive is not JSON: {exc}: {line!r}") from exc
        if not isinstance(data, dict):
            raise DirectiveError(f"FAKE: directive must be a JSON object: {line!r}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)} - {"line"}
        if unknown:
            raise DirectiveError(f"FAKE: unknown directive keys {sorted(unknown)}")
        calls = data.get("tool_calls", [])
        if not (isinstance(calls, list) and all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls)):
            raise DirectiveError('FAKE: tool_calls must be a list of {"name": str, "arguments": object}')
        return cls(line=line, **data)


def _directive_line(message: JSONObject) -> str | None:
    found = None
    for text in texts_of(message.get("content")):
        for line in text.splitlines():
            if MARK in line:
                found = line.split(MARK, 1)[1].strip()
    return found


def select_directive(body: JSONObject) -> Directive:
    """The directive that steers the reply to this request body (see the module docstring)."""
    users = [m for m in messages_of(body) if m.get("role") == "user"]
    if not users:
        return Directive()
    results = tool_results_of(users[-1].get("content"))
    if results and _directive_line(users[-1]) is None:
        # Second leg of a tool loop: answer the tool results instead of repeating the earlier tool call.
        return Directive(reply="Tool results: " + "; ".join(text for _, text in results))
    for message in reversed(users):
        line = _directive_line(message)
        if line is not None:
            return Directive.parse(line)
    return Directive()
