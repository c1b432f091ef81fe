"""The UI shows everything stored, in headless Chromium: span links (a link only when the
linked trace is stored), resource attributes and scope, long values cut with a way to see
them whole, NaN values, and the metrics page with its charts.

Screenshots go to test-artifacts/web/ for a person to look at.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.browser import Page
from tests.support.otlp_messages import (
    T0,
    metrics_request,
    new_span_id,
    new_trace_id,
    spans_request,
)
from tests.support.otlp_messages import post_otlp as post

SECOND = 1_000_000_000
LINKED = (new_trace_id(), new_span_id())
MISSING = (new_trace_id(), new_span_id())
TRACE = new_trace_id()


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorThread]:
    store = tmp_path_factory.mktemp("pages") / "store.duckdb"
    with CollectorThread(ServerConfig(store=store, port=0)) as running:
        post(
            running.url,
            "/v1/traces",
            spans_request([{"trace_id": LINKED[0], "span_id": LINKED[1], "name": "linked"}]),
        )
        post(
            running.url,
            "/v1/traces",
            spans_request(
                [
                    {
                        "trace_id": TRACE,
                        "name": "with links",
                        "links": [LINKED, MISSING],
                        "attributes": {"big": "B" * 100_000, "nan": math.nan, "inf": math.inf},
                    }
                ],
                service="api",
                resource={"service.version": "1.4.2", "deployment.environment": "staging"},
            ),
        )
        gauge = [
            {"as_double": float(v), "time_unix_nano": T0 + i * SECOND, "attributes": {"room": r}}
            for r in ("a", "b")
            for i, v in enumerate([20, 21, 23, 22, math.nan, 24])
        ]
        histogram = [
            {
                "time_unix_nano": T0,
                "count": 6,
                "sum": 300.0,
                "min": 2.0,
                "max": 700.0,
                "explicit_bounds": [10.0, 100.0, 1000.0],
                "bucket_counts": [1, 3, 2, 0],
            }
        ]
        post(
            running.url,
            "/v1/metrics",
            metrics_request(
                [
                    {"name": "room.temperature", "kind": "gauge", "unit": "Cel", "points": gauge},
                    {
                        "name": "http/latency",
                        "kind": "histogram",
                        "unit": "ms",
                        "temporality": 1,
                        "points": histogram,
                    },
                ]
            ),
        )
        yield running


@pytest.fixture
def ui(browser: Any, collector: CollectorThread) -> Iterator[Page]:
    page = Page(browser, collector.url, artifacts="web")
    yield page
    page.close()


def test_trace_shows_links_scope_resource_and_cuts_a_long_value(ui: Page) -> None:
    page = ui.open(f"#/trace/{TRACE.hex()}")
    page.click(".span-row")
    details = page.locator("#span-details")
    links = details.locator(".links li")
    assert links.count() == 2
    assert links.nth(0).locator("a").get_attribute("href") == f"#/trace/{LINKED[0].hex()}"
    assert links.nth(1).locator("a").count() == 0
    assert "(not stored)" in links.nth(1).inner_text()
    assert "tests 1.2.3" in details.locator(".scope").inner_text()
    resource = details.locator(".resource-attributes").inner_text()
    assert "service.version\t1.4.2" in resource and "deployment.environment\tstaging" in resource
    attributes = details.locator(".span-attributes")
    assert "NaN" in attributes.inner_text() and "Infinity" in attributes.inner_text()
    long_value = attributes.locator(".long-value")
    assert len(long_value.inner_text()) < 1100
    height = page.evaluate("document.body.scrollHeight")
    assert height < 3000, f"page is {height}px tall"
    ui.shot("trace-links-resource")
    long_value.locator("button.show-all").click()
    assert long_value.inner_text() == "B" * 100_000
    # The stored link opens the linked trace.
    links.nth(0).locator("a").click()
    ui.ready(f"#/trace/{LINKED[0].hex()}")
    assert "linked" in page.locator(".waterfall").inner_text()


def test_metrics_page_lists_metrics_and_draws_a_line_per_series(ui: Page) -> None:
    page = ui.open("#/metrics")
    rows = page.locator("table tbody tr")
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())] == [
        "http/latency",
        "room.temperature",
    ]
    rows.nth(1).click()
    ui.ready("#/metric/room.temperature")
    chart = page.locator("svg.chart")
    assert chart.locator("g.series").count() == 2
    # Six points per series with a NaN in the middle: a line of four and a lone point.
    first = chart.locator("g.series").first
    assert first.locator("polyline").count() == 1 and first.locator("circle").count() == 1
    assert len(first.locator("polyline").get_attribute("points").split()) == 4
    assert "NaN" not in (first.locator("polyline").get_attribute("points") or "")
    assert page.locator(".legend li").all_inner_texts() == ["svc room=a", "svc room=b"]
    ui.shot("metric-gauge")


def test_a_histogram_shows_percentiles_and_its_buckets(ui: Page) -> None:
    page = ui.open("#/metric/http%2Flatency")
    cells = page.locator("table tbody tr").first.locator("td").all_inner_texts()
    # series, count, sum, min, p50, p90, p95, p99, max
    assert cells[:5] == ["svc", "6", "300", "2", "70"]  # rank 3 of 6: 10 + 90 * 2/3
    assert cells[-1] == "700"
    bars = page.locator("svg.buckets g.bucket")
    assert bars.count() == 4
    assert [bars.nth(i).locator("title").text_content() for i in range(4)] == [
        "(-inf, 10]: 1",
        "(10, 100]: 3",
        "(100, 1000]: 2",
        "(1000, +inf]: 0",
    ]
    ui.shot("metric-histogram")
