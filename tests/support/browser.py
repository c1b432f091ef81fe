"""Headless Chromium (Debian's package; never a downloaded browser) driving the web UI.

    def test_page(browser):
        page = Page(browser, collector.url)
        page.open("#/appmap")
        ...
        page.close()      # fails on script errors, dialogs, or requests to other origins

Screenshots go to test-artifacts/<folder>/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.processes import REPO
from tests.support.tools import chromium

ARTIFACTS = REPO / "test-artifacts"
#: The most of a page a screenshot shows, in CSS pixels (about ten screens).
SHOT_HEIGHT = 8_000
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


# Per module, not per session: Playwright's sync API keeps an event loop running in this
# thread while it is open, and the asyncio tests of other modules need the thread free.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Page:
    """A page on the collector that records every request and every dialog it opens."""

    def __init__(self, browser: Any, base: str, artifacts: str = "collector"):
        self.base = base
        self.artifacts = ARTIFACTS / artifacts
        self.page = browser.new_page(viewport={"width": 1280, "height": 860})
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on(
            "dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss())
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, hash_: str) -> Any:
        self.page.goto(f"{self.base}/{hash_}")
        return self.ready(hash_)

    def ready(self, hash_: str) -> Any:
        self.page.wait_for_selector(f'body[data-ready="{hash_}"]', timeout=10_000)
        return self.page

    def shot(self, name: str) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        # The whole page up to SHOT_HEIGHT: a page of thousands of rows (84,000 px) took
        # Chromium 6-12 s to capture, for a picture no one scrolls to the end of.
        width, height = self.page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        clip = {"x": 0, "y": 0, "width": width, "height": min(height, SHOT_HEIGHT)}
        path = str(self.artifacts / f"{name}.png")
        self.page.screenshot(path=path, full_page=True, clip=clip)

    def close(self) -> None:
        assert self.errors == [], self.errors
        assert self.dialogs == [], "telemetry text ran as script"
        foreign = [url for url in self.requests if not url.startswith(self.base)]
        assert foreign == [], f"the UI fetched from elsewhere: {foreign}"
        self.page.close()
