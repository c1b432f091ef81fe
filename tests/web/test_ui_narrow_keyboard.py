"""A bot owner on a laptop (1280 px) and a phone (420 px), with a mouse and a keyboard, in
headless Chromium, on the test bot traffic:

* a span's name in the trace waterfall is read whole at 420 px (it was cut with "…", the full
  name only in the hover and the details), and the 1280 px layout keeps name and bar on one row;
* after a route change focus moves to the new page's heading, with a focus ring only when the
  keyboard is in use (:focus-visible): after a mouse-driven change the ring showed too;
* and what a sweep of every page at both widths found: numbers split from their units, charts
  shrunk to 5 px labels, long ids widening the page, cut form hints, empty states that said
  nothing useful, "Failed to fetch", a chart of 31 Tab stops, panels opening out of sight,
  a search that did nothing when run again.

Screenshots go to test-artifacts/ui-narrow-keyboard/ for a person to look at.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from bot_telemetry import contract
from bot_telemetry.store.database import Store
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.bot_traffic import Traffic, generate, load_duckdb
from tests.support.browser import Page
from tests.support.journeys import Stream, booking, converse
from tests.support.journeys import load_duckdb as load_journeys
from tests.support.otlp_messages import new_span_id, new_trace_id, post_otlp, spans_request

ARTIFACTS = "ui-narrow-keyboard"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CollectorThread, Traffic]]:
    path: Path = tmp_path_factory.mktemp("ui-narrow-keyboard") / "store.duckdb"
    traffic = generate()
    store = Store.open(path)
    load_duckdb(store, traffic)
    store.close()
    with CollectorThread(ServerConfig(store=path, port=0)) as running:
        yield running, traffic


@pytest.fixture
def ui(browser: Any, served: tuple[CollectorThread, Traffic]) -> Iterator[Page]:
    page = Page(browser, served[0].url, artifacts=ARTIFACTS)
    yield page
    page.close()


def labels(page: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.eval_on_selector_all(
        ".span-row",
        """rows => rows.map((row) => {
          const label = row.querySelector('.span-label');
          const track = row.querySelector('.span-track').getBoundingClientRect();
          const box = label.getBoundingClientRect();
          return { name: label.title, text: label.innerText,
                   cutWide: label.scrollWidth > label.clientWidth,
                   cutTall: label.scrollHeight > label.clientHeight,
                   labelTop: box.top, labelRight: box.right, labelBottom: box.bottom,
                   trackTop: track.top, trackLeft: track.left, trackWidth: track.width };
        })""",
    )
    return found


@pytest.mark.parametrize("width", [420, 1280])
def test_a_span_name_is_read_whole_in_the_waterfall(
    ui: Page, served: tuple[CollectorThread, Traffic], width: int
) -> None:
    _, traffic = served
    ui.page.set_viewport_size({"width": width, "height": 860})
    page = ui.open(f"#/trace/{traffic.turn_traces[0]}")
    rows = labels(page)
    assert len(rows) > 4
    ui.shot(f"waterfall-{width}")
    cut = [row["name"] for row in rows if row["cutWide"] or row["cutTall"]]
    assert cut == [], f"names cut at {width} px: {cut}"
    for row in rows:
        assert row["name"] in row["text"].replace("\n", " "), row
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if width == 1280:
        # Name and bar side by side, the track two thirds of the row as before.
        for row in rows:
            assert row["trackTop"] == row["labelTop"] and row["trackLeft"] >= row["labelRight"]
            assert row["trackWidth"] > 700, row
    else:
        # The name on its own line and the time track under it, the screen's width.
        for row in rows:
            assert row["trackTop"] >= row["labelBottom"] - 1 and row["trackWidth"] > 350, row


def routed(page: Any, prefix: str) -> None:
    """Wait until a page under ``prefix`` is drawn (its id is not known beforehand)."""
    page.wait_for_function(
        "p => location.hash.startsWith(p) && document.body.dataset.ready === location.hash",
        arg=prefix,
    )


FOCUS = """() => { const node = document.activeElement;
  return [node.tagName, node.matches(':focus-visible'), getComputedStyle(node).outlineStyle]; }"""


def test_a_route_change_without_the_keyboard_moves_focus_without_a_ring(
    ui: Page, served: tuple[CollectorThread, Traffic]
) -> None:
    # A shared link opened, then the time window picked without a key pressed: Chromium
    # drew its ring on the heading the script focused.
    page = ui.open("#/traces")
    page.select_option("#window", "7d")
    ui.ready("#/traces?window=7d")
    assert page.evaluate(FOCUS) == ["H2", False, "none"]
    ui.shot("window-picked-heading")
    # The browser's back button.
    page.go_back()
    ui.ready("#/traces")
    assert page.evaluate(FOCUS) == ["H2", False, "none"]
    # A trace opened with the mouse, and back again.
    row = page.locator("#view tbody tr").first.bounding_box()
    assert row is not None
    page.mouse.click(row["x"] + 10, row["y"] + 10)
    routed(page, "#/trace/")
    assert page.evaluate(FOCUS) == ["H2", False, "none"]
    page.go_back()
    ui.ready("#/traces")
    assert page.evaluate(FOCUS) == ["H2", False, "none"]


def test_a_keyboard_driven_route_change_shows_the_ring(ui: Page) -> None:
    page = ui.open("#/traces")
    page.focus("nav a[data-view=conversations]")
    page.keyboard.press("Enter")
    ui.ready("#/conversations")
    tag, visible, outline = page.evaluate(FOCUS)
    assert tag == "H2" and visible and outline != "none"
    # The keyboard after a mouse click: the ring is back.
    row = page.locator("#view tbody tr").first.bounding_box()
    assert row is not None
    page.mouse.click(row["x"] + 10, row["y"] + 10)
    routed(page, "#/conversation/")
    assert page.evaluate(FOCUS)[1] is False
    page.focus("nav a[data-view=traces]")
    page.keyboard.press("Enter")
    ui.ready("#/traces")
    assert page.evaluate(FOCUS)[:2] == ["H2", True]


BROKEN_CELLS = """() => [...document.querySelectorAll('#view td')].filter((cell) => {
  const text = cell.textContent.trim();
  const wanted = cell.classList.contains('num') || /\\d\\sms$/.test(text)
    || /^\\d{4}-\\d{2}-\\d{2}(T[\\d:.]+Z?)?$/.test(text);
  if (!wanted || !text) return false;
  const range = document.createRange();
  range.selectNodeContents(cell);
  const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
  return tops.size > 1;
}).map((cell) => cell.textContent)"""


@pytest.mark.parametrize("route", ["appmap", "node/bot", "traces", "trace", "retention"])
def test_numbers_with_units_and_times_stay_on_one_line_on_a_phone(
    ui: Page, served: tuple[CollectorThread, Traffic], route: str
) -> None:
    _, traffic = served
    ui.page.set_viewport_size({"width": 420, "height": 860})
    hash_ = f"#/trace/{traffic.turn_traces[0]}" if route == "trace" else f"#/{route}"
    page = ui.open(hash_)
    assert page.locator("#view td").count() > 3
    broken = page.evaluate(BROKEN_CELLS)
    ui.shot(f"cells-{route.replace('/', '-')}-420")
    assert broken == [], f"cut over two lines: {broken[:6]}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 420


CHART_SCALES = """() => [...document.querySelectorAll('#view svg.chart')].map((chart) =>
  chart.getBoundingClientRect().width / chart.viewBox.baseVal.width)"""


@pytest.mark.parametrize(
    "hash_",
    ["#/measures?m=activeUsers,turns&g=day", "#/metric/bot.turns", "#/metric/bot.turn.duration"],
)
def test_charts_keep_readable_labels_on_a_phone(ui: Page, hash_: str) -> None:
    """A chart scrolls sideways in its frame rather than shrink its 11 px labels to 5 px."""
    ui.page.set_viewport_size({"width": 420, "height": 860})
    page = ui.open(hash_)
    scales = page.evaluate(CHART_SCALES)
    ui.shot(f"chart-{hash_.split('/')[-1].split('?')[0]}-420")
    assert scales and min(scales) >= 0.85, scales
    assert page.evaluate("document.documentElement.scrollWidth") <= 420
    frames = page.locator("#view .chart-frame")
    assert frames.count() == len(scales)
    assert frames.first.evaluate("node => node.scrollWidth > node.clientWidth")


def test_an_empty_list_says_what_was_looked_at_and_what_may_show_more(ui: Page) -> None:
    # It said "Nothing in this time window." with the window "everything" too.
    page = ui.open("#/traces?service=nobody")
    assert page.locator("#view td.empty").inner_text() == (
        "No trace matches this search in the store."
    )
    page = ui.open("#/traces?window=15m")
    assert page.locator("#view td.empty").inner_text() == (
        "No traces in the last 15 minutes: a longer time window may show more."
    )
    page = ui.open("#/conversations?window=1h")
    assert "in the last hour: a longer time window" in page.locator("#view td.empty").inner_text()
    page = ui.open("#/metric/nope")
    assert page.locator("#view .empty").inner_text() == "No points of metric nope in the store."


ACTIVE_HIT = """() => { const node = document.activeElement;
  return node.matches('svg.chart rect.hit')
    ? [node.closest('section.measure').dataset.measure, Number(node.dataset.index)] : null; }"""


def test_a_measure_chart_is_one_tab_stop_with_arrow_keys_between_buckets(ui: Page) -> None:
    # Every bucket was a Tab stop: by day over a month, 31 Tabs to get past one chart.
    page = ui.open("#/measures?m=activeUsers,turns&g=day&from=2025-06-01&to=2025-07-01")
    first = page.locator("section[data-measure=activeUsers] svg.chart rect.hit")
    assert first.count() == 30
    first.first.focus()
    assert page.evaluate(ACTIVE_HIT) == ["activeUsers", 0]
    page.keyboard.press("ArrowRight")
    assert page.evaluate(ACTIVE_HIT) == ["activeUsers", 1]
    tip = page.locator("section[data-measure=activeUsers] svg.chart g.tip")
    assert tip.get_attribute("visibility") == "visible"
    assert tip.locator("text").first.text_content() == "2025-06-02"
    # A screen reader reads the bucket as the tip draws it (inside a role=img chart it read
    # nothing, then the tip's text as it changed).
    bucket = page.locator("section[data-measure=activeUsers] svg.chart rect.hit").nth(1)
    drawn = ", ".join(tip.locator("text").all_text_contents())
    assert drawn.startswith("2025-06-02, users: ")
    expect(bucket).to_have_accessible_name(drawn)
    assert tip.get_attribute("aria-hidden") == "true"
    page.keyboard.press("End")
    assert page.evaluate(ACTIVE_HIT) == ["activeUsers", 29]
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE_HIT) != ["activeUsers", 29]
    assert page.evaluate(ACTIVE_HIT) in (None, ["turns", 0])
    # Back into the chart with Shift+Tab: the bucket last shown.
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(ACTIVE_HIT) == ["activeUsers", 29]


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("ui-keyboard-journeys") / "store.duckdb"
    stream = Stream()
    for i, (name, script) in enumerate(booking().items()):
        converse(stream, name, i * 300, script, user=f"user-{name}")
    store = Store.open(path)
    load_journeys(store, stream)
    store.close()
    with CollectorThread(ServerConfig(store=path, port=0)) as running:
        yield running.url


def test_a_funnel_step_opens_with_space_as_a_button_does(browser: Any, journeys: str) -> None:
    ui = Page(browser, journeys, artifacts=ARTIFACTS)
    # Tall enough that the panel opens in sight: a panel opened below the edge is scrolled
    # to (by design), which is not Space's own scroll this test looks for.
    ui.page.set_viewport_size({"width": 1280, "height": 1100})
    page = ui.open("#/funnels")
    step = page.locator('svg.funnel-chart g.funnel-step[data-step="2"]')
    assert step.get_attribute("role") == "button"
    step.focus()
    page.keyboard.press(" ")
    page.wait_for_selector("#drop-off h3")
    assert "#/funnels?step=2" in page.url
    assert page.evaluate("window.scrollY") == 0
    ui.close()


def test_a_metric_table_says_the_unit_of_its_values(ui: Page) -> None:
    page = ui.open("#/metric/bot.turn.duration")
    headings = page.locator("#view th").all_inner_texts()
    assert "Count" in headings and "p95 (ms)" in headings and "Sum (ms)" in headings, headings
    page = ui.open("#/metric/bot.turns")  # unit "1": no unit to say
    assert "Latest" in page.locator("#view th").all_inner_texts()


def test_a_trace_with_one_failed_span_says_1_error(
    ui: Page, served: tuple[CollectorThread, Traffic]
) -> None:
    running, _ = served
    with urllib.request.urlopen(f"{running.url}/api/traces?limit=100", timeout=10) as answer:
        traces = json.load(answer)
    one = next(trace["trace_id"] for trace in traces if trace["errors"] == 1)
    page = ui.open(f"#/trace/{one}")
    summary = page.locator("#view h2 + p").inner_text()
    assert " · 1 error · " in summary and "1 errors" not in summary, summary


@pytest.mark.parametrize("width", [1280, 420])
def test_every_funnel_step_is_in_sight_in_the_form(browser: Any, journeys: str, width: int) -> None:
    ui = Page(browser, journeys, artifacts=ARTIFACTS)
    ui.page.set_viewport_size({"width": width, "height": 860})
    page = ui.open("#/funnels")
    steps = page.locator("#funnel-form textarea[name=steps]")
    lines = steps.input_value().splitlines()
    assert len(lines) >= 5
    assert steps.evaluate("node => node.scrollHeight <= node.clientHeight"), "steps below the edge"
    box = steps.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    ui.shot(f"funnel-form-{width}")
    ui.close()


def test_a_search_run_again_reads_the_store_again(
    ui: Page, served: tuple[CollectorThread, Traffic]
) -> None:
    """Searching with the same fields, or the nav entry of the page one is on, did nothing:
    the address did not change, so the page was not drawn again and new traces stayed out."""
    running, _ = served
    page = ui.open("#/traces?service=late")
    assert page.locator("#view td.empty").count() == 1
    request = spans_request([{"name": "late call"}], service="late")
    post_otlp(running.url, "/v1/traces", request)
    page.evaluate("delete document.body.dataset.ready")
    page.click("#trace-search button[type=submit]")
    ui.ready("#/traces?service=late")
    assert page.locator("#view tbody tr.clickable").count() == 1
    page = ui.open("#/traces")
    rows = page.locator("#view tbody tr").count()
    page.evaluate("delete document.body.dataset.ready")
    page.click("nav a[data-view=traces]")
    ui.ready("#/traces")
    assert page.locator("#view tbody tr").count() == rows


@pytest.mark.parametrize("route", ["conversations", "appmap", "measures"])
def test_a_stopped_collector_is_said_in_words(browser: Any, tmp_path: Path, route: str) -> None:
    """The page said the browser's "Failed to fetch" once serve had stopped."""
    with CollectorThread(ServerConfig(store=tmp_path / "store.duckdb", port=0)) as running:
        ui = Page(browser, running.url, artifacts=ARTIFACTS)
        ui.open("#/traces")
    page = ui.page
    page.evaluate("delete document.body.dataset.ready")
    page.click(f"nav a[data-view={route}]")
    ui.ready(f"#/{route}")
    message = page.locator("#view .error").inner_text()
    assert "Failed to fetch" not in message, message
    assert "The collector did not answer" in message and "serve" in message, message
    ui.close()


