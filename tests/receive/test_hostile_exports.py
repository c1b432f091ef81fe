"""Good exports from many clients at once, beside hostile ones (hypothesis): every good export
is acknowledged in full and stored exactly once; a hostile one is refused (400, 413) or
stored in part with the reasons (partial success), never a 500 that takes good ones with it;
and everything stored reads back as valid JSON.

The hostile side: values out of range for the store (times up to 2^64-1, kinds and status
codes up to 2^31, severity numbers outside 0-24, counts over 2^63), NaN and Infinity, lone
surrogates in OTLP/JSON, ids of the wrong length, garbage bytes, over OTLP/HTTP (protobuf,
JSON, gzip) and OTLP/gRPC.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.otlp_messages import (
    T0,
    logs_request,
    metrics_request,
    new_trace_id,
    spans_request,
)

PATHS = {"traces": "/v1/traces", "logs": "/v1/logs", "metrics": "/v1/metrics"}
METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}
RESPONSES: dict[str, type[Message]] = {
    "traces": ExportTraceServiceResponse,
    "logs": ExportLogsServiceResponse,
    "metrics": ExportMetricsServiceResponse,
}
GOOD_SENDERS = 6
_numbers = itertools.count()


def strict_json(text: str | bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorThread]:
    store: Path = tmp_path_factory.mktemp("hostile") / "telemetry.duckdb"
    with CollectorThread(ServerConfig(store=store, port=0, grpc_port=0)) as running:
        yield running


def grpc_target(collector: CollectorThread) -> str:
    assert collector._running is not None and collector._running.grpc_url
    return collector._running.grpc_url.removeprefix("http://")


# ---- sending ---------------------------------------------------------------------------


def as_json(message: Message, lone_surrogate: bool) -> bytes:
    """OTLP/JSON as SDKs write it: hex ids; optionally a lone surrogate in every string."""
    document = json_format.MessageToDict(message)

    def convert(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: convert(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v, key) for v in value]
        if isinstance(value, str) and key in ("traceId", "spanId", "parentSpanId"):
            return base64.b64decode(value).hex()
        if isinstance(value, str) and key == "stringValue" and lone_surrogate:
            return value + "\ud83d"
        return value

    return json.dumps(convert(document)).encode()


def send(
    collector: CollectorThread,
    signal: str,
    body: bytes,
    *,
    transport: str = "http",
    content_type: str = "application/x-protobuf",
    compressed: bool = False,
) -> tuple[int, bytes]:
    """(status, body): HTTP status, or for gRPC 200 / 400 (INVALID_ARGUMENT) / 413
    (RESOURCE_EXHAUSTED) / 500 (anything else)."""
    if transport == "grpc":
        try:
            with grpc.insecure_channel(
                grpc_target(collector),
                compression=grpc.Compression.Gzip if compressed else None,
            ) as channel:
                answer: bytes = channel.unary_unary(METHODS[signal])(body, timeout=30)
            return 200, answer
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            status = {
                grpc.StatusCode.INVALID_ARGUMENT: 400,
                grpc.StatusCode.RESOURCE_EXHAUSTED: 413,
            }.get(code, 500)
            return status, str(error.details()).encode()  # type: ignore[attr-defined]
    headers = {"Content-Type": content_type}
    if compressed:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    request = urllib.request.Request(
        f"{collector.url}{PATHS[signal]}", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# ---- the good side: a unique trace, event and metric point per export ------------------


class Good:
    def __init__(self) -> None:
        number = next(_numbers)
        self.trace_id = new_trace_id()
        self.event = f"good.event.{number}"
        self.metric = f"good.metric.{number}"
        self.exports = {
            "traces": spans_request(
                [
                    {"trace_id": self.trace_id, "name": f"good {i}", "attributes": {"n": i}}
                    for i in range(3)
                ],
                service="good",
            ),
            "logs": logs_request(
                [{"time_unix_nano": T0 + number, "event_name": self.event, "body": "fine"}],
                service="good",
            ),
            "metrics": metrics_request(
                [
                    {
                        "name": self.metric,
                        "kind": "gauge",
                        "points": [{"as_double": 1.5, "time_unix_nano": T0 + number}],
                    }
                ],
                service="good",
            ),
        }

    def send_all(self, collector: CollectorThread, transport: str) -> list[str]:
        """Every export (one of them twice, as an exporter's retry); the problems found."""
        problems = []
        for signal, message in [*self.exports.items(), ("traces", self.exports["traces"])]:
            status, body = send(collector, signal, message.SerializeToString(), transport=transport)
            if status != 200:
                problems.append(f"good {signal} over {transport}: {status} {body[:200]!r}")
                continue
            partial = RESPONSES[signal].FromString(body).partial_success  # type: ignore[attr-defined]
            if partial.ListFields():
                problems.append(f"good {signal} over {transport} partly refused: {partial}")
        return problems

    def check_stored_once(self, collector: CollectorThread) -> None:
        def get(path: str) -> Any:
            with urllib.request.urlopen(f"{collector.url}{path}", timeout=10) as response:
                return strict_json(response.read())

        trace = get(f"/api/traces/{self.trace_id.hex()}")
        assert sorted(span["name"] for span in trace["spans"]) == ["good 0", "good 1", "good 2"]
        assert len(get(f"/api/events?name={self.event}")) == 1
        (series,) = get(f"/api/metrics/{self.metric}")["series"]
        assert (series["points"], series["latest"]) == (1, 1.5)


# ---- the hostile side: valid items with one or two fields broken, beside intact ones -----

valid_time = st.integers(0, 2**63 - 1)
# Past what the store holds: after 2262 as a time, over 2^63 as a count.
too_big = st.one_of(st.sampled_from([2**63, 2**64 - 1]), st.integers(2**63, 2**64 - 1))
doubles = st.floats(allow_nan=True, allow_infinity=True)
scalars = st.one_of(
    st.text(max_size=20),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    doubles,
    st.binary(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
attribute_sets = st.dictionaries(st.text(max_size=12), values, max_size=4)
trace_ids = st.binary(min_size=16, max_size=16).filter(any)
span_ids = st.binary(min_size=8, max_size=8).filter(any)
bad_trace_ids = st.one_of(
    st.just(bytes(16)), st.binary(min_size=1, max_size=15), st.binary(min_size=17, max_size=20)
)
out_of_enum = st.one_of(st.integers(6, 2**31 - 1), st.integers(-(2**31), -1))


@st.composite
def span_fields(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A span's fields, and whether one or more of them is broken."""
    start = draw(valid_time)
    fields: dict[str, Any] = {
        "trace_id": draw(trace_ids),
        "span_id": draw(span_ids),
        "name": draw(st.text(max_size=30)),
        "kind": draw(st.integers(0, 5)),
        "start": start,
        "end": draw(valid_time),
        "status": draw(st.integers(0, 2)),
        "attributes": draw(attribute_sets),
        "events": draw(
            st.lists(
                st.fixed_dictionaries({"time": valid_time, "attributes": attribute_sets}),
                max_size=2,
            )
        ),
    }
    broken = draw(
        st.sets(
            st.sampled_from(["trace_id", "kind", "start", "end", "status", "event"]), max_size=2
        )
    )
    for name in broken:
        if name == "trace_id":
            fields["trace_id"] = draw(bad_trace_ids)
        elif name == "kind":
            fields["kind"] = draw(out_of_enum)
        elif name == "status":
            fields["status"] = draw(st.integers(3, 2**31 - 1))
        elif name == "event":
            fields["events"] = [*fields["events"], {"time": draw(too_big)}]
        else:
            fields[name] = draw(too_big)
    return fields, bool(broken)


@st.composite
def record_fields(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    fields: dict[str, Any] = {
        "time_unix_nano": draw(valid_time),
        "observed_time_unix_nano": draw(valid_time),
        "severity_number": draw(st.integers(0, 24)),
        "severity_text": draw(st.text(max_size=8)),
        "event_name": draw(st.text(max_size=12)),
        "trace_id": draw(st.one_of(trace_ids, bad_trace_ids)),  # a bad one is just dropped
        "body": draw(values),
        "attributes": draw(attribute_sets),
    }
    broken = draw(st.booleans())
    if broken and draw(st.booleans()):
        fields["time_unix_nano"] = draw(too_big)
    elif broken:  # OTLP's severity numbers are 0-24 (ClickHouse's UInt8 wrapped 300 to 44)
        fields["severity_number"] = draw(
            st.one_of(st.integers(-(2**31), -1), st.integers(25, 2**31 - 1))
        )
    return fields, broken


number_points = st.fixed_dictionaries(
    {
        "time_unix_nano": valid_time,
        "start_time_unix_nano": valid_time,
        "flags": st.integers(0, 3),
        "attributes": attribute_sets,
    },
    optional={"as_double": doubles, "as_int": st.integers(-(2**63), 2**63 - 1)},
)


@st.composite
def metric_spec(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    """A metric, and how many of its points are broken."""
    kind = draw(st.sampled_from(["gauge", "sum", "histogram", "exponential_histogram"]))
    spec: dict[str, Any] = {
        "name": draw(st.text(min_size=1, max_size=20)),
        "kind": kind,
        "temporality": draw(st.integers(-(2**31), 2**31 - 1)),  # any value is kept as it is
    }
    points, broken = [], 0
    for _ in range(draw(st.integers(1, 3))):
        if kind in ("gauge", "sum"):
            point = draw(number_points)
        elif kind == "histogram":
            bounds = draw(st.lists(doubles, max_size=4))
            point = {
                "time_unix_nano": draw(valid_time),
                "count": draw(st.integers(0, 2**63 - 1)),
                "sum": draw(doubles),
                "explicit_bounds": bounds,
                "bucket_counts": draw(
                    st.lists(
                        st.integers(0, 2**63 - 1),
                        min_size=len(bounds) + 1,
                        max_size=len(bounds) + 1,
                    )
                ),
                "min": draw(doubles),
                "max": draw(doubles),
            }
        else:
            point = {
                "time_unix_nano": draw(valid_time),
                "count": draw(st.integers(0, 2**63 - 1)),
                "scale": draw(st.integers(-10, 20)),
                "zero_count": draw(st.integers(0, 2**63 - 1)),
                "positive": (
                    draw(st.integers(-200, 200)),
                    draw(st.lists(st.integers(0, 2**63 - 1), max_size=4)),
                ),
                "negative": (
                    draw(st.integers(-200, 200)),
                    draw(st.lists(st.integers(0, 2**63 - 1), max_size=3)),
                ),
            }
        if draw(st.booleans()):
            broken += 1
            field = draw(st.sampled_from(["time_unix_nano", "count", "scale", "bucket"]))
            if field == "time_unix_nano" or kind in ("gauge", "sum"):
                point["time_unix_nano"] = draw(too_big)
            elif field == "count":
                point["count"] = draw(too_big)
            elif field == "scale" and kind == "exponential_histogram":
                point["scale"] = draw(
                    st.one_of(st.integers(21, 2**31 - 1), st.integers(-(2**31), -11))
                )
            elif kind == "histogram":
                point["bucket_counts"] = [*point["bucket_counts"][:-1], draw(too_big)]
            else:
                point["zero_count"] = draw(too_big)
        points.append(point)
    spec["points"] = points
    return spec, broken


@st.composite
def hostile_exports(draw: st.DrawFn) -> tuple[str, bytes, dict[str, Any], int | None]:
    """(signal, body, how to send it, how many items it must refuse; None: not OTLP)."""
    signal = draw(st.sampled_from(["traces", "logs", "metrics"]))
    how = {"transport": draw(st.sampled_from(["http", "grpc"])), "compressed": draw(st.booleans())}
    if draw(st.integers(0, 9)) == 0:  # not OTLP at all
        return signal, draw(st.binary(max_size=64)), how, None
    message: Message
    if signal == "traces":
        spans = draw(st.lists(span_fields(), min_size=1, max_size=5))
        message = spans_request([fields for fields, _ in spans], service=draw(st.text(max_size=10)))
        refused = sum(broken for _, broken in spans)
    elif signal == "logs":
        records = draw(st.lists(record_fields(), min_size=1, max_size=5))
        message = logs_request([fields for fields, _ in records])
        refused = sum(broken for _, broken in records)
    else:
        metrics = draw(st.lists(metric_spec(), min_size=1, max_size=3))
        message = metrics_request([spec for spec, _ in metrics])
        refused = sum(broken for _, broken in metrics)
    if how["transport"] == "http" and draw(st.booleans()):
        how["content_type"] = "application/json"
        return signal, as_json(message, lone_surrogate=draw(st.booleans())), how, refused
    return signal, message.SerializeToString(), how, refused


REJECTED = {
    "traces": "rejected_spans",
    "logs": "rejected_log_records",
    "metrics": "rejected_data_points",
}


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(hostile=st.lists(hostile_exports(), min_size=1, max_size=3))
def test_good_exports_beside_hostile_ones_are_all_stored_once(
    collector: CollectorThread, hostile: list[tuple[str, bytes, dict[str, Any], int | None]]
) -> None:
    goods = [Good() for _ in range(GOOD_SENDERS)]
    start = threading.Barrier(GOOD_SENDERS + len(hostile))

    def good(index: int) -> list[str]:
        start.wait(10)
        return goods[index].send_all(collector, "grpc" if index % 2 else "http")

    def bad(item: tuple[str, bytes, dict[str, Any], int | None]) -> tuple[int, bytes]:
        signal, body, how, _ = item
        start.wait(10)
        return send(collector, signal, body, **how)

    with ThreadPoolExecutor(GOOD_SENDERS + len(hostile)) as pool:
        good_results = [pool.submit(good, i) for i in range(GOOD_SENDERS)]
        bad_results = [pool.submit(bad, item) for item in hostile]
        problems = [problem for result in good_results for problem in result.result(60)]
        refusals = [result.result(60) for result in bad_results]
    assert problems == []
    for (signal, _, how, refused), (status, body) in zip(hostile, refusals, strict=True):
        if refused is None:  # bytes that may or may not parse as an (empty) request
            assert status in (200, 400), body[:500]
            continue
        # Refused item by item, with the reasons; the rest of the export is stored.
        assert status == 200, body[:500]
        response = RESPONSES[signal]()
        if how.get("content_type") == "application/json":  # answered in the request's encoding
            json_format.Parse(body, response)
        else:
            response.ParseFromString(body)
        partial = response.partial_success  # type: ignore[attr-defined]
        assert getattr(partial, REJECTED[signal]) == refused, partial
        assert bool(partial.error_message) == bool(refused)
    for item in goods:
        item.check_stored_once(collector)


@pytest.mark.slow  # reads what the test above stored
def test_everything_stored_reads_back_as_valid_json(collector: CollectorThread) -> None:
    def get(path: str) -> Any:
        with urllib.request.urlopen(f"{collector.url}{path}", timeout=30) as response:
            return strict_json(response.read())

    traces = get("/api/traces?limit=1000")
    assert traces, "the hostile test stored nothing"
    for summary in traces:
        get(f"/api/traces/{summary['trace_id']}")
    get("/api/events?limit=1000")
    get("/api/conversations")
    get("/api/appmap")
    for metric in get("/api/metrics"):
        try:
            get("/api/metrics/" + urllib.parse.quote(metric["name"], safe=""))
        except urllib.error.HTTPError as error:
            raise AssertionError(f"metric {metric['name']!r}: {error}") from error
