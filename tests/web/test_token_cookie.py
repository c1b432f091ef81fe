"""serve --token in Chromium: the UI opened with ?token= keeps a SameSite=Strict cookie, and
the browser sends it from every port of the host. A page on another port of the same host
cannot send telemetry with it; the collector's own pages still work with it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.servers import serving_folder

TOKEN = "s3cret-token-0123456789"
BUNDLE = {
    "id": "ekstep.telemetry",
    "ver": "3.0",
    "ets": 1_793_577_600_000,
    "events": [
        {
            "eid": "INTERACT",
            "ets": 1_793_577_600_000,
            "ver": "3.0",
            "mid": "INTERACT:cookie-test",
            "actor": {"id": "user-1", "type": "User"},
            "context": {"channel": "web", "env": "chat", "pdata": {"id": "page", "ver": "1"}},
            "edata": {"type": "CLICK", "id": "send"},
        }
    ],
}
# What a page on another port would run: a beacon-style POST, no preflight, with cookies.
SEND = """async (url) => {
  await fetch(url, {method: "POST", mode: "no-cors", credentials: "include",
                    headers: {"Content-Type": "text/plain"}, body: %s});
}"""

READ = """async (url) => { await fetch(url, {mode: "no-cors", credentials: "include"}); }"""


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorThread]:
    config = ServerConfig(store=tmp_path / "store.duckdb", port=0, token=TOKEN)
    with CollectorThread(config) as running:
        yield running


@pytest.fixture
def other_port(tmp_path: Path) -> Iterator[str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>another app</title>")
    with serving_folder(site) as url:
        yield url


def stored(url: str) -> int:
    request = urllib.request.Request(
        f"{url}/api/client-events?limit=10", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return len(json.loads(answer.read()))


def test_a_page_on_another_port_cannot_send_with_the_uis_cookie(
    browser: Any, collector: CollectorThread, other_port: str
) -> None:
    context = browser.new_context()
    try:
        ui = context.new_page()
        ui.goto(f"{collector.url}/?token={TOKEN}#/client-events")
        # The token leaves the address bar (and so the history) once the cookie is set.
        assert ui.url == f"{collector.url}/#/client-events"
        [cookie] = context.cookies(collector.url)
        assert (cookie["name"], cookie["sameSite"]) == ("bot_telemetry_token", "Strict")

        page = context.new_page()
        page.goto(f"{other_port}/index.html")
        with page.expect_response(f"{collector.url}/v1/telemetry") as answered:
            page.evaluate(SEND % json.dumps(json.dumps(BUNDLE)), f"{collector.url}/v1/telemetry")
        assert answered.value.status == 401
        assert stored(collector.url) == 0
        # The browser does send the cookie from the other port: a read with it is let through.
        with page.expect_response(f"{collector.url}/api/health") as read:
            page.evaluate(READ, f"{collector.url}/api/health")
        assert read.value.status == 200

        # The UI's own page still writes with the cookie alone.
        status = ui.evaluate(
            """async (body) => (await fetch("/v1/telemetry", {method: "POST",
                 headers: {"Content-Type": "application/json"}, body})).status""",
            json.dumps(BUNDLE),
        )
        assert status == 200
        assert stored(collector.url) == 1
    finally:
        context.close()


def test_a_page_of_another_site_cannot_load_the_api_of_a_collector_without_a_token(
    browser: Any, tmp_path: Path, other_port: str
) -> None:
    # localhost is another site than 127.0.0.1. Without a token its page's GETs were answered
    # (CORS only hid the answer): the query ran, and a forged download link left an audit row.
    with CollectorThread(ServerConfig(store=tmp_path / "open.duckdb", port=0)) as collector:
        page = browser.new_page()
        try:
            page.goto(f"{other_port.replace('127.0.0.1', 'localhost')}/index.html")
            for path in (
                "/api/traces",
                "/api/appmap.svg",
                "/dataset/v1/download/uci-response-exhaust/0/x.csv?expires=1&signature=0",
            ):
                url = f"{collector.url}{path}"
                with page.expect_response(lambda answer, url=url: answer.url == url) as answered:
                    page.evaluate(READ, url)
                assert answered.value.status == 403, path
            # A link to the collector followed from that page (a navigation) still opens it.
            with page.expect_navigation(url=f"{collector.url}/"):
                page.evaluate("(url) => { window.location.href = url; }", f"{collector.url}/")
            page.wait_for_selector('body[data-ready="#/appmap"]', timeout=10_000)
        finally:
            page.close()
