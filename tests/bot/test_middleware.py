from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from botbuilder.core import NullTelemetryClient, TelemetryLoggerMiddleware, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
)
from botframework.connector import Channels
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import (
    OpenTelemetryBotTelemetryClient,
    PrivacyPolicy,
    TelemetryMiddleware,
    contract,
)
from bot_telemetry.privacy import current_policy, set_current_policy
from bot_telemetry.signals import setup_check
from tests.support.telemetry import CapturedTelemetry

USER = ChannelAccount(id="user-42", name="Ada Lovelace")
CONVERSATION = ConversationAccount(id="conv-7", name="support")


def incoming(text: str = "hello", **fields: Any) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        text=text,
        locale="en-GB",
        from_property=USER,
        conversation=CONVERSATION,
        **fields,
    )


def props(record: Any) -> dict[str, Any]:
    return dict(record.log_record.attributes or {})


async def echo(context: TurnContext) -> None:
    await context.send_activity(Activity(type=ActivityTypes.typing))
    await context.send_trace_activity("debug", {"x": 1})
    await context.send_activity(f"you said {context.activity.text}")


async def run(adapter: TestAdapter, activity: Activity) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("POST /api/messages", kind=SpanKind.SERVER):
        await adapter.receive_activity(activity)


async def test_turn_span_is_a_child_of_the_request_span_with_the_contract_attributes(
    telemetry: CapturedTelemetry,
) -> None:
    adapter = TestAdapter(echo)
    adapter.use(TelemetryMiddleware())
    await run(adapter, incoming())

    turn = telemetry.span_named("bot.turn")
    request = telemetry.span_named("POST /api/messages")
    assert turn.kind is SpanKind.INTERNAL
    assert turn.parent is not None and turn.parent.span_id == request.context.span_id
    assert turn.context.trace_id == request.context.trace_id
    attributes = dict(turn.attributes or {})
    policy = telemetry.handle.privacy
    assert attributes == {
        "activity.id": attributes["activity.id"],
        "activity.type": "message",
        "activity.channel_id": "test",
        "activity.locale": "en-GB",
        "activity.conversation.id": "conv-7",
        "gen_ai.conversation.id": "conv-7",
        "session.id": policy.pseudonymize("conv-7"),
        "enduser.pseudo.id": policy.pseudonymize("user-42"),
    }
    assert attributes["activity.id"]
    assert "user-42" not in str(attributes)


async def test_received_and_send_events_carry_the_activity_properties_in_the_turn_trace(
    telemetry: CapturedTelemetry,
) -> None:
    adapter = TestAdapter(echo)
    adapter.use(TelemetryMiddleware())
    await run(adapter, incoming())

    turn = telemetry.span_named("bot.turn")
    received = telemetry.events(contract.BOT_MESSAGE_RECEIVED)
    sent = telemetry.events(contract.BOT_MESSAGE_SEND)
    assert len(received) == 1
    assert len(sent) == 1, "typing and trace activities must not produce BotMessageSend"
    for record in received + sent:
        assert record.log_record.trace_id == turn.context.trace_id
        attributes = props(record)
        for key in contract.ACTIVITY_PROPERTIES:
            assert attributes.get(key), f"{key} missing from {attributes}"
        assert attributes["conversationId"] == "conv-7"
        assert attributes["channelId"] == "test"
        assert "text" not in attributes and "fromName" not in attributes

    got = props(received[0])
    assert got["activityType"] == "message"
    assert got["locale"] == "en-GB"
    assert got["conversationName"] == "support"
    assert got["recipientName"] == "Bot"
    assert got["fromId"] == telemetry.handle.privacy.pseudonymize("user-42")
    reply = props(sent[0])
    assert reply["replyActivityId"] == got["activityId"]
    assert reply["recipientId"] == telemetry.handle.privacy.pseudonymize("user-42")
    # Also span events on the turn span, for Jaeger/Tempo users.
    assert [event.name for event in turn.events] == [
        contract.BOT_MESSAGE_RECEIVED,
        contract.BOT_MESSAGE_SEND,
    ]
    assert turn.events[0].attributes == received[0].log_record.attributes


