"""UI fixes found by a QA pass acting as a bot owner, in headless Chromium against serve on
a real store: `|` in a user flow's event means one thing everywhere (alternatives of a
property value; refused in a name, by the API, the CLI and the form alike), a funnel's open
drop-off panel is in the address, a metric's unit does not sit on the top value's label and
every histogram series is charted, and keyboard focus follows a route change.

Screenshots go to test-artifacts/ui-fixes-journeys/ for a person to look at.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support import http_json
from tests.support.browser import Page
from tests.support.journeys import booking_store
from tests.support.otlp_messages import T0, metrics_request, post_otlp
from tests.support.processes import run_cli_here

SECOND = 1_000_000_000
EITHER = "BotMessageReceived|LuisIntent.Greeting"
#: Seven series of one histogram: the page charted the first five only.
ROUTES = [f"/route-{i}" for i in range(7)]
#: Twelve series of one gauge: more than the page has line colours (10).
QUEUES = [f"queue-{i:02d}" for i in range(12)]


def post_json(url: str, path: str, body: Any) -> tuple[int, Any]:
    return http_json.post_json(f"{url}{path}", body)


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorThread]:
    path = booking_store(
        tmp_path_factory.mktemp("ui-fixes-journeys") / "store.duckdb", user_per_conversation=True
    )
    with CollectorThread(ServerConfig(store=path, port=0)) as running:
        memory = [
            {"as_int": value, "time_unix_nano": T0 + i * SECOND}
            for i, value in enumerate([524_288, 786_432, 1_048_576])
        ]
        latency = [
            {
                "time_unix_nano": T0,
                "count": 3,
                "sum": 60.0,
                "explicit_bounds": [10.0, 100.0],
                "bucket_counts": [1, 2, 0],
                "attributes": {"http.route": route},
            }
            for route in ROUTES
        ]
        depths = [
            {"as_int": i, "time_unix_nano": T0 + j * SECOND, "attributes": {"queue": queue}}
            for i, queue in enumerate(QUEUES)
            for j in range(2)
        ]
        body = metrics_request(
            [
                {"name": "process.memory", "kind": "gauge", "unit": "By", "points": memory},
                {"name": "http.latency", "kind": "histogram", "unit": "ms", "points": latency},
                {"name": "queue.depth", "kind": "gauge", "unit": "1", "points": depths},
            ]
        )
        post_otlp(running.url, "/v1/metrics", body)
        yield running


@pytest.fixture
def ui(browser: Any, collector: CollectorThread) -> Iterator[Page]:
    page = Page(browser, collector.url, artifacts="ui-fixes-journeys")
    yield page
    page.close()


# ---- 1. `|` in an event: alternatives of a value, refused in a name ---------------------


def test_the_api_refuses_a_bar_in_an_event_name_naming_the_field(
    collector: CollectorThread,
) -> None:
    status, answer = post_json(collector.url, "/analytics/paths", {"startEvent": EITHER})
    assert status == 400, answer
    assert answer["error"].startswith("startEvent: an event name cannot hold |"), answer
    assert "EVENT:key=a|b" in answer["error"] and repr(EITHER) in answer["error"]
    status, answer = post_json(
        collector.url, "/analytics/funnel", {"steps": ["WaterfallStart", EITHER]}
    )
    assert status == 400 and answer["error"].startswith("steps[1]: an event name cannot hold |")
    status, answer = post_json(collector.url, "/analytics/paths", {"exclude": [EITHER]})
    assert status == 400 and answer["error"].startswith("exclude[0]: an event name cannot hold")
    # Alternatives of a property value are what `|` is for: a list in JSON, matched.
    status, answer = post_json(
        collector.url,
        "/analytics/paths",
        {"startEvent": {"event": "WaterfallStep", "where": {"StepName": ["ask_day", "nothing"]}}},
    )
    assert status == 200 and answer["entities"] == 5, answer


def test_the_cli_says_the_same_as_the_api(collector: CollectorThread) -> None:
    command = ["paths", "--url", collector.url, "--start", EITHER]
    done = run_cli_here(*command)
    assert done.returncode == 2, done  # bad input (docs/cli.md#exit-status)
    assert done.stderr.startswith("bot-telemetry: error: ")
    assert "400: startEvent: an event name cannot hold |" in done.stderr


def test_the_flows_form_refuses_a_bar_in_a_name_and_keeps_what_was_typed(ui: Page) -> None:
    page = ui.open("#/paths")
    page.fill("#paths-form input[name=event]", EITHER)
    page.click("#paths-form button")
    page.wait_for_selector('body[data-ready*="request="]')
    error = page.locator("#view p.error").inner_text()
    assert "an event name cannot hold |" in error and EITHER in error
    assert page.locator("#paths-form input[name=event]").input_value() == EITHER
    assert page.locator("svg.sankey").count() == 0
    ui.shot("paths-bar-refused")


def test_the_flows_form_reads_value_alternatives_as_the_funnel_form_does(ui: Page) -> None:
    page = ui.open("#/paths")
    typed = "WaterfallStep:StepName=ask_day|nothing"
    page.fill("#paths-form input[name=event]", typed)
    page.click("#paths-form button")
    page.wait_for_selector('body[data-ready*="request="]')
    # Each of the five conversations has an ask_day step; "ask_day|nothing" taken literally
    # matched none.
    summary = page.locator(".funnel-summary").inner_text()
    assert summary.startswith("5 conversations from WaterfallStep (StepName=ask_day|nothing)")
    assert page.locator("svg.sankey g.node").count() >= 2
    request = json.loads(
        urllib.parse.parse_qs(page.url.split("?", 1)[1])["request"][0]  # the shared address
    )
    assert request["startEvent"] == {
        "event": "WaterfallStep",
        "where": {"StepName": ["ask_day", "nothing"]},
    }
    # Sent again unchanged, it is still the same request (the line round-trips).
    assert page.locator("#paths-form input[name=event]").input_value() == typed


def test_the_retention_form_reads_events_as_the_funnel_form_does(ui: Page) -> None:
    # "WaterfallStep:StepName=ask_size" went whole as an event name and matched no one; an
    # event with properties from a shared address showed as "[object Object]".
    page = ui.open("#/retention?window=2026-11-02T00:00:00Z")
    page.select_option("#retention-form select[name=period]", "day")
    page.fill("#retention-form input[name=intervals]", "2")
    typed = "WaterfallStep:StepName=ask_size|confirm"
    page.fill("#retention-form input[name=cohortEvent]", typed)
    page.click("#retention-form button[type=submit]")
    page.wait_for_selector('body[data-ready*="request="]')
    summary = page.locator(".funnel-summary").inner_text()
    assert summary.startswith("cohort: WaterfallStep (StepName=ask_size|confirm) · "), summary
    users = page.locator("#view table").last.locator("tbody tr").first.locator("td").nth(1)
    assert int(users.inner_text()) > 0
    assert page.input_value("#retention-form input[name=cohortEvent]") == typed


def test_a_form_keeps_what_it_does_not_show_of_a_shared_address(ui: Page) -> None:
    # A shared retention's startTime (no field of the form) was dropped by the next Show,
    # and the cohorts moved to the last weeks before now.
    shared = {"period": "day", "totalIntervals": 3, "startTime": "2026-11-02T00:00:00Z"}
    page = ui.open("#/retention?" + urllib.parse.urlencode({"request": json.dumps(shared)}))
    page.fill("#retention-form input[name=intervals]", "2")
    page.click("#retention-form button[type=submit]")
    page.wait_for_selector('body[data-ready*="totalIntervals%22%3A2"]')
    request = json.loads(urllib.parse.parse_qs(page.url.split("?", 1)[1])["request"][0])
    assert request["startTime"] == shared["startTime"] and request["totalIntervals"] == 2
    cohorts = page.locator("#view table").last.locator("tbody tr td:first-child")
    assert cohorts.all_inner_texts() == ["2026-11-02", "2026-11-03"]
    # The same for a funnel's and a flow's fields the form has none for.
    funnel = {"steps": ["WaterfallStart", "WaterfallComplete"], "slowReplySeconds": 9}
    page = ui.open("#/funnels?" + urllib.parse.urlencode({"request": json.dumps(funnel)}))
    page.fill("#funnel-form input[name=window]", "1h")
    page.click("#funnel-form button[type=submit]")
    page.wait_for_selector('body[data-ready*="1h"]')
    request = json.loads(urllib.parse.parse_qs(page.url.split("?", 1)[1])["request"][0])
    assert request["slowReplySeconds"] == 9 and request["window"] == "1h"
    flow = {"startEvent": "WaterfallStart", "include": ["Waterfall*"]}
    page = ui.open("#/paths?" + urllib.parse.urlencode({"request": json.dumps(flow)}))
    page.fill("#paths-form input[name=steps]", "3")
    page.click("#paths-form button[type=submit]")
    page.wait_for_selector('body[data-ready*="stepLimit%22%3A3"]')
    request = json.loads(urllib.parse.parse_qs(page.url.split("?", 1)[1])["request"][0])
    assert request["include"] == ["Waterfall*"] and request["stepLimit"] == 3


def test_the_edges_table_names_each_end_by_its_event_and_step(ui: Page) -> None:
    # It showed the API's node ids ("1_WaterfallStep", "2_LuisIntent.*").
    page = ui.open("#/paths?start=WaterfallStart")
    edges = page.locator("#view table").nth(1)
    first = edges.locator("tbody tr").first.locator("td").all_inner_texts()
    assert first[0] == "WaterfallStart (step 1)" and first[1].endswith(" (step 2)"), first
    cells = edges.locator("tbody td").all_inner_texts()
    assert not any(cell[:1].isdigit() and "_" in cell for cell in cells), cells


# ---- 2. the funnel's drop-off panel is in the address -------------------------------------


def bar(page: Any, step: int) -> Any:
    return page.locator(f'svg.funnel-chart g.funnel-step[data-step="{step}"]')


def rendered_again(ui: Page, move: str, hash_: str) -> None:
    """Go back or forward and wait for the page to render ``hash_`` anew (the address it
    leaves may be the same, so the previous render's mark is cleared first)."""
    ui.page.evaluate("delete document.body.dataset.ready")
    getattr(ui.page, move)()
    ui.ready(hash_)


def test_the_open_drop_off_panel_is_in_the_address(ui: Page) -> None:
    page = ui.open("#/funnels")
    asked = [url for url in ui.requests if url.endswith("/analytics/funnel")]
    bar(page, 2).click()
    assert "#/funnels?step=2" in page.url
    heading = page.locator("#drop-off h3").first.inner_text()
    assert "ask_size" in heading
    # Opening a panel does not ask for the funnel again.
    assert [url for url in ui.requests if url.endswith("/analytics/funnel")] == asked

    page.reload()
    ui.ready("#/funnels?step=2")
    assert page.locator("#drop-off h3").first.inner_text() == heading
    assert bar(page, 2).get_attribute("class") == "funnel-step selected"

    bar(page, 1).click()
    assert "#/funnels?step=1" in page.url
    assert "ask_day" in page.locator("#drop-off h3").first.inner_text()
    rendered_again(ui, "go_back", "#/funnels?step=2")
    assert page.locator("#drop-off h3").first.inner_text() == heading
    rendered_again(ui, "go_forward", "#/funnels?step=1")
    assert "ask_day" in page.locator("#drop-off h3").first.inner_text()

    # A shared link with a time window (the data is from 2026-11-02) opens the panel too,
    # and a panel opened then keeps the window.
    page = ui.open("#/funnels?window=60d&step=2")
    assert page.locator("#window").input_value() == "60d"
    assert page.locator("#drop-off h3").first.inner_text() == heading
    bar(page, 1).click()
    assert page.url.endswith("#/funnels?window=60d&step=1")


def test_a_funnel_from_a_dialog_row_or_the_form_starts_with_no_panel(ui: Page) -> None:
    page = ui.open("#/funnels")
    bar(page, 2).click()
    page.click("#funnel-form button")
    page.wait_for_selector('body[data-ready*="request="]')
    assert "step=" not in page.url
    assert page.locator("#drop-off").count() == 0


# ---- 3. metrics: the unit beside the top value, every histogram series -------------------


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None
    return found  # type: ignore[no-any-return]


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def inside(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] >= b["x"]
        and a["y"] >= b["y"]
        and a["x"] + a["width"] <= b["x"] + b["width"]
        and a["y"] + a["height"] <= b["y"] + b["height"]
    )


