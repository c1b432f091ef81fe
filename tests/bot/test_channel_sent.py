"""A turn the channel (or its page) sends on its own says so on its span and on every event
it records, over botbuilder's CloudAdapter and real HTTP: Application Insights and PostHog
read events alone, and a BotMessageSend's own activityType (the welcome is a ``message``)
cannot tell a conversationUpdate's welcome from an answer to the user."""

from __future__ import annotations

from typing import Any

import aiohttp
from botbuilder.core import TurnContext

from bot_telemetry import contract
from tests.bot.harness import running_bot
from tests.support.telemetry import CapturedTelemetry


def _attributes(item: Any) -> dict[str, Any]:
    return dict(item.attributes or {})


async def test_the_channels_own_turns_say_so_on_every_event(
    telemetry: CapturedTelemetry,
) -> None:
    async def logic(context: TurnContext) -> None:
        await context.send_activity("Welcome!" if context.activity.text is None else "ok")

    sent = [
        ("conversationUpdate", {"membersAdded": [{"id": "bot-1"}]}),
        ("event", {"name": "webchat/join"}),
        ("typing", {}),
        ("event", {"name": "webchat:activity-status/feedback"}),
        ("message", {"text": "hi"}),
        ("invoke", {"name": "adaptiveCard/action"}),
    ]
    async with running_bot(logic) as bot, aiohttp.ClientSession() as http:
        for kind, extra in sent:
            body = {**bot.activity("", "conv-1", user="user-1"), "type": kind, **extra}
            body.pop("text", None)
            body.update({k: v for k, v in extra.items() if k == "text"})
            async with http.post(bot.url, json=body) as response:
                assert response.status in (200, 201, 501), (kind, response.status)

    turns = sorted(
        (s for s in telemetry.spans() if s.name == contract.TURN_SPAN_NAME),
        key=lambda s: s.start_time or 0,
    )
    assert len(turns) == len(sent)
    channel_sent = [_attributes(t).get(contract.ATTR_TURN_CHANNEL_SENT) for t in turns]
    assert channel_sent == [True, True, True, None, None, None]
    for turn, flag in zip(turns, channel_sent, strict=True):
        events = [e for e in telemetry.events() if e.log_record.trace_id == turn.context.trace_id]
        assert events, turn.attributes
        # The welcome (a BotMessageSend of type message) too: the turn's flag, not its own.
        for event in events:
            assert _attributes(event.log_record).get(contract.ATTR_TURN_CHANNEL_SENT) == flag
    welcome = [
        e
        for e in telemetry.events(contract.BOT_MESSAGE_SEND)
        if e.log_record.trace_id == turns[0].context.trace_id
    ]
    assert [_attributes(e.log_record)[contract.ACTIVITY_TYPE] for e in welcome] == ["message"]
