"""PostHog beside the other destinations of ``configure()``: custom events go, mapped; the
turn never waits for PostHog; what is lost is counted; shutdown sends what is queued."""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import _logs, context, trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

from bot_telemetry import configure
from bot_telemetry.cli import main
from bot_telemetry.contract import RESOURCE_POSTHOG_FORWARDED
from bot_telemetry.export import Telemetry
from bot_telemetry.export.posthog import PostHogLogExporter, event_record
from bot_telemetry.posthog import PostHogSettings, event_uuid
from bot_telemetry.signals import track_custom_event, with_turn_properties
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.posthog import PostHogServer
from tests.support.waiting import wait_for


@pytest.fixture
def server() -> Iterator[PostHogServer]:
    running = PostHogServer()
    yield running
    running.close()


@pytest.fixture
def environment(server: PostHogServer, monkeypatch: pytest.MonkeyPatch) -> PostHogServer:
    monkeypatch.setenv("POSTHOG_API_KEY", server.api_key)
    monkeypatch.setenv("POSTHOG_HOST", server.url)
    for signal in ("TRACES", "LOGS", "METRICS"):
        monkeypatch.setenv(f"OTEL_{signal}_EXPORTER", "none")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    return server


def emit_turn(count: int, name: str = "QnAMessage") -> None:
    turn = {"conversationId": "conv-1", "enduser.pseudo.id": "u-hash", "session.id": "s-hash"}
    with trace.get_tracer("test").start_as_current_span("bot.turn"):
        token = context.attach(with_turn_properties(turn))
        try:
            for index in range(count):
                track_custom_event(name, {"n": index, "text": "my secret"}, {"score": 0.5})
        finally:
            context.detach(token)


