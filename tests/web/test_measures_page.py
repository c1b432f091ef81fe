"""The Measures page in headless Chromium: charts drawn as SVG with a table below each, values
on hover, line and bar, the form, a refused request shown as its message; nothing fetched
from elsewhere, no telemetry text run as markup."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.analytics.measures_expected import EXPECTED, Window
from tests.support.browser import Page
from tests.support.measure_traffic import END, START, Plan, planned_store
from tests.support.telemetry import CapturedTelemetry

FROM, TO = "2026-10-30T20:00:00Z", "2026-11-03T20:00:00Z"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CollectorThread, Plan]]:
    path = tmp_path_factory.mktemp("measures-page") / "store.duckdb"
    plan = planned_store(path)
    with CollectorThread(ServerConfig(store=path, port=0)) as running:
        yield running, plan


def api(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{url}/analytics/query", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_charts_tables_and_hover(browser: Any, planned: tuple[CollectorThread, Plan]) -> None:
    running, plan = planned
    ui = Page(browser, running.url, artifacts="measures")
    hash_ = f"#/measures?m=activeUsers,intents,turnLatency&g=day&from={FROM}&to={TO}"
    page = ui.open(hash_)
    sections = page.locator("section.measure")
    assert sections.evaluate_all("s => s.map(e => e.dataset.measure)") == [
        "activeUsers",
        "intents",
        "turnLatency",
    ]
    # activeUsers: five days, one line; the table below says what the API says.
    users = page.locator("section[data-measure=activeUsers]")
    expected = EXPECTED["activeUsers"](plan, Window(START, END, "day", {}, {}))
    cells = users.locator("table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert cells == [[row["time"], str(row["users"])] for row in expected]
    assert users.locator("svg.chart polyline.line").count() == 1
    assert users.locator("svg.chart circle.point").count() == 5
    # Hover the third day: the tip shows its date and value.
    users.locator("svg.chart rect.hit").nth(2).hover()
    tip = users.locator("svg.chart g.tip")
    assert tip.get_attribute("visibility") == "visible"
    assert tip.locator("text").all_text_contents() == [
        expected[2]["time"][:10],
        f"users: {expected[2]['users']}",
    ]
    # intents: a line per intent, named in the legend.
    intents = page.locator("section[data-measure=intents]")
    assert intents.locator("svg.chart polyline.line").count() == 4
    legend = intents.locator(".legend-item").all_text_contents()
    assert sorted(legend) == ["BookTable", "Greeting", "Help", "None"]
    # turnLatency: p50, p95, p99 as three lines, in milliseconds.
    latency = page.locator("section[data-measure=turnLatency]")
    assert latency.locator(".legend-item").all_text_contents() == ["p50Ms", "p95Ms", "p99Ms"]
    latency.locator("svg.chart rect.hit").nth(2).hover()
    lines = latency.locator("svg.chart g.tip text").all_text_contents()
    assert lines[1].startswith("p50Ms: ") and lines[1].endswith(" ms")
    ui.shot("measures-line")

    page = ui.open(hash_.replace("&g=day", "&g=hour&chart=bar").replace(",turnLatency", ""))
    users = page.locator("section[data-measure=activeUsers]")
    hourly = api(
        running.url,
        {
            "startTime": FROM,
            "endTime": TO,
            "measures": [{"measureType": "activeUsers", "timeGranularity": ["hour"]}],
        },
    )[0]["response"]
    assert users.locator("table tbody tr").count() == 96
    assert users.locator("svg.chart rect.bar").count() == sum(1 for r in hourly if r is not None)
    ui.shot("measures-bar")
    ui.close()


def test_the_form_and_a_refusal(browser: Any, planned: tuple[CollectorThread, Plan]) -> None:
    running, plan = planned
    ui = Page(browser, running.url, artifacts="measures")
    page = ui.open(f"#/measures?m=turns&g=week&from={FROM}&to={TO}")
    page.locator("input[name=measure][value=dependencyCalls]").check()
    page.locator("input[name=measure][value=turns]").uncheck()
    page.locator("select[name=granularity]").select_option("day")
    page.locator("input[name=channelId]").fill("msteams, webchat")
    page.locator("form.measures-form button").click()
    expected_hash = (
        f"#/measures?m=dependencyCalls&g=day&from={FROM.replace(':', '%3A')}"
        f"&to={TO.replace(':', '%3A')}&channelId=msteams%2C+webchat"
    )
    page = ui.ready(expected_hash)
    calls = page.locator("section[data-measure=dependencyCalls]")
    context = {"channelId": ["msteams", "webchat"]}
    expected = EXPECTED["dependencyCalls"](plan, Window(START, END, "day", context, {}))
    assert calls.locator("table tbody tr").count() == len(expected)
    assert calls.locator(".legend-item").all_text_contents()[0] == "azure.blob"  # most calls
    # A dimension the measure does not take: the page shows the API's message, naming the
    # filter by its label (the dimension).
    page = ui.open(f"#/measures?m=feedback&g=day&from={FROM}&to={TO}&locale=de-DE")
    assert (
        page.locator("p.error")
        .inner_text()
        .startswith("locale: expected one of the dimensions feedback takes")
    )
    ui.shot("measures-refused")
    ui.close()


def test_telemetry_text_is_never_markup(browser: Any, tmp_path: Path) -> None:
    """An intent named like markup is drawn as text in the legend, the tip and the table."""
    from bot_telemetry.store.database import Store
    from tests.support.bot_traffic import load_duckdb
    from tests.support.measure_traffic import make_plan, record

    plan = make_plan(conversations=6)
    hostile = "<img src=x onerror=alert(1)>"
    for turn in plan.turns:
        for event in turn.events:
            if event.name.startswith("LuisIntent."):
                event.properties["intent"] = hostile
    traffic, _ = record(plan)
    store = Store.open(tmp_path / "store.duckdb")
    load_duckdb(store, traffic)
    store.close()
    with CollectorThread(ServerConfig(store=tmp_path / "store.duckdb", port=0)) as running:
        ui = Page(browser, running.url, artifacts="measures")
        page = ui.open(f"#/measures?m=intents&g=day&from={FROM}&to={TO}")
        section = page.locator("section[data-measure=intents]")
        assert section.locator(".legend-item").all_text_contents() == [hostile]
        section.locator("svg.chart rect.hit").first.hover()
        assert hostile in section.locator("svg.chart g.tip").text_content()
        assert hostile in section.locator("table tbody").inner_text()
        assert page.locator("img").count() == 0
        ui.close()  # fails on a dialog (alert) or a script error


def test_two_recognizers_intents_are_apart_in_the_legend(
    browser: Any, telemetry: CapturedTelemetry, tmp_path: Path
) -> None:
    """A bot asking two recognizers (tests/support/recognizers.py): a line per intent and
    recognizer, named by both; with one recognizer (the other tests) by the intent alone."""
    from bot_telemetry.analytics.traces import iso
    from tests.support.recognizers import two_recognizers_store

    start_ns, end_ns = two_recognizers_store(telemetry, tmp_path / "store.duckdb")
    window = f"from={iso(start_ns - 10**9)}&to={iso(end_ns + 10**9)}"
    with CollectorThread(ServerConfig(store=tmp_path / "store.duckdb", port=0)) as running:
        ui = Page(browser, running.url, artifacts="measures")
        page = ui.open(f"#/measures?m=intents&g=hour&{window}")
        section = page.locator("section[data-measure=intents]")
        assert sorted(section.locator(".legend-item").all_text_contents()) == [
            "BookTable / clu",
            "BookTable / llm",
            "Greeting / clu",
            "SmallTalk / llm",
        ]
        headings = section.locator("table thead th").all_text_contents()
        assert headings[:3] == ["Time", "intent", "recognizer"]
        ui.close()
