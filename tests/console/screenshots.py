"""Take the README's console screenshots (docs/img/console-*.png): a real server with the real CLI against the fake
upstream, some seeded usage, and the system Chromium. Run: ``.venv/bin/python -m tests.console.screenshots``."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

from claude_code_api.core.events import TokenUsage
from claude_code_api.ops.keys import mint_key
from claude_code_api.testing.fake_upstream import FakeUpstream
from tests.conftest import RunningServer, cli_settings
from tests.console.conftest import CHROMIUM_ARGS, chromium_path

ADMIN = "sk-admin-demo"
OUT = Path(__file__).resolve().parents[2] / "docs" / "img"


def seed(server: RunningServer) -> None:
    store = server.app.state.ops.store
    mint_key(store, "web-app", rpm=600, max_concurrent=8)
    mint_key(store, "batch-jobs", tpm=200_000, models=["haiku"])
    mint_key(store, "alice")
    store.revoke_key("alice")
    today = date.today()
    plan = [
        ("web-app", "claude-sonnet-5-5", 9000),
        ("batch-jobs", "claude-haiku-5-5", 22000),
        ("alice", "claude-opus-5-5", 3000),
    ]
    for back in range(7, -1, -1):
        for key, model, base in plan:
            tokens = base + (back * 1700) % 6000
            if tokens:
                usage = TokenUsage(input_tokens=tokens, output_tokens=tokens // 5)
                store.add_usage(key, model, usage, tokens / 100_000, today - timedelta(back))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with FakeUpstream() as upstream, sync_playwright() as playwright:
        server = RunningServer(cli_settings(upstream, Path(tempfile.mkdtemp()), admin_key=ADMIN))
        try:
            seed(server)
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 820})
            page.goto(server.url + "/console")
            page.fill("#pg-key", ADMIN)
            page.dispatch_event("#pg-key", "change")
            page.locator("#pg-model option").first.wait_for(state="attached")
            page.fill("#pg-system", "You are a concise assistant.")
            conversation = [  # one turn per dialect; the last one unstreamed, so its cost shows
                (
                    "chat",
                    True,
                    "What does this server do?",
                    "It runs OpenAI- and Anthropic-style requests through Claude Code.",
                ),
                (
                    "messages",
                    True,
                    "Which SDKs can I use?",
                    "OpenAI's and Anthropic's: pick the dialect here to see each.",
                ),
                ("responses", False, "And what did that cost?", "Each answer shows its tokens, latency and cost."),
            ]
            for turn, (dialect, stream, question, reply) in enumerate(conversation):
                page.select_option("#pg-dialect", dialect)
                page.set_checked("#pg-stream", stream)
                page.fill("#pg-input", f'{question}\nFAKE: {{"reply": "{reply}"}}')
                page.click("#pg-send")
                page.locator(".msg.assistant .meta").nth(turn).wait_for()
            page.screenshot(path=str(OUT / "console-playground.png"))
            page.goto(server.url + "/console#operator")
            page.fill("#op-key", ADMIN)
            page.click("#op-load")
            page.wait_for_selector("#op-body:not([hidden])")
            page.screenshot(path=str(OUT / "console-operator.png"), full_page=True)
            browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
