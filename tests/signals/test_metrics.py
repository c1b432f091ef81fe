"""The bot's own metrics through botbuilder's real pipeline (TestAdapter, TelemetryMiddleware,
a recognizer, a Q&A client, storage and a waterfall dialog, all wrapped as users wrap them),
read back from the real SDK with an in-memory reader: names, units, attributes and counts."""

from __future__ import annotations

import gzip
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from botbuilder.core import (
    ConversationState,
    MemoryStorage,
    Recognizer,
    RecognizerResult,
    TurnContext,
)
from botbuilder.core.adapters import TestAdapter
from botbuilder.core.intent_score import IntentScore
from botbuilder.dialogs import DialogSet, DialogTurnStatus, WaterfallDialog, WaterfallStepContext
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import bot_telemetry
from bot_telemetry import contract
from bot_telemetry.signals import metrics as bot_metrics
from tests.support.servers import serving_in_thread

SECRET_USER = "user-secret-42"
SECRET_CONVERSATION = "conversation-secret-7"


class Keywords(Recognizer):  # type: ignore[misc]
    """hello: Greeting 0.9; book: BookTable 0.4 (below the fallback score); else None."""

    async def recognize(self, turn_context: TurnContext) -> RecognizerResult:
        text = (turn_context.activity.text or "").lower()
        intent, score = ("None", 0.8)
        if "hello" in text:
            intent, score = ("Greeting", 0.9)
        elif "book" in text:
            intent, score = ("BookTable", 0.4)
        return RecognizerResult(text=text, intents={intent: IntentScore(score=score)})


async def faq(turn_context: TurnContext) -> list[dict[str, Any]]:
    if "parking" in (turn_context.activity.text or ""):
        return [{"answer": "Yes.", "score": 0.9, "id": 3, "questions": ["parking?"]}]
    if "outage" in (turn_context.activity.text or ""):
        raise ConnectionError("qna is down")
    return [{"answer": "No good match found in KB.", "score": 0, "id": -1}]


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    found = InMemoryMetricReader()
    handle = bot_telemetry.configure(
        "metrics-bot",
        span_exporters=[InMemorySpanExporter()],
        log_exporters=[],
        metric_readers=[found],
    )
    yield found
    handle.shutdown()


def build_bot() -> TestAdapter:
    client = bot_telemetry.OpenTelemetryBotTelemetryClient()
    storage = bot_telemetry.TelemetryStorage(MemoryStorage())
    state = ConversationState(storage)
    dialogs = DialogSet(state.create_property("dialogs"))

    async def ask_day(step: WaterfallStepContext) -> Any:
        await step.context.send_activity("Which day?")
        return DialogTurnStatus.Waiting

    async def done(step: WaterfallStepContext) -> Any:
        await step.context.send_activity(f"Booked for {step.context.activity.text}.")
        return await step.end_dialog()

    booking = WaterfallDialog("booking", [ask_day, done])
    booking.telemetry_client = client
    dialogs.add(booking)
    recognizer = bot_telemetry.TelemetryRecognizer(Keywords(), name="nlu")
    qna = bot_telemetry.TelemetryQnA(faq, name="qna")

    async def logic(context: TurnContext) -> None:
        if context.activity.type != ActivityTypes.message:
            await context.send_activity("Welcome!")
            return
        text = context.activity.text or ""
        if text == "crash":
            raise KeyError("the bot's own bug")
        dialog = await dialogs.create_context(context)
        if dialog.active_dialog is not None:
            if text == "cancel":
                await dialog.cancel_all_dialogs()
                await context.send_activity("Cancelled.")
            else:
                await dialog.continue_dialog()
        else:
            result = await recognizer.recognize(context)
            top = result.get_top_scoring_intent().intent
            if top == "BookTable":
                await dialog.begin_dialog("booking")
            elif top == "Greeting":
                await context.send_activity("Hi!")
            else:
                try:
                    answers = await qna.get_answers(context)
                except ConnectionError:
                    answers = []
                await context.send_activity(answers[0]["answer"] if answers else "Sorry.")
                await context.send_activity(Activity(type=ActivityTypes.typing))
        await state.save_changes(context)

    template = Activity(
        channel_id="msteams",
        service_url="https://test.example",
        from_property=ChannelAccount(id=SECRET_USER, name="Ada"),
        recipient=ChannelAccount(id="bot", name="Bot"),
        conversation=ConversationAccount(id=SECRET_CONVERSATION),
    )
    adapter = TestAdapter(logic, template)
    adapter.use(bot_telemetry.TelemetryMiddleware(client))
    return adapter


