"""Azure Monitor through a real ingestion endpoint that hangs or answers (``Backend`` speaks
Application Insights' ``POST /v2.1/track``): a batch the exporter keeps in its offline
storage is deferred, not dropped, and arrives later; a hanging ingestion costs one export
timeout, not azure-core's 300 s read timeout; each destination's outage line gives its own
reason."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import _logs, trace
from opentelemetry.sdk.trace.export import SpanExportResult

from bot_telemetry import configure
from bot_telemetry.bot.telemetry_client import OpenTelemetryBotTelemetryClient
from bot_telemetry.dependencies.call import ATTR_RESULT_CODE, Target, dependency_call
from bot_telemetry.export.azure_monitor import (
    RESULT_CODE_ATTRIBUTES,
    WithoutCustomEventSpanEvents,
)
from bot_telemetry.export.posthog import PostHogLogExporter
from bot_telemetry.posthog import PostHogSettings
from bot_telemetry.signals import track_custom_event
from tests.reliability.backend import ACCEPT, HANG, Backend
from tests.support.posthog import PostHogServer
from tests.support.waiting import wait_for

SPAN = "RemoteDependencyData"  # what an internal span becomes in Application Insights


@pytest.fixture
def ingestion(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Backend]:
    # Nothing of the exporter's own: no statsbeat, no remote settings, storage under tmp_path.
    for variable in ("STATSBEAT_DISABLED_ALL", "SDKSTATS_DISABLED", "CONTROLPLANE_DISABLED"):
        monkeypatch.setenv(f"APPLICATIONINSIGHTS_{variable}", "true")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "POSTHOG_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    backend = Backend(hang_seconds=120)
    yield backend
    backend.close()


def connection_string(backend: Backend) -> str:
    return f"InstrumentationKey={uuid.uuid4()};IngestionEndpoint={backend.url}/"


def azure_spans(backend: Backend, tmp_path: Path, **options: Any) -> WithoutCustomEventSpanEvents:
    """The span exporter as the environment makes it, with a 1 s timeout and no wait before
    its offline storage may send a stored batch again."""
    from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter

    return WithoutCustomEventSpanEvents(
        AzureMonitorTraceExporter(
            connection_string=connection_string(backend),
            timeout=1.0,
            read_timeout=1.0,
            storage_directory=str(tmp_path / "azure"),
            storage_min_retry_interval=0,
            **options,
        )
    )


def emit(names: list[str]) -> None:
    for name in names:
        trace.get_tracer("test").start_span(name).end()


def test_a_batch_the_exporter_stores_for_a_retry_is_deferred_not_dropped(
    ingestion: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ingestion.set_mode(HANG)
    handle = configure(
        "bot",
        span_exporters=[azure_spans(ingestion, tmp_path)],
        log_exporters=[],
        metric_readers=[],
    )
    names = [f"span-{index:02}" for index in range(16)]
    try:
        with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
            for part in (names[:10], names[10:15]):
                emit(part)
                handle.force_flush(10_000)  # no answer: the exporter stores the batch
            # Not lost: the exporter keeps both batches on disk to send again.
            assert handle.dropped() == {}
            assert handle.deferred() == {"traces": 15}
            ingestion.set_mode(ACCEPT)
            emit(names[15:])
            # Delivered, and after it the exporter sent what it had stored.
            assert handle.force_flush(10_000)
    finally:
        handle.shutdown()
    spans = {name: n for (kind, name), n in ingestion.received.envelopes.items() if kind == SPAN}
    assert spans == dict.fromkeys(names, 1)
    lines = [r.getMessage() for r in caplog.records if "telemetry export to" in r.getMessage()]
    assert len(lines) == 2, lines
    assert "WithoutCustomEventSpanEvents is failing (" in lines[0]
    assert "the exporter keeps what it could not send" in lines[0]
    assert "Read timed out" in lines[0]  # the exporter's own line, folded into ours
    assert lines[1].endswith(
        "recovered; 0 items were dropped during the outage "
        "(15 more were kept by the exporter, to be sent again)"
    )


def test_a_hanging_ingestion_costs_one_export_timeout_not_five_minutes(
    ingestion: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the environment, as a bot sets it up: azure-core's read timeout (300 s) held the
    export thread and ``shutdown()`` for five minutes; the export timeout is 10 s."""
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", connection_string(ingestion))
    ingestion.set_mode(HANG)
    handle = configure("bot")
    assert handle.destinations == ["Azure Monitor"]
    emit(["work"])
    _logs.get_logger("test").emit(body="a log line")
    wait_for(lambda: ingestion.requests[HANG] >= 2, what="a request per signal, hanging")
    closing = threading.Thread(target=handle.shutdown)
    started = time.monotonic()
    closing.start()
    closing.join(25)
    took = time.monotonic() - started
    ingestion.close()  # answers what still hangs
    closing.join(60)
    assert took < 25, f"shutdown took {took:.0f}s with the ingestion hanging"
    # Both batches are on disk for the next run, and counted so.
    assert handle.dropped() == {}
    assert handle.deferred() == {"traces": 1, "logs": 1}
    print(f"\nshutdown with Application Insights hanging: {took:.1f}s")