# A Teams conversation id: one word of 90 characters.
TEAMS_ID = (
    "19:meeting_ZjE2YzY0NTctYTIxOS00MmRiLWJmZDMtYTU3NDQ2ZjVkMWQ4@thread.v2;messageid=1732990000"
)


@pytest.mark.parametrize("route", ["conversation", "trace"])
def test_a_long_conversation_id_wraps_on_a_phone(
    ui: Page, served: tuple[CollectorThread, Traffic], route: str
) -> None:
    running, _ = served
    trace, span = new_trace_id(), new_span_id()
    turn = {
        "trace_id": trace,
        "span_id": span,
        "name": contract.TURN_SPAN_NAME,
        "kind": 1,
        "status": 2,
        "attributes": {
            contract.ATTR_CONVERSATION_ID: TEAMS_ID,
            contract.ATTR_ACTIVITY_TYPE: "message",
        },
    }
    request = spans_request([turn], service="bot")
    failed = request.resource_spans[0].scope_spans[0].spans[0]
    failed.status.message = f"https://smba.trafficmanager.net/emea/v3/conversations/{TEAMS_ID}"
    post_otlp(running.url, "/v1/traces", request)
    ui.page.set_viewport_size({"width": 420, "height": 860})
    path = urllib.parse.quote(TEAMS_ID, safe="")
    page = ui.open(
        f"#/conversation/{path}" if route == "conversation" else f"#/trace/{trace.hex()}"
    )
    assert TEAMS_ID in page.locator("#view").inner_text()
    ui.shot(f"long-id-{route}-420")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, f"the page is {width}px wide"


