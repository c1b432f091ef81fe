"""A bot's traffic planned first, then recorded: the answers of every measure are known from
the plan, without running any query.

    plan = make_plan()                 # conversations, turns, events, client events (Python)
    traffic = record(plan)             # the same as OTLP export requests (real SDK)
    load_duckdb(store, traffic); load_clickhouse(engine, traffic)

The plan is random but seeded, over about four days from ``START`` (crossing a month's and a
week's end): users on three channels and two locales, two bot versions, conversations with
gaps longer than a session, recognized intents (some None, some scoring low), Q&A hits and
misses (the answers a model's: its calls are GenAI chat spans with token usage, two models),
booking dialogs completed, cancelled, abandoned and still going at ``END``, failing
dependencies and turns, handoffs, client events with ratings. Every time is distinct, so no
order depends on a tie.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from bot_telemetry import contract
from tests.support.bot_traffic import Request, Traffic

MS = 1_000_000
MINUTE = 60_000 * MS
START = int(datetime(2026, 10, 30, 20, 0, tzinfo=UTC).timestamp()) * 1_000_000_000
#: The window's end the tests use: dialogs whose last event is within the abandonment
#: timeout before it are still in progress.
END = START + 4 * 24 * 60 * MINUTE
CHANNELS = ("msteams", "directline", "webchat")
LOCALES = ("en-US", "de-DE")
USERS = tuple(f"user-{n}" for n in range(7))
INTENTS = ("BookTable", "Greeting", "Help", "None")
PEERS = ("nlu", "qna", "azure.blob")
#: The recognizer's dependency: its results are recorded on its call's span.
RECOGNIZER = "nlu"
#: The models answering in the Q&A's place (by turn, without drawing from the random stream,
#: so every other measure's data is as it was).
MODELS = ("gpt-4o-mini", "gpt-4.1")
#: What the models answer as (gen_ai.response.model): the measure keys the requested one.
MODEL_VERSION = "-2025-04-14"
DIALOG = "BookingDialog"
STEPS = ("AskDay", "AskPartySize", "AskName", "Confirm")
FAILURE_TYPES = ("KeyError", "TimeoutError")


@dataclass
class Event:
    name: str
    time_ns: int
    properties: dict[str, object] = field(default_factory=dict)


@dataclass
class Call:
    peer: str
    start_ns: int
    duration_ns: int
    failed: bool
    #: A model call's requested model, and its (input, output) tokens when it answered.
    model: str | None = None
    tokens: tuple[int, int] | None = None


@dataclass
class Turn:
    index: int
    conversation: str
    user: str
    channel: str
    locale: str
    version: str
    activity_type: str
    start_ns: int
    duration_ns: int
    failure: str | None = None
    intent: tuple[str, float] | None = None
    answered: bool | None = None
    calls: list[Call] = field(default_factory=list)
    #: Custom events in order: BotMessageReceived, LuisIntent.*, QnAMessage, Waterfall*,
    #: BotMessageSend (type message or handoff).
    events: list[Event] = field(default_factory=list)

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.duration_ns

    def named(self, *names: str) -> list[Event]:
        return [event for event in self.events if event.name in names]


@dataclass
class ClientEvent:
    eid: str
    time_ns: int
    conversation: str
    actor: str
    rating: float | None = None
    turn: Turn | None = None


@dataclass
class Plan:
    turns: list[Turn] = field(default_factory=list)
    client_events: list[ClientEvent] = field(default_factory=list)


class _Clock:
    """Distinct times: every call is later than the one before."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[int] = set()

    def distinct(self, time_ns: int) -> int:
        while time_ns in self.used:
            time_ns += 1
        self.used.add(time_ns)
        return time_ns


