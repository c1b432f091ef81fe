from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botbuilder.ai.luis import LuisApplication, LuisRecognizer, LuisRecognizerOptionsV3
from botbuilder.ai.qna import QnAMaker, QnAMakerEndpoint
from botbuilder.core import BotTelemetryClient, Severity, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from opentelemetry import _logs as logs
from opentelemetry import trace
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import OpenTelemetryBotTelemetryClient, PrivacyPolicy, TelemetryMiddleware
from bot_telemetry.export import configure
from tests.bot.servers import Recorded, luis_app, qna_app
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry

LUIS_APP_ID = "b31aeaf3-3511-495b-a07f-571fc873214b"
LUIS_KEY = "048ec46dc58e495482b0c447cfdbd291"


def attributes(record: Any) -> dict[str, Any]:
    return dict(record.log_record.attributes or {})


@pytest.fixture
def client() -> OpenTelemetryBotTelemetryClient:
    return OpenTelemetryBotTelemetryClient()


def test_track_event_is_a_custom_event_and_a_span_event_filtered_by_the_policy(
    telemetry: CapturedTelemetry, client: OpenTelemetryBotTelemetryClient
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
    assert event.log_record.trace_id == span.get_span_context().trace_id
    assert event.log_record.span_id == span.get_span_context().span_id
    (span_event,) = telemetry.span_named("work").events
    assert span_event.name == "OrderPlaced"


def test_track_dependency_is_a_client_span_with_timing_target_type_and_outcome(
    telemetry: CapturedTelemetry, client: OpenTelemetryBotTelemetryClient
) -> None:
    with trace.get_tracer("test").start_as_current_span("turn"):
        client.track_dependency(
            "read profile",
            "SELECT * FROM profiles WHERE email='ada@example.org'",
            type_name="Azure table",
            target="store.example.net:10002",
            duration=250,
            success=False,
            result_code="404",
            properties={"table": "profiles"},
            dependency_id="dep-1",
        )

    dependency = telemetry.span_named("read profile")
    turn = telemetry.span_named("turn")
    assert dependency.kind is SpanKind.CLIENT
    assert dependency.parent is not None and dependency.parent.span_id == turn.context.span_id
    assert dependency.end_time is not None and dependency.start_time is not None
    assert dependency.end_time - dependency.start_time == 250_000_000
    assert dependency.status.status_code is StatusCode.ERROR
    got = dict(dependency.attributes or {})
    assert got["peer.service"] == "store.example.net:10002"
    assert got["service.peer.name"] == "store.example.net:10002"
    assert got["server.address"] == "store.example.net"
    assert got["server.port"] == 10002
    assert got["db.system.name"] == "Azure table"
    assert got["db.response.status_code"] == "404"
    assert got["db.query.text"] == "SELECT * FROM profiles WHERE email='[REDACTED]'"
    assert got["table"] == "profiles"
    assert got["bot.dependency.id"] == "dep-1"


def test_track_dependency_of_type_http(
    telemetry: CapturedTelemetry, client: OpenTelemetryBotTelemetryClient
) -> None:
    client.track_dependency(
        "POST /orders",
        "https://orders.example.net/orders",
        type_name="HTTP",
        target="orders.example.net",
        duration=5,
        success=True,
        result_code="201",
    )
    got = dict(telemetry.span_named("POST /orders").attributes or {})
    assert got["http.request.method"] == "POST"
    assert got["url.full"] == "https://orders.example.net/orders"
    assert got["http.response.status_code"] == 201
    assert "db.system.name" not in got
    assert telemetry.span_named("POST /orders").status.status_code is StatusCode.OK


def test_track_request_is_a_server_span_with_the_given_start_and_duration(
    telemetry: CapturedTelemetry, client: OpenTelemetryBotTelemetryClient
) -> None:
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    client.track_request(
        "GET /health",
        "http://bot.local/health",
        False,
        started.isoformat(),
        40,
        "503",
        "get",
        request_id="req-9",
    )
    request = telemetry.span_named("GET /health")
    assert request.kind is SpanKind.SERVER
    assert request.start_time == int(started.timestamp() * 1e9)
    assert request.end_time == request.start_time + 40_000_000
    assert request.status.status_code is StatusCode.ERROR
    got = dict(request.attributes or {})
    assert got["http.request.method"] == "GET"
    assert got["http.response.status_code"] == 503
    assert got["url.full"] == "http://bot.local/health"
    assert got["bot.request.id"] == "req-9"


@pytest.mark.parametrize(
    ("severity", "number"),
    [
        (Severity.verbose, logs.SeverityNumber.DEBUG),
        (Severity.information, logs.SeverityNumber.INFO),
        (Severity.warning, logs.SeverityNumber.WARN),
        (Severity.error, logs.SeverityNumber.ERROR),
        (Severity.critical, logs.SeverityNumber.FATAL),
        ("WARNING", logs.SeverityNumber.WARN),
        (None, logs.SeverityNumber.INFO),
    ],
)
def test_track_trace_maps_the_severity(
    telemetry: CapturedTelemetry,
    client: OpenTelemetryBotTelemetryClient,
    severity: Severity | str | None,
    number: logs.SeverityNumber,
) -> None:
    client.track_trace("cache miss for ada@example.org", {"cache": "profiles"}, severity)
    (record,) = [r for r in telemetry.logs() if r.log_record.body is not None]
    assert record.log_record.severity_number == number
    assert record.log_record.body == "cache miss for [REDACTED]"
    assert attributes(record) == {"cache": "profiles"}


def test_track_exception_records_on_the_span_and_as_a_log_record(
    telemetry: CapturedTelemetry, client: OpenTelemetryBotTelemetryClient
) -> None:
    with trace.get_tracer("test").start_as_current_span("turn"):
        try:
            raise KeyError("ada@example.org")
        except KeyError:
            client.track_exception(properties={"dialog": "booking"})

    turn = telemetry.span_named("turn")
    (event,) = turn.events
    assert event.name == "exception"
    assert (event.attributes or {})["exception.type"] == "KeyError"
    assert (event.attributes or {})["dialog"] == "booking"
    recorded = dict(event.attributes or {})
    # the default policy: the type and the frames, no message (it quotes the user's id)
    assert "exception.message" not in recorded
    assert "ada@example.org" not in recorded["exception.stacktrace"]
    assert "in test_track_exception_records_on_the_span" in recorded["exception.stacktrace"]
    assert recorded["exception.stacktrace"].endswith("KeyError\n")
    (record,) = telemetry.logs()
    got = attributes(record)
    assert record.log_record.severity_number == logs.SeverityNumber.ERROR
    assert record.log_record.trace_id == turn.context.trace_id
    assert record.log_record.body == "KeyError"
    # the span event is the exception; the log record says so without counting it twice
    assert got == {"dialog": "booking", "error.type": "KeyError"}


def test_track_exception_outside_a_span_keeps_the_details_on_the_log_record(
    telemetry: CapturedTelemetry, client: OpenTelemetryBotTelemetryClient
) -> None:
    try:
        raise KeyError("ada@example.org")
    except KeyError:
        client.track_exception()
    (record,) = telemetry.logs()
    got = attributes(record)
    assert got["exception.type"] == "KeyError"
    assert "exception.message" not in got
    assert "in test_track_exception_outside_a_span" in got["exception.stacktrace"]


def test_track_exception_with_personal_data_allowed_records_the_redacted_message(
    telemetry: CapturedTelemetry,
) -> None:
    client = OpenTelemetryBotTelemetryClient(PrivacyPolicy(log_personal_information=True))
    try:
        raise KeyError("ada@example.org")
    except KeyError:
        client.track_exception()
    (record,) = telemetry.logs()
    got = attributes(record)
    assert record.log_record.body == got["exception.message"] == "'[REDACTED]'"
    assert "ada@example.org" not in got["exception.stacktrace"]
    assert got["exception.stacktrace"].endswith("KeyError: '[REDACTED]'\n")


def test_track_exception_with_an_explicit_exception(telemetry: CapturedTelemetry) -> None:
    client = OpenTelemetryBotTelemetryClient(PrivacyPolicy(log_personal_information=True))
    error = ValueError("bad input")
    client.track_exception(type(error), error)
    (record,) = telemetry.logs()
    assert attributes(record)["exception.message"] == "bad input"
    assert attributes(record)["exception.type"] == "ValueError"


def test_track_pageview_is_a_custom_event(
    telemetry: CapturedTelemetry, client: OpenTelemetryBotTelemetryClient
) -> None:
    client.track_pageview(
        "Settings",
        "https://bot.example.net/settings?user=ada%40example.org",
        120,
        {"tab": "privacy"},
    )
    (event,) = telemetry.events("Settings")
    # the default policy leaves the query out: it may carry personal data
    assert attributes(event) == {
        "tab": "privacy",
        "url": "https://bot.example.net/settings",
        "microsoft.custom_measurements": '{"duration":120.0}',
        "microsoft.custom_event.name": "Settings",
    }


@pytest.fixture
def metrics_telemetry() -> Iterator[tuple[InMemoryMetricReader, InMemoryLogRecordExporter]]:
    reader = InMemoryMetricReader()
    logs_exporter = InMemoryLogRecordExporter()
    handle = configure(
        "bot",
        span_exporters=[InMemorySpanExporter()],
        log_exporters=[logs_exporter],
        metric_readers=[reader],
        # A long delay: only an explicit flush exports within the test.
        schedule_delay_millis=60_000,
    )
    yield reader, logs_exporter
    handle.shutdown()


def test_track_metric_records_on_a_histogram_of_the_current_handle(
    metrics_telemetry: tuple[InMemoryMetricReader, InMemoryLogRecordExporter],
    client: OpenTelemetryBotTelemetryClient,
) -> None:
    reader, _ = metrics_telemetry
    client.track_metric("turn latency (ms)", 12.5, properties={"channel": "msteams"})
    client.track_metric("turn latency (ms)", 7.5, properties={"channel": "msteams"})

    data = reader.get_metrics_data()
    assert data is not None
    points = [
        (metric.name, point)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
        if not metric.name.startswith("bot.")  # the bot's own metrics (signals.metrics)
    ]
    ((name, point),) = points
    assert name == "turn_latency__ms_"
    assert point.count == 2 and point.sum == 20.0
    assert dict(point.attributes or {}) == {"channel": "msteams"}


def test_flush_exports_what_is_queued(
    metrics_telemetry: tuple[InMemoryMetricReader, InMemoryLogRecordExporter],
    client: OpenTelemetryBotTelemetryClient,
) -> None:
    _, logs_exporter = metrics_telemetry
    client.track_event("Queued")
    assert logs_exporter.get_finished_logs() == ()
    client.flush()
    assert [r.log_record.body for r in logs_exporter.get_finished_logs()] == ["Queued"]


def test_no_method_raises(
    telemetry: CapturedTelemetry,
    client: OpenTelemetryBotTelemetryClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="bot_telemetry"):
        client.track_request("GET /", "http://x", True, start_time="not a date", duration=1)
        client.track_metric("m", "not a number")  # type: ignore[arg-type]
    assert "could not track request" in caplog.text
    assert "could not track metric" in caplog.text
    assert telemetry.spans() == ()


# --- botbuilder's own components, unchanged, reporting through the client --------------


def user_activity(text: str) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        text=text,
        from_property=ChannelAccount(id="user-1", name="Ada Lovelace"),
        conversation=ConversationAccount(id="conv-luis"),
    )


