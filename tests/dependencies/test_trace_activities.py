"""Dependencies reported to the conversation as trace activities (what the Emulator shows)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from botbuilder.core import MemoryStorage, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from bot_telemetry import PrivacyPolicy, TelemetryStorage
from bot_telemetry.dependencies.call import Target, dependency_call
from bot_telemetry.dependencies.trace_activities import (
    DEPENDENCY_VALUE_TYPE,
    TRACE_ACTIVITIES_ENV,
    TraceActivities,
)
from bot_telemetry.signals.turn_context import turn_context_scope
from tests.dependencies.turns import bot_adapter, dependency_traces
from tests.support.telemetry import CapturedTelemetry


def calling(
    mode: TraceActivities = TraceActivities.EMULATOR,
    policy: PrivacyPolicy | None = None,
    fail: bool = False,
) -> Callable[[TurnContext], Awaitable[None]]:
    async def logic(turn_context: TurnContext) -> None:
        async with dependency_call(
            "Recognizer Query",
            Target("nlu"),
            component="Recognizer",
            turn_context=turn_context,
            trace_activities=mode,
            privacy=policy,
        ):
            if fail:
                raise ConnectionResetError("peer went away")
        await turn_context.send_activity("done")

    return logic


async def test_a_call_is_sent_as_a_trace_activity_on_the_emulator(
    telemetry: CapturedTelemetry,
) -> None:
    adapter = bot_adapter(calling())
    await adapter.receive_activity("hi")

    [trace_activity] = dependency_traces(adapter)
    span = telemetry.span_named("Recognizer Query")
    assert trace_activity.type == ActivityTypes.trace
    assert trace_activity.name == "Recognizer"
    assert trace_activity.label == "Recognizer Query"
    assert trace_activity.value_type == DEPENDENCY_VALUE_TYPE
    value = trace_activity.value
    assert set(value) == {
        "name",
        "target",
        "duration",
        "success",
        "resultCode",
        "traceId",
        "spanId",
    }
    assert value["name"] == "Recognizer Query"
    assert value["target"] == "nlu"
    assert value["success"] is True
    assert value["resultCode"] == "OK"
    assert value["traceId"] == f"{span.context.trace_id:032x}"
    assert value["spanId"] == f"{span.context.span_id:016x}"
    assert isinstance(value["duration"], float) and value["duration"] >= 0
    # It is part of the conversation: a reply to the user's activity, before the bot's answer.
    assert trace_activity.conversation.id == "conversation-7"
    assert [a.type for a in adapter.activity_buffer] == ["trace", "message"]


async def test_a_failed_call_is_reported_before_the_error_propagates(
    telemetry: CapturedTelemetry,
) -> None:
    adapter = bot_adapter(calling(fail=True))
    with pytest.raises(ConnectionResetError):
        await adapter.receive_activity("hi")
    [trace_activity] = dependency_traces(adapter)
    assert trace_activity.value["success"] is False
    assert trace_activity.value["resultCode"] == "ConnectionResetError"


@pytest.mark.parametrize("channel", ["msteams", "directline", "webchat"])
async def test_other_channels_get_none_as_botbuilder_adapters_drop_them(
    telemetry: CapturedTelemetry, channel: str
) -> None:
    # This TestAdapter keeps trace activities on every channel; CloudAdapter and
    # BotFrameworkAdapter send them only to the Emulator, and so do we.
    adapter = bot_adapter(calling(), channel=channel)
    await adapter.receive_activity("hi")
    assert dependency_traces(adapter) == []
    assert [a.text for a in adapter.activity_buffer] == ["done"]
    telemetry.span_named("Recognizer Query")  # the span is recorded all the same


async def test_all_hands_them_to_the_adapter_on_any_channel(telemetry: CapturedTelemetry) -> None:
    adapter = bot_adapter(calling(TraceActivities.ALL), channel="msteams")
    await adapter.receive_activity("hi")
    assert len(dependency_traces(adapter)) == 1


async def test_off_sends_none(telemetry: CapturedTelemetry) -> None:
    adapter = bot_adapter(calling(TraceActivities.OFF))
    await adapter.receive_activity("hi")
    assert dependency_traces(adapter) == []


def test_the_default_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRACE_ACTIVITIES_ENV, raising=False)
    assert TraceActivities.resolve(None) is TraceActivities.EMULATOR
    monkeypatch.setenv(TRACE_ACTIVITIES_ENV, " OFF ")
    assert TraceActivities.resolve(None) is TraceActivities.OFF
    assert TraceActivities.resolve("all") is TraceActivities.ALL, "an explicit choice wins"
    storage = TelemetryStorage(MemoryStorage())
    assert storage._trace_activities is TraceActivities.OFF


def test_a_bad_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"one of 'off', 'emulator', 'all'.*'sometimes'"):
        TraceActivities.resolve("sometimes")
    monkeypatch.setenv(TRACE_ACTIVITIES_ENV, "verbose")
    with pytest.raises(ValueError, match=TRACE_ACTIVITIES_ENV):
        TelemetryStorage(MemoryStorage())


async def test_the_privacy_policy_applies_to_the_value(telemetry: CapturedTelemetry) -> None:
    policy = PrivacyPolicy(deny_keys=frozenset({"target", "traceId"}))
    adapter = bot_adapter(calling(policy=policy))
    await adapter.receive_activity("hi")
    [trace_activity] = dependency_traces(adapter)
    assert "target" not in trace_activity.value
    assert "traceId" not in trace_activity.value
    assert trace_activity.value["spanId"]


# botbuilder creates the adapter's send coroutine before the handlers run; when a handler
# raises, that coroutine is never awaited. Its warning is botbuilder's, not ours.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
async def test_a_trace_activity_that_cannot_be_sent_does_not_fail_the_turn(
    telemetry: CapturedTelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    async def refuse_traces(
        context: TurnContext, activities: list[Activity], next_send: Callable[[], Awaitable[Any]]
    ) -> Any:
        if any(a.type == ActivityTypes.trace for a in activities):
            raise RuntimeError("the Emulator connection dropped")
        return await next_send()

    inner = calling()

    async def logic(turn_context: TurnContext) -> None:
        turn_context.on_send_activities(refuse_traces)
        await inner(turn_context)

    adapter = bot_adapter(logic)
    with caplog.at_level(logging.WARNING, "bot_telemetry.dependencies.trace_activities"):
        await adapter.receive_activity("hi")
    assert [a.text for a in adapter.activity_buffer] == ["done"], "the turn went on"
    assert "could not send the trace activity for 'Recognizer Query'" in caplog.text


async def test_a_dependency_of_a_send_handler_sends_no_trace_of_its_own(
    telemetry: CapturedTelemetry,
) -> None:
    # A send handler that logs to storage would otherwise trace its own storage call,
    # whose trace activity would go through the handler again, and so on.
    transcript = TelemetryStorage(MemoryStorage())

    async def log_to_storage(
        context: TurnContext, activities: list[Activity], next_send: Callable[[], Awaitable[Any]]
    ) -> Any:
        await transcript.write({f"sent-{a.type}": {"text": a.text} for a in activities})
        return await next_send()

    async def logic(turn_context: TurnContext) -> None:
        turn_context.on_send_activities(log_to_storage)
        with turn_context_scope(turn_context):
            await calling()(turn_context)

    adapter = bot_adapter(logic)
    await adapter.receive_activity("hi")
    labels = [a.label for a in dependency_traces(adapter)]
    # The recognizer's trace; the storage write made while sending it sends none; the
    # write made while sending "done" does.
    assert labels == ["Recognizer Query", "Storage Write"]
    writes = [s for s in telemetry.spans() if s.name == "Storage Write"]
    assert len(writes) == 3, "every write is still a span"
