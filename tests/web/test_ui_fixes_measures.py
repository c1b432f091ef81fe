"""Fixes to the Retention and Measures pages found by a QA pass, over real HTTP and in
headless Chromium:

* retention follows the header's time window (who first came in it), shows no cohort that
  starts after the window's end, and an interval that is not over as not known yet, not 0%;
* the failedTurns chart draws the failed turns (it drew all turns, in red, beside them);
* the granularities offered are those the API takes for the window (one rule, asked of the
  API), and a picked one the window no longer allows becomes the nearest that fits, saying so;
* a filter one picked measure does not take leaves the others charted, with a note for it.

Screenshots go to test-artifacts/ui-fixes-measures/ for a person to look at.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.store.database import Store
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.analytics.measures_expected import EXPECTED, Window
from tests.support.browser import Page
from tests.support.http_json import post_json
from tests.support.journeys import T0, Stream, booking, converse, load_duckdb
from tests.support.measure_traffic import END, START, Plan, planned_store

FROM, TO = "2026-10-30T20:00:00Z", "2026-11-03T20:00:00Z"
SECOND = 10**9


def post(url: str, path: str, body: Any) -> tuple[int, Any]:
    return post_json(f"{url}{path}", body)


def served_stream(stream: Stream, path: Path) -> CollectorThread:
    store = Store.open(path)
    load_duckdb(store, stream)
    store.close()
    return CollectorThread(ServerConfig(store=path, port=0))


# ---- retention ---------------------------------------------------------------------------


def at(text: str) -> float:
    """Seconds after the journeys' T0 of an ISO time."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() - T0 / SECOND


