"""Telemetry shaped like the demo's, sent with the real OpenTelemetry SDK and OTLP/HTTP exporters.

Four services (channel, bot, nlu, qna) each have their own SDK providers and resource, as
separate processes would; the bot uses ``bot_telemetry.configure`` and ``track_custom_event``
so its events are exactly what the package emits. Spans of one turn are nested the way the
correlation layer nests them across processes: the bot's dependency span is the direct
parent of the callee's SERVER span.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from bot_telemetry import PrivacyPolicy, Telemetry, configure
from bot_telemetry.contract import DISTRO_NAME, RESOURCE_DISTRO_NAME
from bot_telemetry.signals.custom_events import track_custom_event

SERVICES = ("channel", "nlu", "qna")


@dataclass
class Sent:
    """What the scenario sent, to check the collector's answers against."""

    turn_traces: list[str] = field(default_factory=list)
    failed_traces: list[str] = field(default_factory=list)
    conversation_id: str = "conv-1"


class Topology:
    """The SDK side of the demo, exporting to ``url``."""

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        privacy: PrivacyPolicy | None = None,
    ):
        self.providers: dict[str, TracerProvider] = {}
        for index, name in enumerate(SERVICES):
            attributes = {"service.name": name}
            if name == "bot":
                # the bot stands for one set up by configure(): serve stores its telemetry as
                # sent; the other services' gets serve's policy (their status messages go)
                attributes[RESOURCE_DISTRO_NAME] = DISTRO_NAME
            provider = TracerProvider(resource=Resource.create(attributes))
            # One service compresses its exports, as many collectors' clients do.
            compression = Compression.Gzip if index == 0 else Compression.NoCompression
            provider.add_span_processor(
                BatchSpanProcessor(
                    OTLPSpanExporter(
                        endpoint=f"{url}/v1/traces", headers=headers, compression=compression
                    )
                )
            )
            self.providers[name] = provider
        self.bot: Telemetry = configure(
            "bot",
            privacy=privacy,
            span_exporters=[OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers=headers)],
            log_exporters=[OTLPLogExporter(endpoint=f"{url}/v1/logs", headers=headers)],
            metric_readers=[],
        )
        self.tracers = {name: p.get_tracer("scenario") for name, p in self.providers.items()}
        self.tracers["bot"] = self.bot.tracer_provider.get_tracer("scenario")

    def flush(self) -> None:
        for provider in self.providers.values():
            assert provider.force_flush(10_000)
        assert self.bot.force_flush(10_000)

    def shutdown(self) -> None:
        for provider in self.providers.values():
            provider.shutdown()
        self.bot.shutdown()

    @contextmanager
    def _call(
        self,
        caller: str,
        callee: str | None,
        name: str,
        attributes: dict[str, str],
        fail: bool = False,
    ) -> Iterator[None]:
        """A CLIENT span in ``caller`` and, if instrumented, the SERVER span it parents."""
        tracer = self.tracers[caller]
        with tracer.start_as_current_span(
            name, kind=SpanKind.CLIENT, attributes=attributes
        ) as client:
            if callee is None:
                if fail:
                    client.set_status(Status(StatusCode.ERROR, "dependency failed"))
                yield
                return
            with self.tracers[callee].start_as_current_span(
                f"{name} handler", kind=SpanKind.SERVER
            ) as server:
                if fail:
                    server.set_status(Status(StatusCode.ERROR, f"{callee} crashed"))
                yield
            if fail:
                client.set_status(Status(StatusCode.ERROR, f"{callee} answered 500"))

    def turn(
        self, sent: Sent, text: str, *, nlu_fails: bool = False, generated: bool = False
    ) -> str:
        """One message from the channel through the bot and its dependencies, and the reply;
        ``generated``: the answer is an LLM's (``generatedAnswer``), not the knowledge base's."""
        conversation = sent.conversation_id
        with self._call("channel", "bot", "POST /api/messages", {"peer.service": "bot"}):
            bot = self.tracers["bot"]
            attributes = {
                "activity.conversation.id": conversation,
                "activity.id": f"a{len(sent.turn_traces)}",
                "activity.type": "message",
                "activity.channel_id": "directline",
            }
            with bot.start_as_current_span("bot.turn", attributes=attributes) as turn_span:
                trace_id = format(turn_span.get_span_context().trace_id, "032x")
                track_custom_event(
                    "BotMessageReceived",
                    {"conversationId": conversation, "text": text, "channelId": "directline"},
                )
                with self._call(
                    "bot", "nlu", "POST /luis/predict", {"peer.service": "nlu"}, fail=nlu_fails
                ):
                    pass
                if not nlu_fails:
                    track_custom_event(
                        "LuisIntent.Greeting",
                        {"conversationId": conversation, "intent": "Greeting", "intentScore": 0.93},
                    )
                with self._call("bot", "qna", "POST /qna/generateAnswer", {"peer.service": "qna"}):
                    pass
                track_custom_event(
                    "QnAMessage",
                    {
                        "conversationId": conversation,
                        "generatedAnswer" if generated else "answer": "Hello <b>there</b>",
                        "score": 0.81,
                        "articleFound": True,
                    },
                )
                with self._call(
                    "bot",
                    None,
                    "blob read",
                    {"db.system.name": "azure.blob", "db.namespace": "state"},
                ):
                    pass
                with self._call(
                    "bot",
                    "channel",
                    "POST /v3/conversations/activities",
                    {"peer.service": "channel"},
                ):
                    track_custom_event(
                        "BotMessageSend", {"conversationId": conversation, "text": f"echo: {text}"}
                    )
        sent.turn_traces.append(trace_id)
        if nlu_fails:
            sent.failed_traces.append(trace_id)
        return trace_id


def run_conversation(url: str, *, headers: dict[str, str] | None = None) -> Sent:
    """Three turns of one conversation, the second with a failing recognizer; flushed."""
    # The bot's policy allows message text, so the transcript has some to show.
    topology = Topology(url, headers=headers, privacy=PrivacyPolicy(log_personal_information=True))
    sent = Sent()
    try:
        topology.turn(sent, "hi")
        topology.turn(sent, "what's up?", nlu_fails=True)
        topology.turn(sent, "<script>alert(1)</script>")
        topology.flush()
    finally:
        topology.shutdown()
    return sent