def points(reader: InMemoryMetricReader) -> dict[str, tuple[str, list[Any]]]:
    """Each metric of ours: its unit and its data points."""
    found: dict[str, tuple[str, list[Any]]] = {}
    data = reader.get_metrics_data()
    if data is None:  # nothing recorded yet
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name.startswith("bot."):
                    found[metric.name] = (metric.unit or "", list(metric.data.data_points))
    return found


def by_attributes(
    data: list[Any], *keys: str, before: list[Any] | None = None
) -> Counter[tuple[Any, ...]]:
    """Counts by the attributes' values; minus what ``before`` had (counters are the
    process's, cumulative, so earlier tests' turns are in them)."""
    counted: Counter[tuple[Any, ...]] = Counter()
    for sign, points_ in ((1, data), (-1, before or [])):
        for point in points_:
            attributes = dict(point.attributes or {})
            amount = point.count if isinstance(point, HistogramDataPoint) else point.value
            counted[tuple(attributes.get(key) for key in keys)] += sign * amount
    return +counted


async def test_a_conversation_becomes_metrics(reader: InMemoryMetricReader) -> None:
    before = points(reader)

    def since(name: str) -> list[Any]:
        return before.get(name, ("", []))[1]

    adapter = build_bot()
    welcome = Activity(
        type=ActivityTypes.conversation_update,
        members_added=[ChannelAccount(id=SECRET_USER)],
    )
    await adapter.process_activity(welcome, adapter.logic)
    for text in ("hello", "do you have parking?", "what is this", "book a table", "friday"):
        await adapter.send(text)
    await adapter.send("book again")
    await adapter.send("cancel")
    await adapter.send("outage now")
    with pytest.raises(KeyError):
        await adapter.send("crash")
    found = points(reader)

    unit, data = found[contract.METRIC_TURN_DURATION]
    assert unit == "s"
    turns = by_attributes(data, "activity.channel_id", "activity.type", "error.type")
    assert turns == {
        ("msteams", "conversationUpdate", None): 1,
        ("msteams", "message", None): 8,
        ("msteams", "message", "KeyError"): 1,
    }
    assert all(isinstance(p, HistogramDataPoint) and p.sum > 0 for p in data)
    assert data[0].explicit_bounds == contract.DURATION_BUCKETS_SECONDS

    unit, data = found[contract.METRIC_MESSAGES_RECEIVED]
    assert unit == "{message}"
    received = since(contract.METRIC_MESSAGES_RECEIVED)
    assert by_attributes(data, "activity.channel_id", "activity.type", before=received) == {
        ("msteams", "conversationUpdate"): 1,
        ("msteams", "message"): 9,
    }
    assert all(isinstance(p, NumberDataPoint) for p in data)

    # Welcome, Hi, Yes., Sorry., Which day?, Booked, Which day?, Cancelled., Sorry.: typing
    # activities are not messages.
    unit, data = found[contract.METRIC_MESSAGES_SENT]
    assert unit == "{message}"
    sent = since(contract.METRIC_MESSAGES_SENT)
    assert by_attributes(data, "activity.channel_id", "activity.type", before=sent) == {
        ("msteams", "message"): 9
    }

    # The top intent was None for "parking" (answered by the Q&A: still a fallback turn, as
    # the vocabulary has it), "what is this" (the Q&A had no answer either: one turn, its
    # first reason) and "outage now"; "book a table" and "book again" scored 0.4.
    unit, data = found[contract.METRIC_TURN_FALLBACKS]
    assert unit == "{turn}"
    fallbacks = since(contract.METRIC_TURN_FALLBACKS)
    assert by_attributes(data, "activity.channel_id", "bot.fallback.reason", before=fallbacks) == {
        ("msteams", "none_intent"): 3,
        ("msteams", "low_score"): 2,
    }

    unit, data = found[contract.METRIC_DEPENDENCY_DURATION]
    assert unit == "s"
    calls = by_attributes(data, "peer.service", "bot.dependency.component", "error.type")
    assert calls[("nlu", "Recognizer", None)] == 6
    assert calls[("qna", "QnA", None)] == 2
    assert calls[("qna", "QnA", "builtins.ConnectionError")] == 0  # builtins are bare
    assert calls[("qna", "QnA", "ConnectionError")] == 1
    assert calls[("MemoryStorage", "Storage", None)] > 0

    unit, data = found[contract.METRIC_DIALOG_RUNS]
    assert unit == "{run}"
    runs = since(contract.METRIC_DIALOG_RUNS)
    assert by_attributes(data, "bot.dialog.id", "bot.dialog.outcome", before=runs) == {
        ("booking", "started"): 2,
        ("booking", "completed"): 1,
        ("booking", "cancelled"): 1,
    }