def test_a_metric_unit_does_not_overlap_the_top_value(ui: Page) -> None:
    page = ui.open("#/metric/process.memory")
    chart = page.locator("svg.chart")
    unit = chart.locator("text", has_text="By")
    top = chart.locator("text.tick", has_text="1,048,576")
    assert unit.count() == 1 and top.count() == 1
    unit_box, top_box, chart_box = box(unit), box(top), box(chart)
    assert not overlap(unit_box, top_box), (unit_box, top_box)
    assert inside(unit_box, chart_box) and inside(top_box, chart_box)
    # Nor the lowest value, nor the line.
    assert not overlap(unit_box, box(chart.locator("text.tick", has_text="524,288")))
    assert not overlap(unit_box, box(chart.locator("g.series polyline")))
    ui.shot("metric-unit")


def test_every_histogram_series_is_charted(ui: Page) -> None:
    page = ui.open("#/metric/http.latency")
    assert page.locator("#view table tbody tr").count() == len(ROUTES)
    sections = page.locator("section.histogram")
    assert sections.count() == len(ROUTES)
    names = sections.locator("h3").all_inner_texts()
    assert names == [f"svc http.route={route}" for route in ROUTES]
    assert page.locator("section.histogram svg.buckets").count() == len(ROUTES)


def test_lines_past_the_colours_say_how_many_are_drawn(ui: Page) -> None:
    page = ui.open("#/metric/queue.depth")
    assert page.locator("#view table tbody tr").count() == len(QUEUES)
    assert page.locator("svg.chart g.series").count() == 10
    assert page.locator("ul.legend li").count() == 10
    note = page.locator("p.lines-cut")
    assert note.inner_text() == (
        "Lines for the first 10 of 12 series (one colour each); the table below lists every series."
    )
    # Under the cap, no note.
    ui.open("#/metric/process.memory")
    assert page.locator("p.lines-cut").count() == 0


