"""Event streams written by hand, for funnels, paths and retention: each test says exactly
which events and turns each conversation has, and so knows the answer by construction.

    stream = Stream()
    turn = stream.turn("c1", at=0, user="u1")              # a bot.turn span
    stream.event("c1", 0.1, "WaterfallStart", turn=turn, DialogId="booking")
    stream.event("c1", 5, "WaterfallComplete", DialogId="booking")
    with journey_engines(stream) as (duckdb, clickhouse):
        ...

The stream becomes OTLP export requests (protobuf, as any SDK sends them) and is loaded into
the DuckDB store through its ingest path and into ClickHouse as the exporter's rows, like
tests/support/bot_traffic.py. Times are seconds after ``T0``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from bot_telemetry import contract
from bot_telemetry.store.clickhouse import ClickHouseEngine
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from bot_telemetry.store.otel_rows import table_rows
from bot_telemetry.store.rows import logs_batch, spans_batch
from tests.support.clickhouse import chdb_engine

#: 2026-11-02T00:00:00Z, a Monday.
T0 = 1_793_577_600_000_000_000
SECOND = 1_000_000_000


def ns(seconds: float) -> int:
    """``T0`` plus ``seconds``."""
    return T0 + round(seconds * SECOND)


def _id(text: str, size: int) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:size]


def _value(value: object) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _attributes(values: Mapping[str, object]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_value(value)) for key, value in values.items()]


@dataclass(frozen=True)
class Turn:
    """A bot.turn span: what links events to a trace."""

    conversation: str
    trace_id: str
    span_id: str
    start: float
    duration: float


@dataclass(frozen=True)
class Record:
    """One custom event as a test reasons about it (property values as text)."""

    conversation: str
    user: str
    time_ns: int
    name: str
    properties: dict[str, str]
    trace_id: str | None


@dataclass
class Stream:
    """Turns and custom events, in the order written (times need not be sorted)."""

    channel: str = "webchat"
    logs: list[LogRecord] = field(default_factory=list)
    #: Client (Sunbird) events: log records of the client scope, as the collector stores them.
    client_logs: list[LogRecord] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    _count: int = 0

    def _next(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}-{self._count}"

    def user_of(self, conversation: str, user: str | None) -> str:
        if user is not None:
            self.users[conversation] = user
        return self.users.setdefault(conversation, f"user-of-{conversation}")

    def turn(
        self,
        conversation: str,
        at: float,
        *,
        user: str | None = None,
        duration: float = 0.2,
        channel: str | None = None,
        failed: bool = False,
        failing_call: float | None = None,
        exception: float | None = None,
        activity_type: str = "message",
    ) -> Turn:
        """A turn of ``conversation`` starting ``at`` seconds after T0. ``failing_call``: a
        dependency call that fails that many seconds into the turn; ``exception``: an
        exception span event at that offset; ``failed``: the turn span's own status."""
        key = self._next("turn")
        trace_id, span_id = _id(key, 16), _id(key + "/s", 8)
        identity = self.user_of(conversation, user)
        attributes = {
            contract.ATTR_CONVERSATION_ID: conversation,
            contract.ATTR_ENDUSER_PSEUDO_ID: identity,
            contract.ATTR_SESSION_ID: f"session-{conversation}",
            contract.ATTR_CHANNEL_ID: channel or self.channel,
            contract.ATTR_ACTIVITY_TYPE: activity_type,
            contract.ATTR_ACTIVITY_ID: key,
        }
        span = Span(
            trace_id=trace_id,
            span_id=span_id,
            name=contract.TURN_SPAN_NAME,
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=ns(at),
            end_time_unix_nano=ns(at + duration),
            attributes=_attributes(attributes),
        )
        if failed:
            span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="turn failed"))
        if exception is not None:
            event = span.events.add()
            event.time_unix_nano = ns(at + exception)
            event.name = "exception"
            event.attributes.extend(_attributes({"exception.type": "KeyError"}))
        self.spans.append(span)
        if failing_call is not None:
            self.spans.append(
                Span(
                    trace_id=trace_id,
                    span_id=_id(key + "/call", 8),
                    parent_span_id=span_id,
                    name="GET /luis/predict",
                    kind=Span.SPAN_KIND_CLIENT,
                    start_time_unix_nano=ns(at + failing_call),
                    end_time_unix_nano=ns(at + failing_call + 0.01),
                    attributes=_attributes({contract.ATTR_PEER_SERVICE: "nlu"}),
                    status=Status(code=Status.STATUS_CODE_ERROR, message="503"),
                )
            )
        return Turn(conversation, trace_id.hex(), span_id.hex(), at, duration)

    def event(
        self,
        conversation: str,
        at: float,
        name: str,
        *,
        turn: Turn | None = None,
        user: str | None = None,
        channel: str | None = None,
        **properties: object,
    ) -> None:
        """A custom event, in ``turn``'s trace when given, else in no trace."""
        identity = self.user_of(conversation, user)
        attributes: dict[str, object] = {
            contract.CUSTOM_EVENT_NAME: name,
            contract.CONVERSATION_ID: conversation,
            contract.CHANNEL_ID: channel or self.channel,
            contract.ATTR_ENDUSER_PSEUDO_ID: identity,
            contract.ATTR_SESSION_ID: f"session-{conversation}",
            # Two otherwise equal events are two events (the store de-duplicates retries).
            "n": self._next("event"),
            **properties,
        }
        record = LogRecord(
            time_unix_nano=ns(at),
            severity_text="INFO",
            body=AnyValue(string_value=name),
            attributes=_attributes(attributes),
        )
        if turn is not None:
            record.trace_id = bytes.fromhex(turn.trace_id)
            record.span_id = bytes.fromhex(turn.span_id)
        self.logs.append(record)
        text = {
            key: ("true" if value else "false") if isinstance(value, bool) else str(value)
            for key, value in attributes.items()
        }
        self.records.append(
            Record(
                conversation,
                identity,
                ns(at),
                name,
                text,
                None if turn is None else turn.trace_id,
            )
        )

    def client_event(
        self,
        conversation: str,
        at: float,
        eid: str,
        *,
        turn: Turn | None = None,
        user: str | None = None,
    ) -> None:
        """A Sunbird client event as the collector stores it (docs/client-telemetry.md): named
        by its eid, of the client scope, its actor as ``fromId`` (the bot's pseudonym of the
        same user), in the conversation its cdata names and in ``turn``'s trace when given."""
        attributes = {
            contract.ATTR_SUNBIRD_EID: eid,
            contract.CONVERSATION_ID: conversation,
            contract.FROM_ID: self.user_of(conversation, user),
            "n": self._next("event"),
        }
        record = LogRecord(
            time_unix_nano=ns(at),
            event_name=eid,
            attributes=_attributes(attributes),
        )
        if turn is not None:
            record.trace_id = bytes.fromhex(turn.trace_id)
        self.client_logs.append(record)

    def requests(self) -> list[ExportTraceServiceRequest | ExportLogsServiceRequest]:
        resource = Resource(attributes=_attributes({"service.name": "bot"}))
        found: list[ExportTraceServiceRequest | ExportLogsServiceRequest] = []
        if self.spans:
            traces = ExportTraceServiceRequest()
            scoped = traces.resource_spans.add(resource=resource).scope_spans.add()
            scoped.scope.name = "journeys"
            scoped.spans.extend(self.spans)
            found.append(traces)
        if self.logs:
            logs = ExportLogsServiceRequest()
            scoped_logs = logs.resource_logs.add(resource=resource).scope_logs.add()
            scoped_logs.scope.name = "bot_telemetry.events"
            scoped_logs.log_records.extend(self.logs)
            found.append(logs)
        if self.client_logs:
            client = ExportLogsServiceRequest()
            page = Resource(attributes=_attributes({"service.name": "webchat"}))
            scoped_client = client.resource_logs.add(resource=page).scope_logs.add()
            scoped_client.scope.name = contract.CLIENT_EVENT_SCOPE
            scoped_client.log_records.extend(self.client_logs)
            found.append(client)
        return found


