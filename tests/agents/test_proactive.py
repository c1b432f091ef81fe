"""Proactive messages on the Microsoft 365 Agents SDK's CloudAdapter, over real HTTP, as
tests/bot/test_proactive.py does for botbuilder: ``adapter.continue_conversation`` with a
stored reference's continuation activity is the agent's own turn, with no BotMessageReceived,
in the trace of whatever called it; a callback that raises is a failed turn."""

from __future__ import annotations

from typing import Any

import aiohttp
from microsoft_agents.activity import ConversationReference
from microsoft_agents.hosting.core import ClaimsIdentity, TurnContext, TurnState
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import contract
from tests.agents.harness import running_agent
from tests.support.telemetry import CapturedTelemetry


def _attributes(item: Any) -> dict[str, Any]:
    return dict(item.attributes or {})


async def test_a_proactive_send_is_the_agents_own_turn_in_its_callers_trace(
    telemetry: CapturedTelemetry,
) -> None:
    references: dict[str, ConversationReference] = {}
    fail = False

    async def route(context: TurnContext, state: TurnState) -> None:
        reference = context.activity.get_conversation_reference()
        references[context.activity.from_property.id] = reference
        await context.send_activity("I will remind you.")

    async def remind(context: TurnContext) -> None:
        await context.send_activity("Your table is booked for 8 pm.")
        if fail:
            raise KeyError(context.activity.from_property.id)

    async with running_agent(route) as agent:
        async with aiohttp.ClientSession() as http:
            assert await agent.send(http, agent.activity("remind me", "conv-1", user="u-1")) == 202
        telemetry.clear()
        tracer = trace.get_tracer("tests")
        for failing in (False, True):
            fail = failing
            with tracer.start_as_current_span("reminder" if not failing else "failing reminder"):
                # No app registration here, so no app id: the SDK's anonymous identity.
                # With one: adapter.continue_conversation(app_id, activity, remind).
                await agent.adapter.continue_conversation_with_claims(
                    ClaimsIdentity(), references["u-1"].get_continuation_activity(), remind
                )

    texts = [r["activity"]["text"] for r in agent.replies("conv-1")]
    assert texts[1:] == [
        "Your table is booked for 8 pm.",
        "Your table is booked for 8 pm.",
        "Sorry, something went wrong.",
    ]
    assert [type(error) for error in agent.turn_errors] == [KeyError]
    spans = telemetry.spans()
    turns = [span for span in spans if span.name == contract.TURN_SPAN_NAME]
    assert len(turns) == 2
    user = telemetry.handle.privacy.pseudonymize("u-1")
    for turn, root in zip(turns, ("reminder", "failing reminder"), strict=True):
        attributes = _attributes(turn)
        assert attributes[contract.ATTR_TURN_PROACTIVE] is True
        assert attributes[contract.ATTR_CONVERSATION_ID] == "conv-1"
        assert attributes[contract.ATTR_ENDUSER_PSEUDO_ID] == user
        (parent,) = [s for s in spans if s.context.span_id == turn.parent.span_id]  # type: ignore[union-attr]
        assert parent.name == root
        calls = [s for s in spans if s.kind is SpanKind.CLIENT and s.parent is not None]
        assert any(c.parent.span_id == turn.context.span_id for c in calls)  # type: ignore[union-attr]
    assert turns[0].status.status_code is not StatusCode.ERROR
    assert turns[1].status.status_code is StatusCode.ERROR
    (exception,) = [e for e in turns[1].events if e.name == "exception"]
    assert _attributes(exception)["exception.type"] == "KeyError"
    assert "u-1" not in repr([_attributes(e) for s in spans for e in s.events])
    names = [_attributes(e.log_record)[contract.CUSTOM_EVENT_NAME] for e in telemetry.events()]
    assert contract.BOT_MESSAGE_RECEIVED not in names
    assert names.count(contract.BOT_MESSAGE_SEND) >= 2
    for send in telemetry.events(contract.BOT_MESSAGE_SEND):
        properties = _attributes(send.log_record)
        assert properties[contract.RECIPIENT_ID] == user and contract.TEXT not in properties