CUT_PLACEHOLDERS = """() => {
  const context = document.createElement('canvas').getContext('2d');
  return [...document.querySelectorAll('#view input[placeholder]')].filter((input) => {
    const style = getComputedStyle(input);
    context.font = `${style.fontSize} ${style.fontFamily}`;
    const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return context.measureText(input.placeholder).width > room;
  }).map((input) => input.placeholder);
}"""


@pytest.mark.parametrize("width", [1280, 420])
@pytest.mark.parametrize("route", ["traces", "measures", "funnels", "paths", "retention"])
def test_a_form_hint_is_read_whole(ui: Page, route: str, width: int) -> None:
    ui.page.set_viewport_size({"width": width, "height": 860})
    page = ui.open(f"#/{route}")
    assert page.locator("#view input[placeholder]").count() > 0
    assert page.evaluate(CUT_PLACEHOLDERS) == []


MISALIGNED_HEADINGS = """() => [...document.querySelectorAll('#view table')].flatMap((table) => {
  const headings = [...table.querySelectorAll('thead th')];
  const row = table.querySelector('tbody tr');
  if (!row || row.cells.length !== headings.length) return [];
  return headings.filter((th, i) => row.cells[i].classList.contains('num')).filter((th, i) => {
    const range = document.createRange();
    range.selectNodeContents(th);
    const text = range.getBoundingClientRect();
    const cell = th.getBoundingClientRect();
    return cell.right - text.right > 12;
  }).map((th) => th.textContent);
})"""