def load_duckdb(store: Store, stream: Stream) -> None:
    for request in stream.requests():
        batch = (
            spans_batch(request)
            if isinstance(request, ExportTraceServiceRequest)
            else logs_batch(request)
        )
        assert batch.rejected == 0, batch.problems
        store.write(batch)


def load_clickhouse(engine: ClickHouseEngine, stream: Stream) -> None:
    engine.create_schema()
    for request in stream.requests():
        for table, (_, rows) in table_rows(request, engine.tables).items():
            engine.insert(table, rows)


@contextmanager
def journey_engines(stream: Stream, folder: Path, name: str) -> Iterator[tuple[Engine, Engine]]:
    """``stream`` in a DuckDB store under ``folder`` and in a chDB database ``name``."""
    store = Store.open(folder / f"{name}.duckdb")
    try:
        load_duckdb(store, stream)
        with chdb_engine(name) as clickhouse:
            load_clickhouse(clickhouse, stream)
            yield DuckDBEngine(store), clickhouse
    finally:
        store.close()


__all__ = ["SECOND", "T0", "Record", "Stream", "Turn", "journey_engines", "ns"]


#: One turn of a scripted conversation: the events the bot records in it (after the
#: BotMessageReceived every turn has), and options of the turn (``failing_call``, ...).
TurnScript = tuple[list[tuple[str, dict[str, object]]], dict[str, object]]


