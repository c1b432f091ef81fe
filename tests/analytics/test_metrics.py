"""Metrics read back: names and series, values over time (NaN as a string, never 0.0),
histogram distributions over a window from delta and cumulative points, percentiles."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.analytics.metrics import QUANTILES as QS
from bot_telemetry.analytics.metrics import get_metric, list_metrics, percentile
from bot_telemetry.analytics.window import TimeWindow
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine
from bot_telemetry.store.rows import metrics_batch
from tests.support.otlp_messages import T0, metrics_request

SECOND = 1_000_000_000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "s.duckdb")
    yield opened
    opened.close()


def write(store: Store, *metrics: dict[str, Any], service: str = "svc") -> None:
    store.write(metrics_batch(metrics_request(list(metrics), service=service)))


def histogram_point(at: int, counts: list[int], **fields: Any) -> dict[str, Any]:
    return {
        "time_unix_nano": T0 + at * SECOND,
        "start_time_unix_nano": T0,
        "explicit_bounds": [10.0, 100.0, 1000.0],
        "bucket_counts": counts,
        "count": sum(counts),
        "sum": float(sum(counts) * 50),
        **fields,
    }


def test_percentiles_interpolate_inside_the_bucket_and_respect_min_and_max() -> None:
    assert percentile([10.0, 20.0], [0, 4, 0], 0.5) == 15.0
    assert percentile([10.0, 20.0], [0, 4, 0], 1.0) == 20.0
    # The first bucket starts at min, the last ends at max when known.
    assert percentile([10.0], [4, 0], 0.5, low=2.0) == 6.0
    assert percentile([10.0], [0, 4], 0.5, high=30.0) == 20.0
    assert percentile([10.0], [0, 4], 0.5) == 10.0  # unbounded: the nearest bound
    assert percentile([10.0, 20.0], [0, 4, 0], 0.5, low=12.0, high=14.0) == 13.0
    assert percentile([], [4], 0.5, low=1.0, high=3.0) == 2.0  # no buckets, min and max
    assert percentile([10.0], [0, 0], 0.5) is None
    assert percentile([], [3], 0.5) is None


def test_a_min_or_max_outside_its_bucket_is_not_used_and_percentiles_never_fall() -> None:
    # A max of 0 (the exporter's tables write 0 when none was recorded) beside values in
    # (4, 8]: it once pulled the estimates down to 0.8, 0.4, 0.08 for p90, p95, p99.
    estimates = [percentile([0.0, 4.0, 8.0], [1, 2, 3, 0], q, low=0.0, high=0.0) for q in QS]
    assert estimates == sorted(estimates)
    assert estimates[-1] == pytest.approx(7.92)
    assert percentile([10.0, 20.0], [0, 4, 0], 0.5, low=25.0) == 15.0  # min above the bucket
    assert percentile([10.0, 20.0], [0, 4, 0], 0.5, high=5.0) == 15.0  # max below it


def test_a_histogram_with_min_and_max_of_zero_but_a_sum_has_neither(store: Store) -> None:
    points = [histogram_point(0, [1, 2, 3, 0], min=0.0, max=0.0)]
    write(store, {"name": "size", "kind": "histogram", "temporality": 1, "points": points})
    found = get_metric(DuckDBEngine(store), "size")
    assert found is not None
    distribution = found["series"][0]["distribution"]
    assert distribution is not None and distribution["sum"]
    assert (distribution["min"], distribution["max"]) == (None, None)


def test_names_kinds_and_series(store: Store) -> None:
    write(
        store,
        {
            "name": "requests",
            "kind": "sum",
            "unit": "1",
            "points": [
                {"as_int": 1, "attributes": {"r": "a"}},
                {"as_int": 2, "attributes": {"r": "b"}},
            ],
        },
        {
            "name": "temperature",
            "kind": "gauge",
            "description": "room",
            "points": [{"as_double": 21.5}],
        },
    )
    write(store, {"name": "requests", "kind": "sum", "points": [{"as_int": 3}]}, service="other")
    found = list_metrics(DuckDBEngine(store))
    assert [(m["name"], m["kind"], m["series"], m["points"], m["services"]) for m in found] == [
        ("requests", "sum", 3, 3, ["other", "svc"]),
        ("temperature", "gauge", 1, 1, ["svc"]),
    ]
    assert found[1]["description"] == "room"


def test_gauge_values_over_time_keep_nan_and_infinity_as_strings(store: Store) -> None:
    points = [
        {"as_double": 1.5, "time_unix_nano": T0},
        {"as_double": math.nan, "time_unix_nano": T0 + SECOND},
        {"as_double": math.inf, "time_unix_nano": T0 + 2 * SECOND},
        {"flags": 1, "time_unix_nano": T0 + 3 * SECOND},
        {"as_int": 4, "time_unix_nano": T0 + 4 * SECOND},
    ]
    write(store, {"name": "g", "kind": "gauge", "points": points})
    found = get_metric(DuckDBEngine(store), "g")
    assert found is not None
    (series,) = found["series"]
    assert [v["value"] for v in series["values"]] == [1.5, "NaN", "Infinity", None, 4.0]
    assert series["latest"] == 4.0
    json.dumps(found, allow_nan=False)  # valid JSON for a browser


def test_delta_histograms_add_up_over_the_window(store: Store) -> None:
    points = [
        histogram_point(0, [1, 0, 0, 0], min=1.0, max=5.0),
        histogram_point(10, [0, 2, 0, 0], min=20.0, max=30.0),
        histogram_point(20, [0, 0, 1, 0], min=500.0, max=500.0),
    ]
    write(store, {"name": "latency", "kind": "histogram", "temporality": 1, "points": points})
    everything = get_metric(DuckDBEngine(store), "latency")
    late = get_metric(DuckDBEngine(store), "latency", TimeWindow(T0 + 5 * SECOND, T0 + 15 * SECOND))
    assert everything is not None and late is not None
    distribution = everything["series"][0]["distribution"]
    assert distribution is not None
    assert (distribution["count"], distribution["min"], distribution["max"]) == (4, 1.0, 500.0)
    assert [b["count"] for b in distribution["buckets"]] == [1, 2, 1, 0]
    assert distribution["buckets"][0] == {"low": None, "high": 10.0, "count": 1}
    assert distribution["buckets"][-1] == {"low": 1000.0, "high": None, "count": 0}
    # rank 2 of 4 is the first of the two in (10, 100], clamped to start at 10.
    assert distribution["percentiles"]["p50"] == 55.0
    window_distribution = late["series"][0]["distribution"]
    assert window_distribution is not None
    assert window_distribution["count"] == 2
    assert window_distribution["percentiles"]["p50"] == 25.0  # (20..30] within min and max


def test_cumulative_histograms_take_the_latest_less_the_point_before_the_window(
    store: Store,
) -> None:
    points = [
        histogram_point(0, [1, 0, 0, 0]),
        histogram_point(10, [1, 2, 0, 0]),
        histogram_point(20, [1, 2, 3, 0]),
    ]
    write(store, {"name": "latency", "kind": "histogram", "temporality": 2, "points": points})
    everything = get_metric(DuckDBEngine(store), "latency")
    late = get_metric(
        DuckDBEngine(store), "latency", TimeWindow(T0 + 15 * SECOND, T0 + 25 * SECOND)
    )
    assert everything is not None and late is not None
    full = everything["series"][0]["distribution"]
    assert full is not None and (full["count"], [b["count"] for b in full["buckets"]]) == (
        6,
        [1, 2, 3, 0],
    )
    assert everything["series"][0]["temporality"] == "cumulative"
    recent = late["series"][0]["distribution"]
    assert recent is not None
    assert (recent["count"], [b["count"] for b in recent["buckets"]]) == (3, [0, 0, 3, 0])
    assert recent["sum"] == 150.0


def test_an_unknown_metric_is_none(store: Store) -> None:
    assert get_metric(DuckDBEngine(store), "nothing") is None
