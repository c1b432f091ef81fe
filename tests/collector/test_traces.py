"""Transactions: search by conversation, failure, event name and time; one trace as a tree."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.collector.conftest import Populated


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def ids(found: list[dict[str, Any]]) -> list[str]:
    return sorted(t["trace_id"] for t in found)


def test_search_by_each_criterion(populated: Populated) -> None:
    url, sent = populated.url, populated.sent
    everything = ids(get_json(f"{url}/api/traces"))
    assert everything == sorted(sent.turn_traces)
    assert ids(get_json(f"{url}/api/traces?conversation=conv-1")) == everything
    assert get_json(f"{url}/api/traces?conversation=nope") == []
    assert ids(get_json(f"{url}/api/traces?failed=true")) == sorted(sent.failed_traces)
    assert ids(get_json(f"{url}/api/traces?failed=false")) == sorted(
        set(sent.turn_traces) - set(sent.failed_traces)
    )
    # The failing turn has no recognized intent: its trace is the one without the event.
    assert ids(get_json(f"{url}/api/traces?event=LuisIntent.Greeting")) == sorted(
        set(sent.turn_traces) - set(sent.failed_traces)
    )
    assert ids(get_json(f"{url}/api/traces?service=qna&limit=2")) == ids(
        get_json(f"{url}/api/traces?limit=2")
    )
    assert get_json(f"{url}/api/traces?since=2000-01-01&until=2000-01-02") == []
    found = get_json(f"{url}/api/traces?limit=1")
    assert len(found) == 1 and found[0]["root_service"] == "channel"
    assert found[0]["root_name"] == "POST /api/messages"


def test_one_trace_as_a_span_tree_with_events_and_logs(populated: Populated) -> None:
    failed = populated.sent.failed_traces[0]
    trace = get_json(f"{populated.url}/api/traces/{failed}")
    shape = [("  " * s["depth"]) + f"{s['service']}:{s['name']}" for s in trace["spans"]]
    assert shape == [
        "channel:POST /api/messages",
        "  bot:POST /api/messages handler",
        "    bot:bot.turn",
        "      bot:POST /luis/predict",
        "        nlu:POST /luis/predict handler",
        "      bot:POST /qna/generateAnswer",
        "        qna:POST /qna/generateAnswer handler",
        "      bot:blob read",
        "      bot:POST /v3/conversations/activities",
        "        channel:POST /v3/conversations/activities handler",
    ]
    by_name = {(s["service"], s["name"]): s for s in trace["spans"]}
    nlu = by_name[("nlu", "POST /luis/predict handler")]
    assert (nlu["status"], nlu["status_message"], nlu["kind"]) == ("error", "nlu crashed", "server")
    assert trace["errors"] == 2
    turn = by_name[("bot", "bot.turn")]
    assert turn["attributes"]["activity.conversation.id"] == "conv-1"
    # Custom events show as span events on the turn and as log records, once each.
    assert [e["name"] for e in turn["events"]] == ["BotMessageReceived", "QnAMessage"]
    assert [log["event_name"] for log in trace["logs"]] == [
        "BotMessageReceived",
        "QnAMessage",
        "BotMessageSend",
    ]
    offsets = [s["offset_ms"] for s in trace["spans"]]
    assert offsets[0] == 0 and all(o >= 0 for o in offsets)


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/traces/0123456789abcdef0123456789abcdef", 404, "no trace"),
        ("/api/traces/not-a-trace", 400, "is not a trace id"),
        ("/api/traces?failed=maybe", 400, "failed must be true or false"),
        ("/api/traces?since=yesterday", 400, "neither a duration"),
        ("/api/traces?limit=many", 400, "limit must be a whole number"),
        ("/api/traces?limit=-1", 400, "limit must be at least 1, not -1"),
        ("/api/events?limit=0", 400, "limit must be at least 1, not 0"),
        ("/api/conversations/unknown", 404, "no conversation"),
    ],
)
def test_api_errors_say_why(populated: Populated, path: str, status: int, message: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        get_json(f"{populated.url}{path}")
    assert error.value.code == status
    assert message in json.loads(error.value.read())["error"]


def test_a_very_deep_trace_is_returned_whole(tmp_path: Any) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from bot_telemetry.analytics.traces import get_trace
    from bot_telemetry.store.database import Store
    from bot_telemetry.store.engine import DuckDBEngine
    from bot_telemetry.store.rows import spans_batch

    provider = TracerProvider(resource=Resource.create({"service.name": "deep"}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    spans, parent = [], None
    from opentelemetry import trace as api

    for level in range(1500):  # deeper than the default recursion limit
        context = api.set_span_in_context(parent) if parent is not None else None
        parent = tracer.start_span(f"level {level}", context=context)
        spans.append(parent)
    for span in reversed(spans):
        span.end()
    store = Store.open(tmp_path / "deep.duckdb")
    store.write(spans_batch(encode_spans(memory.get_finished_spans())))
    found = get_trace(DuckDBEngine(store), format(spans[0].get_span_context().trace_id, "032x"))
    store.close()
    assert found is not None
    assert [s["depth"] for s in found["spans"]] == list(range(1500))
