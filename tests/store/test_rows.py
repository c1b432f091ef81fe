"""Rows from OTLP requests: what the store cannot hold is refused per item, with a reason;
every stored JSON value is JSON; events by any of their three names; logs get a severity
name and a time; metric points keep kind, temporality, buckets, min and max."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.store.database import Store
from bot_telemetry.store.rows import (
    LOG_COLUMNS,
    MAX_INT64,
    SEVERITY_NAMES,
    Batch,
    logs_batch,
    metrics_batch,
    spans_batch,
)
from tests.support.otlp_messages import T0, logs_request, metrics_request, spans_request


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN and Infinity, as a browser's JSON.parse does."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"end": 2**64 - 1}, "after 2262"),
        ({"start": 2**63}, "after 2262"),
        ({"kind": 1000}, "kind 1000"),
        ({"kind": -1}, "kind -1"),
        ({"status": 1000}, "status code 1000"),
        ({"events": [{"time": 2**64 - 1}]}, "event time"),
        ({"trace_id": bytes(16)}, "invalid trace_id"),
    ],
)
def test_a_span_the_store_cannot_hold_is_refused_alone(bad: dict[str, Any], reason: str) -> None:
    batch = spans_batch(spans_request([{"name": "good"}, {"name": "bad", **bad}, {"name": "ok"}]))
    assert batch.spans["name"] == ["good", "ok"]
    assert batch.rejected == 1
    assert reason in batch.problems[0] and "'bad'" in batch.problems[0]


def test_the_largest_times_the_store_holds_are_kept() -> None:
    batch = spans_batch(spans_request([{"start": MAX_INT64 - 5, "end": MAX_INT64}]))
    assert (batch.rejected, batch.spans["end_ns"]) == (0, [MAX_INT64])


def test_non_finite_doubles_are_stored_as_strings_in_valid_json() -> None:
    attributes = {
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "list": [1.5, math.nan],
        "map": {"x": math.inf},
        "fine": 2.5,
    }
    batch = spans_batch(
        spans_request(
            [{"attributes": attributes, "events": [{"time": T0, "attributes": attributes}]}]
        )
    )
    expected = {
        "nan": "NaN",
        "inf": "Infinity",
        "ninf": "-Infinity",
        "list": [1.5, "NaN"],
        "map": {"x": "Infinity"},
        "fine": 2.5,
    }
    assert strict_json(batch.spans["attributes"][0]) == expected
    assert strict_json(batch.events["attributes"][0]) == expected


def test_span_scope_version_and_links_are_kept() -> None:
    linked = (bytes([7] * 16), bytes([8] * 8))
    batch = spans_batch(spans_request([{"links": [linked]}]))
    assert (batch.spans["scope_name"], batch.spans["scope_version"]) == (["tests"], ["1.2.3"])
    assert strict_json(batch.spans["links"][0]) == [
        {"trace_id": "07" * 16, "span_id": "08" * 8, "attributes": {}}
    ]


@pytest.mark.parametrize(
    ("record", "name"),
    [
        ({"event_name": "field.event"}, "field.event"),
        ({"attributes": {"event.name": "attribute.event"}}, "attribute.event"),
        ({"attributes": {"microsoft.custom_event.name": "Azure"}}, "Azure"),
        # Azure Monitor's attribute first: our bot sets it and the field to the same name.
        ({"event_name": "f", "attributes": {"microsoft.custom_event.name": "Azure"}}, "Azure"),
        ({"event_name": "f", "attributes": {"event.name": "a"}}, "f"),
        ({"attributes": {"event.name": ""}}, None),
        ({"body": "just a log"}, None),
    ],
)
def test_events_are_recognised_by_each_of_their_names(
    record: dict[str, Any], name: str | None
) -> None:
    batch = logs_batch(logs_request([{"time_unix_nano": T0, **record}]))
    assert batch.logs["event_name"] == [name]


def test_a_record_with_only_a_severity_number_gets_its_name_and_a_time() -> None:
    before = time.time_ns()
    batch = logs_batch(
        logs_request(
            [
                {"severity_number": 13},
                {"severity_number": 18, "observed_time_unix_nano": T0 + 5},
                {"severity_number": 9, "severity_text": "Information", "time_unix_nano": T0},
            ]
        )
    )
    assert batch.logs["severity_text"] == ["WARN", "ERROR2", "Information"]
    received, observed, timed = batch.logs["time_ns"]
    assert before <= received <= time.time_ns()  # neither time sent: its arrival, not 1970
    assert (observed, timed) == (T0 + 5, T0)


def test_severity_names_follow_the_logs_data_model() -> None:
    assert [SEVERITY_NAMES[n] for n in (1, 4, 5, 9, 12, 13, 17, 21, 24)] == [
        "TRACE",
        "TRACE4",
        "DEBUG",
        "INFO",
        "INFO4",
        "WARN",
        "ERROR",
        "FATAL",
        "FATAL4",
    ]
    assert 0 not in SEVERITY_NAMES and 25 not in SEVERITY_NAMES


def test_a_record_with_a_time_past_2262_is_refused_alone() -> None:
    batch = logs_batch(
        logs_request([{"time_unix_nano": 2**64 - 1, "body": "bad"}, {"time_unix_nano": T0}])
    )
    assert (batch.log_count, batch.rejected) == (1, 1)
    assert "after 2262" in batch.problems[0]


def test_a_record_with_a_severity_number_outside_0_to_24_is_refused_alone() -> None:
    batch = logs_batch(
        logs_request(
            [{"time_unix_nano": T0, "severity_number": n} for n in (0, 300, 24, -1, 2**31 - 1)]
        )
    )
    assert (batch.log_count, batch.rejected) == (2, 3)
    assert batch.logs["severity_number"] == [0, 24]
    assert batch.problems == [
        f"a log record has severity_number {n}, not one of 0-24" for n in (300, -1, 2**31 - 1)
    ]


def test_histograms_keep_buckets_min_max_and_temporality() -> None:
    batch = metrics_batch(
        metrics_request(
            [
                {
                    "name": "latency",
                    "unit": "ms",
                    "description": "how long",
                    "kind": "histogram",
                    "temporality": 1,
                    "points": [
                        {
                            "start_time_unix_nano": T0 - 10,
                            "count": 6,
                            "sum": 61.5,
                            "min": 0.5,
                            "max": 40.0,
                            "explicit_bounds": [1.0, 10.0, 100.0],
                            "bucket_counts": [1, 3, 2, 0],
                            "attributes": {"route": "/x"},
                        }
                    ],
                }
            ]
        )
    )
    row = {name: values[0] for name, values in batch.points.items()}
    assert row["kind"] == "histogram" and row["temporality"] == 1
    assert (row["value"], row["count"], row["min"], row["max"]) == (61.5, 6, 0.5, 40.0)
    assert row["bounds"] == [1.0, 10.0, 100.0] and row["bucket_counts"] == [1, 3, 2, 0]
    assert (row["unit"], row["description"], row["start_ns"]) == ("ms", "how long", T0 - 10)
    assert strict_json(row["attributes"]) == {"route": "/x"}


def test_exponential_histograms_become_explicit_bounds() -> None:
    batch = metrics_batch(
        metrics_request(
            [
                {
                    "name": "size",
                    "kind": "exponential_histogram",
                    "points": [
                        {
                            "scale": 0,  # base 2: bucket i holds (2^i, 2^(i+1)]
                            "count": 7,
                            "sum": 20.0,
                            "zero_count": 1,
                            "positive": (1, [2, 3]),  # (2, 4] x2, (4, 8] x3
                            "negative": (0, [1]),  # [-2, -1) x1
                        }
                    ],
                }
            ]
        )
    )
    assert batch.points["bounds"] == [[-1.0, 0.0, 4.0, 8.0]]
    assert batch.points["bucket_counts"] == [[1, 1, 2, 3, 0]]


@pytest.mark.parametrize(
    ("point", "reason"),
    [
        ({"time_unix_nano": 2**64 - 1}, "after 2262"),
        ({"count": 2**63}, "count of"),
        ({"bucket_counts": [2**64 - 1], "count": 1}, "bucket count"),
    ],
)
def test_a_point_the_store_cannot_hold_is_refused_alone(point: dict[str, Any], reason: str) -> None:
    batch = metrics_batch(
        metrics_request([{"name": "h", "kind": "histogram", "points": [point, {"count": 1}]}])
    )
    assert (batch.point_count, batch.rejected) == (1, 1)
    assert reason in batch.problems[0] and "'h'" in batch.problems[0]


def test_exponential_buckets_at_the_extreme_scales() -> None:
    batch = metrics_batch(
        metrics_request(
            [
                {
                    "name": "e",
                    "kind": "exponential_histogram",
                    # scale -10: base 2^1024, past the largest double; bucket 0 holds (1, inf].
                    "points": [
                        {"scale": -10, "count": 2, "positive": (-1, [1, 1])},
                        {
                            "scale": 20,
                            "count": 1,
                            "positive": (2**20, [1]),
                            "time_unix_nano": T0 + 1,
                        },
                    ],
                }
            ]
        )
    )
    assert batch.rejected == 0
    assert batch.points["bounds"] == [[0.0, 1.0, math.inf], [0.0, 2.0 ** (1 + 2**-20)]]
    assert batch.points["bucket_counts"] == [[0, 1, 1, 0], [0, 1, 0]]


def test_exponential_scale_out_of_range_is_refused() -> None:
    batch = metrics_batch(
        metrics_request(
            [{"name": "e", "kind": "exponential_histogram", "points": [{"scale": -100}]}]
        )
    )
    assert batch.rejected == 1 and "scale -100" in batch.problems[0]


def test_a_nan_gauge_stays_nan_and_a_staleness_marker_has_no_value() -> None:
    batch = metrics_batch(
        metrics_request(
            [
                {
                    "name": "g",
                    "kind": "gauge",
                    "points": [
                        {"as_double": math.nan},
                        {"as_int": 3, "time_unix_nano": T0 + 1},
                        {"flags": 1, "time_unix_nano": T0 + 2},
                    ],
                },
                {"name": "s", "kind": "sum", "monotonic": False, "points": [{"as_int": 5}]},
            ]
        )
    )
    nan, three, stale, five = batch.points["value"]
    assert math.isnan(nan) and three == 3.0 and stale is None and five == 5.0
    assert batch.points["kind"] == ["gauge", "gauge", "gauge", "sum"]
    assert batch.points["monotonic"] == [None, None, None, False]
    assert batch.points["temporality"] == [None, None, None, 2]


def test_a_batch_makes_a_column_only_when_it_is_first_used() -> None:
    batch = Batch()
    assert (len(batch.spans), len(batch.logs), len(batch.points)) == (0, 0, 0)
    assert batch.log_count == 0  # reading a column makes that one, empty
    assert list(batch.logs) == ["record_id"]
    with pytest.raises(KeyError):
        batch.logs["no_such_column"]

    merged = Batch()
    merged.extend(logs_batch(logs_request([{"time_unix_nano": T0}])))
    assert set(merged.logs) == set(LOG_COLUMNS)
    assert len(merged.spans) == 0  # a logs-only batch leaves the other tables without lists


def test_a_batch_filling_one_table_is_stored_with_every_column(tmp_path: Path) -> None:
    logs = logs_batch(logs_request([{"time_unix_nano": T0}, {"time_unix_nano": T0 + 1}]))
    merged = Batch()
    merged.extend(logs)
    merged.extend(spans_batch(spans_request([{"name": "turn"}])))
    store = Store.open(tmp_path / "store.duckdb")
    try:
        written = store.write(merged)
        with store.reader() as db:
            stored = db.execute("SELECT count(*), count(time_ns) FROM logs").fetchone()
            spans = db.execute("SELECT count(*) FROM spans").fetchone()
    finally:
        store.close()
    assert written.logs == logs.log_count > 0
    assert stored == (logs.log_count, logs.log_count)
    assert spans == (merged.span_count,)


def test_a_batch_without_refused_rows_keeps_the_others_and_drops_a_spans_events() -> None:
    """What the writer forwards when the store refused some rows (``Written.refused``)."""
    batch = spans_batch(
        spans_request(
            [
                {"name": "refused", "events": [{"name": "its event", "time": T0}]},
                {"name": "kept", "events": [{"name": "kept event", "time": T0}]},
            ]
        )
    )
    kept = batch.without(spans=[0])
    assert kept.spans["name"] == ["kept"]
    assert kept.events["name"] == ["kept event"]
    assert kept.resources == batch.resources
    assert batch.spans["name"] == ["refused", "kept"]  # the batch itself is left as it was