async def test_luis_recognizer_reports_luis_result_into_the_turn(
    telemetry: CapturedTelemetry, client: OpenTelemetryBotTelemetryClient
) -> None:
    recorded = Recorded()
    async with serving(luis_app(recorded)) as endpoint:
        recognizer = LuisRecognizer(
            LuisApplication(LUIS_APP_ID, LUIS_KEY, endpoint),
            LuisRecognizerOptionsV3(telemetry_client=client, include_all_intents=True),
        )

        async def bot(context: TurnContext) -> None:
            result = await recognizer.recognize(context)
            await context.send_activity(f"intent {LuisRecognizer.top_intent(result)}")

        adapter = TestAdapter(bot)
        adapter.use(TelemetryMiddleware())
        await adapter.receive_activity(user_activity("book a flight, mail ada@example.org"))

    assert recorded.requests[0]["body"]["query"] == "book a flight, mail ada@example.org"
    assert [a.text for a in adapter.activity_buffer] == ["intent BookFlight"]
    (event,) = telemetry.events("LuisResult")
    got = attributes(event)
    assert got["intent"] == "BookFlight"
    assert got["intentScore"] == "0.97"
    assert got["applicationId"] == LUIS_APP_ID
    assert got["sentimentLabel"] == "neutral"
    assert got["entities"] == "email", "entity values are personal; only names are kept"
    assert got["conversationId"] == "conv-luis", "the turn's properties join the event"
    assert got["fromId"] == telemetry.handle.privacy.pseudonymize("user-1")
    assert "question" not in got
    turn = telemetry.span_named("bot.turn")
    assert event.log_record.trace_id == turn.context.trace_id
    assert "LuisResult" in [e.name for e in turn.events]