async def test_no_metric_carries_an_id(reader: InMemoryMetricReader) -> None:
    adapter = build_bot()
    for text in ("hello", "book", "friday", "what"):
        await adapter.send(text)
    allowed = {
        "activity.channel_id",
        "activity.type",
        "error.type",
        "peer.service",
        "bot.dependency.component",
        "bot.fallback.reason",
        "bot.dialog.id",
        "bot.dialog.outcome",
    }
    for _, data in points(reader).values():
        for point in data:
            attributes = dict(point.attributes or {})
            assert set(attributes) <= allowed
            assert SECRET_USER not in attributes.values()
            assert SECRET_CONVERSATION not in attributes.values()


def test_counts_beyond_the_limit_fold_into_overflow() -> None:
    tally = bot_metrics.Tally(("activity.channel_id", "activity.type"), limit=3)
    for channel in ("a", "b", "c", "d", "e", "a"):
        tally.add(channel, "message")
    assert tally.counts() == {
        ("a", "message"): 2,
        ("b", "message"): 1,
        ("c", "message"): 1,
        ("otel.metric.overflow",): 2,
    }
    observed = {tuple(sorted(o.attributes.items())): o.value for o in tally.observe(None)}  # type: ignore[arg-type, union-attr]
    assert observed[(("otel.metric.overflow", True),)] == 2
    assert observed[(("activity.channel_id", "a"), ("activity.type", "message"))] == 2


async def test_without_a_reader_nothing_is_aggregated() -> None:
    """configure() without a metric reader installs the API's no-op meters."""
    handle = bot_telemetry.configure(
        "quiet-bot", span_exporters=[InMemorySpanExporter()], log_exporters=[], metric_readers=[]
    )
    try:
        from opentelemetry import metrics

        meter = metrics.get_meter("probe")
        histogram = meter.create_histogram("probe.duration")
        histogram.record(1.0)
        # The SDK provider exists (for the handle) but has no reader to give anything to.
        assert handle.meter_provider.force_flush(1000)
        assert type(metrics.get_meter_provider()).__name__ == "ReconfigurableMeterProvider"
        from bot_telemetry.export import providers

        assert isinstance(providers._meter_provider.delegate, metrics.NoOpMeterProvider)
    finally:
        handle.shutdown()


# The durations wait on the turn's path and are recorded into the SDK's histograms when a
# reader collects (Durations): what the readers export must not change.