@pytest.mark.parametrize("route", ["conversations", "appmap", "traces", "retention"])
def test_a_number_column_heading_sits_over_its_numbers(ui: Page, route: str) -> None:
    # Numbers are right-aligned; their headings were left-aligned, "Turns with a failure"
    # 200 px left of its 0s.
    page = ui.open(f"#/{route}")
    assert page.evaluate(MISALIGNED_HEADINGS) == []


def test_an_empty_app_map_says_how_telemetry_gets_here(browser: Any, tmp_path: Path) -> None:
    with CollectorThread(ServerConfig(store=tmp_path / "store.duckdb", port=0)) as running:
        ui = Page(browser, running.url, artifacts=ARTIFACTS)
        page = ui.open("#/appmap")
        said = page.locator("#view .appmap-frame").inner_text()
        assert said.startswith("No telemetry in the store."), said
        assert f"OTEL_EXPORTER_OTLP_ENDPOINT={running.url}" in said, said
        page = ui.open("#/appmap?window=15m")
        said = page.locator("#view .appmap-frame").inner_text()
        assert said == "No telemetry in the last 15 minutes: a longer time window may show more."
        ui.close()


DETAILS_IN_SIGHT = """() => {
  const box = document.getElementById('span-details')?.getBoundingClientRect();
  // > -1: a panel taller than the screen is scrolled to its top, at -0.09 px with subpixel layout
  return box !== undefined && box.top > -1 && box.top < window.innerHeight - 40;
}"""
WHERE_DETAILS_ARE = """() => [document.getElementById('span-details')?.getBoundingClientRect().top,
  window.innerHeight, window.scrollY, document.activeElement.className]"""


def details_in_sight(page: Any) -> None:
    """Wait for the opened span's details to be in sight; on a timeout, say where they were."""
    try:
        page.wait_for_function(DETAILS_IN_SIGHT, timeout=5_000)
    except PlaywrightTimeout as error:
        raise AssertionError(f"details not in sight: {page.evaluate(WHERE_DETAILS_ARE)}") from error


def test_a_span_opened_on_a_phone_shows_its_details(
    ui: Page, served: tuple[CollectorThread, Traffic]
) -> None:
    """They opened below the screen's edge: the tap or Enter seemed to do nothing."""
    _, traffic = served
    ui.page.set_viewport_size({"width": 420, "height": 640})
    page = ui.open(f"#/trace/{traffic.turn_traces[0]}")
    row = page.locator(".span-row").nth(2)
    row.focus()
    page.keyboard.press("Enter")
    details_in_sight(page)
    ui.shot("span-details-420")
    # Another span, with the mouse.
    page.locator(".span-row").nth(3).click()
    details_in_sight(page)
    name = page.locator(".span-row .span-label").nth(3).get_attribute("title")
    assert name and page.locator("#span-details h3").first.inner_text().endswith(name)


def test_a_funnel_step_tapped_on_a_phone_shows_its_panel(browser: Any, journeys: str) -> None:
    ui = Page(browser, journeys, artifacts=ARTIFACTS)
    ui.page.set_viewport_size({"width": 420, "height": 860})
    page = ui.open("#/funnels")
    page.locator('svg.funnel-chart g.funnel-step[data-step="2"]').click()
    heading = page.locator("#drop-off h3").first
    box = heading.bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 860, box
    ui.shot("funnel-panel-420")
    ui.close()


def test_a_retention_with_no_one_in_it_says_why(ui: Page) -> None:
    # The test traffic is from 2025: the last 8 weeks hold no one; the page drew a grid of 0s.
    page = ui.open("#/retention")
    said = page.locator("#view p.retention-empty").inner_text()
    assert said.startswith("No one came first in these 8 weeks (") and "further back" in said
    page = ui.open("#/retention?window=7d")
    assert page.locator("#view p.retention-empty").count() == 1


def test_a_table_wider_than_the_phone_says_it_scrolls(ui: Page) -> None:
    # The box's edge cut a column mid-word ("Fi") and nothing said more columns followed.
    ui.page.set_viewport_size({"width": 420, "height": 860})
    # The channel's traces: the store is shared, and the bot's include the Teams id (one word
    # of 90 characters) a test above posts, which no table at 1280 px fits.
    page = ui.open("#/traces?service=channel")
    page.wait_for_selector("#view .table-scroll[data-overflow=yes]")
    hint = page.locator("#view .table-scroll .scroll-hint").first
    assert hint.is_visible() and "scroll the table sideways" in hint.inner_text()
    # Still in sight when the table is scrolled to its end.
    page.locator("#view .table-scroll").first.evaluate("box => { box.scrollLeft = 10000; }")
    box = hint.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + 100 <= 420, box
    ui.page.set_viewport_size({"width": 1280, "height": 860})
    page.wait_for_selector("#view .table-scroll[data-overflow=no]")
    assert not hint.is_visible()


