"""botbuilder-applicationinsights 4.17's ``tests/test_telemetry_waterfall.py``
(TelemetryWaterfallTests) with ``OpenTelemetryBotTelemetryClient`` as the dialogs' client,
reading the Waterfall* events OpenTelemetry recorded instead of a mock's calls.

Upstream runs the dialogs with no middleware; so do these, and again under
``TelemetryMiddleware`` (then every event also carries the turn's activityId,
activityType, channelId, conversationId and the two pseudonymous identity keys: difference D5,
so the exact property count of the cancel test is checked outside a turn and, with those six,
inside one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from botbuilder.core import ConversationState, MemoryStorage, NullTelemetryClient, TurnContext
from botbuilder.core.adapters import TestAdapter, TestFlow
from botbuilder.dialogs import (
    Dialog,
    DialogInstance,
    DialogReason,
    DialogSet,
    DialogTurnStatus,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.schema import Activity

from bot_telemetry import OpenTelemetryBotTelemetryClient, TelemetryMiddleware, contract
from tests.bot.botbuilder_compat.calls import (
    TURN_PROPERTIES,
    assert_calls,
    calls,
    without_turn_properties,
)
from tests.support.telemetry import CapturedTelemetry

BEGIN = Activity(text="begin", type="message")
WATERFALL = frozenset(contract.WATERFALL_EVENTS)

Step = Callable[[WaterfallStepContext], Awaitable[Any]]


@pytest.fixture(params=[False, True], ids=["as upstream", "under TelemetryMiddleware"])
def in_turn(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def responding(text: str) -> Step:
    async def step(step: WaterfallStepContext) -> Any:
        await step.context.send_activity(text)
        return Dialog.end_of_turn

    return step


def test_none_telemetry_client() -> None:
    dialog = WaterfallDialog("myId")
    dialog.telemetry_client = OpenTelemetryBotTelemetryClient()
    dialog.telemetry_client = None
    assert type(dialog.telemetry_client) is NullTelemetryClient


async def test_execute_sequence_waterfall_steps(
    telemetry: CapturedTelemetry, in_turn: bool
) -> None:
    state = ConversationState(MemoryStorage())
    dialogs = DialogSet(state.create_property("dialogState"))
    step1, step2 = responding("bot responding."), responding("ending WaterfallDialog.")
    dialog = WaterfallDialog("test", [step1, step2])
    dialog.telemetry_client = OpenTelemetryBotTelemetryClient()
    dialogs.add(dialog)

    async def exec_test(turn_context: TurnContext) -> None:
        dialog_context = await dialogs.create_context(turn_context)
        results = await dialog_context.continue_dialog()
        if results.status == DialogTurnStatus.Empty:
            await dialog_context.begin_dialog("test")
        elif results.status == DialogTurnStatus.Complete:
            await turn_context.send_activity(results.result)
        await state.save_changes(turn_context)

    adapter = TestAdapter(exec_test)
    if in_turn:
        adapter.use(TelemetryMiddleware())
    flow = TestFlow(None, adapter)
    flow = await flow.send(BEGIN)
    flow = await flow.assert_reply("bot responding.")
    flow = await flow.send("continue")
    await flow.assert_reply("ending WaterfallDialog.")

    assert_calls(
        calls(telemetry, WATERFALL),
        [
            ("WaterfallStart", {"DialogId": "test"}),
            ("WaterfallStep", {"DialogId": "test", "StepName": step1.__qualname__}),
            ("WaterfallStep", {"DialogId": "test", "StepName": step2.__qualname__}),
        ],
        compare_falsy=True,
    )


async def test_ensure_end_dialog_called(telemetry: CapturedTelemetry, in_turn: bool) -> None:
    state = ConversationState(MemoryStorage())
    dialogs = DialogSet(state.create_property("dialogState"))
    step1, step2 = responding("step1 response"), responding("step2 response")
    dialog = WaterfallDialog("test", [step1, step2])
    dialog.telemetry_client = OpenTelemetryBotTelemetryClient()
    dialogs.add(dialog)

    async def exec_test(turn_context: TurnContext) -> None:
        dialog_context = await dialogs.create_context(turn_context)
        await dialog_context.continue_dialog()
        if not turn_context.responded:
            await dialog_context.begin_dialog("test", None)
        await state.save_changes(turn_context)

    adapter = TestAdapter(exec_test)
    if in_turn:
        adapter.use(TelemetryMiddleware())
    flow = TestFlow(None, adapter)
    flow = await flow.send(BEGIN)
    flow = await flow.assert_reply("step1 response")
    flow = await flow.send("continue")
    flow = await flow.assert_reply("step2 response")
    await flow.send("the end of the steps: the dialog completes and starts again")

    assert_calls(
        calls(telemetry, WATERFALL),
        [
            ("WaterfallStart", {"DialogId": "test"}),
            ("WaterfallStep", {"DialogId": "test", "StepName": step1.__qualname__}),
            ("WaterfallStep", {"DialogId": "test", "StepName": step2.__qualname__}),
            ("WaterfallComplete", {"DialogId": "test"}),
            ("WaterfallStart", {"DialogId": "test"}),
            ("WaterfallStep", {"DialogId": "test", "StepName": step1.__qualname__}),
        ],
        compare_falsy=True,
    )


async def test_cancelling_waterfall_telemetry(telemetry: CapturedTelemetry, in_turn: bool) -> None:
    step = responding("step1 response")
    dialog = WaterfallDialog("waterfall", [step])
    dialog.telemetry_client = OpenTelemetryBotTelemetryClient()
    instance = DialogInstance()
    instance.id = "waterfall"
    instance.state = {"instanceId": "(guid)", "stepIndex": 0}

    async def cancel(context: TurnContext) -> None:
        await dialog.end_dialog(context, instance, DialogReason.CancelCalled)

    if in_turn:
        adapter = TestAdapter(cancel)
        adapter.use(TelemetryMiddleware())
        await adapter.receive_activity("cancel")
    else:
        await cancel(TurnContext(TestAdapter(), Activity()))

    (call,) = calls(telemetry, WATERFALL)
    assert call.name == "WaterfallCancel"
    expected = {"DialogId": "waterfall", "StepName": step.__qualname__, "InstanceId": "(guid)"}
    # upstream: exactly these three properties
    assert without_turn_properties(call.properties) == expected
    assert set(call.properties) - set(expected) == (TURN_PROPERTIES if in_turn else set())