#: Durations across the buckets (0.005 ... 10 s, and beyond), several attribute sets.
CALLS: list[tuple[str, str, float, BaseException | None]] = [
    ("MemoryStorage", "Storage", 0.0004, None),
    ("nlu", "Recognizer", 0.012, None),
    ("qna", "QnA", 0.3, None),
    ("qna", "QnA", 2.0, ConnectionError("down")),
    ("MemoryStorage", "Storage", 0.007, None),
    ("nlu", "Recognizer", 12.5, TimeoutError()),
    ("qna", "QnA", 0.049, None),
    ("MemoryStorage", "Storage", 0.0051, None),
]
TURNS: list[tuple[float, tuple[str | None, ...]]] = [
    (0.02, ("msteams", "message", None)),
    (0.75, ("msteams", "message", "KeyError")),
    (0.0031, ("directline", "conversationUpdate", None)),
    (4.2, ("msteams", "message", None)),
]


def record_calls(times: int = 1) -> None:
    for _ in range(times):
        for peer, component, seconds, error in CALLS:
            bot_metrics.dependency_call_ended(peer, component, seconds, error)
        for seconds, values in TURNS:
            bot_metrics.TURN_DURATION.record(seconds, values)


def histograms(data: Any) -> dict[tuple[str, frozenset[tuple[str, Any]]], tuple[Any, ...]]:
    """Each duration histogram's data points: count, sum, min, max, bounds, bucket counts."""
    found: dict[tuple[str, frozenset[tuple[str, Any]]], tuple[Any, ...]] = {}
    for resource in data.resource_metrics if data is not None else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name not in (
                    contract.METRIC_DEPENDENCY_DURATION,
                    contract.METRIC_TURN_DURATION,
                ):
                    continue
                for point in metric.data.data_points:
                    key = (metric.name, frozenset(dict(point.attributes or {}).items()))
                    found[key] = (
                        metric.unit,
                        point.count,
                        point.sum,
                        point.min,
                        point.max,
                        tuple(point.explicit_bounds),
                        tuple(point.bucket_counts),
                    )
    return found


def configured(*readers: Any) -> bot_telemetry.Telemetry:
    return bot_telemetry.configure(
        "metrics-bot",
        span_exporters=[InMemorySpanExporter()],
        log_exporters=[],
        metric_readers=list(readers),
    )


def test_waiting_durations_export_as_if_recorded_at_once() -> None:
    at_once = InMemoryMetricReader()
    handle = configured(at_once)
    try:
        bot_metrics.record_durations(bot_metrics.AT_ONCE)
        record_calls(times=3)
        assert bot_metrics.DEPENDENCY_DURATION.pending() == 0
        expected = histograms(at_once.get_metrics_data())
    finally:
        handle.shutdown()

    waiting = InMemoryMetricReader()
    handle = configured(waiting)
    try:
        # configure() with a reader: the durations wait for the collection.
        assert bot_metrics.DEPENDENCY_DURATION.mode == bot_metrics.AT_COLLECTION
        record_calls(times=3)
        assert bot_metrics.DEPENDENCY_DURATION.pending() == 3 * len(CALLS)
        assert bot_metrics.TURN_DURATION.pending() == 3 * len(TURNS)
        found = histograms(waiting.get_metrics_data())
        assert bot_metrics.DEPENDENCY_DURATION.pending() == 0
        assert bot_metrics.TURN_DURATION.pending() == 0
    finally:
        handle.shutdown()

    assert found == expected
    assert len(found) == 8  # three dependency sets, two failed calls, three turn sets
    failed = (
        contract.METRIC_DEPENDENCY_DURATION,
        frozenset(
            {
                "peer.service": "qna",
                "bot.dependency.component": "QnA",
                "error.type": "ConnectionError",
            }.items()
        ),
    )
    unit, count, total, *_, bounds, buckets = found[failed]
    assert (unit, count, total) == ("s", 3, 6.0)
    assert bounds == tuple(contract.DURATION_BUCKETS_SECONDS)
    assert sum(buckets) == 3