def test_a_stopped_collector_is_said_in_words_on_the_exhausts_page(
    browser: Any, tmp_path: Path
) -> None:
    """The Exhausts page had its own fetch: its job list and its form said "Failed to fetch"."""
    with CollectorThread(ServerConfig(store=tmp_path / "store.duckdb", port=0)) as running:
        ui = Page(browser, running.url, artifacts=ARTIFACTS)
        page = ui.open("#/exhausts")
    page.fill("#exhaust-lookup [name=tag]", "gone")
    page.evaluate("delete document.body.dataset.ready")
    page.click("#exhaust-lookup button[type=submit]")
    ui.ready("#/exhausts/gone")
    listed = page.locator(".exhaust-jobs .error").inner_text()
    assert "Failed to fetch" not in listed, listed
    assert "The collector did not answer" in listed and "serve" in listed, listed
    page.click("#exhaust-form button[type=submit]")
    said = page.locator("#exhaust-form + p.error")
    said.wait_for(state="visible")
    assert "The collector did not answer" in said.inner_text(), said.inner_text()
    ui.close()


WINDOW_STATE = """() => { const select = document.getElementById('window');
  const note = document.getElementById('window-note');
  return [select.disabled, select.value, note.hidden ? '' : note.textContent]; }"""


def test_the_time_window_says_it_is_not_used_where_it_changes_nothing(
    ui: Page, served: tuple[CollectorThread, Traffic]
) -> None:
    """On a trace, a transcript and the Exhausts page the select was offered, and picking a
    window changed nothing on the page."""
    _, traffic = served
    conversation = urllib.parse.quote(traffic.conversations[0], safe="")
    unused = [True, "7d", "(not used on this page)"]
    for hash_ in (
        f"#/trace/{traffic.turn_traces[0]}?window=7d",
        f"#/conversation/{conversation}?window=7d",
        "#/exhausts?window=7d",
    ):
        page = ui.open(hash_)
        assert page.evaluate(WINDOW_STATE) == unused, hash_
        assert page.locator("#window-note").is_visible()
    ui.shot("window-not-used")
    # The window is kept for the pages it does change: the nav, with the keyboard.
    page.focus("nav a[data-view=traces]")
    page.keyboard.press("Enter")
    ui.ready("#/traces?window=7d")
    assert page.evaluate(WINDOW_STATE) == [False, "7d", ""]
    assert page.evaluate(FOCUS)[:2] == ["H2", True]
    # There the select is used with the arrow keys as before: focus stays on it.
    page.focus("#window")
    page.keyboard.press("ArrowUp")
    ui.ready("#/traces?window=24h")
    assert page.evaluate("document.activeElement.id") == "window"
    assert page.evaluate(WINDOW_STATE) == [False, "24h", ""]


# ---- hover-only figures reached by the keyboard: one Tab stop, arrow keys, words -----------

FOCUSED = """() => { const node = document.activeElement;
  return { step: node.dataset.step ?? null, cohort: node.dataset.cohort ?? null,
    interval: node.dataset.interval ?? null, label: node.getAttribute('aria-label'),
    ring: node.matches(':focus-visible') && node.querySelector('rect')
      ? getComputedStyle(node.querySelector('rect')).strokeWidth : null }; }"""


def tip_in_sight(page: Any, selector: str, width: int) -> str:
    tip = page.locator(selector)
    box = tip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    return str(tip.inner_text())


@pytest.mark.parametrize("width", [1280, 420])
def test_a_funnel_bars_figures_are_read_by_keyboard_from_one_tab_stop(
    browser: Any, journeys: str, width: int
) -> None:
    # The figures were in a hover title only, and each bar was a Tab stop of its own.
    ui = Page(browser, journeys, artifacts=ARTIFACTS)
    ui.page.set_viewport_size({"width": width, "height": 860})
    page = ui.open("#/funnels")
    bars = page.locator("svg.funnel-chart g.funnel-step")
    assert bars.count() == 5
    assert page.locator("svg.funnel-chart [tabindex='0']").count() == 1
    assert "arrow keys" in tip_in_sight(page, ".funnel-tip", width)
    page.locator("#funnel-form button[type=submit]").focus()
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["step"] == "0"
    page.keyboard.press("ArrowRight")
    focused = page.evaluate(FOCUSED)
    assert focused["step"] == "1" and focused["ring"] == "3px", focused
    said = tip_in_sight(page, ".funnel-tip", width)
    assert said == focused["label"], (said, focused)
    assert said.startswith("WaterfallStep (DialogId=booking, StepName=ask_day) · ") and (
        "stopped here: 3" in said and "of the first step" in said and "time to convert" in said
    ), said
    page.keyboard.press("End")
    assert page.evaluate(FOCUSED)["step"] == "4"
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["step"] is None  # past the chart in one Tab
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED)["step"] == "4"  # back to the bar last reached
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    page.wait_for_selector("#drop-off h3")
    assert "ask_day" in page.locator("#drop-off h3").first.inner_text()
    assert bars.nth(1).get_attribute("aria-pressed") == "true"
    # A bar clicked is where the keyboard comes back to.
    bars.nth(3).click()
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED)["step"] == "3"
    ui.shot(f"funnel-keyboard-{width}")
    ui.close()


LOOSE_TEXT = """() => [...document.getElementById('view').childNodes]
  .filter((node) => node.nodeType === Node.TEXT_NODE).map((node) => node.textContent)"""
RETENTION_DAYS = {"period": "day", "totalIntervals": 3, "startTime": "2026-11-02T00:00:00Z"}


