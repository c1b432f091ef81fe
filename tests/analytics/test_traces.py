"""One trace as the UI shows it: span links (marked when the linked trace is stored), the
instrumentation scope, the resources, and values that are always valid JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb

from bot_telemetry.analytics.traces import get_trace
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine
from bot_telemetry.store.rows import spans_batch
from tests.support.otlp_messages import new_span_id, new_trace_id, spans_request


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
