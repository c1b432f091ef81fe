"""Bot-shaped telemetry made with the real OpenTelemetry SDK, as OTLP export requests, and
loaded into either engine: the DuckDB store through its ingest path (``store.rows``), or the
exporter's ClickHouse tables (``store.otel_rows``, the mapping the Collector makes).

    traffic = generate()
    load_duckdb(store, traffic)
    load_clickhouse(engine, traffic)

Times are fixed (from ``T0``), so windows and orders are the same on every run. Four
services as in the demo (channel, bot, nlu, qna) plus an uninstrumented blob store; several
users and conversations; failing recognizer calls, a failing turn, a Q&A span with status OK;
span events; custom events carrying the turn's identity; a log record named only by its
OTLP event_name; a plain log line; a counter and a histogram.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from bot_telemetry import contract
from bot_telemetry.store.clickhouse import ClickHouseEngine
from bot_telemetry.store.database import Store
from bot_telemetry.store.otel_rows import table_rows
from bot_telemetry.store.rows import logs_batch, metrics_batch, spans_batch

T0 = 1_750_000_000_000_000_000
MS = 1_000_000
SERVICES = ("channel", "bot", "nlu", "qna")
Request = ExportTraceServiceRequest | ExportLogsServiceRequest | ExportMetricsServiceRequest


@dataclass
class Traffic:
    """The export requests, and what was sent, to check answers against."""

    requests: list[Request] = field(default_factory=list)
    turn_traces: list[str] = field(default_factory=list)
    failed_turn_traces: list[str] = field(default_factory=list)
    conversations: list[str] = field(default_factory=list)
    first_ns: int = T0
    last_ns: int = T0


class _Service:
    def __init__(self, name: str):
        attributes = {"service.name": name, "service.instance.id": f"{name}-1"}
        if name == "bot":
            attributes["service.version"] = "1.4.2"
        resource = Resource.create(attributes)
        self.spans = InMemorySpanExporter()
        self.logs = InMemoryLogRecordExporter()
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.logger_provider = LoggerProvider(resource=resource)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(resource=resource, metric_readers=[self.reader])
        self.tracer = self.tracer_provider.get_tracer("bot_traffic", "1.0")
        self.logger = self.logger_provider.get_logger("bot_telemetry.events")
        self.client_logger = self.logger_provider.get_logger(contract.CLIENT_EVENT_SCOPE)

    def requests(self) -> list[Request]:
        found: list[Request] = []
        spans = self.spans.get_finished_spans()
        if spans:
            found.append(encode_spans(spans))
        logs = self.logs.get_finished_logs()
        if logs:
            found.append(encode_logs(logs))
        metrics = self.reader.get_metrics_data()
        if metrics is not None and metrics.resource_metrics:
            found.append(encode_metrics(metrics))
        return found

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        self.meter_provider.shutdown()


class _Turn:
    """One message through the channel, the bot and its dependencies."""

    def __init__(self, services: dict[str, _Service], start: int):
        self.services = services
        self.clock = start

    def tick(self, ms: float) -> int:
        self.clock += int(ms * MS)
        return self.clock

    def span(
        self,
        service: str,
        name: str,
        kind: SpanKind,
        parent: trace.Span | None,
        start: int,
        attributes: dict[str, object] | None = None,
    ) -> trace.Span:
        context = trace.set_span_in_context(parent) if parent is not None else None
        return self.services[service].tracer.start_span(
            name,
            context=context,
            kind=kind,
            attributes=attributes or {},  # type: ignore[arg-type]
            start_time=start,
        )

    def call(
        self,
        caller: str,
        callee: str | None,
        name: str,
        attributes: dict[str, object],
        parent: trace.Span,
        duration_ms: float,
        *,
        fails: bool = False,
        ok: bool = False,
    ) -> None:
        start = self.tick(1)
        client = self.span(caller, name, SpanKind.CLIENT, parent, start, attributes)
        if callee is not None:
            server = self.span(callee, f"{name} handler", SpanKind.SERVER, client, start + MS // 2)
            if fails:
                server.set_status(Status(StatusCode.ERROR, f"{callee} crashed"))
            elif ok:
                server.set_status(Status(StatusCode.OK))
            server.end(start + int((duration_ms - 1) * MS))
        if fails:
            client.set_status(Status(StatusCode.ERROR, f"{callee or name} answered 500"))
        client.end(self.tick(duration_ms))

    def event(self, span: trace.Span, name: str, properties: dict[str, object]) -> None:
        """A custom event the way track_custom_event records it: a log record in the span."""
        attributes = {**properties, contract.CUSTOM_EVENT_NAME: name}
        self.services["bot"].logger.emit(
            timestamp=self.tick(0.5),
            context=trace.set_span_in_context(span),
            severity_text="INFO",
            body=name,
            event_name=name,
            attributes=attributes,  # type: ignore[arg-type]
        )
        span.add_event(name, attributes, timestamp=self.clock)  # type: ignore[arg-type]


def generate(conversations: int = 4, turns_per_conversation: int = 4) -> Traffic:
    """Conversations of several turns from three users, one second apart."""
    services = {name: _Service(name) for name in SERVICES}
    traffic = Traffic()
    bot = services["bot"]
    turns_counter = bot.meter_provider.get_meter("bot").create_counter("bot.turns", unit="1")
    latency = bot.meter_provider.get_meter("bot").create_histogram("bot.turn.duration", unit="ms")
    number = 0
    for c in range(conversations):
        conversation = f"conv-{c}"
        user = f"user-{c % 3}"
        traffic.conversations.append(conversation)
        for t in range(turns_per_conversation):
            start = T0 + number * 1_000 * MS
            turn = _Turn(services, start)
            number += 1
            nlu_fails = number % 5 == 2
            turn_fails = number % 7 == 3
            inbound = turn.span(
                "channel",
                "POST /api/messages",
                SpanKind.CLIENT,
                None,
                start,
                {"peer.service": "bot"},
            )
            request = turn.span("bot", "POST /api/messages", SpanKind.SERVER, inbound, turn.tick(1))
            identity = {
                contract.ATTR_ENDUSER_PSEUDO_ID: user,
                contract.ATTR_SESSION_ID: f"session-{conversation}",
            }
            bot_turn = turn.span(
                "bot",
                contract.TURN_SPAN_NAME,
                SpanKind.INTERNAL,
                request,
                turn.tick(1),
                {
                    contract.ATTR_ACTIVITY_ID: f"a{number}",
                    contract.ATTR_ACTIVITY_TYPE: "message",
                    contract.ATTR_CHANNEL_ID: "directline" if c % 2 == 0 else "msteams",
                    contract.ATTR_CONVERSATION_ID: conversation,
                    contract.ATTR_GEN_AI_CONVERSATION_ID: conversation,
                    contract.ATTR_LOCALE: "en-US" if c != 1 else "de-DE",
                    **identity,
                },
            )
            traffic.turn_traces.append(format(bot_turn.get_span_context().trace_id, "032x"))
            properties: dict[str, object] = {
                contract.ACTIVITY_ID: f"a{number}",
                contract.CONVERSATION_ID: conversation,
                contract.CHANNEL_ID: "directline" if c % 2 == 0 else "msteams",
                contract.FROM_ID: f"from-{user}",
                **identity,
            }
            turn.event(bot_turn, contract.BOT_MESSAGE_RECEIVED, {**properties, "text": "hi"})
            turn.call(
                "bot",
                "nlu",
                "POST /luis/predict",
                {"peer.service": "nlu"},
                bot_turn,
                20 + 3 * t,
                fails=nlu_fails,
            )
            if not nlu_fails:
                turn.event(
                    bot_turn,
                    contract.luis_intent_event("Book"),
                    {**properties, contract.INTENT: "Book", contract.INTENT_SCORE: 0.5 + t / 10},
                )
            turn.call(
                "bot",
                "qna",
                "POST /qna/generateAnswer",
                {"peer.service": "qna"},
                bot_turn,
                30 + 7 * c,
                ok=t % 2 == 0,
            )
            turn.event(
                bot_turn,
                contract.QNA_MESSAGE,
                {**properties, contract.ANSWER: "Yes", contract.SCORE: 3.0, "articleFound": True},
            )
            turn.call(
                "bot",
                None,
                "blob read",
                {contract.ATTR_DB_SYSTEM_NAME: "azure.blob", contract.ATTR_DB_NAMESPACE: "state"},
                bot_turn,
                5 + t,
            )
            if t == 0:
                turn.event(
                    bot_turn,
                    contract.WATERFALL_START,
                    {**properties, contract.DIALOG_ID: "BookingDialog", "InstanceId": f"i{c}"},
                )
            turn.call(
                "bot",
                "channel",
                "POST /v3/conversations/activities",
                {"peer.service": "channel", contract.ATTR_SERVER_ADDRESS: "channel.local"},
                bot_turn,
                4,
            )
            turn.event(bot_turn, contract.BOT_MESSAGE_SEND, {**properties, "text": "ok"})
            if turn_fails:
                traffic.failed_turn_traces.append(traffic.turn_traces[-1])
                bot_turn.add_event("exception", {"exception.type": "KeyError"}, turn.tick(1))
                bot_turn.set_status(Status(StatusCode.ERROR, "turn failed"))
                bot.logger.emit(
                    timestamp=turn.tick(0.5),
                    context=trace.set_span_in_context(bot_turn),
                    severity_text="ERROR",
                    severity_number=None,
                    body="turn failed: KeyError",
                )
            bot_turn.end(turn.tick(2))
            request.end(turn.tick(1))
            inbound.end(turn.tick(1))
            # A client event from the page (Sunbird v3, as the collector stores one): no
            # custom-event attribute, only the OTLP event name; in the turn's trace.
            client = {
                contract.CONVERSATION_ID: conversation,
                contract.FROM_ID: f"from-{user}",
                contract.SUNBIRD_EDATA_PREFIX + "type": "TOUCH",
                contract.SUNBIRD_EDATA_PREFIX + "id": "send",
            }
            services["channel"].client_logger.emit(
                timestamp=turn.tick(1),
                context=trace.set_span_in_context(inbound),
                event_name="INTERACT",
                attributes=client,  # type: ignore[arg-type]
            )
            if t == 0:  # the page opened before the first turn: in no trace
                services["channel"].client_logger.emit(
                    timestamp=start - 500 * MS,
                    event_name="START",
                    attributes={**client, contract.SUNBIRD_EDATA_PREFIX + "type": "session"},  # type: ignore[arg-type]
                )
            turns_counter.add(1, {"channel": "directline" if c % 2 == 0 else "msteams"})
            latency.record(40.0 + number, {"outcome": "failed" if turn_fails else "ok"})
            traffic.last_ns = turn.clock
    for service in services.values():
        traffic.requests.extend(service.requests())
        service.shutdown()
    return traffic


def load_duckdb(store: Store, traffic: Traffic) -> None:
    """Through the store's ingest path: OTLP request -> rows -> one transaction each."""
    for request in traffic.requests:
        if isinstance(request, ExportTraceServiceRequest):
            batch = spans_batch(request)
        elif isinstance(request, ExportLogsServiceRequest):
            batch = logs_batch(request)
        else:
            batch = metrics_batch(request)
        assert batch.rejected == 0, batch.problems
        store.write(batch)


def load_clickhouse(engine: ClickHouseEngine, traffic: Traffic, *, legacy: bool = False) -> None:
    """Into the exporter's tables, as the Collector writes them (``legacy``: the value
    spellings of exporters before 2024)."""
    engine.create_schema()
    for request in traffic.requests:
        for table, (_, rows) in table_rows(request, engine.tables, legacy=legacy).items():
            engine.insert(table, rows)
