"""The Funnels, User flows and Retention pages in headless Chromium, over the DuckDB store
(serve's own app) and over ClickHouse (chDB): from a funnel bar to the transcript of a
conversation that stopped there, and to the failing span of the turn where it stopped, in
two clicks.

Screenshots go to test-artifacts/journeys/ for a person to look at.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot_telemetry.store.database import Store
from bot_telemetry.web import CollectorThread, ServerConfig
from bot_telemetry.web.journeys import add_journey_routes
from bot_telemetry.web.routes import Queries, add_routes
from tests.support.browser import Page
from tests.support.clickhouse import chdb_engine
from tests.support.journeys import Stream, booking, converse, load_clickhouse, load_duckdb
from tests.support.servers import serving_in_thread


def stream() -> Stream:
    s = Stream()
    for i, (name, script) in enumerate(booking().items()):
        for copy in range(2):
            converse(s, f"{name}-{copy}", i * 300 + copy * 100, script, user=f"user-{name}")
    # The same users back the next day, for retention.
    converse(s, "finished-again", 86400 + 50, booking()["finished"], user="user-finished")
    return s


@pytest.fixture(scope="module", params=["duckdb", "clickhouse"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "duckdb":
        path = tmp_path_factory.mktemp("ui-journeys") / "store.duckdb"
        store = Store.open(path)
        load_duckdb(store, stream())
        store.close()
        with CollectorThread(ServerConfig(store=path, port=0)) as running:
            yield running.url
        return
    with chdb_engine("ui_journeys") as engine:
        load_clickhouse(engine, stream())
        app = web.Application()
        queries = Queries(engine)
        add_routes(app, queries)
        add_journey_routes(app, queries)
        with serving_in_thread(app) as url:
            yield url
        queries.close()


@pytest.fixture
def ui(browser: Any, server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = Page(browser, server, artifacts="journeys")
    page.engine = request.node.callspec.params["server"]  # type: ignore[attr-defined]
    yield page
    page.close()


def bar(page: Any, step: int) -> Any:
    return page.locator(f'svg.funnel-chart g.funnel-step[data-step="{step}"]')


def test_a_dialog_funnel_down_to_the_failing_span(ui: Page) -> None:
    page = ui.open("#/funnels")
    assert "booking" in page.locator("table").first.inner_text()
    counts = page.locator("svg.funnel-chart text.count").all_text_contents()
    assert counts == ["11", "11", "5", "3", "3"]
    # Every bar says its numbers in its name (read by a screen reader, and under the chart
    # while it is focused or pointed at).
    assert "stopped here: 6" in (bar(page, 1).get_attribute("aria-label") or "")
    ui.shot(f"funnel-{ui.engine}")  # type: ignore[attr-defined]

    bar(page, 2).click()  # first click: why the two who stopped after ask_size did
    panel = page.locator("#drop-off")
    assert "bot error" in panel.inner_text()
    link = panel.locator("a.conversation-link").first
    conversation = link.text_content() or ""
    assert conversation.startswith("failed-")
    link.click()  # second click: the transcript
    ui.ready(f"#/conversation/{conversation}")
    assert page.locator("section.turn.failed").count() == 1
    ui.shot(f"funnel-transcript-{ui.engine}")  # type: ignore[attr-defined]

    page.go_back()  # the panel is in the address: back opens it again
    ui.ready("#/funnels?step=2")
    trace_link = page.locator("#drop-off a.trace-link").first
    trace = trace_link.text_content() or ""
    trace_link.click()  # or the trace of the turn where it stopped
    ui.ready(f"#/trace/{trace}")
    assert page.locator(".span-row.error").count() >= 1
    ui.shot(f"funnel-trace-{ui.engine}")  # type: ignore[attr-defined]


def test_why_they_stopped_after_the_first_question(ui: Page) -> None:
    page = ui.open("#/funnels")
    bar(page, 1).click()
    text = page.locator("#drop-off").inner_text()
    for cause in ("not understood (fallback)", "user left", "cancelled"):
        assert re.search(rf"{re.escape(cause)}\s+2", text), text
    assert page.locator("#drop-off a.conversation-link").count() == 6


def test_a_funnel_from_the_form(ui: Page) -> None:
    page = ui.open("#/funnels")
    page.fill("textarea[name=steps]", "LuisIntent.BookTable\nWaterfallComplete:DialogId=booking")
    page.fill("input[name=window]", "1h")
    page.click("#funnel-form button")
    page.wait_for_selector('body[data-ready*="request="]')
    page.wait_for_selector("svg.funnel-chart")
    assert page.locator("svg.funnel-chart text.count").all_text_contents() == ["11", "3"]
    assert page.locator("table").nth(1).locator("tbody tr").count() == 2


def test_a_strict_funnel_across_turns_says_why(ui: Page) -> None:
    """The intent and the completion are in different turns: strict, nobody gets from one to
    the other, and a note under the summary says why (and that in order, 3 did)."""
    page = ui.open("#/funnels")
    page.fill("textarea[name=steps]", "LuisIntent.BookTable\nWaterfallComplete:DialogId=booking")
    page.fill("input[name=window]", "1h")
    page.select_option("select[name=order]", "strict")
    page.click("#funnel-form button")
    page.wait_for_selector('body[data-ready*="request="]')
    page.wait_for_selector("svg.funnel-chart")
    assert page.locator("svg.funnel-chart text.count").all_text_contents() == ["11", "0"]
    note = page.locator("p.note[role=note]")
    assert note.count() == 1
    text = note.inner_text()
    assert "3 conversations did with other events between" in text, text
    assert "ask for order ordered" in text, text
    ui.shot(f"funnel-strict-note-{ui.engine}")  # type: ignore[attr-defined]


def test_user_flows_as_a_sankey(ui: Page) -> None:
    page = ui.open("#/paths?start=LuisIntent.BookTable")
    nodes = page.locator("svg.sankey g.node")
    assert nodes.count() >= 4
    assert page.locator("svg.sankey path.link").count() >= 3
    first = page.locator('svg.sankey g.node[data-node="1_LuisIntent.*"] title').text_content()
    assert "11 here" in (first or "")
    ui.shot(f"paths-{ui.engine}")  # type: ignore[attr-defined]
    # A funnel step opens the paths out of it.
    page = ui.open("#/funnels")
    bar(page, 2).click()
    page.locator("#drop-off a", has_text="Paths out of this step").click()
    page.wait_for_selector("svg.sankey")
    assert "from WaterfallStep" in page.locator(".funnel-summary").inner_text()


def test_retention_heat_map(ui: Page) -> None:
    request = {"period": "day", "totalIntervals": 3, "startTime": "2026-11-02T00:00:00Z"}
    page = ui.open("#/retention?" + urllib.parse.urlencode({"request": json.dumps(request)}))
    cells = page.locator("svg.heatmap g.cell")
    assert cells.count() == 6  # 3 + 2 + 1 intervals
    back = page.locator('svg.heatmap g.cell[data-cohort="0"][data-interval="1"]')
    assert "1 of 5" in (back.get_attribute("aria-label") or "")  # user-finished came back
    ui.shot(f"retention-{ui.engine}")  # type: ignore[attr-defined]


def test_the_pages_are_in_the_navigation(ui: Page, tmp_path: Path) -> None:
    page = ui.open("#/funnels")
    labels = page.locator("header nav a").all_text_contents()
    assert {"Funnels", "User flows", "Retention"} <= set(labels)


def shown_whole(page: Any, chart: str) -> dict[str, int]:
    """The chart's frame: how wide its content is and how wide the frame shows it."""
    return page.eval_on_selector(
        f".chart-frame:has({chart})",
        "frame => ({content: frame.scrollWidth, shown: frame.clientWidth})",
    )  # type: ignore[no-any-return]


