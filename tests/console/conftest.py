"""A real headless Chromium (the distribution's package, driven by Playwright) for the console's browser tests.

Playwright's own browser download is impossible here, so the system Chromium is launched by path; the tests skip,
loudly, only when it is not installed (``make test`` and ``.ci/run`` install it when they can).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


# Module-scoped, not session: Playwright's sync API holds an event loop open while it runs, which must be gone
# before any later test starts a loop of its own.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("NO CHROMIUM: the console's browser tests need it (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class ConsolePage:
    """A fresh page that records every console error and uncaught exception it meets."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console_page(browser: Any) -> Iterator[ConsolePage]:
    opened = ConsolePage(browser)
    yield opened
    opened.close()