def test_two_readers_each_see_every_duration() -> None:
    first, second = InMemoryMetricReader(), InMemoryMetricReader()
    handle = configured(first, second)
    try:
        record_calls()
        # The first collection records what waited into both readers' storages.
        seen_first = histograms(first.get_metrics_data())
        record_calls()
        seen_second = histograms(second.get_metrics_data())
        seen_first_again = histograms(first.get_metrics_data())
    finally:
        handle.shutdown()
    counts = {key: point[1] for key, point in seen_first.items()}
    assert sum(counts.values()) == len(CALLS) + len(TURNS)
    # Cumulative: the second reader saw both rounds, as did the first at its second look.
    assert {key: point[1] for key, point in seen_second.items()} == {
        key: 2 * count for key, count in counts.items()
    }
    # The same points; the sums only as close as floats added in another order are (the
    # first reader's cumulative sum adds two collections' sums).
    for key, (unit, count, total, *rest) in seen_second.items():
        again_unit, again_count, again_total, *again_rest = seen_first_again[key]
        assert (again_unit, again_count, again_rest) == (unit, count, rest)
        assert again_total == pytest.approx(total)
    assert seen_first_again.keys() == seen_second.keys()


def otlp_receiver(requests: list[bytes]) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        requests.append(body)
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/metrics", receive)
    return app


def exported_counts(requests: list[bytes]) -> dict[tuple[str, frozenset[Any]], int]:
    """The last exported count of each duration histogram's data point (cumulative)."""
    found: dict[tuple[str, frozenset[Any]], int] = {}
    for body in requests:
        message = ExportMetricsServiceRequest.FromString(body)
        for resource in message.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if not metric.name.endswith(".duration"):
                        continue
                    for point in metric.histogram.data_points:
                        attributes = frozenset(
                            (item.key, item.value.string_value) for item in point.attributes
                        )
                        found[(metric.name, attributes)] = point.count
    return found


def test_flush_and_shutdown_export_every_waiting_duration() -> None:
    requests: list[bytes] = []
    with serving_in_thread(otlp_receiver(requests)) as url:
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"{url}/v1/metrics"),
            export_interval_millis=3_600_000,  # only flush and shutdown export
        )
        handle = configured(reader)
        record_calls(times=2)
        assert bot_metrics.DEPENDENCY_DURATION.pending() == 2 * len(CALLS)
        assert handle.force_flush(10_000)
        flushed = exported_counts(requests)
        assert sum(flushed.values()) == 2 * (len(CALLS) + len(TURNS))
        record_calls(times=3)
        handle.shutdown()  # as a bot's exit does
        assert bot_metrics.DEPENDENCY_DURATION.mode == bot_metrics.OFF
    assert bot_metrics.DEPENDENCY_DURATION.pending() == 0
    assert exported_counts(requests) == {key: count * 5 // 2 for key, count in flushed.items()}


def test_a_full_queue_records_at_once_and_loses_nothing() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    histogram = provider.get_meter("probe").create_histogram("probe.duration", unit="s")
    durations = bot_metrics.Durations(histogram, ("peer.service",), limit=3, sets_limit=1)
    durations.mode = bot_metrics.AT_COLLECTION
    try:
        for seconds in (1.0, 2.0, 3.0, 4.0, 5.0):
            durations.record(seconds, ("a",))
        durations.record(10.0, ("b",))  # a second attribute set: beyond sets_limit
        assert durations.pending() == 3  # 4.0, 5.0 and 10.0 were recorded at once
        at_once = {
            dict(p.attributes or {})["peer.service"]: (p.count, p.sum)
            for p in metric_points(reader.get_metrics_data())
        }
        assert at_once == {"a": (2, 9.0), "b": (1, 10.0)}
        assert durations.record_pending() == 3
        assert durations.pending() == 0
        found = {
            dict(p.attributes or {})["peer.service"]: (p.count, p.sum)
            for p in metric_points(reader.get_metrics_data())
        }
        assert found == {"a": (5, 15.0), "b": (1, 10.0)}
    finally:
        provider.shutdown()


def metric_points(data: Any) -> list[Any]:
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    ]