async def test_trace_and_typing_are_logged_when_asked(telemetry: CapturedTelemetry) -> None:
    adapter = TestAdapter(echo, send_trace_activities=True)
    adapter.use(TelemetryMiddleware(skip_send_types=()))
    await run(adapter, incoming())

    kinds = sorted(props(r)["activityType"] for r in telemetry.events(contract.BOT_MESSAGE_SEND))
    assert kinds == ["message", "trace", "typing"]


async def test_update_and_delete_events(telemetry: CapturedTelemetry) -> None:
    async def edit(context: TurnContext) -> None:
        response = await context.send_activity("draft")
        assert response is not None
        update = Activity(type=ActivityTypes.message, id=response.id, text="final answer")
        update = TurnContext.apply_conversation_reference(
            update, TurnContext.get_conversation_reference(context.activity)
        )
        await context.update_activity(update)
        reference = TurnContext.get_conversation_reference(context.activity)
        reference.activity_id = response.id
        await context.delete_activity(reference)

    adapter = TestAdapter(edit)
    adapter.use(TelemetryMiddleware(privacy=PrivacyPolicy(log_personal_information=True)))
    await run(adapter, incoming())

    (updated,) = telemetry.events(contract.BOT_MESSAGE_UPDATE)
    (deleted,) = telemetry.events(contract.BOT_MESSAGE_DELETE)
    assert props(updated)["text"] == "final answer"
    assert props(updated)["conversationId"] == "conv-7"
    assert props(deleted)["activityType"] == "messageDelete"
    assert props(deleted)["conversationId"] == "conv-7"
    assert props(deleted)["activityId"] == props(updated)["activityId"]
    turn = telemetry.span_named("bot.turn")
    assert {updated.log_record.trace_id, deleted.log_record.trace_id} == {turn.context.trace_id}


