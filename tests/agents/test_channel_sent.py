"""On the Microsoft 365 Agents SDK as on botbuilder (tests/bot/test_channel_sent.py): a turn
the channel or its page sends on its own (Web Chat opening: a conversationUpdate and the
page's webchat/join) says so on its span and on every event it records, the welcome's
BotMessageSend too; a message does not."""

from __future__ import annotations

from typing import Any

import aiohttp
from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState

from bot_telemetry import contract
from tests.agents.harness import running_agent
from tests.support.telemetry import CapturedTelemetry


async def welcome(context: TurnContext, state: TurnState) -> None:
    await context.send_activity("Welcome!")


def welcoming(app: AgentApplication[TurnState]) -> None:
    app.activity(["conversationUpdate", "event"])(welcome)


async def test_the_channels_own_turns_say_so_on_every_event(
    telemetry: CapturedTelemetry,
) -> None:
    async with running_agent(configure_app=welcoming) as agent:
        async with aiohttp.ClientSession() as http:
            for kind, extra in (
                ("conversationUpdate", {"membersAdded": [{"id": "agent-1"}]}),
                ("event", {"name": "webchat/join"}),
                ("message", {}),
            ):
                body = {**agent.activity("hi", "conv-1"), "type": kind, **extra}
                assert await agent.send(http, body) in (200, 202)

    turns = sorted(
        (s for s in telemetry.spans() if s.name == contract.TURN_SPAN_NAME),
        key=lambda s: s.start_time or 0,
    )
    flags = [dict(t.attributes or {}).get(contract.ATTR_TURN_CHANNEL_SENT) for t in turns]
    assert flags == [True, True, None]
    for turn, flag in zip(turns, flags, strict=True):
        events = [e for e in telemetry.events() if e.log_record.trace_id == turn.context.trace_id]
        names = {_name(e) for e in events}
        assert contract.BOT_MESSAGE_SEND in names, names
        for event in events:
            assert (
                dict(event.log_record.attributes or {}).get(contract.ATTR_TURN_CHANNEL_SENT) == flag
            )


def _name(event: Any) -> str:
    return str(dict(event.log_record.attributes or {})[contract.CUSTOM_EVENT_NAME])