def test_turns_on_other_threads_while_a_reader_collects_lose_nothing() -> None:
    reader = InMemoryMetricReader()
    handle = configured(reader)
    stop = threading.Event()
    collections = 0

    def collect() -> None:
        nonlocal collections
        while not stop.is_set():
            reader.collect()
            collections += 1

    def turns() -> None:
        for _ in range(3_000):
            bot_metrics.dependency_call_ended("MemoryStorage", "Storage", 0.25)

    try:
        before = histograms(reader.get_metrics_data())
        key = (
            contract.METRIC_DEPENDENCY_DURATION,
            frozenset(
                {"peer.service": "MemoryStorage", "bot.dependency.component": "Storage"}.items()
            ),
        )
        counted_before = before[key][1] if key in before else 0
        collector = threading.Thread(target=collect)
        collector.start()
        workers = [threading.Thread(target=turns) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        stop.set()
        collector.join()
        found = histograms(reader.get_metrics_data())
    finally:
        handle.shutdown()
    assert collections > 1
    assert found[key][1] - counted_before == 12_000


def dependency_mode() -> str:
    return bot_metrics.DEPENDENCY_DURATION.mode


def test_durations_wait_only_with_a_reader_and_no_exemplars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handle = configured()  # no reader: the meters are no-ops, nothing is kept
    bot_metrics.dependency_call_ended("nlu", "Recognizer", 0.01)
    assert dependency_mode() == bot_metrics.OFF
    assert bot_metrics.DEPENDENCY_DURATION.pending() == 0
    handle.shutdown()

    # Exemplars need the turn's span as the current context: recorded at once.
    monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", "always_on")
    reader = InMemoryMetricReader()
    handle = configured(reader)
    try:
        with handle.tracer_provider.get_tracer("test").start_as_current_span("bot.turn"):
            bot_metrics.dependency_call_ended("nlu", "Recognizer", 0.01)
        assert dependency_mode() == bot_metrics.AT_ONCE
        assert bot_metrics.DEPENDENCY_DURATION.pending() == 0
        exemplars = [
            exemplar
            for point in metric_points(reader.get_metrics_data())
            if dict(point.attributes or {}).get("peer.service") == "nlu"
            for exemplar in point.exemplars
        ]
        assert exemplars and exemplars[0].span_id is not None
    finally:
        handle.shutdown()


async def test_a_proactive_turn_sends_a_message_and_receives_none(
    reader: InMemoryMetricReader,
) -> None:
    before = points(reader)

    def since(name: str) -> list[Any]:
        return before.get(name, ("", []))[1]

    adapter = build_bot()
    reference = TurnContext.get_conversation_reference(
        Activity(
            type=ActivityTypes.message,
            id="m1",
            channel_id="msteams",
            service_url="https://test.example",
            from_property=ChannelAccount(id=SECRET_USER),
            recipient=ChannelAccount(id="bot", name="Bot"),
            conversation=ConversationAccount(id=SECRET_CONVERSATION),
        )
    )

    async def remind(context: TurnContext) -> None:
        await context.send_activity("Your table is booked for 8 pm.")

    # What a reminder job does (botbuilder's adapters all run it as a made-up event).
    await adapter.continue_conversation(reference, remind, "")
    found = points(reader)
    _, data = found.get(contract.METRIC_MESSAGES_RECEIVED, ("", []))
    received = since(contract.METRIC_MESSAGES_RECEIVED)
    assert by_attributes(data, "activity.type", before=received) == {}
    _, data = found[contract.METRIC_MESSAGES_SENT]
    sent = since(contract.METRIC_MESSAGES_SENT)
    assert by_attributes(data, "activity.type", before=sent) == {("message",): 1}
    _, data = found[contract.METRIC_TURN_DURATION]
    turns = since(contract.METRIC_TURN_DURATION)
    assert by_attributes(data, "activity.type", before=turns) == {("event",): 1}