def booking(dialog: str = "booking") -> dict[str, list[TurnScript]]:
    """Scripts of a booking dialog: finished, failed, not understood, left, cancelled."""
    props = {"DialogId": dialog}

    def step(name: str) -> tuple[str, dict[str, object]]:
        return ("WaterfallStep", {**props, "StepName": name})

    book: TurnScript = (
        [
            ("LuisIntent.BookTable", {"intent": "BookTable", "intentScore": 0.97}),
            ("WaterfallStart", props),
            step("ask_day"),
        ],
        {},
    )
    day: TurnScript = (
        [("LuisIntent.None", {"intent": "None", "intentScore": 0.7}), step("ask_size")],
        {},
    )
    size: TurnScript = ([step("confirm")], {})
    done: TurnScript = ([("WaterfallComplete", props), ("TableBooked", {})], {})
    return {
        "finished": [book, day, size, done],
        "failed": [book, day, ([], {"failing_call": 0.05, "failed": True})],
        "not-understood": [
            book,
            ([("LuisIntent.None", {"intent": "None", "intentScore": 0.2})], {}),
        ],
        "left": [book],
        "cancelled": [
            book,
            (
                [
                    ("LuisIntent.Cancel", {"intent": "Cancel", "intentScore": 0.99}),
                    ("WaterfallCancel", props),
                ],
                {},
            ),
        ],
    }


def converse(
    stream: Stream, conversation: str, at: float, script: list[TurnScript], user: str | None = None
) -> list[Turn]:
    """Turns 20 s apart, each a bot.turn span with BotMessageReceived, the script's events
    and BotMessageSend."""
    turns = []
    for i, (events, options) in enumerate(script):
        start = at + 20 * i
        turn = stream.turn(conversation, start, user=user, **options)  # type: ignore[arg-type]
        stream.event(conversation, start + 0.01, "BotMessageReceived", turn=turn)
        for j, (name, properties) in enumerate(events):
            stream.event(conversation, start + 0.02 + 0.01 * j, name, turn=turn, **properties)
        stream.event(conversation, start + 0.15, "BotMessageSend", turn=turn)
        turns.append(turn)
    return turns


def booking_store(path: Path, user_per_conversation: bool = False) -> Path:
    """A DuckDB store at ``path`` holding ``booking()``'s conversations, 5 minutes apart: by two
    users taking turns, or (``user_per_conversation``) each by its own user."""
    stream = Stream()
    for i, (name, script) in enumerate(booking().items()):
        user = f"user-{name}" if user_per_conversation else f"user-{i % 2}"
        converse(stream, name, i * 300, script, user=user)
    store = Store.open(path)
    try:
        load_duckdb(store, stream)
    finally:
        store.close()
    return path
