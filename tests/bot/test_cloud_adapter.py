"""The bot layer on botbuilder's CloudAdapter, over real HTTP, under concurrency."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import aiohttp
from botbuilder.core import TurnContext
from opentelemetry.trace import SpanKind

from bot_telemetry import OpenTelemetryBotTelemetryClient, contract
from tests.bot.harness import running_bot
from tests.support.telemetry import CapturedTelemetry

CONVERSATIONS = 200


async def test_concurrent_conversations_each_stay_in_their_own_turns_trace(
    telemetry: CapturedTelemetry,
) -> None:
    client = OpenTelemetryBotTelemetryClient()

    async def logic(context: TurnContext) -> None:
        conversation = context.activity.conversation.id
        await asyncio.sleep(0)  # let the other turns interleave with this one
        client.track_event("OrderLookup", {"order": f"order-{conversation}"})
        client.track_dependency(
            "orders.get", f"GET /orders/{conversation}", "Azure table", "orders-store", 3, True
        )
        await asyncio.sleep(0)
        await context.send_activity(f"echo {context.activity.text}")

    async with running_bot(logic) as bot:
        async with aiohttp.ClientSession() as http:

            async def converse(index: int) -> int:
                body = bot.activity(f"msg {index}", f"conv-{index}", user=f"user-{index}")
                async with http.post(bot.url, json=body) as response:
                    return response.status

            statuses = await asyncio.gather(*(converse(i) for i in range(CONVERSATIONS)))
        assert set(statuses) <= {200, 201}

    replies = {r["conversation"]: r for r in bot.connector.requests}
    assert len(bot.connector.requests) == CONVERSATIONS
    for index in range(CONVERSATIONS):
        assert replies[f"conv-{index}"]["activity"]["text"] == f"echo msg {index}"

    spans = telemetry.spans()
    by_trace = defaultdict(list)
    for span in spans:
        by_trace[span.context.trace_id].append(span)
    turns = [span for span in spans if span.name == contract.TURN_SPAN_NAME]
    assert len(turns) == CONVERSATIONS
    turn_of: dict[str, int] = {}
    for turn in turns:
        conversation = str((turn.attributes or {})[contract.ATTR_CONVERSATION_ID])
        assert conversation not in turn_of, "one turn per conversation"
        turn_of[conversation] = turn.context.trace_id
        in_trace = by_trace[turn.context.trace_id]
        # exactly one turn in this trace, under the request's SERVER span
        assert [s.name for s in in_trace].count(contract.TURN_SPAN_NAME) == 1
        (server,) = [s for s in in_trace if s.kind is SpanKind.SERVER]
        assert turn.parent is not None and turn.parent.span_id == server.context.span_id
        # the dependency and the connector reply are children of this turn
        (dependency,) = [s for s in in_trace if s.name == "orders.get"]
        assert dependency.parent is not None
        assert dependency.parent.span_id == turn.context.span_id
        replies_sent = [
            s
            for s in in_trace
            if s.kind is SpanKind.CLIENT
            and bot.connector_url.split("//")[1] in str((s.attributes or {}).get("url.full", ""))
        ]
        assert len(replies_sent) == 1
        # named after the turn's channel: the peer map does not name the connector
        assert (replies_sent[0].attributes or {}).get("peer.service") == "directline"
        # the connector saw this trace in the reply's traceparent
        traceparent = replies[conversation]["headers"]["traceparent"]
        assert traceparent.split("-")[1] == f"{turn.context.trace_id:032x}"

    events = telemetry.events()
    for name in (contract.BOT_MESSAGE_RECEIVED, contract.BOT_MESSAGE_SEND, "OrderLookup"):
        of_name = [
            e
            for e in events
            if (e.log_record.attributes or {}).get(contract.CUSTOM_EVENT_NAME) == name
        ]
        assert len(of_name) == CONVERSATIONS, name
        for record in of_name:
            attributes = record.log_record.attributes or {}
            conversation = str(attributes[contract.CONVERSATION_ID])
            assert record.log_record.trace_id == turn_of[conversation], (name, conversation)
            if name == "OrderLookup":
                assert attributes["order"] == f"order-{conversation}"


async def test_a_conversation_named_after_a_phone_number_leaves_as_a_hash(
    telemetry: CapturedTelemetry,
) -> None:
    async def logic(context: TurnContext) -> None:
        await context.send_activity("noted")

    number = "whatsapp:+14155550123"
    async with running_bot(logic) as bot:
        async with aiohttp.ClientSession() as http:
            body = bot.activity("hi", number)
            async with http.post(bot.url, json=body) as response:
                assert response.status in (200, 201)
    assert bot.connector.requests[0]["conversation"] == number  # the reply still reaches it

    hashed = telemetry.handle.privacy.conversation_id(number)
    assert hashed != number
    turn = telemetry.span_named(contract.TURN_SPAN_NAME)
    assert (turn.attributes or {})["activity.conversation.id"] == hashed
    for record in telemetry.events():
        assert (record.log_record.attributes or {})[contract.CONVERSATION_ID] == hashed
    recorded = repr([dict(s.attributes or {}) for s in telemetry.spans()])
    recorded += repr([dict(r.log_record.attributes or {}) for r in telemetry.logs()])
    recorded += repr([dict(e.attributes or {}) for s in telemetry.spans() for e in s.events])
    assert "4155550123" not in recorded  # the reply's url.full included
    assert f"/v3/conversations/{hashed}/activities" in recorded


async def test_a_reply_sent_by_on_turn_error_is_named_after_the_channel_too(
    telemetry: CapturedTelemetry,
) -> None:
    # The turn span has ended when the adapter calls on_turn_error, but its reply still goes
    # to the channel: the app map must not grow a node named after the channel's host.
    async def logic(context: TurnContext) -> None:
        raise RuntimeError("the bot failed")

    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        await context.send_activity("Sorry, something went wrong.")

    async with running_bot(logic) as bot:
        bot.adapter.on_turn_error = on_turn_error
        async with aiohttp.ClientSession() as http:
            async with http.post(bot.url, json=bot.activity("hi", "conv-error")) as response:
                assert response.status in (200, 201)
    assert [r["activity"]["text"] for r in bot.connector.requests] == [
        "Sorry, something went wrong."
    ]

    host = bot.connector_url.split("//")[1]
    (reply,) = [
        s
        for s in telemetry.spans()
        if s.kind is SpanKind.CLIENT and host in str((s.attributes or {}).get("url.full", ""))
    ]
    assert (reply.attributes or {}).get("peer.service") == "directline"
    assert (reply.attributes or {}).get("service.peer.name") == "directline"
