"""One trace as the UI shows it: span links (marked when the linked trace is stored), the
instrumentation scope, the resources, and values that are always valid JSON; the search,
newest traces first, read from the latest minute back."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import duckdb

from bot_telemetry.analytics.traces import (
    EARLIER,
    SUMMARIES,
    TraceQuery,
    get_trace,
    iso,
    search_traces,
    summarize,
)
from bot_telemetry.analytics.window import TimeWindow
from bot_telemetry.store.compiler import bound
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine
from bot_telemetry.store.rows import spans_batch
from tests.support.otlp_messages import BOT, T0, new_span_id, new_trace_id, spans_request


def test_links_scope_and_resources(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.duckdb")
    other_trace, other_span = new_trace_id(), new_span_id()
    missing_trace, missing_span = new_trace_id(), new_span_id()
    trace_id = new_trace_id()
    store.write(spans_batch(spans_request([{"trace_id": other_trace, "span_id": other_span}])))
    store.write(
        spans_batch(
            spans_request(
                [
                    {
                        "trace_id": trace_id,
                        "links": [(other_trace, other_span), (missing_trace, missing_span)],
                    }
                ],
                service="api",
                resource={"service.version": "1.4.2", "host.name": "box-1"},
            )
        )
    )
    found = get_trace(DuckDBEngine(store), trace_id.hex())
    store.close()
    assert found is not None
    (span,) = found["spans"]
    assert [(link["trace_id"], link["stored"]) for link in span["links"]] == [
        (other_trace.hex(), True),
        (missing_trace.hex(), False),
    ]
    assert span["scope"] == {"name": "tests", "version": "1.2.3"}
    (resource,) = found["resources"]
    assert resource["resource_id"] == span["resource_id"]
    assert resource["service"] == "api"
    assert resource["attributes"] == {
        "service.name": "api",
        **BOT,
        "service.version": "1.4.2",
        "host.name": "box-1",
    }


def test_bare_nan_in_an_older_store_reads_back_as_strings(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.duckdb")
    trace_id = new_trace_id()
    store.write(spans_batch(spans_request([{"trace_id": trace_id, "attributes": {"x": 1.0}}])))
    store.close()
    # What version 1 stored for NaN and Infinity attributes: bare tokens, not JSON.
    connection = duckdb.connect(str(tmp_path / "s.duckdb"))
    connection.execute(
        """UPDATE spans SET attributes = '{"nan":NaN,"inf":Infinity,"list":[-Infinity]}'"""
    )
    connection.close()
    store = Store.open(tmp_path / "s.duckdb", read_only=True)
    found = get_trace(DuckDBEngine(store), trace_id.hex())
    store.close()
    assert found is not None
    assert found["spans"][0]["attributes"] == {
        "nan": "NaN",
        "inf": "Infinity",
        "list": ["-Infinity"],
    }
    json.dumps(found, allow_nan=False)
    assert not any(
        isinstance(v, float) and math.isnan(v) for v in found["spans"][0]["attributes"].values()
    )


def test_a_search_from_the_latest_minute_still_orders_by_each_traces_first_span(
    tmp_path: Path,
) -> None:
    minute = 60 * 10**9
    store = Store.open(tmp_path / "s.duckdb")
    # Random ids, as real ones are: the search tells traces apart by their first 8 bytes
    # before it compares whole ids.
    short = [os.urandom(16) for _ in range(40)]
    store.write(
        spans_batch(
            spans_request(
                [
                    {"trace_id": trace_id, "start": T0 + i * minute, "end": T0 + i * minute + 10}
                    for i, trace_id in enumerate(short)
                ]
            )
        )
    )
    # A long trace: its first span is older than every short trace but one, its last span
    # newer than all of them; the last minutes show only its end.
    long_trace, root = os.urandom(16), new_span_id()
    store.write(
        spans_batch(
            spans_request(
                [
                    {"trace_id": long_trace, "span_id": root, "start": T0 + minute // 2},
                    {
                        "trace_id": long_trace,
                        "parent_span_id": root,
                        "start": T0 + 39 * minute + minute // 2,
                        "end": T0 + 40 * minute,
                    },
                ]
            )
        )
    )
    engine = DuckDBEngine(store)
    try:
        # The whole store, and a window that ends before the long trace's end (its start
        # then is its first span's, and the search can stop at the last 16 minutes).
        for window in (TimeWindow(), TimeWindow(0, T0 + 39 * minute + 1)):
            for limit in (1, 3, 39, 41):
                query = TraceQuery(window=window, limit=limit)
                whole = [t["trace_id"] for t in search_traces(engine, query, step_ns=2**63)]
                for step in (1, minute, 16 * minute):
                    found = [t["trace_id"] for t in search_traces(engine, query, step_ns=step)]
                    assert found == whole, (window, limit, step)
        newest_three = [t["trace_id"] for t in search_traces(engine, TraceQuery(limit=3))]
        assert newest_three == [trace_id.hex() for trace_id in reversed(short[-3:])]
        everything = [t["trace_id"] for t in search_traces(engine, TraceQuery(limit=41))]
        assert everything.index(long_trace.hex()) == 39  # second oldest start
        assert search_traces(engine, TraceQuery(window=TimeWindow(1, 2))) == []
    finally:
        store.close()


def test_times_are_shown_truncated_never_rounded_into_the_next_day() -> None:
    # 100 ns before midnight (2026-11-03T00:00:00Z): a float of the seconds rounded it up
    # to midnight, so an event of Monday evening showed on Tuesday.
    assert iso(1_793_663_999_999_999_900) == "2026-11-02T23:59:59.999Z"
    assert iso(1_793_664_000_000_000_000) == "2026-11-03T00:00:00.000Z"
    assert iso(-1) == "1969-12-31T23:59:59.999Z"


def test_a_search_whose_first_minute_holds_the_whole_store_reads_nothing_older(
    tmp_path: Path,
) -> None:
    # A demo's store: 60 traces within half a minute. The last minute holds every span, so
    # the search answers from it without the proof that its traces started in it (a scan of
    # every older span: 50 ms of the 60 at 10M spans).
    store = Store.open(tmp_path / "s.duckdb")
    second = 10**9
    trace_ids = [os.urandom(16) for _ in range(60)]
    store.write(
        spans_batch(
            spans_request(
                [
                    {"trace_id": trace_id, "start": T0 + i * second // 2, "end": T0 + i * second}
                    for i, trace_id in enumerate(trace_ids)
                ]
            )
        )
    )
    engine = DuckDBEngine(store)
    try:
        whole = search_traces(engine, TraceQuery(), step_ns=2**63)
        with store.reader() as db:
            # DuckDB's own log of the statements the database ran.
            db.execute("CALL enable_logging('QueryLog')")
        found = search_traces(engine, TraceQuery())
        with store.reader() as db:
            ran = [row[0] for row in db.execute("SELECT message FROM duckdb_logs").fetchall()]
        assert found == whole
        assert [t["trace_id"] for t in found] == [t.hex() for t in reversed(trace_ids[10:])]
        earlier = engine.compile(EARLIER.sql, {"before": 0, "trace_ids": ["x"]}).sql
        assert ran and earlier not in ran
    finally:
        store.close()


def test_a_trace_summary_is_one_grouping_of_its_spans(tmp_path: Path) -> None:
    # Its services distinct and sorted, from Python: list(DISTINCT ... ORDER BY ...) in the
    # SQL made DuckDB group the spans twice and join the two (a third of a small store's
    # search).
    store = Store.open(tmp_path / "s.duckdb")
    trace_id = new_trace_id()
    for i, service in enumerate(["qna", "bot", "nlu", "bot", "Channel"]):
        store.write(spans_batch(spans_request([{"trace_id": trace_id, "start": T0 + i}], service)))
    engine = DuckDBEngine(store)
    try:
        (summary,) = summarize(engine, [trace_id.hex()])
        assert summary["services"] == ["Channel", "bot", "nlu", "qna"]
        assert (summary["spans"], summary["root_service"]) == (5, "qna")
        values = {"trace_ids": [trace_id.hex()], "since": 0}
        compiled = engine.compile(SUMMARIES.sql, values)
        with store.reader() as db:
            db.execute(f"EXPLAIN {compiled.sql}", bound(compiled, values))
            plan = db.fetchall()[0][1]
        assert "Group By" in plan and "CTE" not in plan
    finally:
        store.close()
