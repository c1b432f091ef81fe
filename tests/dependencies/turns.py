"""botbuilder's TestAdapter set up the way the dependency tests drive turns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from bot_telemetry.dependencies.trace_activities import DEPENDENCY_VALUE_TYPE

CONVERSATION_ID = "conversation-7"


def bot_adapter(
    logic: Callable[[TurnContext], Awaitable[Any]], channel: str = "emulator"
) -> TestAdapter:
    """A TestAdapter on ``channel`` that keeps trace activities, so tests see what the
    Emulator would (the adapter itself does not drop them by channel)."""
    template = Activity(
        channel_id=channel,
        service_url="https://test.example",
        from_property=ChannelAccount(id="user-1", name="Ada Lovelace"),
        recipient=ChannelAccount(id="bot", name="Bot"),
        conversation=ConversationAccount(id=CONVERSATION_ID),
    )
    return TestAdapter(logic, template, send_trace_activities=True)


def dependency_traces(adapter: TestAdapter) -> list[Activity]:
    """Our dependency trace activities among what the bot sent, in order."""
    return [
        activity
        for activity in adapter.activity_buffer
        if activity.type == ActivityTypes.trace and activity.value_type == DEPENDENCY_VALUE_TYPE
    ]