def make_plan(seed: int = 16, conversations: int = 48) -> Plan:
    rng = random.Random(seed)
    clock = _Clock(rng)
    plan = Plan()
    instances = 0
    for number in range(conversations):
        conversation = f"conv-{number:03d}"
        user = USERS[rng.randrange(len(USERS))]
        channel = CHANNELS[number % len(CHANNELS)]
        locale = LOCALES[rng.random() < 0.3]
        # Most conversations within the four days; the last few are booking right up to END,
        # so their dialog runs are still in progress there.
        at = START + rng.randrange(0, 4 * 24 * 60 - 120) * MINUTE + rng.randrange(60_000) * MS
        late = number >= conversations - 3
        if late:
            at = END - rng.randrange(22, 28) * MINUTE
        version = "1.0.0" if at < START + 2 * 24 * 60 * MINUTE else "1.1.0"
        dialog: dict[str, object] | None = None
        ending = "abandon" if late else rng.choice(("complete", "cancel", "abandon", "complete"))
        turns = 3 if late else 1 + rng.randrange(7)
        escalates = rng.random() < 0.15
        for t in range(turns + 1):
            first = t == 0
            kind = "conversationUpdate" if first else contract.MESSAGE_ACTIVITY_TYPE
            start = clock.distinct(at)
            turn = Turn(
                index=len(plan.turns),
                conversation=conversation,
                user=user,
                channel=channel,
                locale=locale,
                version=version,
                activity_type=kind,
                start_ns=start,
                duration_ns=(20 + rng.randrange(400)) * MS + rng.randrange(MS),
            )
            tick = start
            tick = clock.distinct(tick + MS)
            turn.events.append(Event(contract.BOT_MESSAGE_RECEIVED, tick))
            if not first:
                tick = _recognize_and_answer(rng, clock, turn, tick)
                if dialog is None and turn.intent and turn.intent[0] == "BookTable":
                    instances += 1
                    dialog = {"instance": f"run-{instances}", "step": 0}
                    tick = clock.distinct(tick + MS)
                    turn.events.append(
                        Event(contract.WATERFALL_START, tick, {"InstanceId": dialog["instance"]})
                    )
                if dialog is not None:
                    tick = _dialog_step(clock, turn, tick, dialog, ending, last=t == turns)
                    if dialog.get("ended"):
                        dialog = None
                if rng.random() < 0.08:
                    turn.failure = FAILURE_TYPES[rng.randrange(2)]
            storage = Call(
                "azure.blob", clock.distinct(tick + MS), (2 + rng.randrange(8)) * MS, False
            )
            turn.calls.append(storage)
            tick = storage.start_ns + storage.duration_ns
            if turn.failure is None:
                tick = clock.distinct(tick + (1 + rng.randrange(30)) * MS)
                turn.events.append(
                    Event(contract.BOT_MESSAGE_SEND, tick, {"type": contract.MESSAGE_ACTIVITY_TYPE})
                )
                if not first and rng.random() < 0.3:  # a second reply in the same turn
                    tick = clock.distinct(tick + 3 * MS)
                    turn.events.append(
                        Event(
                            contract.BOT_MESSAGE_SEND,
                            tick,
                            {"type": contract.MESSAGE_ACTIVITY_TYPE},
                        )
                    )
            if escalates and t == turns:
                tick = clock.distinct(tick + MS)
                turn.events.append(
                    Event(contract.BOT_MESSAGE_SEND, tick, {"type": contract.HANDOFF_ACTIVITY_TYPE})
                )
            turn.duration_ns = max(turn.duration_ns, tick - start + 2 * MS)
            plan.turns.append(turn)
            _client_events(rng, clock, plan, turn)
            # The next message: seconds to minutes later, sometimes after a long pause
            # (a new session).
            pause = rng.choice((1, 2, 5, 20, 45, 90)) if rng.random() < 0.3 else rng.randrange(1, 4)
            if late:
                pause = 1
            at = turn.end_ns + pause * MINUTE + rng.randrange(60_000) * MS
    return plan


def _recognize_and_answer(rng: random.Random, clock: _Clock, turn: Turn, tick: int) -> int:
    nlu_fails = rng.random() < 0.1
    call = Call(
        RECOGNIZER,
        clock.distinct(tick + MS),
        (10 + rng.randrange(60)) * MS + rng.randrange(MS),
        nlu_fails,
    )
    turn.calls.append(call)
    tick = call.start_ns + call.duration_ns
    if not nlu_fails:
        intent = INTENTS[rng.randrange(len(INTENTS))]
        score = round(rng.uniform(0.2, 0.99), 3)
        turn.intent = (intent, score)
        tick = clock.distinct(tick + MS)
        turn.events.append(
            Event(
                contract.luis_intent_event(intent),
                tick,
                {"intent": intent, "intentScore": score, "recognizer": RECOGNIZER},
            )
        )
    if turn.intent is None or turn.intent[0] == "None":
        qna_fails = rng.random() < 0.15
        call = Call("qna", clock.distinct(tick + MS), (15 + rng.randrange(90)) * MS, qna_fails)
        call.model = MODELS[turn.index % len(MODELS)]
        if not qna_fails:
            call.tokens = (180 + turn.index % 41, 25 + turn.index % 13)
        turn.calls.append(call)
        tick = call.start_ns + call.duration_ns
        if not qna_fails:
            turn.answered = rng.random() < 0.6
            tick = clock.distinct(tick + MS)
            turn.events.append(
                Event(contract.QNA_MESSAGE, tick, {"articleFound": turn.answered, "score": 0.5})
            )
    return tick