def test_posthog_comes_beside_the_other_destinations(
    environment: PostHogServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    for signal in ("TRACES", "LOGS", "METRICS"):
        monkeypatch.delenv(f"OTEL_{signal}_EXPORTER")
    handle = configure("bot", metric_readers=[])
    try:
        assert handle.destinations == ["OTLP http://127.0.0.1:9", f"PostHog {environment.url}"]
        assert handle.resource.attributes[RESOURCE_POSTHOG_FORWARDED] is True
    finally:
        handle.shutdown()


def test_without_the_key_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    handle = configure("bot", metric_readers=[])
    try:
        assert handle.destinations == ["OTLP http://127.0.0.1:9"]
        assert RESOURCE_POSTHOG_FORWARDED not in handle.resource.attributes
    finally:
        handle.shutdown()


def test_custom_events_arrive_mapped_with_their_uuids(server: PostHogServer) -> None:
    memory = InMemoryLogRecordExporter()
    settings = PostHogSettings(api_key=server.api_key, host=server.url)
    handle = configure(
        "bot",
        service_version="2.0",
        span_exporters=[],
        log_exporters=[memory, PostHogLogExporter(settings)],
        metric_readers=[],
    )
    try:
        emit_turn(3)
        _logs.get_logger("plain").emit(body="a plain log line, not an event")
        assert handle.force_flush(10_000)
    finally:
        handle.shutdown()
    got = server.received()
    events = [r for r in memory.get_finished_logs() if r.log_record.event_name]
    assert len(got) == 3 and len(events) == 3
    assert [r.uuid for r in got] == [str(event_uuid(event_record(e))) for e in events]
    for item in got:
        assert item.name == "QnAMessage" and item.distinct_id == "u-hash"
        assert item.properties["service_version"] == "2.0"
        assert item.properties["conversation_id"] == "conv-1"
        assert item.properties["score"] == 0.5
        assert "text" not in item.properties and b"my secret" not in server.wire()
        assert item.properties["trace_id"] == f"{events[0].log_record.trace_id:032x}"


def test_user_ids_are_those_of_the_bots_record_not_hashed_again(server: PostHogServer) -> None:
    memory = InMemoryLogRecordExporter()
    settings = PostHogSettings(api_key=server.api_key, host=server.url)
    handle = configure(
        "bot",
        span_exporters=[],
        log_exporters=[memory, PostHogLogExporter(settings)],
        metric_readers=[],
    )
    try:
        with trace.get_tracer("test").start_as_current_span("bot.turn"):
            token = context.attach(with_turn_properties({"conversationId": "conv-1"}))
            try:
                track_custom_event(
                    "BotMessageReceived",
                    {"fromId": "29:1AliceRaw", "recipientId": "28:bot-raw", "text": "I am Alice"},
                )
            finally:
                context.detach(token)
        assert handle.force_flush(10_000)
    finally:
        handle.shutdown()
    (record,) = [r.log_record for r in memory.get_finished_logs() if r.log_record.event_name]
    assert record.attributes is not None
    (got,) = server.received()
    # What the store and the other destinations get (the policy's pseudonyms), not hashed again.
    assert got.properties["fromId"] == record.attributes["fromId"] == got.distinct_id
    assert got.properties["recipientId"] == record.attributes["recipientId"]
    assert got.properties["fromId"] != "29:1AliceRaw"
    assert not any(raw in server.wire() for raw in (b"29:1AliceRaw", b"28:bot-raw", b"Alice"))


def test_excluded_events_are_not_even_queued(environment: PostHogServer, monkeypatch) -> None:
    monkeypatch.setenv("POSTHOG_EXCLUDE_EVENTS", "Waterfall*")
    handle = configure("bot", metric_readers=[])
    try:
        emit_turn(2, "WaterfallStep")
        emit_turn(1, "BotMessageReceived")
        assert handle.force_flush(10_000)
    finally:
        handle.shutdown()
    assert [r.name for r in environment.received()] == ["BotMessageReceived"]


def test_a_failing_posthog_costs_the_turn_nothing_and_is_counted(
    environment: PostHogServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("POSTHOG_RETRY_SECONDS", "60")
    environment.fail_next(503, times=10_000)
    handle = configure("bot", metric_readers=[], schedule_delay_millis=10)
    try:
        with caplog.at_level(logging.WARNING):
            emit_turn(1)
            wait_for(lambda: environment.answers[503] > 0, what="the first (failing) export")
            started = time.perf_counter()
            emit_turn(100)  # while the export thread waits out a 503 backoff
            elapsed = time.perf_counter() - started
    finally:
        stopping = time.monotonic()
        handle.shutdown()  # stops the backoff, tries what is queued once
        stopped = time.monotonic() - stopping
    assert environment.answers[503] >= 1
    assert elapsed < 2.0, f"100 events took {elapsed:.2f}s with PostHog failing"
    assert stopped < 10, f"shutdown waited {stopped:.1f}s"
    assert sum(handle.dropped().values()) == 101
    assert set(handle.dropped()) <= {"posthog/export_failed", "posthog/shutdown"}
    failing = [r for r in caplog.records if "is failing" in r.getMessage()]
    assert len(failing) == 1 and "PostHog" in failing[0].getMessage()


def test_shutdown_sends_what_is_queued(environment: PostHogServer) -> None:
    handle: Telemetry = configure("bot", metric_readers=[], schedule_delay_millis=60_000)
    emit_turn(5)
    assert environment.received() == []
    handle.shutdown()
    assert len(environment.received()) == 5 and handle.dropped() == {}


def test_what_posthog_missed_is_sent_by_the_backfill_the_outage_line_names(
    server: PostHogServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = tmp_path / "store.duckdb"
    own = PostHogSettings(api_key=server.api_key, host=server.url, retry_seconds=0)
    server.down()
    with CollectorThread(ServerConfig(store=store, port=0)) as collector:
        # A bot sending its events to PostHog itself and to serve, which stores them.
        handle = configure(
            "bot",
            span_exporters=[OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces")],
            log_exporters=[
                OTLPLogExporter(endpoint=f"{collector.url}/v1/logs"),
                PostHogLogExporter(own),
            ],
            metric_readers=[],
        )
        try:
            with caplog.at_level(logging.WARNING):
                emit_turn(3)
                handle.force_flush(10_000)
        finally:
            handle.shutdown()
    assert handle.dropped() == {"posthog/export_failed": 3}
    (line,) = [r.getMessage() for r in caplog.records if "is failing" in r.getMessage()]
    command = shlex.split(line.split("`")[1])
    assert command[:5] == ["bot-telemetry", "posthog", "backfill", "--store", "STORE"]
    # Done as the line says, on the store that holds them: PostHog gets all three.
    server.up()
    monkeypatch.setenv("POSTHOG_API_KEY", server.api_key)
    monkeypatch.setenv("POSTHOG_HOST", server.url)
    assert main([*command[1:4], str(store), *command[5:]]) == 0
    assert [r.name for r in server.received()] == ["QnAMessage"] * 3


def test_without_another_destination_the_line_names_no_backfill(
    server: PostHogServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.down()
    own = PostHogSettings(api_key=server.api_key, host=server.url, retry_seconds=0)
    handle = configure(
        "bot", span_exporters=[], log_exporters=[PostHogLogExporter(own)], metric_readers=[]
    )
    try:
        with caplog.at_level(logging.WARNING):
            emit_turn(1)
            handle.force_flush(10_000)
    finally:
        handle.shutdown()
    (line,) = [r.getMessage() for r in caplog.records if "is failing" in r.getMessage()]
    assert "backfill" not in line