@pytest.mark.parametrize("width", [1280, 420])
def test_a_retention_cells_figures_are_read_by_keyboard_from_one_tab_stop(
    browser: Any, journeys: str, width: int
) -> None:
    # Each cell's figures, and all a "not yet" cell knew, were in a hover title only.
    ui = Page(browser, journeys, artifacts=ARTIFACTS)
    ui.page.set_viewport_size({"width": width, "height": 860})
    page = ui.open("#/retention?" + urllib.parse.urlencode({"request": json.dumps(RETENTION_DAYS)}))
    cells = page.locator("svg.heatmap g.cell")
    assert cells.count() == 6  # 3 + 2 + 1 intervals
    # No stray text between the page's parts: a "null" stood above the map.
    assert page.evaluate(LOOSE_TEXT) == []
    assert page.locator("svg.heatmap [tabindex='0']").count() == 1
    page.locator("#retention-form button[type=submit]").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate(FOCUSED)
    assert (focused["cohort"], focused["interval"]) == ("0", "0") and focused["ring"] == "3px"
    said = tip_in_sight(page, ".retention-tip", width)
    assert said == focused["label"] == "cohort 2026-11-02, day 0: 5 of 5 (100%)", said
    moves = [
        ("ArrowRight", "0", "1"),
        ("ArrowDown", "1", "1"),
        ("ArrowDown", "2", "0"),
        ("ArrowUp", "1", "0"),
        ("End", "1", "1"),
        ("Home", "1", "0"),
    ]
    for key, cohort, interval in moves:
        page.keyboard.press(key)
        focused = page.evaluate(FOCUSED)
        assert (focused["cohort"], focused["interval"]) == (cohort, interval), (key, focused)
    said = tip_in_sight(page, ".retention-tip", width)
    assert said == "cohort 2026-11-03, day 0: 0 of 0 (\u2013)", said
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["cohort"] is None  # past the map in one Tab
    # The interval not over yet (this week's): what came so far, from the keyboard.
    page = ui.open("#/retention")
    page.locator("svg.heatmap [tabindex='0']").focus()
    for _ in range(8):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("End")
    said = tip_in_sight(page, ".retention-tip", width)
    assert said.endswith("week 0: not over yet (0 of 0 back so far)"), said
    assert page.evaluate(FOCUSED)["label"] == said
    assert "hover" not in page.locator("#view p.retention-pending").inner_text()
    ui.shot(f"retention-keyboard-{width}")
    ui.close()


@pytest.mark.parametrize("width", [1280, 420])
def test_an_app_map_node_is_a_link_that_says_its_figures(ui: Page, width: int) -> None:
    # As a role=img picture its nodes were hidden from a screen reader, and a node's whole
    # name and figures were in a hover title only.
    ui.page.set_viewport_size({"width": width, "height": 860})
    page = ui.open("#/appmap")
    assert page.locator("svg.appmap").get_attribute("role") == "group"
    node = page.locator('svg.appmap g.node[data-node="nlu"]')
    label = node.get_attribute("aria-label") or ""
    assert label.startswith("nlu (service): ") and "requests" in label, label
    assert f'link "{label}"' in page.locator("svg.appmap").aria_snapshot()
    assert "Tab to it" in tip_in_sight(page, ".appmap-tip", width)
    node.focus()
    assert tip_in_sight(page, ".appmap-tip", width) == label
    page.keyboard.press("Enter")
    ui.ready("#/node/nlu")
    page = ui.open("#/appmap")
    page.locator('svg.appmap g.node[data-node="qna"]').hover()
    said = tip_in_sight(page, ".appmap-tip", width)
    assert said.startswith("qna (service): "), said


@pytest.mark.parametrize("width", [1280, 420])
def test_what_a_measure_counts_is_read_by_keyboard(ui: Page, width: int) -> None:
    # It was a hover title on the checkbox's label only.
    ui.page.set_viewport_size({"width": width, "height": 860})
    page = ui.open("#/measures?m=turns&from=2025-06-01&to=2025-07-01")
    with urllib.request.urlopen(f"{ui.base}/analytics/measures", timeout=10) as answer:
        docs = {m["measureType"]: m["doc"] for m in json.load(answer)["measures"]}
    assert "Tab to it" in tip_in_sight(page, ".measure-doc", width)
    box = page.locator("input[name=measure][value=activeUsers]")
    expect(box).to_have_accessible_description(docs["activeUsers"])
    box.focus()
    assert tip_in_sight(page, ".measure-doc", width) == f"activeUsers: {docs['activeUsers']}"
    page.keyboard.press("Tab")
    said = tip_in_sight(page, ".measure-doc", width)
    assert said != f"activeUsers: {docs['activeUsers']}" and said.split(": ", 1)[1] in docs.values()
    page.locator("label:has(input[name=measure][value=turns])").hover()
    assert tip_in_sight(page, ".measure-doc", width).startswith("turns: ")


@pytest.mark.parametrize(
    ("route", "opens"),
    [
        ("traces", "#/trace/"),
        ("conversations", "#/conversation/"),
        ("metrics", "#/metric/"),
        ("node/bot", "#/trace/"),
    ],
)
def test_a_row_that_opens_a_page_is_a_link(ui: Page, route: str, opens: str) -> None:
    # A row was only clickable: a screen reader read it as a plain row, and it could not be
    # opened in a new tab beside the list.
    page = ui.open(f"#/{route}")
    row = page.locator("#view tbody tr.clickable").first
    link = row.locator("td").first.locator("a.row-link")
    assert link.count() == 1
    href = link.get_attribute("href") or ""
    assert href.startswith(opens), href
    assert row.get_attribute("tabindex") is None  # one Tab stop per row: its link
    assert "- link " in row.aria_snapshot()
    with page.context.expect_page() as opened:
        link.click(modifiers=["Control"])
    beside = opened.value
    beside.wait_for_selector(f'body[data-ready="{href}"]')
    assert ui.page.url.endswith(f"#/{route}")  # the list stays where it was
    beside.close()
    link.focus()
    page.keyboard.press("Enter")
    ui.ready(href)
    page.go_back()
    ui.ready(f"#/{route}")
    page.locator("#view tbody tr.clickable").first.locator("td").nth(1).click()
    ui.ready(href)


