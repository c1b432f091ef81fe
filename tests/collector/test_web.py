"""The web UI in headless Chromium (Debian's package; never a downloaded browser).

Screenshots go to test-artifacts/collector/ for a person to look at.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from typing import Any

import pytest

from bot_telemetry.web import CollectorThread
from tests.collector.conftest import Populated
from tests.support.browser import Page
from tests.support.otlp_messages import new_span_id, new_trace_id, post_otlp, spans_request


@pytest.fixture
def ui(browser: Any, populated: Populated) -> Iterator[Page]:
    page = Page(browser, populated.url)
    yield page
    page.close()


def test_app_map_reads_left_to_right_and_opens_a_node(ui: Page) -> None:
    page = ui.open("#/appmap")
    nodes = page.locator("svg.appmap g.node")
    assert sorted(nodes.evaluate_all("els => els.map(e => e.dataset.node)")) == [
        "azure.blob",
        "bot",
        "channel",
        "nlu",
        "qna",
    ]
    boxes = {
        name: page.locator(f'g.node[data-node="{name}"]').bounding_box()
        for name in ("channel", "bot", "nlu")
    }
    assert boxes["channel"]["x"] < boxes["bot"]["x"] < boxes["nlu"]["x"]
    assert "failed" in (page.locator('g.node[data-node="nlu"]').get_attribute("class") or "")
    assert page.locator("g.edge.failed").count() == 1
    label = page.locator('text.edge-label[data-source="channel"]')
    assert "3 calls" in (label.text_content() or "")
    rows = page.locator("table tbody tr")
    assert rows.count() == 5
    ui.shot("appmap")

    page.locator('g.node[data-node="nlu"]').click()
    ui.ready("#/node/nlu")
    assert "POST /luis/predict handler" in page.locator("table").first.inner_text()
    assert page.locator("table").nth(1).locator("tbody tr").count() == 3
    ui.shot("appmap-node-nlu")


def test_transactions_search_and_waterfall(ui: Page, populated: Populated) -> None:
    page = ui.open("#/traces")
    assert page.locator("table tbody tr").count() == 3
    page.fill("input[name=conversation]", "conv-1")
    page.select_option("select[name=failed]", "true")
    page.click("form.search button")
    ui.ready("#/traces?conversation=conv-1&failed=true")
    rows = page.locator("table tbody tr")
    assert rows.count() == 1
    assert populated.sent.failed_traces[0] in rows.inner_text()
    ui.shot("transactions")

    rows.first.click()
    ui.ready(f"#/trace/{populated.sent.failed_traces[0]}")
    assert page.locator(".span-row").count() == 10
    assert page.locator(".span-row.error").count() == 2
    page.locator(".span-row", has_text="bot.turn").click()
    details = page.locator("#span-details")
    assert "activity.conversation.id" in details.inner_text()
    assert "BotMessageReceived" in details.inner_text()
    bars = page.locator(".span-bar").evaluate_all("els => els.map(e => e.style.width)")
    assert all(width.endswith("%") for width in bars)
    ui.shot("trace-waterfall")


def test_conversation_transcript_escapes_text(ui: Page) -> None:
    page = ui.open("#/conversations")
    assert "conv-1" in page.locator("table tbody").inner_text()
    page.locator("table tbody tr").first.click()
    ui.ready("#/conversation/conv-1")
    turns = page.locator("section.turn")
    assert turns.count() == 3, page.locator("#view").inner_text()
    assert "failed" in (turns.nth(1).get_attribute("class") or "")
    assert "nlu crashed" in turns.nth(1).inner_text()
    assert "intent Greeting (0.93)" in turns.first.inner_text()
    assert "answer Hello <b>there</b> (0.81)" in turns.first.inner_text()
    # Hostile text from telemetry is shown as text, never parsed as markup.
    assert turns.nth(2).locator(".user").inner_text() == "<script>alert(1)</script>"
    assert page.locator("section.turn script, section.turn b").count() == 0
    ui.shot("conversation")


def test_unknown_trace_and_bad_links_show_an_error(ui: Page) -> None:
    page = ui.open("#/trace/0123456789abcdef0123456789abcdef")
    assert "No trace" in page.locator("#view").inner_text()
    page = ui.open("#/trace/not-hex")
    assert "is not a trace id" in page.locator("#view .error").inner_text()


def test_the_page_names_its_icon_and_the_icon_is_served(populated: Populated) -> None:
    # Without a named icon every browser asks for /favicon.ico, a 404 on each load.
    with urllib.request.urlopen(f"{populated.url}/", timeout=10) as response:
        page = response.read().decode()
    assert '<link rel="icon" href="/static/favicon.svg"' in page
    with urllib.request.urlopen(f"{populated.url}/static/favicon.svg", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("image/svg+xml")
        icon = ElementTree.fromstring(response.read())
    assert icon.tag == "{http://www.w3.org/2000/svg}svg"


def test_a_name_with_characters_xml_cannot_hold_leaves_the_app_map_whole(
    browser: Any, collector: CollectorThread
) -> None:
    # Any OTLP client may send control characters in a service or peer name; one made the
    # SVG not well-formed, and the page showed a parser error instead of the map.
    service, peer = "bad\x01svc<b>x</b>", "peer\x00\x1f</title><script>alert(1)</script>"
    trace_id, root = new_trace_id(), new_span_id()
    spans = [
        {"trace_id": trace_id, "span_id": root, "name": "turn", "kind": 2},
        {
            "trace_id": trace_id,
            "parent_span_id": root,
            "name": "call",
            "kind": 3,
            "attributes": {"peer.service": peer},
        },
    ]
    post_otlp(collector.url, "/v1/traces", spans_request(spans, service=service))
    with urllib.request.urlopen(f"{collector.url}/api/appmap.svg", timeout=10) as response:
        ElementTree.fromstring(response.read())  # well-formed
    ui = Page(browser, collector.url)
    try:
        page = ui.open("#/appmap")
        assert page.locator("parsererror").count() == 0
        shown = page.locator("svg.appmap g.node").evaluate_all(
            "els => els.map(e => e.dataset.node)"
        )
        assert sorted(shown) == [
            "bad\ufffdsvc<b>x</b>",
            "peer\ufffd\ufffd</title><script>alert(1)</script>",
        ]
        assert page.locator("#view b, #view script").count() == 0
        # A node still opens by its real name, which the JSON keeps.
        page.locator("svg.appmap g.node.service").click()
        ui.ready(f"#/node/{urllib.parse.quote(service, safe='')}")
        assert "turn" in page.locator("table").first.inner_text()
    finally:
        ui.close()