def _dialog_step(
    clock: _Clock, turn: Turn, tick: int, dialog: dict[str, object], ending: str, last: bool
) -> int:
    instance = dialog["instance"]
    step = int(str(dialog["step"]))
    if ending == "cancel" and step == 2:
        tick = clock.distinct(tick + MS)
        turn.events.append(
            Event(
                contract.WATERFALL_CANCEL, tick, {"InstanceId": instance, "StepName": STEPS[step]}
            )
        )
        dialog["ended"] = True
        return tick
    if step < len(STEPS):
        tick = clock.distinct(tick + MS)
        turn.events.append(
            Event(contract.WATERFALL_STEP, tick, {"InstanceId": instance, "StepName": STEPS[step]})
        )
        dialog["step"] = step + 1
    if ending == "complete" and (step + 1 >= len(STEPS) or last):
        tick = clock.distinct(tick + MS)
        turn.events.append(Event(contract.WATERFALL_COMPLETE, tick, {"InstanceId": instance}))
        dialog["ended"] = True
    return tick


def _client_events(rng: random.Random, clock: _Clock, plan: Plan, turn: Turn) -> None:
    if turn.activity_type != contract.MESSAGE_ACTIVITY_TYPE or turn.channel != "webchat":
        if turn.activity_type != contract.MESSAGE_ACTIVITY_TYPE and turn.channel == "webchat":
            # the page opened before its first turn: in no trace
            plan.client_events.append(
                ClientEvent(
                    "START",
                    clock.distinct(turn.start_ns - 2_000 * MS),
                    turn.conversation,
                    turn.user,
                )
            )
        return
    plan.client_events.append(
        ClientEvent(
            "INTERACT",
            clock.distinct(turn.start_ns - 5 * MS),
            turn.conversation,
            turn.user,
            turn=turn,
        )
    )
    if rng.random() < 0.4:
        rating = None if rng.random() < 0.2 else float(rng.randrange(1, 6))
        plan.client_events.append(
            ClientEvent(
                "FEEDBACK",
                clock.distinct(turn.end_ns + 5_000 * MS),
                turn.conversation,
                turn.user,
                rating,
                turn,
            )
        )


# --- recording --------------------------------------------------------------------------


class _Process:
    """One process's telemetry (a service and version), kept in memory as the SDK made it."""

    def __init__(self, name: str, version: str):
        resource = Resource.create(
            {
                "service.name": name,
                "service.version": version,
                "service.instance.id": f"{name}-{version}",
            }
        )
        self.spans = InMemorySpanExporter()
        self.logs = InMemoryLogRecordExporter()
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.logger_provider = LoggerProvider(resource=resource)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.tracer = self.tracer_provider.get_tracer("measure_traffic")
        self.logger = self.logger_provider.get_logger("bot_telemetry.events")
        self.client_logger = self.logger_provider.get_logger(contract.CLIENT_EVENT_SCOPE)

    def requests(self) -> list[Request]:
        found: list[Request] = []
        if self.spans.get_finished_spans():
            found.append(encode_spans(self.spans.get_finished_spans()))
        if self.logs.get_finished_logs():
            found.append(encode_logs(self.logs.get_finished_logs()))
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        return found


