"""Proactive messages on botbuilder's CloudAdapter, over real HTTP: a ``/api/notify`` route
that calls ``adapter.continue_conversation`` for stored conversation references, as
botbuilder's sample 16.proactive-messages does, and a send from no request at all (a timer)."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

import aiohttp
from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ConversationReference
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import OpenTelemetryBotTelemetryClient, contract
from tests.bot.harness import RunningBot, running_bot
from tests.support.telemetry import CapturedTelemetry

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_TRACEPARENT = f"00-{CALLER_TRACE}-b7ad6b7169203331-01"


class ProactiveBot:
    """Keeps each user's conversation reference from their messages, as sample 16 does."""

    def __init__(self) -> None:
        self.references: dict[str, ConversationReference] = {}
        self.bot: RunningBot | None = None
        self.fail = False

    async def on_turn(self, context: TurnContext) -> None:
        reference = TurnContext.get_conversation_reference(context.activity)
        self.references[reference.user.id] = reference
        await context.send_activity(f"You sent: {context.activity.text}")

    async def remind(self, context: TurnContext) -> None:
        await context.send_activity("Your table is booked for 8 pm")
        if self.fail:
            # Quotes the user's id: it must not leave the bot under the default policy.
            raise KeyError(context.activity.from_property.id)

    async def notify(self, request: web.Request) -> web.Response:
        assert self.bot is not None
        self.fail = request.query.get("fail") == "1"
        for reference in list(self.references.values()):
            await self.bot.adapter.continue_conversation(reference, self.remind, "")
        return web.Response(text="Proactive messages have been sent")


async def _say(bot: RunningBot, text: str, conversation: str, user: str) -> None:
    async with aiohttp.ClientSession() as http:
        body = bot.activity(text, conversation, user=user, user_name="Grace Hopper")
        async with http.post(bot.url, json=body) as response:
            assert response.status in (200, 201)


def _attributes(item: Any) -> dict[str, Any]:
    return dict(item.attributes or {})


async def test_a_proactive_send_continues_the_notify_requests_trace_as_the_bots_own_turn(
    telemetry: CapturedTelemetry,
) -> None:
    proactive = ProactiveBot()
    async with running_bot(proactive.on_turn, routes={"/api/notify": proactive.notify}) as bot:
        proactive.bot = bot
        await _say(bot, "remind me", "conv-1", "user-1")
        telemetry.clear()
        notify = bot.url.replace("/api/messages", "/api/notify")
        # Not through aiohttp: this process instruments it, and it would send its own trace.
        request = urllib.request.Request(notify, headers={"traceparent": CALLER_TRACEPARENT})
        with await asyncio.to_thread(urllib.request.urlopen, request, timeout=30) as response:
            assert response.status == 200

    (reminder,) = bot.connector.requests[1:]
    assert reminder["activity"]["text"] == "Your table is booked for 8 pm"
    assert reminder["headers"]["traceparent"].split("-")[1] == CALLER_TRACE

    spans = telemetry.spans()
    assert {f"{span.context.trace_id:032x}" for span in spans} == {CALLER_TRACE}
    (server,) = [span for span in spans if span.kind is SpanKind.SERVER]
    turn = telemetry.span_named(contract.TURN_SPAN_NAME)
    assert turn.parent is not None and turn.parent.span_id == server.context.span_id
    attributes = _attributes(turn)
    assert attributes[contract.ATTR_TURN_PROACTIVE] is True
    assert attributes[contract.ATTR_CONVERSATION_ID] == "conv-1"
    user = telemetry.handle.privacy.pseudonymize("user-1")
    assert attributes[contract.ATTR_ENDUSER_PSEUDO_ID] == user
    (channel_call,) = [span for span in spans if span.kind is SpanKind.CLIENT]
    assert channel_call.parent is not None and channel_call.parent.span_id == turn.context.span_id
    assert _attributes(channel_call)["peer.service"] == "directline"

    # Nobody sent the bot anything: no BotMessageReceived, one BotMessageSend, no text.
    names = [_attributes(e.log_record)[contract.CUSTOM_EVENT_NAME] for e in telemetry.events()]
    assert names == [contract.BOT_MESSAGE_SEND]
    (send,) = telemetry.events(contract.BOT_MESSAGE_SEND)
    properties = _attributes(send.log_record)
    assert properties[contract.CONVERSATION_ID] == "conv-1"
    assert properties[contract.RECIPIENT_ID] == user
    assert properties[contract.ATTR_ENDUSER_PSEUDO_ID] == user
    assert properties[contract.ATTR_TURN_PROACTIVE] is True  # for event-only backends
    assert contract.TEXT not in properties
    assert f"{send.log_record.trace_id:032x}" == CALLER_TRACE


