"""The console in a real headless Chromium, against a real server whose requests run the real Claude Code CLI
against the fake upstream."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import openai
import pytest
from playwright.sync_api import expect

from claude_code_api.core.events import TokenUsage
from tests.conftest import RunningServer
from tests.console.conftest import ConsolePage

pytestmark = pytest.mark.e2e
ADMIN = "admin-console-secret"


def _chat(server: RunningServer, key: str, text: str) -> str:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
    reply = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": text}])
    return reply.choices[0].message.content or ""


def _open_operator(console: ConsolePage, server: RunningServer, key: str) -> Any:
    page = console.page
    page.goto(server.url + "/console#operator")
    page.fill("#op-key", key)
    page.click("#op-load")
    return page


def test_page_loads_with_models_and_no_console_errors(server: RunningServer, console_page: ConsolePage) -> None:
    page = console_page.page
    page.goto(server.url + "/")
    assert page.url == server.url + "/console"
    page.locator("#pg-model option").first.wait_for(state="attached")
    assert "sonnet" in page.locator("#pg-model option").all_inner_texts()
    assert page.locator("#pg-model").input_value() == "sonnet"
    page.click("#tab-operator")
    page.wait_for_selector("#operator:not([hidden])")
    assert console_page.errors == []


def test_a_chat_message_streams_the_answer_and_shows_usage(
    server: RunningServer, console_page: ConsolePage, marker: str
) -> None:
    page = console_page.page
    page.goto(server.url + "/console")
    page.locator("#pg-model option").first.wait_for(state="attached")
    page.fill("#pg-system", "You answer briefly.")
    page.fill("#pg-input", f'{marker}\nFAKE: {{"reply": "Streamed from the fake {marker}", "chunks": 4}}')
    with page.expect_response("**/v1/chat/completions") as answer:
        page.click("#pg-send")
    assert answer.value.headers["content-type"].startswith("text/event-stream")
    body = answer.value.request.post_data_json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"][0] == {"role": "system", "content": "You answer briefly."}
    meta = page.wait_for_selector(".msg.assistant .meta")
    assert page.inner_text(".msg.assistant .text") == f"Streamed from the fake {marker}"
    assert re.search(r"\d+ in / \d+ out tokens · \d+\.\d\d s", meta.inner_text())
    assert console_page.errors == []


def test_operator_view_charts_seeded_usage_and_shows_live_processes(make_server, console_page: ConsolePage) -> None:
    server = make_server(admin_key=ADMIN)
    store = server.app.state.ops.store
    today = date.today()
    for back, key, model in [(2, "alice", "claude-sonnet-5-5"), (1, "bob", "claude-haiku-5-5"), (0, "alice", "x")]:
        store.add_usage(key, model, TokenUsage(input_tokens=1000, output_tokens=200), 0.25, today - timedelta(back))
    _chat(server, ADMIN, "hello")  # leaves a live Claude Code process in the pool
    with pytest.raises(openai.AuthenticationError):
        _chat(server, "sk-wrong", "hello")
    page = _open_operator(console_page, server, ADMIN)
    page.wait_for_selector("#op-body:not([hidden])")
    assert page.locator("#chart-tokens rect.bar").count() >= 3
    assert page.locator("#chart-cost rect.bar").count() >= 3
    legend = page.inner_text("#chart-tokens .legend")
    assert "claude-sonnet-5-5" in legend and "claude-haiku-5-5" in legend
    live = re.match(r"(\d+) live", page.inner_text("#procs-summary"))
    assert live and int(live.group(1)) >= 1
    assert page.inner_text("[data-state=idle] .num") != "0"
    assert "spawn" in page.inner_text("#routes")
    assert "Unauthenticated" in page.inner_text("#errors-table")
    assert console_page.errors == []


def test_a_key_created_in_the_page_works_and_once_revoked_gets_401(make_server, console_page: ConsolePage) -> None:
    server = make_server(admin_key=ADMIN)
    page = _open_operator(console_page, server, ADMIN)
    page.wait_for_selector("#op-body:not([hidden])")
    page.fill("#new-key-name", "carol")
    page.fill("#new-key-rpm", "60")
    page.click("#new-key-create")
    page.wait_for_selector("#new-key-box:not([hidden])")
    key = page.inner_text("#new-key-value")
    assert key.startswith("sk-cca-")
    expect(page.locator("#keys-table")).to_contain_text("60 rpm")
    assert _chat(server, key, "hello") == "Hello from the fake upstream."

    revoke = page.locator("button.revoke[data-name=carol]")
    revoke.click()
    revoke.click()  # the second click confirms
    page.wait_for_selector("#keys-table tr.revoked")
    with pytest.raises(openai.AuthenticationError):
        _chat(server, key, "hello again")
    assert key not in page.url


def test_operator_view_is_refused_without_the_admin_key(make_server, console_page: ConsolePage) -> None:
    server = make_server(admin_key=ADMIN)
    page = _open_operator(console_page, server, "sk-not-the-admin-key")
    error = page.wait_for_selector("#op-error:not([hidden])")
    assert "Refused: 401" in error.inner_text()
    assert page.locator("#op-body").is_hidden()
    page.fill("#op-key", "")
    page.click("#op-load")
    expect(page.locator("#op-error")).to_contain_text("provide an API key")
    assert page.locator("#op-body").is_hidden()