def _model_attributes(model: str, tokens: tuple[int, int] | None) -> dict[str, object]:
    found: dict[str, object] = {
        contract.ATTR_GEN_AI_OPERATION_NAME: "chat",
        contract.ATTR_GEN_AI_PROVIDER_NAME: "openai",
        contract.ATTR_GEN_AI_REQUEST_MODEL: model,
    }
    if tokens is not None:
        found[contract.ATTR_GEN_AI_RESPONSE_MODEL] = model + MODEL_VERSION
        found[contract.ATTR_GEN_AI_USAGE_INPUT_TOKENS] = tokens[0]
        found[contract.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = tokens[1]
    return found


def record(plan: Plan) -> tuple[Traffic, dict[int, str]]:
    """The plan as OTLP export requests, made with the real SDK; and each turn's trace id."""
    services = {
        "1.0.0": _Process("bot", "1.0.0"),
        "1.1.0": _Process("bot", "1.1.0"),
        "webchat": _Process("webchat", "4.18.1"),
    }
    traces: dict[int, str] = {}
    spans: dict[int, trace.Span] = {}
    for turn in plan.turns:
        bot = services[turn.version]
        identity = {
            contract.ATTR_ENDUSER_PSEUDO_ID: turn.user,
            contract.ATTR_SESSION_ID: f"session-{turn.conversation}",
        }
        span = bot.tracer.start_span(
            contract.TURN_SPAN_NAME,
            kind=SpanKind.INTERNAL,
            start_time=turn.start_ns,
            attributes={
                contract.ATTR_ACTIVITY_ID: f"a{turn.index}",
                contract.ATTR_ACTIVITY_TYPE: turn.activity_type,
                contract.ATTR_CHANNEL_ID: turn.channel,
                contract.ATTR_CONVERSATION_ID: turn.conversation,
                contract.ATTR_GEN_AI_CONVERSATION_ID: turn.conversation,
                contract.ATTR_LOCALE: turn.locale,
                **identity,
            },
        )
        spans[turn.index] = span
        traces[turn.index] = format(span.get_span_context().trace_id, "032x")
        context = trace.set_span_in_context(span)
        # A recognizer's result is recorded on its call's span, as TelemetryRecognizer does.
        recognizer_context = context
        for call in turn.calls:
            attributes: dict[str, object] = (
                {contract.ATTR_DB_SYSTEM_NAME: call.peer}
                if call.peer == "azure.blob"
                else {contract.ATTR_PEER_SERVICE: call.peer}
            )
            if call.model is not None:  # as llm_event_hooks describes it
                attributes.update(_model_attributes(call.model, call.tokens))
            client = bot.tracer.start_span(
                f"chat {call.model}" if call.model else f"{call.peer} call",
                context=context,
                kind=SpanKind.CLIENT,
                start_time=call.start_ns,
                attributes=attributes,  # type: ignore[arg-type]
            )
            if call.failed:
                client.add_event(
                    contract.EXCEPTION_EVENT,
                    {"exception.type": "aiohttp.ClientResponseError"},
                    timestamp=call.start_ns + call.duration_ns - MS // 2,
                )
                client.set_status(Status(StatusCode.ERROR, "503"))
            client.end(call.start_ns + call.duration_ns)
            if call.peer == RECOGNIZER:
                recognizer_context = trace.set_span_in_context(client)
        turn_properties = {
            contract.ACTIVITY_ID: f"a{turn.index}",
            contract.ACTIVITY_TYPE: turn.activity_type,
            contract.CHANNEL_ID: turn.channel,
            contract.CONVERSATION_ID: turn.conversation,
            **identity,
        }
        for event in turn.events:
            properties: dict[str, object] = dict(turn_properties)
            if event.name == contract.BOT_MESSAGE_RECEIVED:
                properties.update({contract.FROM_ID: turn.user, contract.LOCALE: turn.locale})
            elif event.name == contract.BOT_MESSAGE_SEND:
                properties[contract.ACTIVITY_TYPE] = event.properties["type"]
                properties[contract.LOCALE] = turn.locale
            elif event.name in contract.WATERFALL_EVENTS:
                properties[contract.DIALOG_ID] = DIALOG
                properties.update(event.properties)
            else:
                properties.update(event.properties)
            attributes = {**properties, contract.CUSTOM_EVENT_NAME: event.name}
            recognized = event.name.startswith(contract.LUIS_INTENT_PREFIX)
            bot.logger.emit(
                timestamp=event.time_ns,
                context=recognizer_context if recognized else context,
                severity_text="INFO",
                body=event.name,
                event_name=event.name,
                attributes=attributes,  # type: ignore[arg-type]
            )
        if turn.failure is not None:
            span.add_event(
                contract.EXCEPTION_EVENT,
                {"exception.type": turn.failure, "exception.escaped": True},
                timestamp=turn.end_ns - MS,
            )
            span.set_status(Status(StatusCode.ERROR, "turn failed"))
        span.end(turn.end_ns)
    page = services["webchat"]
    for event in plan.client_events:
        attributes: dict[str, object] = {
            contract.CONVERSATION_ID: event.conversation,
            contract.FROM_ID: event.actor,
            contract.ATTR_SUNBIRD_EID: event.eid,
        }
        if event.rating is not None:
            attributes[contract.SUNBIRD_EDATA_PREFIX + "rating"] = event.rating
        page.client_logger.emit(
            timestamp=event.time_ns,
            context=trace.set_span_in_context(spans[event.turn.index]) if event.turn else None,
            event_name=event.eid,
            attributes=attributes,  # type: ignore[arg-type]
        )
    traffic = Traffic()
    for service in services.values():
        traffic.requests.extend(service.requests())
    return traffic, traces


def planned_store(path: Path) -> Plan:
    """A store file at ``path`` holding the plan's telemetry (closed again); the plan."""
    from bot_telemetry.store.database import Store
    from tests.support.bot_traffic import load_duckdb

    plan = make_plan()
    traffic, _ = record(plan)
    store = Store.open(path)
    try:
        load_duckdb(store, traffic)
    finally:
        store.close()
    return plan
