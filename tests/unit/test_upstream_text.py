"""Claude Code's error texts lose the server's network details, and keep what Claude's API said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claude_code_api.engine.claude.upstream_text import without_addresses

SAMPLES = Path("/work/shared/samples")
SAMPLE_529 = (
    "API Error: 529 fake overloaded_error (529). This is a server-side issue, usually temporary \u2014 try again in a"
    " moment. If it persists, check your inference gateway (127.0.0.1:8787)."
)


def test_the_529_sample_keeps_claudes_message_and_drops_the_gateway():
    assert without_addresses(SAMPLE_529) == (
        "API Error: 529 fake overloaded_error (529). This is a server-side issue, usually temporary \u2014 try again in"
        " a moment."
    )


@pytest.mark.skipif(not SAMPLES.exists(), reason="the recorded CLI samples are not on this machine")
def test_the_recorded_cli_results_lose_their_address():
    texts = [json.loads((SAMPLES / "result-error-529.json").read_text())["result"]]
    for line in (SAMPLES / "stream-json-529-default-retries.jsonl").read_text().splitlines():
        message = json.loads(line)
        if message.get("type") == "result":
            texts.append(message["result"])
    assert len(texts) == 2
    for text in texts:
        clean = without_addresses(text)
        assert "127.0.0.1" not in clean and "8787" not in clean and "gateway" not in clean
        assert clean.startswith("API Error: 529 fake overloaded_error")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "API Error: 500 fake api_error. If it persists, check your inference gateway (gw.internal:8443).",
            "API Error: 500 fake api_error.",
        ),
        ("API Error: Connection refused to http://10.0.0.7:8080/v1/messages", "API Error: Connection refused to"),
        ("API Error: 502 bad gateway at [::1]:9000 (localhost:9000)", "API Error: 502 bad gateway at"),
        ("API Error: Request rejected (429) · rate limited", "API Error: Request rejected (429) · rate limited"),
        ("Not logged in · Please run /login", "Not logged in · Please run /login"),
    ],
)
def test_addresses_in_any_form_are_removed(text, expected):
    assert without_addresses(text) == expected