ACTIVE_SPAN = """() => { const node = document.activeElement;
  return node.matches('.span-row') ? [...node.parentNode.children].indexOf(node) : null; }"""


def test_the_waterfall_is_one_tab_stop_with_arrow_keys_between_spans(
    ui: Page, served: tuple[CollectorThread, Traffic]
) -> None:
    # Every span was a Tab stop, with no role (a screen reader did not say it opens its
    # details), and Space scrolled the page instead of opening one.
    _, traffic = served
    page = ui.open(f"#/trace/{traffic.turn_traces[0]}")
    rows = page.locator(".span-row")
    count = rows.count()
    assert count >= 3
    assert page.locator(".waterfall [tabindex='0']").count() == 1
    assert rows.nth(1).get_attribute("role") == "button"
    page.locator("#view a.conversation-link").focus()
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE_SPAN) == 0
    page.keyboard.press("ArrowDown")
    assert page.evaluate(ACTIVE_SPAN) == 1
    label = rows.nth(1).get_attribute("aria-label") or ""
    name = rows.nth(1).locator(".span-label").get_attribute("title") or ""
    assert name and name in label and label.endswith("\u00a0ms"), label
    page.keyboard.press(" ")
    page.wait_for_selector("#span-details h3")
    assert page.locator("#span-details h3").first.inner_text().endswith(name)
    assert rows.nth(1).get_attribute("aria-pressed") == "true"
    page.keyboard.press("End")
    assert page.evaluate(ACTIVE_SPAN) == count - 1
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE_SPAN) is None  # past the waterfall in one Tab
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(ACTIVE_SPAN) == count - 1


def test_each_turns_trace_link_says_which_turn(
    ui: Page, served: tuple[CollectorThread, Traffic]
) -> None:
    # A screen reader's list of links read "trace", "trace", "trace".
    page = ui.open("#/conversations")
    page.locator("#view a.row-link").first.click()
    page.wait_for_selector('body[data-ready^="#/conversation/"]')
    links = page.locator("section.turn .meta a")
    assert links.count() >= 2
    names = [f"trace of turn {i + 1}" for i in range(links.count())]
    for i, name in enumerate(names):
        expect(links.nth(i)).to_have_accessible_name(name)


SPLIT_WORDS = """panel => {
  // Words of the panel's table cells that the layout broke across two lines (an id may
  // break at its hyphens).
  const split = [];
  for (const cell of panel.querySelectorAll('.table-scroll td')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/[^\\s()-]+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        if (range.getClientRects().length > 1) split.push(match[0]);
      }
    }
  }
  return split; }"""


@pytest.mark.parametrize("width", [1280, 420])
def test_a_drop_off_panel_keeps_its_words_whole(browser: Any, journeys: str, width: int) -> None:
    # The span details' key/value rules reached the panel's tables: at 420 px "not
    # understood" broke mid-word and each row of who stopped was 130 px high.
    ui = Page(browser, journeys, artifacts=ARTIFACTS)
    ui.page.set_viewport_size({"width": width, "height": 860})
    page = ui.open("#/funnels?step=1")
    panel = page.locator("#drop-off")
    panel.wait_for()
    assert panel.evaluate(SPLIT_WORDS) == []
    rows = panel.locator(".table-scroll").nth(1).locator("tbody tr")
    assert rows.count() == 3
    heights = [box["height"] for box in (rows.nth(i).bounding_box() for i in range(3)) if box]
    assert max(heights) < 100 and min(heights) < 40, heights  # words wrap, ids do not pile up
    ui.shot(f"drop-off-panel-{width}")
    ui.close()


def test_the_nav_says_which_page_is_open(ui: Page, served: tuple[CollectorThread, Traffic]) -> None:
    # Only its colour and underline said it.
    _, traffic = served
    for hash_, entry in [
        ("#/traces", "Transactions"),
        (f"#/trace/{traffic.turn_traces[0]}", "Transactions"),
        ("#/retention", "Retention"),
    ]:
        page = ui.open(hash_)
        current = page.locator("header nav a[aria-current=page]")
        assert current.count() == 1 and current.inner_text() == entry, hash_
        expect(page.get_by_role("link", name=entry, exact=True)).to_have_attribute(
            "aria-current", "page"
        )


@pytest.mark.parametrize("width", [1280, 420])
@pytest.mark.parametrize("route", ["funnels", "paths?start=WaterfallStart", "retention"])
def test_a_chart_wider_than_the_phone_says_it_scrolls(
    browser: Any, journeys: str, route: str, width: int
) -> None:
    # A funnel's bars, a flow's steps and a heat map's intervals past the frame's edge were
    # out of sight with nothing saying they were there.
    ui = Page(browser, journeys, artifacts=ARTIFACTS)
    ui.page.set_viewport_size({"width": width, "height": 860})
    page = ui.open(f"#/{route}")
    frame = page.locator("#view .chart-frame").first
    hint = frame.locator(".scroll-hint")
    assert hint.count() == 1
    if width == 420:
        hint.wait_for(state="visible")
        assert hint.inner_text() == "More of the chart to the right: scroll it sideways."
        assert frame.get_attribute("data-overflow") == "yes"
    else:
        page.wait_for_selector("#view .chart-frame[data-overflow=no]")
        assert hint.is_hidden()
    ui.close()


LIVE = """node => node.closest('[aria-live]')?.getAttribute('aria-live') ?? null"""


