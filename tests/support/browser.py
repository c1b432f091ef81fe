"""Headless Chromium (Debian's package; never a downloaded browser) driving the web UI.

    def test_page(browser):
        page = Page(browser, collector.url)
        page.open("#/appmap")
        ...
        page.close()      # fails on script errors, dialogs, or requests to other origins

Screenshots go to test-artifacts/<folder>/ for a person to look at.

A Page closed without a failure leaves its tab for the next Page of the module: a new tab
(a browser context and a renderer process) took 0.3-0.5 s on a busy machine, the reused one
is emptied (about:blank, no cookies, the mouse at the corner) in 0.03 s. A test starts on a
page the browser loads anew, as it did in a tab of its own.
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
        _Tabs.forget(launched)
        launched.close()


VIEWPORT = {"width": 1280, "height": 860}


class Page:
    """A page on the collector that records every request and every dialog it opens."""

    def __init__(self, browser: Any, base: str, artifacts: str = "collector"):
        self.base = base
        self.artifacts = ARTIFACTS / artifacts
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page = _Tabs.of(browser).take(self)

    def open(self, hash_: str) -> Any:
        self.page.goto(f"{self.base}/{hash_}")
        return self.ready(hash_)

    def ready(self, hash_: str) -> Any:
        self.page.wait_for_selector(f'body[data-ready="{hash_}"]', timeout=10_000)
        return self.page

    def fake_clock(self) -> Any:
        """Playwright's clock, installed in this page before it opens: the test moves the
        page's time on rather than sitting out its timers. The tab is not reused after."""
        self.page.clock.install()
        _Tabs.of(self.page.context.browser).clocked.add(self.page)
        return self.page.clock

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
        _Tabs.of(self.page.context.browser).give_back(self.page)


class _Tabs:
    """The browser's spare tab, and which Page each tab reports its events to."""

    _of: dict[int, _Tabs] = {}

    def __init__(self, browser: Any):
        self.browser = browser
        self.spare: Any = None
        self.owner: dict[Any, Page] = {}
        self.clocked: set[Any] = set()  # tabs with a fake clock, which no reset removes

    @classmethod
    def of(cls, browser: Any) -> _Tabs:
        tabs = cls._of.get(id(browser))
        if tabs is None or tabs.browser is not browser:  # an id reused by a later browser
            tabs = cls._of[id(browser)] = _Tabs(browser)
        return tabs

    @classmethod
    def forget(cls, browser: Any) -> None:
        cls._of.pop(id(browser), None)

    def take(self, owner: Page) -> Any:
        tab, self.spare = self.spare, None
        if tab is None or tab.is_closed():
            tab = self.browser.new_page(viewport=VIEWPORT)
            tab.on("request", lambda request: self.owner[tab].requests.append(request.url))
            tab.on("dialog", lambda dialog: self._dialog(tab, dialog))
            tab.on("pageerror", lambda error: self.owner[tab].errors.append(str(error)))
        else:
            tab.context.clear_cookies()
            tab.set_viewport_size(VIEWPORT)
            tab.mouse.move(0, 0)
        self.owner[tab] = owner
        return tab

    def _dialog(self, tab: Any, dialog: Any) -> None:
        self.owner[tab].dialogs.append(dialog.message)
        dialog.dismiss()

    def give_back(self, tab: Any) -> None:
        # about:blank now, not when the tab is taken: the page's own timers (the Exhausts
        # page following its jobs) stop here, and whatever it still fetched or threw is
        # this test's, already checked by close().
        tab.goto("about:blank")
        for other in tab.context.pages:  # a tab the page opened (a link opened beside it)
            if other is not tab:
                other.close()
        if tab in self.clocked:
            self.clocked.discard(tab)
            self.owner.pop(tab, None)
            tab.close()
            return
        if self.spare is not None:  # two Pages at once: keep one tab
            self.owner.pop(self.spare, None)
            self.spare.close()
        self.spare = tab