async def test_a_failing_proactive_callback_is_a_failed_turn_without_the_users_data(
    telemetry: CapturedTelemetry,
) -> None:
    proactive = ProactiveBot()
    handled: list[BaseException] = []

    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        handled.append(error)
        await context.send_activity("Sorry, the reminder failed.")

    async with running_bot(proactive.on_turn, routes={"/api/notify": proactive.notify}) as bot:
        proactive.bot = bot
        bot.adapter.on_turn_error = on_turn_error
        await _say(bot, "remind me", "conv-2", "grace@example.org")
        telemetry.clear()
        notify = bot.url.replace("/api/messages", "/api/notify?fail=1")
        async with aiohttp.ClientSession() as http:
            async with http.get(notify) as response:
                assert response.status == 200  # the app carries on
            # and still answers its users
        await _say(bot, "still there?", "conv-2", "grace@example.org")

    assert [type(error) for error in handled] == [KeyError]
    turns = [s for s in telemetry.spans() if s.name == contract.TURN_SPAN_NAME]
    failed = [turn for turn in turns if turn.status.status_code is StatusCode.ERROR]
    (turn,) = failed
    assert _attributes(turn)[contract.ATTR_TURN_PROACTIVE] is True
    (exception,) = [event for event in turn.events if event.name == "exception"]
    assert _attributes(exception)["exception.type"] == "KeyError"
    recorded = repr([_attributes(span) for span in telemetry.spans()])
    recorded += repr([_attributes(e) for span in telemetry.spans() for e in span.events])
    recorded += repr([(_attributes(r.log_record), r.log_record.body) for r in telemetry.logs()])
    assert "grace@example.org" not in recorded
    assert "Sorry, the reminder failed." not in recorded  # no text by default


async def test_a_proactive_send_from_no_request_is_a_trace_of_its_own(
    telemetry: CapturedTelemetry,
) -> None:
    proactive = ProactiveBot()
    async with running_bot(proactive.on_turn) as bot:
        await _say(bot, "remind me", "conv-3", "user-3")
        telemetry.clear()
        reference = proactive.references["user-3"]
        # What a timer's task does, outside any request.
        await bot.adapter.continue_conversation(reference, proactive.remind, "")

    spans = telemetry.spans()
    turn = telemetry.span_named(contract.TURN_SPAN_NAME)
    assert turn.parent is None
    assert {span.context.trace_id for span in spans} == {turn.context.trace_id}
    assert _attributes(turn)[contract.ATTR_TURN_PROACTIVE] is True
    assert [_attributes(e.log_record)[contract.CUSTOM_EVENT_NAME] for e in telemetry.events()] == [
        contract.BOT_MESSAGE_SEND
    ]


async def test_a_turn_a_user_started_is_not_proactive(telemetry: CapturedTelemetry) -> None:
    async def logic(context: TurnContext) -> None:
        await context.send_activity(Activity(type="message", text="ok"))

    async with running_bot(logic) as bot:
        await _say(bot, "hello", "conv-4", "user-4")
        # An event a page sends (Web Chat's join) is not proactive, whatever its name (nor
        # the user's doing: the analytics' rule, contract.CLIENT_HOUSEKEEPING_EVENTS).
        async with aiohttp.ClientSession() as http:
            body = bot.activity("", "conv-4", user="user-4", type="event", name="webchat/join")
            async with http.post(bot.url, json=body) as response:
                assert response.status in (200, 201)

    turns = [s for s in telemetry.spans() if s.name == contract.TURN_SPAN_NAME]
    assert len(turns) == 2
    assert all(contract.ATTR_TURN_PROACTIVE not in _attributes(turn) for turn in turns)
    assert len(telemetry.events(contract.BOT_MESSAGE_RECEIVED)) == 2
    for event in telemetry.events():
        assert contract.ATTR_TURN_PROACTIVE not in _attributes(event.log_record)


async def _exceptions_after_a_failing_notify(
    telemetry: CapturedTelemetry, on_turn_error: Any
) -> tuple[int, list[Any]]:
    proactive = ProactiveBot()
    async with running_bot(proactive.on_turn, routes={"/api/notify": proactive.notify}) as bot:
        proactive.bot = bot
        if on_turn_error is not None:
            bot.adapter.on_turn_error = on_turn_error
        await _say(bot, "remind me", "conv-5", "user-5")
        telemetry.clear()
        notify = bot.url.replace("/api/messages", "/api/notify?fail=1")
        async with aiohttp.ClientSession() as http:
            async with http.get(notify) as response:
                status = response.status
    spans = telemetry.spans()
    return status, [(s, e) for s in spans for e in s.events if e.name == "exception"]


async def test_a_failed_proactive_turn_is_one_exception_when_on_turn_error_tracks_it(
    telemetry: CapturedTelemetry,
) -> None:
    # botbuilder code often tracks the error in on_turn_error; the turn span has it already.
    client = OpenTelemetryBotTelemetryClient()

    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        client.track_exception()
        await context.send_activity("Sorry, the reminder failed.")

    status, exceptions = await _exceptions_after_a_failing_notify(telemetry, on_turn_error)
    assert status == 200
    assert [span.name for span, _ in exceptions] == [contract.TURN_SPAN_NAME]
    # Still an error record, for a log backend, saying which type.
    errors = [r for r in telemetry.logs() if r.log_record.severity_text == "ERROR"]
    assert [(r.log_record.attributes or {}).get("error.type") for r in errors] == ["KeyError"]


async def test_a_failed_proactive_turn_no_handler_took_is_one_exception(
    telemetry: CapturedTelemetry,
) -> None:
    status, exceptions = await _exceptions_after_a_failing_notify(telemetry, None)
    assert status == 500  # the request failed, the app did not
    assert [span.name for span, _ in exceptions] == [contract.TURN_SPAN_NAME]
    (server,) = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
    assert server.status.status_code is StatusCode.ERROR
    assert _attributes(server)["error.type"] == "KeyError"
