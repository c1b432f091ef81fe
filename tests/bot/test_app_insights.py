"""Application Insights fidelity: what the Azure Monitor exporter really sends for a turn.

The bot runs on CloudAdapter over HTTP and exports through azure-monitor-opentelemetry-
exporter to a local server that accepts the real ingestion requests (POST /v2.1/track,
gzip'd JSON envelopes) and decodes them.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import urllib.request
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botbuilder.ai.luis import LuisApplication, LuisRecognizer, LuisRecognizerOptionsV3
from botbuilder.ai.qna import QnAMaker, QnAMakerEndpoint
from botbuilder.core import TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import ConversationReference
from botframework.connector import Channels

from bot_telemetry import (
    OpenTelemetryBotTelemetryClient,
    Telemetry,
    TelemetryMiddleware,
    configure,
    contract,
)
from tests.bot.harness import running_bot
from tests.bot.servers import Ingestion, Recorded, ingestion_app, luis_app, qna_app
from tests.support.servers import serving

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
INSTANCE = "bot-instance-1"


@pytest.fixture
async def azure_monitor(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Telemetry, Ingestion]]:
    # Statsbeat would report to Microsoft's own endpoint and SDK stats to ours after the test
    # (at exit); offline storage would retry from disk.
    monkeypatch.setenv("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "true")
    monkeypatch.setenv("APPLICATIONINSIGHTS_SDKSTATS_DISABLED", "true")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    ingestion = Ingestion()
    async with serving(ingestion_app(ingestion)) as endpoint:
        # The way users turn it on: the connection string in the environment.
        monkeypatch.setenv(
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            f"InstrumentationKey={uuid.uuid4()};IngestionEndpoint={endpoint}/",
        )
        handle = configure("bot", service_instance_id=INSTANCE)
        assert handle.destinations == ["Azure Monitor"]
        try:
            yield handle, ingestion
        finally:
            # The exporters post synchronously from their worker thread to the server on this
            # loop, so flushing must not block the loop.
            await asyncio.to_thread(handle.shutdown)


def post(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        status: int = response.status
        return status


def named(envelopes: list[dict[str, Any]], name: str) -> dict[str, Any]:
    matches = [e for e in envelopes if e["data"]["baseData"].get("name") == name]
    assert len(matches) == 1, f"{name}: {[e['data']['baseData'].get('name') for e in envelopes]}"
    return matches[0]


async def test_a_turn_arrives_as_requests_dependencies_and_custom_events(
    azure_monitor: tuple[Telemetry, Ingestion],
) -> None:
    handle, ingestion = azure_monitor
    client = OpenTelemetryBotTelemetryClient()

    async def logic(context: TurnContext) -> None:
        client.track_dependency(
            "profiles.read", "get profile", "Azure table", "profiles-store", 12, True, "200"
        )
        try:
            raise LookupError("no profile yet")
        except LookupError:
            client.track_exception()
        await context.send_activity("hello back")

    async with running_bot(logic) as bot:
        activity = bot.activity("hello", "conv-ai", user="user-ai")
        assert await asyncio.to_thread(post, bot.url, activity) in {200, 201}
        assert await asyncio.to_thread(handle.force_flush, 10_000)

    await ingestion.wait_for(
        lambda i: len(i.of_type("EventData")) >= 2 and len(i.of_type("RemoteDependencyData")) >= 3
    )
    # The exporter also describes the resource once (an "_OTELRESOURCE_" metric item), which
    # it reads off the global tracer provider.
    (resource_item,) = [
        e
        for e in ingestion.of_type("MetricData")
        if e["data"]["baseData"]["metrics"][0]["name"] == "_OTELRESOURCE_"
    ]
    assert resource_item["data"]["baseData"]["properties"]["service.instance.id"] == INSTANCE
    everything = [e for e in ingestion.envelopes if e is not resource_item]
    for envelope in everything:
        tags = envelope["tags"]
        assert tags["ai.operation.id"] == TRACE_ID, envelope
        assert tags["ai.cloud.role"] == "bot-telemetry.bot"  # service.namespace + "." + name
        assert tags["ai.cloud.roleInstance"] == INSTANCE

    requests = ingestion.of_type("RequestData")
    request = named(requests, "POST /api/messages")
    assert request["tags"]["ai.operation.parentId"] == CALLER_SPAN_ID
    assert request["data"]["baseData"]["responseCode"] in {"200", "201"}
    assert request["data"]["baseData"]["success"] is True
    request_id = request["data"]["baseData"]["id"]

    dependencies = ingestion.of_type("RemoteDependencyData")
    turn = named(dependencies, contract.TURN_SPAN_NAME)
    assert turn["data"]["baseData"]["type"] == "InProc"
    assert turn["tags"]["ai.operation.parentId"] == request_id
    policy = handle.privacy
    assert turn["tags"]["ai.user.id"] == policy.pseudonymize("user-ai")
    assert turn["tags"]["ai.session.id"] == policy.pseudonymize("conv-ai")
    turn_id = turn["data"]["baseData"]["id"]

    store = named(dependencies, "profiles.read")["data"]["baseData"]
    assert store["type"] == "Azure table"
    assert store["target"] == "profiles-store"
    assert store["success"] is True
    assert store["duration"] == "0.00:00:00.012"  # d.hh:mm:ss.fff
    assert named(dependencies, "profiles.read")["tags"]["ai.operation.parentId"] == turn_id

    (reply,) = [d for d in dependencies if d["data"]["baseData"]["type"] == "HTTP"]
    connector_host = bot.connector_url.removeprefix("http://")
    assert reply["data"]["baseData"]["target"] == connector_host
    assert reply["data"]["baseData"]["resultCode"] == "200"
    assert reply["tags"]["ai.operation.parentId"] == turn_id

    # Each custom event once, in customEvents: not a second time in traces (its span event).
    messages = [m["data"]["baseData"]["message"] for m in ingestion.of_type("MessageData")]
    assert contract.BOT_MESSAGE_RECEIVED not in messages
    assert contract.BOT_MESSAGE_SEND not in messages
    events = ingestion.of_type("EventData")
    assert sorted(e["data"]["baseData"]["name"] for e in events) == [
        contract.BOT_MESSAGE_RECEIVED,
        contract.BOT_MESSAGE_SEND,
    ]
    for event in events:
        assert event["name"] == "Microsoft.ApplicationInsights.Event"
        assert event["tags"]["ai.operation.parentId"] == turn_id
        properties = event["data"]["baseData"]["properties"]
        assert properties[contract.CONVERSATION_ID] == "conv-ai"
        assert properties[contract.CHANNEL_ID] == "directline"
        assert properties[contract.ACTIVITY_TYPE] == "message"
        assert properties[contract.ACTIVITY_ID]
        assert "text" not in properties
    received = named(events, contract.BOT_MESSAGE_RECEIVED)["data"]["baseData"]["properties"]
    assert received[contract.ACTIVITY_ID] == activity["id"]
    assert received[contract.FROM_ID] == policy.pseudonymize("user-ai")
    assert received[contract.LOCALE] == "en-US"
    # One exceptions row per tracked exception (span event + log record would be two).
    (exception,) = ingestion.of_type("ExceptionData")
    assert exception["data"]["baseData"]["exceptions"][0]["typeName"] == "LookupError"
    assert exception["tags"]["ai.operation.parentId"] == turn_id
    # Nothing in the bytes that reached "Azure" names the user.
    assert not any(b"user-ai" in _decoded(raw) for raw in ingestion.raw_bodies)


def _decoded(raw: bytes) -> bytes:
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


async def test_botbuilder_names_values_and_measurements_arrive_as_botbuilder_means_them(
    azure_monitor: tuple[Telemetry, Ingestion],
) -> None:
    """LUIS and QnA Maker through our client on a Teams turn: names and channel are the
    Enum members' values, QnA's score is a customMeasurement, keys without value are absent,
    and exceptions carry no message under the default policy."""
    handle, ingestion = azure_monitor
    client = OpenTelemetryBotTelemetryClient()
    luis_calls, qna_calls = Recorded(), Recorded()
    async with serving(luis_app(luis_calls)) as luis_url, serving(qna_app(qna_calls)) as qna_url:
        recognizer = LuisRecognizer(
            LuisApplication(
                "b31aeaf3-3511-495b-a07f-571fc873214b", "048ec46dc58e495482b0c447cfdbd291", luis_url
            ),
            LuisRecognizerOptionsV3(telemetry_client=client),
        )
        qna = QnAMaker(
            QnAMakerEndpoint("kb-1", "key", f"{qna_url}/qnamaker"), telemetry_client=client
        )

        async def logic(context: TurnContext) -> None:
            await recognizer.recognize(context)
            answers = await qna.get_answers(context)
            client.track_dependency(
                "crm.read", "read", "Azure table", "crm", 4, True, "200", None, {"rows": 3}
            )
            try:
                raise LookupError(f"no profile for {context.activity.text}")
            except LookupError:
                client.track_exception()
            await context.send_activity(answers[0].answer)

        adapter = TestAdapter(
            logic, template_or_conversation=ConversationReference(channel_id=Channels.ms_teams)
        )
        adapter.use(TelemetryMiddleware())
        try:
            await adapter.receive_activity("I forgot my login, I'm Ada Lovelace")
        finally:
            await qna.close()
        assert await asyncio.to_thread(handle.force_flush, 10_000)

    await ingestion.wait_for(lambda i: len(i.of_type("EventData")) >= 4)
    events = ingestion.of_type("EventData")
    assert sorted(e["data"]["baseData"]["name"] for e in events) == [
        "BotMessageReceived",
        "BotMessageSend",
        "LuisResult",
        "QnaMessage",
    ]
    for event in events:
        properties = event["data"]["baseData"]["properties"]
        assert properties["channelId"] == "msteams"
        assert not any(
            key.startswith(("LuisTelemetryConstants", "QnATelemetry")) for key in properties
        )
        assert "microsoft.custom_measurements" not in properties
    received = named(events, "BotMessageReceived")["data"]["baseData"]["properties"]
    assert "conversationName" not in received  # no value: no key (docs/bot.md, D2)

    luis_result = named(events, "LuisResult")["data"]["baseData"]
    assert {"applicationId", "intent", "intentScore", "entities"} <= set(luis_result["properties"])
    qna_message = named(events, "QnaMessage")["data"]["baseData"]
    assert qna_message["measurements"] == {"score": 0.875}
    assert "score" not in qna_message["properties"]
    assert qna_message["properties"]["knowledgeBaseId"] == "kb-1"

    dependencies = ingestion.of_type("RemoteDependencyData")
    assert named(dependencies, "crm.read")["data"]["baseData"]["measurements"] == {"rows": 3.0}
    turn = named(dependencies, contract.TURN_SPAN_NAME)["data"]["baseData"]
    assert turn["properties"]["activity.channel_id"] == "msteams"

    (exception,) = ingestion.of_type("ExceptionData")
    details = exception["data"]["baseData"]["exceptions"][0]
    assert details["typeName"] == "LookupError"
    assert "Ada Lovelace" not in json.dumps(exception)
    everything = b"".join(_decoded(raw) for raw in ingestion.raw_bodies)
    for secret in (b"Ada Lovelace", b"forgot my login", b"LuisTelemetryConstants", b"Channels."):
        at = everything.find(secret)
        assert at == -1, everything[max(at - 300, 0) : at + 100]
