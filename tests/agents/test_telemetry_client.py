"""OpenTelemetryAgentTelemetryClient: the Agents SDK dialogs' client, recorded as
botbuilder's client records the same calls (tests/bot/test_telemetry_client.py)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from microsoft_agents.hosting.dialogs import _telemetry_client
from opentelemetry import _logs as logs
from opentelemetry import trace
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import OpenTelemetryBotTelemetryClient, PrivacyPolicy, configure
from bot_telemetry.agents import OpenTelemetryAgentTelemetryClient
from tests.support.telemetry import CapturedTelemetry


def attributes(record: Any) -> dict[str, Any]:
    return dict(record.log_record.attributes or {})


@pytest.fixture
def client() -> OpenTelemetryAgentTelemetryClient:
    return OpenTelemetryAgentTelemetryClient()


def test_it_has_every_method_of_the_sdks_interface_with_its_parameters() -> None:
    interface = _telemetry_client.AgentTelemetryClient
    methods = {n for n, f in vars(interface).items() if callable(f) and not n.startswith("_")}
    assert methods == {"track_event", "track_exception", "track_dependency", "flush"}
    for name in methods:
        theirs = list(inspect.signature(getattr(interface, name)).parameters)
        ours = list(inspect.signature(getattr(OpenTelemetryAgentTelemetryClient, name)).parameters)
        assert ours == theirs, name


def test_track_event_is_a_custom_event_and_a_span_event_filtered_by_the_policy(
    telemetry: CapturedTelemetry, client: OpenTelemetryAgentTelemetryClient
) -> None:
    with trace.get_tracer("test").start_as_current_span("work") as span:
        client.track_event(
            "OrderPlaced", {"orderId": "o-1", "text": "secret"}, {"items": 3, "note": "x"}
        )
    (event,) = telemetry.events("OrderPlaced")
    # measurements: one JSON object (Azure Monitor's customMeasurements); "note" is no number
    assert attributes(event) == {
        "orderId": "o-1",
        "microsoft.custom_measurements": '{"items":3.0}',
        "microsoft.custom_event.name": "OrderPlaced",
    }
    assert event.log_record.span_id == span.get_span_context().span_id
    assert [e.name for e in telemetry.span_named("work").events] == ["OrderPlaced"]


def test_entities_keep_only_their_names_as_botbuilders_client_does(
    telemetry: CapturedTelemetry, client: OpenTelemetryAgentTelemetryClient
) -> None:
    entities = '{"email": ["ada@example.org"], "$instance": {}}'
    client.track_event("Agents", {"entities": entities})
    OpenTelemetryBotTelemetryClient().track_event("Botbuilder", {"entities": entities})
    (ours,) = telemetry.events("Agents")
    (theirs,) = telemetry.events("Botbuilder")
    assert attributes(ours)["entities"] == attributes(theirs)["entities"] == "email"


def test_track_dependency_is_the_same_client_span_as_botbuilders(
    telemetry: CapturedTelemetry, client: OpenTelemetryAgentTelemetryClient
) -> None:
    call = (
        "SELECT * FROM profiles WHERE email='ada@example.org'",
        "Azure table",
        "store.example.net:10002",
        250,
        False,
        "404",
        {"table": "profiles"},
    )
    with trace.get_tracer("test").start_as_current_span("turn"):
        client.track_dependency("ours", *call)
        OpenTelemetryBotTelemetryClient().track_dependency("theirs", *call)

    ours, theirs = telemetry.span_named("ours"), telemetry.span_named("theirs")
    assert ours.kind is SpanKind.CLIENT and ours.status.status_code is StatusCode.ERROR
    assert ours.end_time is not None and ours.start_time is not None
    assert ours.end_time - ours.start_time == 250_000_000
    assert dict(ours.attributes or {}) == dict(theirs.attributes or {})
    assert (ours.attributes or {})["db.query.text"] == (
        "SELECT * FROM profiles WHERE email='[REDACTED]'"
    )
    assert ours.parent is not None
    assert ours.parent.span_id == telemetry.span_named("turn").context.span_id


def test_track_exception_redacts_the_message_on_the_span_and_the_log_record(
    telemetry: CapturedTelemetry, client: OpenTelemetryAgentTelemetryClient
) -> None:
    with trace.get_tracer("test").start_as_current_span("turn"):
        try:
            raise KeyError("ada@example.org")
        except KeyError as error:
            client.track_exception(error, {"dialog": "booking"})

    (event,) = telemetry.span_named("turn").events
    recorded = dict(event.attributes or {})
    assert event.name == "exception" and recorded["exception.type"] == "KeyError"
    # the default policy: the type and the frames, no message (it quotes the user's id)
    assert "exception.message" not in recorded
    assert "ada@example.org" not in recorded["exception.stacktrace"]
    assert "in test_track_exception_redacts" in recorded["exception.stacktrace"]
    (record,) = telemetry.logs()
    assert record.log_record.severity_number == logs.SeverityNumber.ERROR
    assert record.log_record.body == "KeyError"
    assert attributes(record) == {"dialog": "booking", "error.type": "KeyError"}


def test_track_exception_with_the_policy_opened_keeps_the_message_redacted(
    telemetry: CapturedTelemetry,
) -> None:
    client = OpenTelemetryAgentTelemetryClient(PrivacyPolicy(log_personal_information=True))
    with trace.get_tracer("test").start_as_current_span("turn"):
        client.track_exception(KeyError("ada@example.org"))
    (event,) = telemetry.span_named("turn").events
    assert (event.attributes or {})["exception.message"] == "'[REDACTED]'"


def test_an_opened_policy_records_what_the_default_keeps_out(
    telemetry: CapturedTelemetry,
) -> None:
    OpenTelemetryAgentTelemetryClient(PrivacyPolicy(True)).track_event("Said", {"text": "hi"})
    assert attributes(telemetry.events("Said")[0])["text"] == "hi"


def test_flush_exports_what_is_queued(client: OpenTelemetryAgentTelemetryClient) -> None:
    exported = InMemoryLogRecordExporter()
    handle = configure(
        "bot",
        span_exporters=[InMemorySpanExporter()],
        log_exporters=[exported],
        metric_readers=[],
        schedule_delay_millis=60_000,  # only an explicit flush exports within the test
    )
    try:
        client.track_event("Queued")
        assert exported.get_finished_logs() == ()
        client.flush()
        assert [r.log_record.body for r in exported.get_finished_logs()] == ["Queued"]
    finally:
        handle.shutdown()


def test_a_privacy_that_is_not_a_policy_is_refused_when_the_client_is_built() -> None:
    """``OpenTelemetryAgentTelemetryClient(True)`` (botbuilder's log_personal_information
    flag) was accepted, then every event failed to record with an AttributeError logged."""
    with pytest.raises(TypeError) as refused:
        OpenTelemetryAgentTelemetryClient(True)  # type: ignore[arg-type]
    message = str(refused.value)
    assert "OpenTelemetryAgentTelemetryClient(privacy=...) takes a PrivacyPolicy" in message
    assert "PrivacyPolicy(log_personal_information=True)" in message
    policy = PrivacyPolicy(log_personal_information=True)
    assert OpenTelemetryAgentTelemetryClient(policy).privacy is policy
