"""The console in a real headless Chromium, against a real server whose requests run the real Claude Code CLI
against the fake upstream."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

import openai
import pytest
from playwright.sync_api import expect

from claude_code_api.core.events import TokenUsage
from claude_code_api.ops.keys import ADMIN as ADMIN_NAME
from claude_code_api.ops.keys import Principal
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
    assert page.locator("#pg-dialect option").all_inner_texts() == [label for _, label, _ in DIALECTS.values()]
    expect(page.locator("#pg-endpoint")).to_have_text("POST /v1/chat/completions")
    page.click("#tab-operator")
    page.wait_for_selector("#operator:not([hidden])")
    assert console_page.errors == []


# Cached input counts as input in every dialect's summary, so one usage gives the same line in all three.
USAGE = {"input_tokens": 11, "output_tokens": 7, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 3}
USAGE_LINE = "19 in / 7 out tokens (5 cached)"
KEY = "sk-playground-key"


def _check_chat_completions(request: Any, body: dict[str, Any]) -> None:
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"][0] == {"role": "system", "content": "You answer briefly."}


def _check_messages(request: Any, body: dict[str, Any]) -> None:
    assert request.headers["x-api-key"] == KEY and "authorization" not in request.headers
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert body["system"] == "You answer briefly." and body["max_tokens"] > 0
    assert body["messages"][0]["role"] == "user"


def _check_responses(request: Any, body: dict[str, Any]) -> None:
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert body["instructions"] == "You answer briefly." and body["store"] is False
    assert body["input"][0]["role"] == "user"


DIALECTS = {
    "chat": ("/v1/chat/completions", "Chat Completions", _check_chat_completions),
    "messages": ("/v1/messages", "Anthropic Messages", _check_messages),
    "responses": ("/v1/responses", "Responses", _check_responses),
}


def _open_playground(console: ConsolePage, server: RunningServer, dialect: str, *, stream: bool = True) -> Any:
    page = console.page
    page.goto(server.url + "/console")
    page.fill("#pg-key", KEY)
    page.dispatch_event("#pg-key", "change")
    page.locator("#pg-model option").first.wait_for(state="attached")
    page.select_option("#pg-dialect", dialect)
    expect(page.locator("#pg-endpoint")).to_have_text("POST " + DIALECTS[dialect][0])
    page.set_checked("#pg-stream", stream)
    page.fill("#pg-system", "You answer briefly.")
    return page


def _say(page: Any, text: str, path: str) -> Any:
    page.fill("#pg-input", text)
    with page.expect_response("**" + path) as answer:
        page.click("#pg-send")
    return answer.value


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_message_streams_the_answer_and_shows_usage_in_each_dialect(
    make_server, console_page: ConsolePage, marker: str, dialect: str
) -> None:
    path, label, check_request = DIALECTS[dialect]
    server = make_server(api_keys=[KEY])
    page = _open_playground(console_page, server, dialect)
    directive = json.dumps({"reply": f"Streamed from the fake {marker}", "chunks": 4, "usage": USAGE})
    response = _say(page, f"{marker}\nFAKE: {directive}", path)
    assert response.headers["content-type"].startswith("text/event-stream")
    body = response.request.post_data_json
    assert body["stream"] is True and body["model"] == "sonnet"
    check_request(response.request, body)
    meta = page.wait_for_selector(".msg.assistant .meta")
    assert page.inner_text(".msg.assistant .text") == f"Streamed from the fake {marker}"
    shown = re.fullmatch(
        rf"{label} · {re.escape(USAGE_LINE)} · \d+\.\d\d s · first token \d+\.\d\d s · \$(\d+\.\d{{6}})",
        meta.inner_text(),
    )
    assert shown and float(shown.group(1)) > 0, "the stream's usage carries the answer's cost"
    assert console_page.errors == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_without_streaming_each_dialect_shows_the_cost_the_server_reports(
    make_server, console_page: ConsolePage, marker: str, dialect: str
) -> None:
    path, label, _ = DIALECTS[dialect]
    server = make_server(api_keys=[KEY])
    page = _open_playground(console_page, server, dialect, stream=False)
    response = _say(page, f'{marker}\nFAKE: {{"reply": "Whole answer.", "usage": {json.dumps(USAGE)}}}', path)
    cost = float(response.headers["x-claude-cost-usd"])
    assert cost > 0
    meta = page.wait_for_selector(".msg.assistant .meta")
    assert page.inner_text(".msg.assistant .text") == "Whole answer."
    assert re.fullmatch(rf"{label} · {re.escape(USAGE_LINE)} · \d+\.\d\d s · \${cost:.6f}", meta.inner_text())
    assert console_page.errors == []


def test_switching_dialect_mid_chat_keeps_the_conversation(
    server: RunningServer, console_page: ConsolePage, marker: str
) -> None:
    page = console_page.page
    page.goto(server.url + "/console")
    page.locator("#pg-model option").first.wait_for(state="attached")
    page.select_option("#pg-dialect", "chat")
    _say(page, f'{marker} one\nFAKE: {{"reply": "First answer."}}', "/v1/chat/completions")
    page.locator(".msg.assistant .meta").first.wait_for()
    page.select_option("#pg-dialect", "messages")
    second = _say(page, f'{marker} two\nFAKE: {{"reply": "Second answer."}}', "/v1/messages")
    page.locator(".msg.assistant .meta").nth(1).wait_for()
    sent = second.request.post_data_json["messages"]
    assert [(m["role"], m["content"]) for m in sent[:2]] == [
        ("user", f'{marker} one\nFAKE: {{"reply": "First answer."}}'),
        ("assistant", "First answer."),
    ]
    assert page.locator(".msg.assistant[data-dialect=messages] .text").inner_text() == "Second answer."
    page.reload()  # the choice of dialect survives a reload of the tab
    expect(page.locator("#pg-endpoint")).to_have_text("POST /v1/messages")
    assert console_page.errors == []


@pytest.mark.parametrize(("dialect", "stream"), [("chat", True), ("messages", True), ("responses", False)])
def test_with_a_workspace_the_playground_shows_the_agents_steps(
    make_server, console_page: ConsolePage, marker: str, dialect: str, stream: bool
) -> None:
    server = make_server(admin_key=KEY, agent=True)  # static keys may not use agent mode; the admin key may
    workspace = server.app.state.api.service.workspaces.directory(Principal(ADMIN_NAME, admin=True), "demo")
    (workspace / "notes.md").write_text("one\ntwo\nthree\n")
    page = _open_playground(console_page, server, dialect, stream=stream)
    expect(page.locator("#pg-agent")).to_be_visible()
    page.fill("#pg-workspace", "demo")
    steps = [
        {"name": "Read", "arguments": {"file_path": "notes.md"}},
        {"name": "Read", "arguments": {"file_path": "/etc"}},
    ]
    sent = _say(page, f"{marker}\nFAKE: {json.dumps({'tool_calls': steps})}", DIALECTS[dialect][0])
    assert sent.request.post_data_json["claude_code"] == {"workspace": "demo"}
    page.wait_for_selector(".msg.assistant .meta")
    lines = page.locator(".msg.assistant .activity .step")
    expect(lines).to_have_count(2)
    assert lines.nth(0).inner_text() == "Read notes.md: 3 lines"
    assert "outside the workspace" in lines.nth(1).inner_text() and "failed" in (
        lines.nth(1).get_attribute("class") or ""
    )
    assert page.inner_text(".msg.assistant .text").startswith("Tool results:")
    assert console_page.errors == []


def test_without_agent_mode_the_playground_offers_no_workspace(server, console_page: ConsolePage) -> None:
    page = console_page.page
    page.goto(server.url + "/console")
    page.locator("#pg-model option").first.wait_for(state="attached")
    expect(page.locator("#pg-agent")).to_be_hidden()


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
    warmed = re.search(r"(\d+) warmed up", page.inner_text("#procs-summary"))  # the spare started at boot
    assert warmed and int(warmed.group(1)) >= 1
    assert page.inner_text("[data-state=idle] .num") != "0"
    assert "spawn" in page.inner_text("#routes")
    assert "Unauthenticated" in page.inner_text("#errors-table")
    assert ADMIN not in page.url
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


def test_a_key_created_in_the_page_with_agent_may_use_agent_mode(make_server, console_page: ConsolePage) -> None:
    server = make_server(admin_key=ADMIN, agent=True)
    page = _open_operator(console_page, server, ADMIN)
    page.wait_for_selector("#op-body:not([hidden])")
    for name, agent in (("plain", False), ("builder", True)):
        page.fill("#new-key-name", name)
        if agent:
            page.check("#new-key-agent")
        page.click("#new-key-create")
        expect(page.locator("#new-key-label")).to_have_text(name)
        key = page.inner_text("#new-key-value")
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
        ask = {"model": "claude-sonnet-4-agent", "messages": [{"role": "user", "content": "hi"}]}
        if agent:
            assert client.chat.completions.create(**ask).choices[0].message.content  # type: ignore[call-overload]
        else:
            with pytest.raises(openai.PermissionDeniedError):
                client.chat.completions.create(**ask)  # type: ignore[call-overload]
    expect(page.locator("#keys-table")).to_contain_text("yes")
    assert console_page.errors == []


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


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_upstream_error_shows_in_the_answer_and_the_chat_goes_on(
    make_server, console_page: ConsolePage, marker: str, dialect: str
) -> None:
    path = DIALECTS[dialect][0]
    server = make_server(api_keys=[KEY])
    page = _open_playground(console_page, server, dialect)
    bad = {"status": 400, "error_type": "invalid_request_error", "error_message": f"Nope {marker}"}
    _say(page, f"{marker}\nFAKE: {json.dumps(bad)}", path)
    failed = page.wait_for_selector(".msg.assistant.error .err")
    assert re.fullmatch(rf"\d{{3}}: .*Nope {marker}", failed.inner_text())
    retry = _say(page, f'{marker} again\nFAKE: {{"reply": "Recovered."}}', path)
    page.wait_for_selector(".msg.assistant .meta")
    assert page.locator(".msg.assistant").nth(1).locator(".text").inner_text() == "Recovered."
    assert "Nope" not in json.dumps(retry.request.post_data_json)  # the failed turn is not resent
    # the browser logs the failed request itself; the page raised nothing
    assert [e for e in console_page.errors if "status of 502" not in e] == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_error_after_the_stream_started_shows_in_the_answer(
    make_server, console_page: ConsolePage, marker: str, dialect: str
) -> None:
    path = DIALECTS[dialect][0]
    # Claude Code goes silent after its first words, so the server gives up mid-stream and says so in-band.
    server = make_server(api_keys=[KEY], idle_timeout=1.0)
    page = _open_playground(console_page, server, dialect)
    stall = {"reply": "Started then stalled here", "chunks": 3, "chunk_delay": 6}
    response = _say(page, f"{marker}\nFAKE: {json.dumps(stall)}", path)
    assert response.status == 200
    failed = page.wait_for_selector(".msg.assistant.error .err")
    assert failed.inner_text() == "Claude Code produced no output for 1 s."
    assert page.inner_text(".msg.assistant .text").startswith("Started")  # the words that came before stay
    assert console_page.errors == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_stream_cut_before_its_end_event_is_shown_as_incomplete(
    make_server, console_page: ConsolePage, marker: str, dialect: str
) -> None:
    path = DIALECTS[dialect][0]
    server = make_server(api_keys=[KEY])
    page = _open_playground(console_page, server, dialect)

    def drop_the_last_event(route: Any) -> None:  # as if the connection broke just before the answer's end
        real = route.fetch()
        events = real.text().rstrip("\n").split("\n\n")
        assert len(events) > 2
        route.fulfill(response=real, body="\n\n".join(events[:-1]) + "\n\n")

    page.route("**" + path, drop_the_last_event)
    page.fill("#pg-input", f'{marker}\nFAKE: {{"reply": "Almost whole."}}')
    page.click("#pg-send")
    failed = page.wait_for_selector(".msg.assistant.error .err")
    assert failed.inner_text() == "The stream ended before the answer was complete."
    assert page.inner_text(".msg.assistant .text") == "Almost whole."
    assert console_page.errors == []
