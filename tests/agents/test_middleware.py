"""TelemetryMiddleware on the Agents SDK, through its real pipeline (aiohttp hosting,
CloudAdapter, AgentApplication, a connector that receives the replies): the same
expectations as botbuilder's (tests/bot/test_middleware.py)."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest
from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import PrivacyPolicy, contract
from bot_telemetry.agents import (
    OpenTelemetryAgentTelemetryClient,
    TelemetryMiddleware,
    record_application_errors,
)
from tests.agents.harness import RunningAgent, running_agent
from tests.support.telemetry import CapturedTelemetry


def props(record: Any) -> dict[str, Any]:
    return dict(record.log_record.attributes or {})


async def say(agent: RunningAgent, text: str = "hello", **extra: Any) -> dict[str, Any]:
    activity = agent.activity(
        text,
        "conv-7",
        user="user-42",
        user_name="Ada Lovelace",
        conversation_name="support",
        **extra,
    )
    async with aiohttp.ClientSession() as http:
        assert await agent.send(http, activity) == 202
    return activity


async def chatty(context: TurnContext, state: TurnState) -> None:
    await context.send_activity(Activity(type=ActivityTypes.typing))
    await context.send_trace_activity("debug", {"x": 1})
    await context.send_activity(f"you said {context.activity.text}")


async def test_turn_span_is_a_child_of_the_request_span_with_the_contract_attributes(
    telemetry: CapturedTelemetry,
) -> None:
    async with running_agent(chatty) as agent:
        sent = await say(agent)

    turn = telemetry.span_named("bot.turn")
    request = telemetry.span_named("POST /api/messages")
    assert turn.kind is SpanKind.INTERNAL
    assert turn.instrumentation_scope.name == "bot_telemetry.agents"
    assert turn.parent is not None and turn.parent.span_id == request.context.span_id
    policy = telemetry.handle.privacy
    assert dict(turn.attributes or {}) == {
        "activity.id": sent["id"],
        "activity.type": "message",
        "activity.channel_id": "directline",
        "activity.locale": "en-US",
        "activity.conversation.id": "conv-7",
        "gen_ai.conversation.id": "conv-7",
        "session.id": policy.pseudonymize("conv-7"),
        "enduser.pseudo.id": policy.pseudonymize("user-42"),
    }
    # The SDK's own spans are switched off by configure(): one turn span, ours.
    assert not [s for s in telemetry.spans() if s.name.startswith("agents.")]


async def test_received_and_send_events_carry_the_activity_properties_in_the_turn_trace(
    telemetry: CapturedTelemetry,
) -> None:
    async with running_agent(chatty) as agent:
        sent = await say(agent)
    assert [r["activity"]["type"] for r in agent.replies()] == ["typing", "message"]

    turn = telemetry.span_named("bot.turn")
    received = telemetry.events(contract.BOT_MESSAGE_RECEIVED)
    replies = telemetry.events(contract.BOT_MESSAGE_SEND)
    assert len(received) == 1
    assert len(replies) == 1, "typing and trace activities must not produce BotMessageSend"
    for record in received + replies:
        assert record.log_record.trace_id == turn.context.trace_id
        attributes = props(record)
        for key in contract.ACTIVITY_PROPERTIES:
            assert attributes.get(key), f"{key} missing from {attributes}"
        assert attributes["conversationId"] == "conv-7"
        assert attributes["channelId"] == "directline"
        assert "text" not in attributes and "fromName" not in attributes

    got = props(received[0])
    policy = telemetry.handle.privacy
    assert got == {
        "activityId": sent["id"],
        "activityType": "message",
        "channelId": "directline",
        "conversationId": "conv-7",
        "conversationName": "support",
        "fromId": policy.pseudonymize("user-42"),
        "recipientId": policy.pseudonymize("agent-1"),
        "recipientName": "Agent",
        "locale": "en-US",
        # every event of the turn says whose it is, pseudonymously
        "enduser.pseudo.id": policy.pseudonymize("user-42"),
        "session.id": policy.pseudonymize("conv-7"),
        "microsoft.custom_event.name": "BotMessageReceived",
    }
    reply = props(replies[0])
    assert reply["replyActivityId"] == sent["id"]
    assert reply["recipientId"] == policy.pseudonymize("user-42")
    assert [event.name for event in turn.events] == [
        contract.BOT_MESSAGE_RECEIVED,
        contract.BOT_MESSAGE_SEND,
    ]
    assert turn.events[0].attributes == received[0].log_record.attributes


async def test_trace_and_typing_are_logged_when_asked(telemetry: CapturedTelemetry) -> None:
    async with running_agent(chatty, TelemetryMiddleware(skip_send_types=())) as agent:
        await say(agent)
    kinds = sorted(props(r)["activityType"] for r in telemetry.events(contract.BOT_MESSAGE_SEND))
    # The adapter drops the trace activity off the Emulator, after the send hooks ran.
    assert kinds == ["message", "trace", "typing"]


async def test_update_and_delete_events(telemetry: CapturedTelemetry) -> None:
    async def edit(context: TurnContext, state: TurnState) -> None:
        response = await context.send_activity("draft")
        update = Activity(type=ActivityTypes.message, id=response.id, text="final answer")
        await context.update_activity(update)
        await context.delete_activity(response.id)

    async with running_agent(edit, TelemetryMiddleware(PrivacyPolicy(True))) as agent:
        await say(agent)
    methods = [r["method"] for r in agent.connector.requests]
    assert methods == ["POST", "PUT", "DELETE"]

    (updated,) = telemetry.events(contract.BOT_MESSAGE_UPDATE)
    (deleted,) = telemetry.events(contract.BOT_MESSAGE_DELETE)
    assert props(updated)["text"] == "final answer"
    assert props(updated)["conversationId"] == "conv-7"
    assert props(deleted)["activityType"] == "messageDelete"
    assert props(deleted)["conversationId"] == "conv-7"
    assert props(deleted)["activityId"] == props(updated)["activityId"]
    assert props(deleted)["activityId"] == agent.connector.requests[2]["reply_to"]
    turn = telemetry.span_named("bot.turn")
    assert {updated.log_record.trace_id, deleted.log_record.trace_id} == {turn.context.trace_id}


class TaggingMiddleware(TelemetryMiddleware):
    async def fill_receive_event_properties(
        self, activity: Any, additional_properties: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await super().fill_receive_event_properties(
            activity, {"tenant": "contoso", "locale": "xx", **(additional_properties or {})}
        )

    async def fill_send_event_properties(
        self, activity: Any, additional_properties: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        properties = await super().fill_send_event_properties(activity, additional_properties)
        properties["replyLength"] = len(activity.text or "")
        return properties


async def test_subclass_hooks_add_and_override_properties(telemetry: CapturedTelemetry) -> None:
    async with running_agent(middleware=TaggingMiddleware()) as agent:
        await say(agent, "hi")
    received = props(telemetry.events(contract.BOT_MESSAGE_RECEIVED)[0])
    assert received["tenant"] == "contoso"
    assert received["locale"] == "xx", "additional properties override stock ones"
    sent = props(telemetry.events(contract.BOT_MESSAGE_SEND)[0])
    assert sent["replyLength"] == len("you said hi")


class BrokenHook(TelemetryMiddleware):
    async def fill_receive_event_properties(
        self, activity: Any, additional_properties: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        raise RuntimeError("bug in a subclass")


async def test_a_failing_hook_never_fails_the_turn(
    telemetry: CapturedTelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bot_telemetry"):
        async with running_agent(middleware=BrokenHook()) as agent:
            await say(agent)
    assert [r["activity"]["text"] for r in agent.replies()] == ["you said hello"]
    assert telemetry.events(contract.BOT_MESSAGE_RECEIVED) == []
    assert len(telemetry.events(contract.BOT_MESSAGE_SEND)) == 1
    assert "could not record BotMessageReceived" in caplog.text
    assert telemetry.span_named("bot.turn").end_time is not None


async def failing(context: TurnContext, state: TurnState) -> None:
    raise ValueError("boom")


async def test_a_failing_route_marks_the_turn_span_and_the_error_reaches_the_adapter(
    telemetry: CapturedTelemetry,
) -> None:
    async with running_agent(failing) as agent:
        await say(agent)
    assert [type(e) for e in agent.turn_errors] == [ValueError]
    turn = telemetry.span_named("bot.turn")
    assert turn.status.status_code is StatusCode.ERROR
    assert [event.name for event in turn.events][-1] == "exception"
    # The apology is sent after the turn span ended: a log record, not a span event.
    assert [props(r)["activityType"] for r in telemetry.events(contract.BOT_MESSAGE_SEND)] == [
        "message"
    ]


@pytest.mark.parametrize("recorded", [True, False])
async def test_an_error_handler_swallows_the_error_unless_its_errors_are_recorded(
    telemetry: CapturedTelemetry, recorded: bool
) -> None:
    handled: list[Exception] = []

    def configure_app(app: AgentApplication[TurnState]) -> None:
        @app.error
        async def on_error(context: TurnContext, error: Exception) -> None:
            handled.append(error)
            await context.send_activity("handled")

        if recorded:
            record_application_errors(app)
            record_application_errors(app)  # twice is once

    async with running_agent(failing, configure_app=configure_app) as agent:
        await say(agent)
    assert [type(e) for e in handled] == [ValueError]
    assert agent.turn_errors == [], "the app's handler took it"
    turn = telemetry.span_named("bot.turn")
    if recorded:
        assert turn.status.status_code is StatusCode.ERROR
        assert [event.name for event in turn.events].count("exception") == 1
    else:
        assert turn.status.status_code is StatusCode.UNSET


async def test_a_reply_is_named_after_the_turns_channel(telemetry: CapturedTelemetry) -> None:
    async with running_agent(chatty) as agent:
        await say(agent, channel="msteams")
    replies = [
        span
        for span in telemetry.spans()
        if span.kind is SpanKind.CLIENT
        and str((span.attributes or {}).get("url.full", "")).startswith(agent.connector_url)
    ]
    assert len(replies) == 2  # typing and the message (the trace activity is not sent)
    assert {(span.attributes or {}).get("peer.service") for span in replies} == {"msteams"}


async def test_recorded_errors_without_a_handler_are_recorded_once(
    telemetry: CapturedTelemetry,
) -> None:
    # The docs' set-up calls record_application_errors whether or not the app has an
    # @app.error: with none, the error also reaches the turn's middleware.
    async with running_agent(failing, configure_app=record_application_errors) as agent:
        await say(agent)
    assert [type(e) for e in agent.turn_errors] == [ValueError]
    turn = telemetry.span_named("bot.turn")
    assert turn.status.status_code is StatusCode.ERROR
    assert [event.name for event in turn.events].count("exception") == 1


def test_record_application_errors_refuses_what_is_not_an_application() -> None:
    with pytest.raises(TypeError, match="takes an AgentApplication"):
        record_application_errors(object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "botbuilder_style",
    [OpenTelemetryAgentTelemetryClient(), True],
    ids=["telemetry_client", "log_personal_information"],
)
async def test_botbuilders_first_argument_is_refused_with_what_to_write(
    telemetry: CapturedTelemetry, botbuilder_style: object
) -> None:
    """``TelemetryMiddleware(client)`` is botbuilder's constructor; here the one argument
    is the policy. Taken as a policy it made every turn record nothing at all (no turn
    span, no event), without a word; it is refused when the bot is built, with the fix."""
    with pytest.raises(TypeError) as refused:
        TelemetryMiddleware(botbuilder_style)  # type: ignore[arg-type]
    message = str(refused.value)
    assert "TelemetryMiddleware(privacy=...) takes a PrivacyPolicy" in message
    assert type(botbuilder_style).__name__ in message
    assert "TelemetryMiddleware()" in message
    assert "PrivacyPolicy(log_personal_information=True)" in message
    # What the message says to write works.
    async with running_agent(middleware=TelemetryMiddleware()) as agent:
        await say(agent)
    assert telemetry.span_named("bot.turn")
    assert telemetry.events(contract.BOT_MESSAGE_RECEIVED)


@pytest.mark.parametrize("flag", [True, False])
async def test_botbuilders_two_arguments_are_refused_with_what_to_write(
    telemetry: CapturedTelemetry, flag: bool
) -> None:
    """botbuilder's drop-in line, ``TelemetryMiddleware(client, True)``, moved to the Agents
    SDK: Python's own "takes from 1 to 2 positional arguments" said nothing of what to
    write instead."""
    with pytest.raises(TypeError) as refused:
        TelemetryMiddleware(OpenTelemetryAgentTelemetryClient(), flag)  # type: ignore[arg-type]
    message = str(refused.value)
    assert "positional arguments but" not in message
    assert "takes one positional argument, a PrivacyPolicy, got 2" in message
    assert "botbuilder's TelemetryMiddleware(telemetry_client, log_personal_information)" in (
        message
    )
    assert "TelemetryMiddleware(PrivacyPolicy(log_personal_information=True))" in message
    # What the message says to write works, and records personal data as the flag did.
    middleware = TelemetryMiddleware(PrivacyPolicy(log_personal_information=True))
    assert middleware.log_personal_information is True


@pytest.mark.parametrize("one_type", ["typing", ActivityTypes.typing])
def test_skip_send_types_given_one_type_for_a_collection_is_refused(one_type: str) -> None:
    """``skip_send_types=("typing")`` (no comma) is the string ``"typing"``; taken as the
    set of its letters it skipped nothing, so typing and trace got BotMessageSend."""
    with pytest.raises(TypeError) as refused:
        TelemetryMiddleware(skip_send_types=one_type)
    message = str(refused.value)
    assert "skip_send_types takes a collection of activity types" in message
    assert "('typing',)" in message and "'typing'" in message
    assert TelemetryMiddleware(skip_send_types=("typing",)).skip_send_types == {"typing"}


async def test_opened_policy_records_text_redacted(telemetry: CapturedTelemetry) -> None:
    middleware = TelemetryMiddleware(PrivacyPolicy(log_personal_information=True))
    async with running_agent(middleware=middleware) as agent:
        await say(agent, "mail me at ada@example.org")
    received = props(telemetry.events(contract.BOT_MESSAGE_RECEIVED)[0])
    assert received["text"] == "mail me at [REDACTED]"
    assert received["fromName"] == "Ada Lovelace"
    sent = props(telemetry.events(contract.BOT_MESSAGE_SEND)[0])
    assert sent["text"] == "you said mail me at [REDACTED]"


async def test_events_from_a_span_the_agent_opened_still_join_the_turn(
    telemetry: CapturedTelemetry,
) -> None:
    tracer = trace.get_tracer("test")

    async def nested(context: TurnContext, state: TurnState) -> None:
        with tracer.start_as_current_span("agent.step"):
            await context.send_activity("from a step")

    async with running_agent(nested) as agent:
        await say(agent)
    turn = telemetry.span_named("bot.turn")
    assert contract.BOT_MESSAGE_SEND in [event.name for event in turn.events]
    step = telemetry.span_named("agent.step")
    assert step.parent is not None and step.parent.span_id == turn.context.span_id


async def test_the_default_policy_keeps_personal_data_out_of_every_signal(
    telemetry: CapturedTelemetry,
) -> None:
    async def personal(context: TurnContext, state: TurnState) -> None:
        await context.send_activity(f"Thanks {context.activity.from_property.name}, noted.")

    async with running_agent(personal) as agent:
        await say(agent, "I am Ada, ada@example.org, card 4111 1111 1111 1111")
    assert agent.replies()[0]["activity"]["text"] == "Thanks Ada Lovelace, noted."

    recorded: list[str] = []
    for span in telemetry.spans():
        recorded += [str(v) for v in (span.attributes or {}).values()]
        for event in span.events:
            recorded += [str(v) for v in (event.attributes or {}).values()]
    for record in telemetry.logs():
        recorded += [str(record.log_record.body)]
        recorded += [str(v) for v in (record.log_record.attributes or {}).values()]
    everything = "\n".join(recorded)
    assert "BotMessageReceived" in everything and "BotMessageSend" in everything
    for personal_value in ("user-42", "Ada", "ada@example.org", "4111", "Thanks", "noted"):
        assert personal_value not in everything, personal_value


async def test_the_middleware_added_twice_records_each_turn_once(
    telemetry: CapturedTelemetry,
) -> None:
    """A set-up run twice on one adapter recorded two bot.turn spans and every event twice."""
    async with running_agent(chatty, [TelemetryMiddleware(), TelemetryMiddleware()]) as agent:
        await say(agent)

    assert [span.name for span in telemetry.spans()].count("bot.turn") == 1
    assert len(telemetry.events(contract.BOT_MESSAGE_RECEIVED)) == 1
    assert len(telemetry.events(contract.BOT_MESSAGE_SEND)) == 1
