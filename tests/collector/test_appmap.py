"""App map rules, on the scenario sent over OTLP and on hand-shaped traces."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from bot_telemetry import contract
from bot_telemetry.analytics.appmap import build_app_map, node_operations, node_trace_ids
from bot_telemetry.analytics.window import TimeWindow
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine
from bot_telemetry.store.rows import spans_batch
from tests.collector.conftest import Populated


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_app_map_of_the_demo_topology(populated: Populated) -> None:
    app_map = get_json(f"{populated.url}/api/appmap")
    # The channel starts every trace, so it leads (the layout starts there).
    assert app_map["nodes"][0]["id"] == "channel"
    nodes = {node["id"]: node for node in app_map["nodes"]}
    assert nodes == {
        "channel": {"id": "channel", "kind": "service", "requests": 3, "failures": 0},
        "bot": {"id": "bot", "kind": "service", "requests": 3, "failures": 0},
        "nlu": {"id": "nlu", "kind": "service", "requests": 3, "failures": 1},
        "qna": {"id": "qna", "kind": "service", "requests": 3, "failures": 0},
        "azure.blob": {"id": "azure.blob", "kind": "dependency", "requests": 3, "failures": 0},
    }
    edges = {(e["source"], e["target"]): (e["calls"], e["failures"]) for e in app_map["edges"]}
    assert edges == {
        ("channel", "bot"): (3, 0),
        ("bot", "nlu"): (3, 1),
        ("bot", "qna"): (3, 0),
        ("bot", "azure.blob"): (3, 0),
        ("bot", "channel"): (3, 0),
    }
    for edge in app_map["edges"]:
        assert set(edge) == {"source", "target", "calls", "failures", "p50_ms", "p95_ms"}
        assert 0 < edge["p50_ms"] <= edge["p95_ms"]


def test_a_window_before_the_telemetry_is_empty(populated: Populated) -> None:
    app_map = get_json(f"{populated.url}/api/appmap?until=2000-01-01T00:00:00Z")
    assert app_map == {"nodes": [], "edges": []}


class Shaper:
    """Spans from several services written straight into a store through the OTLP decoder."""

    def __init__(self, store: Store):
        self.store = store
        self.tracers: dict[str, Any] = {}
        self.exporters: list[tuple[InMemorySpanExporter, TracerProvider]] = []

    def tracer(self, service: str) -> Any:
        if service not in self.tracers:
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            memory = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(memory))
            self.exporters.append((memory, provider))
            self.tracers[service] = provider.get_tracer("shaper")
        return self.tracers[service]

    def flush(self) -> None:
        for memory, _ in self.exporters:
            self.store.write(spans_batch(encode_spans(memory.get_finished_spans())))
            memory.clear()


@pytest.fixture
def shaper(tmp_path: Path) -> Iterator[Shaper]:
    store = Store.open(tmp_path / "store.duckdb")
    yield Shaper(store)
    store.close()


def app_map_of(shaper: Shaper) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    shaper.flush()
    built = build_app_map(DuckDBEngine(shaper.store))
    return (
        {n["id"]: (n["kind"], n["requests"], n["failures"]) for n in built["nodes"]},
        {(e["source"], e["target"]): (e["calls"], e["failures"]) for e in built["edges"]},
    )


def test_peer_names_come_from_the_most_specific_attribute(shaper: Shaper) -> None:
    bot = shaper.tracer("bot")
    with bot.start_as_current_span("root", kind=SpanKind.SERVER):
        for attributes in (
            {"peer.service": "payments", "server.address": "10.0.0.9"},
            {"service.peer.name": "crm", "server.address": "10.0.0.8"},
            {"db.system.name": "postgresql", "server.address": "db.local"},
            {"server.address": "api.example.com"},
            {},  # nothing names the callee: no edge, as in Tempo
        ):
            with bot.start_as_current_span("call", kind=SpanKind.CLIENT, attributes=attributes):
                pass
    nodes, edges = app_map_of(shaper)
    assert set(edges) == {
        ("bot", "payments"),
        ("bot", "crm"),
        ("bot", "postgresql"),
        ("bot", "api.example.com"),
    }
    assert nodes["postgresql"] == ("dependency", 1, 0)
    assert nodes["bot"] == ("service", 1, 0)


def test_a_peer_that_is_an_instrumented_service_is_that_service(shaper: Shaper) -> None:
    bot, nlu = shaper.tracer("bot"), shaper.tracer("nlu")
    with bot.start_as_current_span(
        "call nlu", kind=SpanKind.CLIENT, attributes={"peer.service": "nlu"}
    ):
        pass  # this call's server span was lost
    with bot.start_as_current_span(
        "call nlu", kind=SpanKind.CLIENT, attributes={"peer.service": "nlu-by-another-name"}
    ):
        with nlu.start_as_current_span("predict", kind=SpanKind.SERVER):
            pass
    nodes, edges = app_map_of(shaper)
    # The child SERVER span decides the target; the peer attribute is the fallback.
    assert edges == {("bot", "nlu"): (2, 0)}
    assert nodes["nlu"] == ("service", 1, 0)
    assert "nlu-by-another-name" not in nodes


def test_failures_count_on_either_side_and_in_process_calls_make_no_edge(shaper: Shaper) -> None:
    bot, qna = shaper.tracer("bot"), shaper.tracer("qna")
    with bot.start_as_current_span("ask", kind=SpanKind.CLIENT):
        with qna.start_as_current_span("answer", kind=SpanKind.SERVER) as server:
            server.set_status(Status(StatusCode.ERROR, "index missing"))
    with bot.start_as_current_span("ask", kind=SpanKind.CLIENT) as client:
        client.set_status(Status(StatusCode.ERROR, "timeout"))
        with qna.start_as_current_span("answer", kind=SpanKind.SERVER):
            pass
    with bot.start_as_current_span(
        "self call", kind=SpanKind.CLIENT, attributes={"peer.service": "bot"}
    ):
        with bot.start_as_current_span("self handler", kind=SpanKind.SERVER):
            pass
    nodes, edges = app_map_of(shaper)
    assert edges == {("bot", "qna"): (2, 2)}
    assert nodes["qna"] == ("service", 2, 1)
    assert nodes["bot"] == ("service", 1, 0)


def test_a_request_whose_turn_failed_failed_though_answered(shaper: Shaper) -> None:
    channel, bot = shaper.tracer("channel"), shaper.tracer("bot")
    for turn_fails in (True, False):
        with channel.start_as_current_span("POST /api/messages", kind=SpanKind.CLIENT):
            # on_turn_error apologised: the request is answered 201, its span not ERROR
            with bot.start_as_current_span("POST /api/messages", kind=SpanKind.SERVER):
                with bot.start_as_current_span(contract.TURN_SPAN_NAME) as turn:
                    if turn_fails:
                        turn.set_status(Status(StatusCode.ERROR, "KeyError"))
    # a failed turn under no request (a test adapter, a proactive turn) changes nothing
    with bot.start_as_current_span(contract.TURN_SPAN_NAME) as orphan:
        orphan.set_status(Status(StatusCode.ERROR, "KeyError"))
    nodes, edges = app_map_of(shaper)
    assert nodes["bot"] == ("service", 2, 1)
    assert edges == {("channel", "bot"): (2, 1)}


def test_node_operations_and_recent_traces(populated: Populated) -> None:
    nlu = get_json(f"{populated.url}/api/nodes/nlu")
    assert [
        (o["service"], o["name"], o["kind"], o["calls"], o["failures"]) for o in nlu["operations"]
    ] == [("nlu", "POST /luis/predict handler", "server", 3, 1)]
    assert sorted(t["trace_id"] for t in nlu["traces"]) == sorted(populated.sent.turn_traces)
    blob = get_json(f"{populated.url}/api/nodes/azure.blob")
    assert [(o["service"], o["name"], o["kind"], o["calls"]) for o in blob["operations"]] == [
        ("bot", "blob read", "client", 3)
    ]


def test_node_queries_on_an_empty_window(shaper: Shaper) -> None:
    engine = DuckDBEngine(shaper.store)
    assert node_operations(engine, "bot", TimeWindow()) == []
    assert node_trace_ids(engine, "bot", TimeWindow()) == []