@pytest.fixture(scope="module")
def fixed_retention(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Users whose first times are known to the second, in November 2026."""
    s = Stream()
    finished = booking()["finished"]
    converse(s, "old-1", at("2026-11-05T10:00:00Z"), finished, user="user-old")
    converse(s, "mid-1", at("2026-11-19T10:00:00Z"), finished, user="user-mid")
    converse(s, "new-1", at("2026-11-20T12:05:00Z"), finished, user="user-new")
    converse(s, "old-2", at("2026-11-20T12:08:00Z"), finished, user="user-old")
    with served_stream(s, tmp_path_factory.mktemp("retention-fixed") / "store.duckdb") as running:
        yield running.url


def test_retention_in_a_short_window_holds_only_who_first_came_in_it(
    fixed_retention: str,
) -> None:
    """A 15-minute window by month: the users new in those 15 minutes, one cohort (no
    cohorts for the months after the window), and its month not over."""
    status, found = post(
        fixed_retention,
        "/analytics/retention",
        {
            "startTime": "2026-11-20T12:00:00Z",
            "endTime": "2026-11-20T12:15:00Z",
            "period": "month",
            "totalIntervals": 8,
        },
    )
    assert status == 200, found
    # user-old came back in the window but first came on 11-05; user-mid before the window.
    assert [(c["cohortStart"][:10], c["size"]) for c in found["cohorts"]] == [("2026-11-01", 1)]
    november = found["cohorts"][0]
    assert november["values"] == [1] + [None] * 7
    assert november["complete"] == [False] * 8


def test_retention_has_no_cohort_after_the_end_and_says_what_is_not_over(
    fixed_retention: str,
) -> None:
    status, found = post(
        fixed_retention,
        "/analytics/retention",
        {
            "startTime": "2026-11-19T00:00:00Z",
            "endTime": "2026-11-20T12:15:00Z",
            "period": "day",
            "totalIntervals": 4,
        },
    )
    assert status == 200, found
    table = [
        (c["cohortStart"][:10], c["size"], c["values"], c["complete"]) for c in found["cohorts"]
    ]
    assert table == [
        # user-mid, not back on the 20th so far: the 20th is not over.
        ("2026-11-19", 1, [1, 0, None, None], [True, False, False, False]),
        ("2026-11-20", 1, [1, None, None], [False, False, False]),
    ]


@pytest.fixture(scope="module")
def live_retention(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float]]:
    """Users coming and going around the real now, for the header's '15m' window."""
    now = time.time()
    since_t0 = now - T0 / SECOND
    yesterday = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday -= timedelta(days=1)
    s = Stream()
    finished = booking()["finished"][:1]
    converse(s, "old-1", since_t0 - 20 * 60, finished, user="user-old")
    converse(s, "new-1", since_t0 - 5 * 60, finished, user="user-new")
    converse(s, "old-2", since_t0 - 3 * 60, finished, user="user-old")
    converse(s, "yesterday-1", yesterday.timestamp() + 3600 - T0 / SECOND, finished, user="u-y")
    with served_stream(s, tmp_path_factory.mktemp("retention-live") / "store.duckdb") as running:
        yield running.url, yesterday.timestamp()


def cohort_table(page: Any) -> list[list[str]]:
    rows = page.locator("#view table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    return [row for row in rows if len(row) > 1]


def test_the_retention_page_follows_a_15_minute_window(
    browser: Any, live_retention: tuple[str, float]
) -> None:
    url, _ = live_retention
    ui = Page(browser, url, artifacts="ui-fixes-measures")
    page = ui.open("#/retention?window=15m")
    rows = cohort_table(page)
    today = datetime.now(UTC).date().isoformat()
    # No cohort starts after now: this week's (two if the 15 minutes began last week).
    assert 1 <= len(rows) <= 2 and all(row[0] <= today for row in rows), rows
    # Only user-new first came in the 15 minutes; user-old came 20 minutes ago.
    assert sum(int(row[1]) for row in rows) == 1, rows
    # This week is not over: not known yet, in the heat map and the table, never a 0%.
    current = rows[-1]
    assert current[2].startswith("not over yet ("), current
    last = len(rows) - 1
    cell = page.locator(f'svg.heatmap g.cell[data-cohort="{last}"][data-interval="0"]')
    assert cell.get_attribute("class") == "cell pending"
    assert cell.locator("text").text_content() == "not yet"
    assert "not over" in page.locator("p.retention-pending").inner_text()
    ui.shot("retention-15m")
    ui.close()


def test_an_interval_not_over_is_not_shown_as_0_percent(
    browser: Any, live_retention: tuple[str, float]
) -> None:
    url, yesterday = live_retention
    start = datetime.fromtimestamp(yesterday, UTC).isoformat().replace("+00:00", "Z")
    request = {"period": "day", "totalIntervals": 3, "startTime": start}
    ui = Page(browser, url, artifacts="ui-fixes-measures")
    page = ui.open("#/retention?" + urllib.parse.urlencode({"request": json.dumps(request)}))
    rows = cohort_table(page)
    # Yesterday and today; not tomorrow.
    assert [row[0] for row in rows] == [start[:10], datetime.now(UTC).date().isoformat()]
    yesterday_row = rows[0]
    assert yesterday_row[2].endswith("(100%)")  # yesterday is over
    assert yesterday_row[3].startswith("not over yet (")  # today is not: u-y may come yet
    cell = page.locator('svg.heatmap g.cell[data-cohort="0"][data-interval="1"]')
    assert cell.locator("text").text_content() == "not yet"
    shown = page.locator("svg.heatmap g.cell > text").all_text_contents()
    assert "0%" not in shown and shown.count("not yet") == 2, shown
    ui.shot("retention-not-over")
    ui.close()


# ---- measures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CollectorThread, Plan]]:
    path = tmp_path_factory.mktemp("measures-fixes") / "store.duckdb"
    plan = planned_store(path)
    with CollectorThread(ServerConfig(store=path, port=0)) as running:
        yield running, plan


def test_the_failed_turns_chart_draws_the_failed_turns(
    browser: Any, planned: tuple[CollectorThread, Plan]
) -> None:
    running, plan = planned
    expected = EXPECTED["failedTurns"](plan, Window(START, END, "day", {}, {}))
    assert any(0 < row["failed"] < row["turns"] for row in expected)  # two different lines
    ui = Page(browser, running.url, artifacts="ui-fixes-measures")
    page = ui.open(f"#/measures?m=failedTurns&g=day&from={FROM}&to={TO}")
    failed = page.locator("section[data-measure=failedTurns]")
    assert failed.locator(".legend-item").all_text_contents() == ["failed"]
    assert failed.locator("svg.chart polyline.line").count() == 1
    day = next(i for i, row in enumerate(expected) if row["failed"])
    failed.locator("svg.chart rect.hit").nth(day).hover()
    tip = failed.locator("svg.chart g.tip text").all_text_contents()
    assert tip == [expected[day]["time"][:10], f"failed: {expected[day]['failed']}"]
    ui.shot("failed-turns")
    ui.close()


WINDOWS = [
    ("7 days", "2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z"),
    ("a week and an hour", "2026-11-01T00:00:00Z", "2026-11-08T01:00:00Z"),
    ("6 days 22 hours", "2026-11-01T00:00:30Z", "2026-11-07T22:40:00Z"),
    ("15 minutes", "2026-11-01T00:00:00Z", "2026-11-01T00:15:00Z"),
    ("3 hours", "2026-11-01T00:00:00Z", "2026-11-01T03:00:00Z"),
    ("a year and a half", "2025-06-01T00:00:00Z", "2026-12-01T00:00:00Z"),
]


@pytest.mark.parametrize(("name", "start", "end"), WINDOWS, ids=[w[0] for w in WINDOWS])
def test_the_granularities_offered_are_those_the_query_takes(
    planned: tuple[CollectorThread, Plan], name: str, start: str, end: str
) -> None:
    """POST /analytics/granularities and POST /analytics/query agree, granularity by
    granularity, on the same window: one rule, the query's."""
    running, _ = planned
    status, usable = post(
        running.url, "/analytics/granularities", {"startTime": start, "endTime": end}
    )
    assert status == 200, usable
    assert [g["granularity"] for g in usable["granularities"]] == [
        "second",
        "minute",
        "hour",
        "day",
        "week",
        "month",
    ]
    for found in usable["granularities"]:
        granularity = found["granularity"]
        status, answer = post(
            running.url,
            "/analytics/query",
            {
                "startTime": start,
                "endTime": end,
                "measures": [{"measureType": "turns", "timeGranularity": [granularity]}],
            },
        )
        assert (status == 200) == found["usable"], (granularity, found, answer)
        if status == 200:
            assert len(answer[0]["response"]) == found["buckets"]
        else:
            assert f"{granularity} gives {found['buckets']:,}" in answer["error"]
    if name == "7 days":
        minute = usable["granularities"][1]
        assert minute == {"granularity": "minute", "buckets": 10_080, "usable": False}
        assert usable["maxBuckets"] == 10_000


def test_a_bad_window_is_refused_naming_the_field(
    planned: tuple[CollectorThread, Plan],
) -> None:
    running, _ = planned
    status, found = post(running.url, "/analytics/granularities", {"startTime": "yesterday"})
    assert status == 400 and found["field"] == "startTime"


def test_a_7_day_window_offers_no_minutes_and_moves_a_picked_minute_to_hours(
    browser: Any, planned: tuple[CollectorThread, Plan]
) -> None:
    running, _ = planned
    ui = Page(browser, running.url, artifacts="ui-fixes-measures")
    page = ui.open("#/measures?m=turns&g=minute&window=15m")
    options = page.locator("select[name=granularity] option")
    assert "minute" in options.all_text_contents()
    assert page.locator("section[data-measure=turns] h3").inner_text() == "turns by minute"
    assert page.locator("p.granularity-note").count() == 0
    # The window grows to 7 days: 10,080 minutes, more than the API takes.
    page.locator("#window").select_option("7d")
    page = ui.ready("#/measures?m=turns&g=minute&window=7d")
    assert options.all_text_contents() == ["hour", "day", "week", "month"]
    assert page.locator("select[name=granularity]").input_value() == "hour"
    note = page.locator("p.granularity-note").inner_text()
    assert "minute would give 10,08" in note and "showing hour instead" in note, note
    assert page.locator("section[data-measure=turns] h3").inner_text() == "turns by hour"
    assert page.locator("p.error").count() == 0
    ui.shot("granularity-moved")
    ui.close()


def test_a_filter_one_measure_does_not_take_leaves_the_others(
    planned: tuple[CollectorThread, Plan],
) -> None:
    running, plan = planned
    context = {"locale": ["de-DE"]}
    both = [
        {"measureType": "turns", "timeGranularity": ["day"]},
        {"measureType": "feedback", "timeGranularity": ["day", "week"]},
    ]
    status, found = post(
        running.url,
        "/analytics/query",
        {"startTime": FROM, "endTime": TO, "context": context, "measures": both},
    )
    assert status == 200, found
    assert [(r["measureType"], r["timeGranularity"]) for r in found] == [
        ("turns", "day"),
        ("feedback", "day"),
        ("feedback", "week"),
    ]
    assert "refused" not in found[0]
    assert found[0]["response"] == EXPECTED["turns"](plan, Window(START, END, "day", context, {}))
    for refused in found[1:]:
        assert refused["response"] == []
        assert refused["refused"]["field"] == "context.locale"
        assert "one of the dimensions feedback takes" in refused["refused"]["error"]
    # A filter none of them takes is still a mistake in the request.
    alone = [{"measureType": "feedback", "timeGranularity": ["day"]}]
    status, found = post(
        running.url,
        "/analytics/query",
        {"startTime": FROM, "endTime": TO, "context": context, "measures": alone},
    )
    assert status == 400 and found["field"] == "context.locale"


def test_the_page_charts_the_measures_that_take_the_filter(
    browser: Any, planned: tuple[CollectorThread, Plan]
) -> None:
    running, _ = planned
    ui = Page(browser, running.url, artifacts="ui-fixes-measures")
    page = ui.open(f"#/measures?m=turns,feedback&g=day&from={FROM}&to={TO}&locale=de-DE")
    assert page.locator("p.error").count() == 0
    turns = page.locator("section[data-measure=turns]")
    assert turns.locator("svg.chart polyline.line").count() == 1
    feedback = page.locator("section[data-measure=feedback]")
    assert feedback.locator("svg.chart").count() == 0
    note = feedback.locator("p.untaken").inner_text()
    assert note.startswith("feedback does not take the locale filter"), note
    ui.shot("filter-not-taken")
    ui.close()


def test_the_page_asks_for_the_header_window_the_api_reads(
    browser: Any, planned: tuple[CollectorThread, Plan]
) -> None:
    """The page read the header's window itself, 15m, 2h, 7d only: an address's 1h30m was
    the first thing stored (weeks of minutes, moved to hours). The API reads it, as it reads
    every time; a window it cannot read is said as the header's, not the form's "From"."""
    running, _ = planned
    ui = Page(browser, running.url, artifacts="ui-fixes-measures")
    page = ui.open("#/measures?m=turns&g=minute&window=1h30m")
    assert page.locator("p.granularity-note").count() == 0
    assert page.locator("section[data-measure=turns] h3").inner_text() == "turns by minute"
    size = page.locator("section[data-measure=turns] summary").inner_text()
    assert size in ("Table: 90 rows, one per minute", "Table: 91 rows, one per minute"), size
    page = ui.open("#/measures?m=turns&g=day&window=banana")
    said = page.locator("#view p.error").inner_text()
    assert said.startswith("Time window: expected an ISO 8601 time") and "banana" in said, said
    ui.close()