# ---- 4. keyboard focus follows the route ------------------------------------------------


def focused(page: Any) -> str:
    """The focused element as `tag` or `tag:text`: what a screen reader would announce."""
    return page.evaluate(  # type: ignore[no-any-return]
        """() => {
          const node = document.activeElement;
          const tag = node.tagName.toLowerCase();
          return ["h2", "a", "main"].includes(tag) ? `${tag}:${node.textContent}` : tag;
        }"""
    )


def test_focus_moves_to_the_new_pages_heading(ui: Page) -> None:
    page = ui.open("#/funnels")
    assert focused(page) == "body"  # the first load leaves focus where the browser put it

    page.click("header nav a[data-view=paths]")
    ui.ready("#/paths")
    assert focused(page) == "h2:User flows"
    page.keyboard.press("Tab")  # on from the top of the new page
    assert page.evaluate("document.activeElement.closest('#view') !== null")

    page.focus("header nav a[data-view=funnels]")
    page.keyboard.press("Enter")
    ui.ready("#/funnels")
    assert focused(page) == "h2:Funnels"

    # A link inside a page.
    bar(page, 2).click()
    page.locator("#drop-off a", has_text="Paths out of this step").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector('body[data-ready^="#/paths?request="]')
    assert focused(page) == "h2:User flows"

    # Back renders the funnel again: its heading, not the removed link.
    rendered_again(ui, "go_back", "#/funnels?step=2")
    assert focused(page) == "h2:Funnels"


def test_the_time_window_select_keeps_focus(ui: Page) -> None:
    page = ui.open("#/funnels")
    page.focus("#window")
    page.select_option("#window", "24h")
    ui.ready("#/funnels?window=24h")
    assert focused(page) == "select"
    assert page.evaluate("document.activeElement.id") == "window"