def test_each_destinations_outage_line_gives_its_own_reason(
    ingestion: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """PostHog fails with a reason of its own, then Azure Monitor, whose exporter logs none
    for a 429: Azure Monitor's line said PostHog's error."""
    posthog = PostHogServer()
    posthog.fail_next(503, times=100)
    settings = PostHogSettings(api_key=posthog.api_key, host=posthog.url, retry_seconds=0)
    ingestion.set_mode(HANG)
    handle = configure(
        "bot",
        span_exporters=[azure_spans(ingestion, tmp_path)],
        log_exporters=[PostHogLogExporter(settings)],
        metric_readers=[],
    )
    try:
        with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
            with trace.get_tracer("test").start_as_current_span("turn"):
                track_custom_event("QnAMessage", {"conversationId": "c1"})
            handle.logger_provider.force_flush(10_000)
            handle.tracer_provider.force_flush(10_000)
    finally:
        handle.shutdown()
        posthog.close()
    lines = [r.getMessage() for r in caplog.records if " is failing" in r.getMessage()]
    # Exporters passed to configure() are named by their class.
    (posthog_line,) = [line for line in lines if "export to PostHogLogExporter" in line]
    (azure_line,) = [line for line in lines if "export to WithoutCustomEventSpanEvents" in line]
    assert "answered 503" in posthog_line
    assert "PostHog" not in azure_line and "503" not in azure_line, azure_line
    assert "Read timed out" in azure_line


def test_a_partial_success_counts_only_the_refused_items_as_lost(
    ingestion: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Application Insights answers 206: it took part of the batch and lists the envelopes it
    refused, each with its own status. The whole batch counted as lost; now what it took is
    delivered, what the exporter stores to retry (429) is deferred and arrives later, and
    only the refused items are lost, by reason, without the message's data in any log."""
    secret = "alice@example.com"
    ingestion.refusals = {
        "bad": (400, f"Field 'name' on type 'RequestData' is invalid. Actual: {secret}"),
        "bad-event": (400, f"Field 'message' on type 'MessageData' is invalid. Actual: {secret}"),
        "busy": (429, "Too many requests"),
        "sampled": (206, "Telemetry sampled out."),
    }
    handle = configure(
        "bot",
        span_exporters=[azure_spans(ingestion, tmp_path)],
        log_exporters=[],
        metric_readers=[],
    )
    tracer = trace.get_tracer("test")
    try:
        with caplog.at_level(logging.DEBUG):
            emit(["ok-1", "bad", "busy", "sampled", "ok-2"])
            with tracer.start_as_current_span("has-bad-event") as span:
                span.add_event("bad-event", {"user.email": secret})
            handle.force_flush(10_000)
            assert handle.dropped() == {"traces/rejected": 2, "traces/sampled_out": 1}
            assert handle.deferred() == {"traces": 1}
            ingestion.refusals = {}
            emit(["later"])
            # Delivered, and after it the exporter sent the item it had stored.
            assert handle.force_flush(10_000)
    finally:
        handle.shutdown()
    spans = {name: n for (kind, name), n in ingestion.received.envelopes.items() if kind == SPAN}
    assert spans == dict.fromkeys(["ok-1", "busy", "ok-2", "has-bad-event", "later"], 1)
    assert secret not in caplog.text
    lines = [r.getMessage() for r in caplog.records if r.name == "bot_telemetry.export"]
    refused = [line for line in lines if "refused" in line]
    assert refused and "400: Field 'name' on type 'RequestData' is invalid" in refused[0]
    assert handle.dropped() == {"traces/rejected": 2, "traces/sampled_out": 1}


def test_what_the_rate_limiter_stores_before_sending_is_deferred_not_delivered(
    ingestion: Backend, tmp_path: Path
) -> None:
    """The exporter's rate limiter sends what it admits and stores the rest to send later,
    and its export() answers SUCCESS: every item counted as delivered, some were on disk."""
    handle = configure(
        "bot",
        span_exporters=[azure_spans(ingestion, tmp_path, max_envelopes_per_second=3)],
        log_exporters=[],
        metric_readers=[],
    )
    try:
        emit([f"span-{index}" for index in range(5)])
        handle.force_flush(10_000)
        # Three envelopes admitted: the exporter's resource envelope and two spans.
        assert handle.deferred() == {"traces": 3}
        assert handle.dropped() == {}
    finally:
        handle.shutdown()
    spans = {name: n for (kind, name), n in ingestion.received.envelopes.items() if kind == SPAN}
    assert spans == {"span-0": 1, "span-1": 1}


def test_a_partial_success_of_custom_events_counts_the_refused_one(
    ingestion: Backend, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """From the environment, as a bot sets it up: custom events are log records, one envelope
    each; the one refused is lost, the others delivered, and the reason keeps the service's
    words but not a value it quotes."""
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", connection_string(ingestion))
    ingestion.refusals = {"Refused": (400, "The value 'bob@example.com' of field 'x' is bad.")}
    handle = configure("bot")
    try:
        with caplog.at_level(logging.INFO):
            with trace.get_tracer("test").start_as_current_span("turn"):
                for name in ("Kept", "Refused", "AlsoKept"):
                    track_custom_event(name, {"conversationId": "c1"})
            assert handle.force_flush(10_000)
    finally:
        handle.shutdown()
    assert handle.dropped() == {"logs/rejected": 1}
    assert handle.deferred() == {}
    events = {name for (kind, name) in ingestion.received.envelopes if kind == "EventData"}
    assert events == {"Kept", "AlsoKept"}
    assert "bob@example.com" not in caplog.text
    (line,) = [r.getMessage() for r in caplog.records if "refused telemetry" in r.getMessage()]
    assert "(400: The value '…' of field 'x' is bad)" in line


def test_a_partial_success_without_offline_storage_loses_the_retryable_items(
    ingestion: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Storage switched off: an item refused with 429 is not kept, so it is lost (as
    export_failed, the backend failing), and the items taken are still delivered."""
    ingestion.refusals = {"busy": (429, "Too many requests")}
    handle = configure(
        "bot",
        span_exporters=[azure_spans(ingestion, tmp_path, disable_offline_storage=True)],
        log_exporters=[],
        metric_readers=[],
    )
    try:
        with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
            emit(["ok", "busy"])
            handle.force_flush(10_000)
    finally:
        handle.shutdown()
    assert handle.dropped() == {"traces/export_failed": 1}
    assert handle.deferred() == {}
    (line,) = [r.getMessage() for r in caplog.records if " is failing" in r.getMessage()]
    assert "took 1 of 2 items; 1 export_failed (429, and no offline storage" in line


def test_the_wrapped_exporter_still_exports_through_export_alone(
    ingestion: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Used by the SDK's own processors (export(), never deliver()), the watched exporter
    exports as before, its rate limiter's overflow stored on the way."""
    from opentelemetry.sdk.trace import TracerProvider

    # Whether the exporter sends its resource envelope first depends on the global provider.
    monkeypatch.setenv("APPLICATIONINSIGHTS_OPENTELEMETRY_RESOURCE_METRIC_DISABLED", "true")

    tracer = TracerProvider().get_tracer("test")
    spans = []
    for name in ("one", "two", "three"):
        span = tracer.start_span(name)
        span.end()
        spans.append(span)
    exporter = azure_spans(ingestion, tmp_path, max_envelopes_per_second=2)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert {name for (kind, name) in ingestion.received.envelopes if kind == SPAN} == {"one", "two"}


def test_a_dependency_that_is_not_http_has_its_result_code_in_application_insights(
    ingestion: Backend, tmp_path: Path
) -> None:
    """The exporter reads a dependency's resultCode from its HTTP status only: a recognizer,
    QnA, storage or middleware call showed 0, failed or not. Now it is the call's own result
    code (the dependency wrappers'; track_dependency's for a type other than HTTP), and a
    dependency with an HTTP status keeps it."""
    handle = configure(
        "bot",
        span_exporters=[azure_spans(ingestion, tmp_path)],
        log_exporters=[],
        metric_readers=[],
    )

    async def calls() -> None:
        async with dependency_call("QnA Query", Target("qna"), component="QnA"):
            pass
        with contextlib.suppress(TimeoutError):
            async with dependency_call("Recognizer Query", Target("nlu"), component="Recognizer"):
                raise TimeoutError

    try:
        asyncio.run(calls())
        OpenTelemetryBotTelemetryClient().track_dependency(
            "Read state", "read", "Azure DocumentDB", "cosmos", 12, False, "404"
        )
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span(
            "GET /answer",
            kind=trace.SpanKind.CLIENT,
            attributes={"http.request.method": "GET", "http.response.status_code": 503},
        ):
            pass
        assert handle.force_flush(10_000)
    finally:
        handle.shutdown()
    codes = {
        item["data"]["baseData"]["name"]: (
            item["data"]["baseData"]["resultCode"],
            item["data"]["baseData"]["success"],
        )
        for item in track_items(ingestion)
        if item["data"]["baseType"] == SPAN
    }
    assert codes == {
        "QnA Query": ("OK", True),
        "Recognizer Query": ("TimeoutError", False),
        "Read state": ("404", False),
        "GET /": ("503", True),  # the exporter names an HTTP dependency by method and path
    }
    assert RESULT_CODE_ATTRIBUTES[0] == ATTR_RESULT_CODE


def track_items(backend: Backend) -> list[dict[str, Any]]:
    """The envelopes the ingestion was sent (gzipped JSON lines or a JSON list)."""
    items: list[dict[str, Any]] = []
    for body in backend.bodies:
        text = (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode().strip()
        if text.startswith("["):
            items.extend(json.loads(text))
        else:
            items.extend(json.loads(line) for line in text.splitlines() if line.strip())
    return items