class TaggingMiddleware(TelemetryMiddleware):
    async def fill_receive_event_properties(
        self, activity: Activity, additional_properties: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await super().fill_receive_event_properties(
            activity, {"tenant": "contoso", "locale": "xx", **(additional_properties or {})}
        )

    async def fill_send_event_properties(
        self, activity: Activity, additional_properties: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        properties = await super().fill_send_event_properties(activity, additional_properties)
        properties["replyLength"] = len(activity.text or "")
        return properties


async def test_subclass_hooks_add_and_override_properties(telemetry: CapturedTelemetry) -> None:
    adapter = TestAdapter(echo)
    adapter.use(TaggingMiddleware())
    await run(adapter, incoming("hi"))

    received = props(telemetry.events(contract.BOT_MESSAGE_RECEIVED)[0])
    assert received["tenant"] == "contoso"
    assert received["locale"] == "xx", "additional properties override stock ones"
    sent = props(telemetry.events(contract.BOT_MESSAGE_SEND)[0])
    assert sent["replyLength"] == len("you said hi")


async def test_botbuilders_own_additional_properties_path_is_broken() -> None:
    # Why our hooks exist: upstream iterates the dict and reads ``prop.key`` on each key.
    upstream = TelemetryLoggerMiddleware(None, False)
    activity = incoming()
    activity.recipient = ChannelAccount(id="bot")
    with pytest.raises(AttributeError, match="'str' object has no attribute"):
        await upstream.fill_receive_event_properties(activity, {"tenant": "contoso"})


class BrokenHook(TelemetryMiddleware):
    async def fill_receive_event_properties(
        self, activity: Activity, additional_properties: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        raise RuntimeError("bug in a subclass")


class BrokenOverride(TelemetryMiddleware):
    async def on_receive_activity(self, activity: Activity) -> None:
        raise RuntimeError("bug in a subclass")


@pytest.mark.parametrize("middleware", [BrokenHook, BrokenOverride])
async def test_a_failing_hook_never_fails_the_turn(
    telemetry: CapturedTelemetry,
    caplog: pytest.LogCaptureFixture,
    middleware: type[TelemetryMiddleware],
) -> None:
    adapter = TestAdapter(echo)
    adapter.use(middleware())
    with caplog.at_level(logging.ERROR, logger="bot_telemetry"):
        await run(adapter, incoming())

    assert [a.text for a in adapter.activity_buffer if a.type == "message"] == ["you said hello"]
    assert telemetry.events(contract.BOT_MESSAGE_RECEIVED) == []
    assert len(telemetry.events(contract.BOT_MESSAGE_SEND)) == 1
    assert "could not record BotMessageReceived" in caplog.text
    assert telemetry.span_named("bot.turn").end_time is not None


async def test_a_failing_bot_marks_the_turn_span_and_the_error_reaches_the_adapter(
    telemetry: CapturedTelemetry,
) -> None:
    async def failing(context: TurnContext) -> None:
        raise ValueError("boom")

    adapter = TestAdapter(failing)
    adapter.use(TelemetryMiddleware())
    with pytest.raises(ValueError, match="boom"):
        await run(adapter, incoming())

    turn = telemetry.span_named("bot.turn")
    assert turn.status.status_code is StatusCode.ERROR
    assert [event.name for event in turn.events][-1] == "exception"


async def test_opened_policy_records_text_redacted(telemetry: CapturedTelemetry) -> None:
    adapter = TestAdapter(echo)
    adapter.use(TelemetryMiddleware(privacy=PrivacyPolicy(log_personal_information=True)))
    await run(adapter, incoming("mail me at ada@example.org"))

    received = props(telemetry.events(contract.BOT_MESSAGE_RECEIVED)[0])
    assert received["text"] == "mail me at [REDACTED]"
    assert received["fromName"] == "Ada Lovelace"


async def test_events_after_the_turn_started_elsewhere_still_join_the_turn(
    telemetry: CapturedTelemetry,
) -> None:
    # A send from a span the bot opened itself: the event goes to the turn span anyway.
    tracer = trace.get_tracer("test")

    async def nested(context: TurnContext) -> None:
        with tracer.start_as_current_span("bot.step"):
            await context.send_activity("from a step")

    adapter = TestAdapter(nested)
    adapter.use(TelemetryMiddleware())
    await run(adapter, incoming())

    turn = telemetry.span_named("bot.turn")
    assert contract.BOT_MESSAGE_SEND in [event.name for event in turn.events]
    step = telemetry.span_named("bot.step")
    assert step.parent is not None and step.parent.span_id == turn.context.span_id


async def test_storage_under_the_middleware_reports_to_the_emulator_without_timed_middleware(
    telemetry: CapturedTelemetry,
) -> None:
    from botbuilder.core import MemoryStorage

    from bot_telemetry import TelemetryStorage
    from tests.dependencies.turns import bot_adapter, dependency_traces

    storage = TelemetryStorage(MemoryStorage())

    async def logic(context: TurnContext) -> None:
        await storage.read(["state-key"])  # storage gets no turn context of its own
        await context.send_activity("ok")

    adapter = bot_adapter(logic, channel="emulator")
    adapter.use(TelemetryMiddleware())
    await adapter.send("hi")
    (trace_activity,) = dependency_traces(adapter)
    assert trace_activity.label == "Storage Read"
    read = telemetry.span_named("Storage Read")
    assert read.parent is not None
    assert read.parent.span_id == telemetry.span_named(contract.TURN_SPAN_NAME).context.span_id


# --- botbuilder's constructor --------------------------------------------------------------


def received_text(telemetry: CapturedTelemetry) -> str | None:
    (received,) = telemetry.events(contract.BOT_MESSAGE_RECEIVED)
    text = props(received).get("text")
    return text if isinstance(text, str) else None


@pytest.mark.parametrize(
    "make",
    [
        lambda client: TelemetryMiddleware(client, True),
        lambda client: TelemetryMiddleware(telemetry_client=client, log_personal_information=True),
        lambda client: TelemetryMiddleware(None, True),
    ],
    ids=["positional", "keywords", "no client"],
)
async def test_constructed_like_telemetry_logger_middleware(
    telemetry: CapturedTelemetry, make: Any
) -> None:
    middleware = make(OpenTelemetryBotTelemetryClient())
    assert middleware.log_personal_information is True
    adapter = TestAdapter(echo)
    adapter.use(middleware)
    await run(adapter, incoming("book a table"))
    assert received_text(telemetry) == "book a table"


@pytest.mark.parametrize(
    ("args", "kwargs", "says"),
    [
        ((PrivacyPolicy(),), {}, "privacy=PrivacyPolicy"),
        (("my-client",), {}, "must be a botbuilder BotTelemetryClient"),
        ((None, "yes"), {}, "must be True, False or None"),
        ((), {"privacy": True}, "takes a PrivacyPolicy"),
        (
            (None, True, PrivacyPolicy()),
            {},
            "takes two positional arguments, as botbuilder's TelemetryLoggerMiddleware, got 3: "
            "pass the others by keyword, privacy=PrivacyPolicy(...) or skip_send_types=(...)",
        ),
    ],
    ids=[
        "policy in first place",
        "not a client",
        "flag not a bool",
        "privacy not a policy",
        "a third positional",
    ],
)
def test_a_wrong_argument_is_a_type_error_saying_what_to_pass(
    args: tuple[Any, ...], kwargs: dict[str, Any], says: str
) -> None:
    with pytest.raises(TypeError, match=re.escape(says)):
        TelemetryMiddleware(*args, **kwargs)


@pytest.mark.parametrize("flag", [False, True])
async def test_the_flag_replaces_the_configured_policys_both_ways(
    flag: bool, telemetry: CapturedTelemetry
) -> None:
    configured = PrivacyPolicy(log_personal_information=not flag)
    set_current_policy(configured)  # as configure(privacy=configured) would
    try:
        middleware = TelemetryMiddleware(log_personal_information=flag)
        assert middleware.privacy.log_personal_information is flag
        assert middleware.privacy is middleware.privacy  # derived once, not per event
        adapter = TestAdapter(echo)
        adapter.use(middleware)
        await run(adapter, incoming("book a table"))
    finally:
        set_current_policy(None)
    assert received_text(telemetry) == ("book a table" if flag else None)


def test_policy_precedence() -> None:
    keyed = PrivacyPolicy(pseudonymization_key="k", replacement="***")
    client = OpenTelemetryBotTelemetryClient(PrivacyPolicy(pseudonymization_key="client"))
    # privacy= first; the flag changes only its flag
    both = TelemetryMiddleware(client, True, privacy=keyed).privacy
    assert both.log_personal_information and both.replacement == "***"
    assert both.pseudonymize("u") == keyed.pseudonymize("u")
    # then the client's policy
    assert TelemetryMiddleware(client).privacy is client.privacy
    # then configure()'s
    assert TelemetryMiddleware().privacy is current_policy()
    assert TelemetryMiddleware(None, False).privacy is current_policy()


def test_the_telemetry_client_property() -> None:
    client = OpenTelemetryBotTelemetryClient()
    assert TelemetryMiddleware(client).telemetry_client is client
    own = TelemetryMiddleware(None, True).telemetry_client
    assert isinstance(own, OpenTelemetryBotTelemetryClient)
    assert own.privacy.log_personal_information is True


async def test_another_client_is_not_called_and_says_so(
    telemetry: CapturedTelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    class Recording(NullTelemetryClient):  # type: ignore[misc]
        def track_event(self, name: str, *args: Any, **kwargs: Any) -> None:
            calls.append(name)

    with caplog.at_level(logging.WARNING, logger="bot_telemetry"):
        middleware = TelemetryMiddleware(Recording(), False)
        silent = TelemetryMiddleware(NullTelemetryClient(), False)
    assert "the Recording passed to it is not called" in caplog.text
    assert "NullTelemetryClient" not in caplog.text
    for each in (middleware, silent):
        adapter = TestAdapter(echo)
        adapter.use(each)
        await run(adapter, incoming())
    assert calls == []
    assert len(telemetry.events(contract.BOT_MESSAGE_RECEIVED)) == 2


# --- values as botbuilder means them ---------------------------------------------------------


async def test_channel_enum_members_are_recorded_as_their_values(
    telemetry: CapturedTelemetry,
) -> None:
    adapter = TestAdapter(
        echo, template_or_conversation=ConversationReference(channel_id=Channels.ms_teams)
    )
    adapter.use(TelemetryMiddleware())
    await adapter.receive_activity(incoming())
    channel = dict(telemetry.span_named("bot.turn").attributes or {})["activity.channel_id"]
    assert channel == "msteams" and type(channel) is str
    for record in telemetry.events():
        value = props(record)["channelId"]
        assert value == "msteams" and type(value) is str


# --- nothing configured, nothing hidden -----------------------------------------------------


async def test_without_an_sdk_the_first_turn_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    setup_check.reset_warning()
    assert not trace.get_tracer("probe").start_span("probe").get_span_context().is_valid
    adapter = TestAdapter(echo)
    adapter.use(TelemetryMiddleware())
    with caplog.at_level(logging.WARNING, logger="bot_telemetry"):
        await adapter.receive_activity(incoming())
        await adapter.receive_activity(incoming("again"))
    warnings = [r for r in caplog.records if r.getMessage() == setup_check.NOT_CONFIGURED]
    assert len(warnings) == 1


async def test_with_an_sdk_no_warning(
    telemetry: CapturedTelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    setup_check.reset_warning()
    adapter = TestAdapter(echo)
    adapter.use(TelemetryMiddleware())
    with caplog.at_level(logging.WARNING, logger="bot_telemetry"):
        await adapter.receive_activity(incoming())
    assert setup_check.NOT_CONFIGURED not in caplog.text


# --- exceptions and free text under the policy ----------------------------------------------


@pytest.mark.parametrize("opened", [False, True], ids=["default", "opened"])
async def test_the_turns_exception_follows_the_policy(
    telemetry: CapturedTelemetry, opened: bool
) -> None:
    async def failing(context: TurnContext) -> None:
        raise ValueError(f"cannot book for {context.activity.from_property.name}")

    adapter = TestAdapter(failing)
    adapter.use(TelemetryMiddleware(privacy=PrivacyPolicy(log_personal_information=opened)))
    with pytest.raises(ValueError):
        await run(adapter, incoming())
    turn = telemetry.span_named("bot.turn")
    (event,) = [e for e in turn.events if e.name == "exception"]
    attributes = dict(event.attributes or {})
    assert attributes["exception.type"] == "ValueError"
    assert attributes["exception.escaped"] is True
    if opened:
        assert attributes["exception.message"] == "cannot book for Ada Lovelace"
        assert turn.status.description == "ValueError: cannot book for Ada Lovelace"
    else:
        assert "exception.message" not in attributes
        assert "Ada Lovelace" not in str(attributes) and turn.status.description == "ValueError"


async def test_the_turns_personal_values_are_kept_out_of_developer_text(
    telemetry: CapturedTelemetry,
) -> None:
    client = OpenTelemetryBotTelemetryClient()

    async def logic(context: TurnContext) -> None:
        user = context.activity.from_property
        client.track_trace(f"{user.name} ({user.id}) said: {context.activity.text}")
        client.track_dependency("crm", f"lookup {user.name}", "Azure table", "crm", 3, True)

    adapter = TestAdapter(logic)
    adapter.use(TelemetryMiddleware())
    await run(adapter, incoming("book a table for 2"))
    (trace_record,) = [r for r in telemetry.logs() if r.log_record.event_name is None]
    assert trace_record.log_record.body == "[REDACTED] ([REDACTED]) said: [REDACTED]"
    crm = dict(telemetry.span_named("crm").attributes or {})
    assert crm["db.query.text"] == "lookup [REDACTED]"


async def test_the_middleware_added_twice_records_each_turn_once(
    telemetry: CapturedTelemetry,
) -> None:
    """A set-up run twice on one adapter (an app factory and a startup hook, a notebook cell
    run again) recorded two bot.turn spans and every BotMessage* event twice."""
    adapter = TestAdapter(echo)
    adapter.use(TelemetryMiddleware())
    adapter.use(TelemetryMiddleware())
    await run(adapter, incoming())

    assert [span.name for span in telemetry.spans()].count("bot.turn") == 1
    assert len(telemetry.events(contract.BOT_MESSAGE_RECEIVED)) == 1
    assert len(telemetry.events(contract.BOT_MESSAGE_SEND)) == 1
    replies = [each.text for each in adapter.activity_buffer if each.type == ActivityTypes.message]
    assert replies == ["you said hello"]