def test_long_funnels_and_flows_fit_a_wide_window_without_scrolling(ui: Page) -> None:
    # An 8-step funnel is 1,120 px wide, a 5-step flow 1,030: both fit the 1,280 px window.
    # The measures' 900 px chart width once applied to these frames too and cut them off.
    steps = [
        "LuisIntent.BookTable",
        "WaterfallStart:DialogId=booking",
        "WaterfallStep:StepName=ask_day",
        "LuisIntent.None",
        "WaterfallStep:StepName=ask_size",
        "WaterfallStep:StepName=confirm",
        "WaterfallComplete:DialogId=booking",
        "TableBooked",
    ]
    page = ui.open("#/funnels")
    page.fill("textarea[name=steps]", "\n".join(steps))
    page.click("#funnel-form button")
    page.wait_for_selector('body[data-ready*="request="]')
    assert page.locator("svg.funnel-chart g.funnel-step").count() == 8
    funnel = shown_whole(page, "svg.funnel-chart")
    assert funnel["content"] >= 1120 and funnel["content"] <= funnel["shown"], funnel

    page = ui.open("#/paths?start=LuisIntent.BookTable")
    assert page.locator('svg.sankey g.node[data-node^="5_"]').count() >= 1
    flows = shown_whole(page, "svg.sankey")
    assert flows["content"] >= 1030 and flows["content"] <= flows["shown"], flows
