"""One trace (the waterfall's read) on a store of several row groups reads its own stretch of
the spans, not all of them: spans are kept in arrival order, so a trace's spans sit in the
row groups of its time, which the read finds from the integer trace_key column alone and then
narrows to by DuckDB's zone maps. The answer is the same as a read of every span."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from benchmarks.ingest import TURN, generate_store
from bot_telemetry.analytics.traces import TRACE_SPANS, TRACE_TIMES, get_trace
from bot_telemetry.store.compiler import bound
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine
from bot_telemetry.store.otel_rows import table_rows
from bot_telemetry.store.rows import trace_key
from tests.support.clickhouse import chdb_engine
from tests.support.otlp_messages import T0, new_trace_id, spans_request

#: Three of DuckDB's row groups (122,880 rows each) of demo-shaped turns.
SPANS = 3 * 122_880


def test_a_trace_reads_the_row_group_of_its_time_and_the_same_spans(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    generate_store(path, SPANS)
    with duckdb.connect(str(path), read_only=True) as db:
        # A turn in the middle of the store, and its spans as a read of everything finds them.
        (trace_id,) = db.execute("SELECT trace_id FROM spans LIMIT 1 OFFSET 180000").fetchone()  # type: ignore[misc]
        everything = [
            span_id
            for (span_id,) in db.execute(
                "SELECT span_id FROM spans WHERE trace_id = ? ORDER BY start_ns, span_id",
                [trace_id],
            ).fetchall()
        ]
    store = Store.open(path, read_only=True)
    try:
        engine = DuckDBEngine(store)
        found = get_trace(engine, trace_id)
        assert found is not None
        assert sorted(span["span_id"] for span in found["spans"]) == sorted(everything)
        assert len(everything) == len(TURN)

        values = {"trace_key": trace_key(trace_id), "trace_id": trace_id}
        first_ns, last_ns = TRACE_TIMES.run(engine, **values).rows[0]
        values |= {"first_ns": first_ns, "last_ns": last_ns}
        compiled = engine.compile(TRACE_SPANS.sql, values)
        with store.reader() as cursor:
            cursor.execute(f"EXPLAIN ANALYZE {compiled.sql}", bound(compiled, values))
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
    finally:
        store.close()
    scanned = re.findall(r"Row Groups Scanned: (\d+) / (\d+)", plan)
    assert scanned, plan
    # The spans table's scan: one row group of three (two when the turn straddles a border).
    spans_scan = max(scanned, key=lambda pair: int(pair[1]))
    assert int(spans_scan[1]) == 3 and int(spans_scan[0]) <= 2, plan


def test_on_clickhouse_a_trace_is_found_by_the_lookup_table_or_else_its_spans() -> None:
    """ClickHouse: the exporter's lookup table (ordered by TraceId) says when a trace's spans
    start; a trace it lacks (its feeding view dropped, rows from before it) is found in the
    spans, as before."""
    trace_id, other = new_trace_id(), new_trace_id()
    request = spans_request(
        [
            {"trace_id": trace_id, "name": "first"},
            {
                "trace_id": trace_id,
                "name": "an hour on",
                "start": T0 + 3600 * 10**9,
                "end": T0 + 3600 * 10**9 + 1_000_000,
            },
            {"trace_id": other, "name": "another trace"},
        ]
    )
    with chdb_engine("trace_read") as engine:
        engine.create_schema()
        for table, (_, rows) in table_rows(request, engine.tables).items():
            engine.insert(table, rows)
        values = {"trace_key": trace_key(trace_id.hex()), "trace_id": trace_id.hex()}
        assert "otel_traces_trace_id_ts" in engine.compile(TRACE_TIMES.sql, values).sql
        ((first_ns, last_ns),) = TRACE_TIMES.run(engine, **values).rows
        assert first_ns <= T0 and T0 + 3600 * 10**9 <= last_ns
        found = get_trace(engine, trace_id.hex())
        assert found is not None
        assert [span["name"] for span in found["spans"]] == ["first", "an hour on"]

        engine.raw("TRUNCATE TABLE `trace_read`.`otel_traces_trace_id_ts`")
        assert TRACE_TIMES.run(engine, **values).rows == []
        again = get_trace(engine, trace_id.hex())
        assert again is not None and again["spans"] == found["spans"]
        assert get_trace(engine, new_trace_id().hex()) is None