@pytest.mark.parametrize(
    ("route", "tip"),
    [
        ("funnels", ".funnel-tip"),
        ("retention", ".retention-tip"),
        ("appmap", ".appmap-tip"),
        ("measures", ".measure-doc"),
    ],
)
def test_a_figures_line_is_not_announced_twice(
    browser: Any, journeys: str, route: str, tip: str
) -> None:
    # The line under a chart sat in the main region (aria-live=polite): each arrow key had a
    # screen reader read the focused part's name and then the same figures again.
    ui = Page(browser, journeys, artifacts=ARTIFACTS)
    page = ui.open(f"#/{route}")
    assert page.locator(tip).evaluate(LIVE) == "off"
    ui.close()


def test_a_new_page_is_not_read_whole_and_its_error_is_said_once(ui: Page) -> None:
    # The main region was live (polite): every move had a screen reader read the whole new
    # page (a list of 100 rows), over the heading focus moves to.
    page = ui.open("#/conversations")
    assert page.locator("#view").evaluate(LIVE) is None
    assert page.locator("#announce").text_content() == ""
    page = ui.open("#/traces?window=banana")
    said = page.locator("#view p.error").inner_text()
    assert page.locator("#announce").text_content() == said
    assert page.locator("#announce").get_attribute("role") == "status"
    assert page.locator("#announce").is_visible() is False or (
        (page.locator("#announce").bounding_box() or {"width": 0})["width"] <= 1
    )
    page = ui.open("#/traces")
    assert page.locator("#announce").text_content() == ""


SKIP_ROUTES = [
    "appmap",
    "node/bot",
    "traces",
    "conversations",
    "metrics",
    "measures",
    "funnels",
    "paths",
    "retention",
    "client-events",
    "exhausts",
]
IN_SIGHT = """(node) => { const box = node.getBoundingClientRect();
  return box.width > 0 && box.top >= 0 && box.left >= 0 && box.right <= innerWidth; }"""


@pytest.mark.parametrize("width", [1280, 420])
def test_skip_to_content_is_the_first_tab_stop_of_every_page(
    ui: Page, served: tuple[CollectorThread, Traffic], width: int
) -> None:
    _, traffic = served
    ui.page.set_viewport_size({"width": width, "height": 860})
    routes = [
        *SKIP_ROUTES,
        f"trace/{traffic.turn_traces[0]}",
        f"conversation/{traffic.conversations[0]}",
    ]
    for route in routes:
        # A load of its own: the first Tab of a page the browser opens.
        ui.page.goto("about:blank")
        page = ui.open(f"#/{route}")
        skip = page.locator("a.skip-link")
        assert skip.evaluate(IN_SIGHT) is False, route
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link", route
        assert skip.evaluate(IN_SIGHT) is True, route
        expect(skip).to_have_accessible_name("Skip to content")
        if route == "traces":
            ui.shot(f"skip-link-{width}")
        page.keyboard.press("Enter")
        assert page.evaluate(FOCUS)[:2] == ["H2", True], route
        assert page.evaluate("location.hash") == f"#/{route}", route
        assert page.locator("#view h2").evaluate("(h) => h === document.activeElement")
        page.keyboard.press("Tab")
        inside = page.evaluate("document.getElementById('view').contains(document.activeElement)")
        assert inside, route


def test_retention_on_an_empty_store_says_how_telemetry_gets_there(
    browser: Any, tmp_path: Path
) -> None:
    # "more intervals or a longer period reach further back" on a store holding nothing.
    with CollectorThread(ServerConfig(store=tmp_path / "store.duckdb", port=0)) as running:
        ui = Page(browser, running.url, artifacts=ARTIFACTS)
        for hash_ in ("#/retention", "#/retention?window=15m"):
            page = ui.open(hash_)
            said = page.locator("#view p.retention-empty").inner_text()
            assert said.startswith("The store holds no events yet."), said
            assert f"OTEL_EXPORTER_OTLP_ENDPOINT={running.url}." in said, said
            assert "further back" not in said
        ui.shot("retention-empty-store")
        ui.close()


@pytest.mark.parametrize("width", [1280, 420])
def test_a_long_series_folds_its_table_and_offers_coarser_buckets(ui: Page, width: int) -> None:
    # "everything" by day on a store from 2025: ~530 buckets and a table of as many rows, a
    # page ~35,000 px tall with the chart lost at its top.
    ui.page.set_viewport_size({"width": width, "height": 860})
    page = ui.open("#/measures?m=activeUsers&g=day")
    section = page.locator("section[data-measure=activeUsers]")
    hits = section.locator("svg.chart rect.hit")
    days = hits.count()
    assert days > 500, days
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2_000, height
    ui.shot(f"long-series-{width}")
    folded = section.locator("details.long-table")
    assert folded.get_attribute("open") is None
    assert folded.locator("summary").inner_text() == f"Table: {days:,} rows, one per day"
    assert section.locator("table").is_visible() is False
    # The chart is still one Tab stop with the arrow keys between its buckets.
    hits.first.focus()
    page.keyboard.press("End")
    assert page.evaluate(ACTIVE_HIT) == ["activeUsers", days - 1]
    # The fold opens from the keyboard, with every row.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    page.keyboard.press("Enter")
    assert section.locator("table").is_visible()
    assert section.locator("tbody tr").count() == days
    # Coarser buckets, offered with their counts; by month the table is open.
    note = page.locator("#view p.long-series")
    said = note.inner_text()
    assert said.startswith(f"{days:,} days in this window: each table is folded"), said
    assert note.locator("a").all_text_contents() == ["by week", "by month"]
    href = note.locator("a", has_text="by month").get_attribute("href")
    assert href == "#/measures?m=activeUsers&g=month"
    note.locator("a", has_text="by month").click()
    page = ui.ready(href)
    assert section.locator("h3").inner_text() == "activeUsers by month"
    assert section.locator("details").count() == 0 and section.locator("table").is_visible()
    assert page.locator("#view p.long-series").count() == 0