async def test_qna_maker_reports_qna_message_into_the_turn(
    telemetry: CapturedTelemetry,
) -> None:
    recorded = Recorded()
    client = OpenTelemetryBotTelemetryClient(PrivacyPolicy(log_personal_information=True))
    async with serving(qna_app(recorded)) as base:
        qna = QnAMaker(
            QnAMakerEndpoint("kb-1", "endpoint-key", f"{base}/qnamaker"),
            telemetry_client=client,
            log_personal_information=True,
        )

        async def bot(context: TurnContext) -> None:
            answers = await qna.get_answers(context)
            await context.send_activity(answers[0].answer)

        adapter = TestAdapter(bot)
        adapter.use(TelemetryMiddleware())
        try:
            await adapter.receive_activity(user_activity("reset password for 555-0100-2222"))
        finally:
            await qna.close()

    assert recorded.requests[0]["body"]["question"] == "reset password for 555-0100-2222"
    (event,) = telemetry.events("QnaMessage")
    got = attributes(event)
    assert got["knowledgeBaseId"] == "kb-1"
    assert got["answer"] == "Use the reset link on the sign-in page."
    assert got["articleFound"] == "true"
    assert got["questionId"] == "12"
    # botbuilder's measurement, as one: Azure Monitor's customMeasurements, not a dimension
    assert "score" not in got
    assert json.loads(got["microsoft.custom_measurements"]) == {"score": pytest.approx(0.875)}
    assert got["username"] == "Ada Lovelace"
    assert got["question"] == "reset password for [REDACTED]"
    assert got["conversationId"] == "conv-luis"
    assert event.log_record.trace_id == telemetry.span_named("bot.turn").context.trace_id


def test_client_implements_every_method_itself() -> None:
    abstract = BotTelemetryClient.__abstractmethods__
    assert abstract, "botbuilder's interface changed shape"
    assert abstract <= set(vars(OpenTelemetryBotTelemetryClient))
    assert OpenTelemetryBotTelemetryClient().__class__.__abstractmethods__ == frozenset()
