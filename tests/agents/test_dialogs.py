"""The dialog-tree helper and the dialogs' events on the Agents SDK (as tests/bot/test_dialogs.py),
the events through its real pipeline."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.hosting.core import TurnContext, TurnState
from microsoft_agents.hosting.dialogs import (
    ComponentDialog,
    DialogSet,
    DialogTurnStatus,
    WaterfallDialog,
    WaterfallStepContext,
)
from microsoft_agents.hosting.dialogs.prompts import PromptOptions, TextPrompt

from bot_telemetry.agents import (
    OpenTelemetryAgentTelemetryClient,
    dialogs_in,
    set_telemetry_client,
)
from tests.agents.harness import running_agent
from tests.support.telemetry import CapturedTelemetry


class InnerDialog(ComponentDialog):
    def __init__(self) -> None:
        super().__init__("inner")
        self.add_dialog(TextPrompt("name-prompt"))
        self.add_dialog(WaterfallDialog("inner-waterfall", [self.ask, self.done]))
        self.initial_dialog_id = "inner-waterfall"

    async def ask(self, step: WaterfallStepContext) -> Any:
        prompt = Activity(type=ActivityTypes.message, text="your name?")
        return await step.prompt("name-prompt", PromptOptions(prompt=prompt))

    async def done(self, step: WaterfallStepContext) -> Any:
        return await step.end_dialog(step.result)


class OuterDialog(ComponentDialog):
    def __init__(self) -> None:
        super().__init__("outer")
        self.add_dialog(InnerDialog())
        self.add_dialog(WaterfallDialog("outer-waterfall", [self.start_inner, self.thank]))
        self.initial_dialog_id = "outer-waterfall"

    async def start_inner(self, step: WaterfallStepContext) -> Any:
        return await step.begin_dialog("inner")

    async def thank(self, step: WaterfallStepContext) -> Any:
        await step.context.send_activity(f"thanks {step.result}")
        return await step.end_dialog()


def walk(outer: OuterDialog) -> list[Any]:
    inner = outer._dialogs._dialogs["inner"]
    return [
        outer,
        outer._dialogs._dialogs["outer-waterfall"],
        inner,
        inner._dialogs._dialogs["inner-waterfall"],
        inner._dialogs._dialogs["name-prompt"],
    ]


def is_null(client: Any) -> bool:
    return type(client).__name__ == "NullTelemetryClient"


def test_the_sdk_alone_leaves_nested_dialogs_on_the_null_client() -> None:
    outer = OuterDialog()
    client = OpenTelemetryAgentTelemetryClient()
    outer.telemetry_client = client
    nested = walk(outer)
    assert nested[0].telemetry_client is client
    assert all(is_null(d.telemetry_client) for d in nested[1:])


def test_set_telemetry_client_reaches_every_dialog_in_a_nested_tree() -> None:
    outer = OuterDialog()
    client = OpenTelemetryAgentTelemetryClient()
    assert set_telemetry_client(outer, client) == 5
    assert all(d.telemetry_client is client for d in walk(outer))
    assert set(map(id, dialogs_in(outer))) == set(map(id, walk(outer)))

    assert set_telemetry_client(outer, None) == 5
    assert all(is_null(d.telemetry_client) for d in walk(outer))


def test_shared_and_cyclic_dialogs_are_visited_once() -> None:
    shared = WaterfallDialog("shared", [])
    first, second = ComponentDialog("first"), ComponentDialog("second")
    first.add_dialog(shared)
    second.add_dialog(shared)
    first.add_dialog(second)
    second.add_dialog(first)
    client = OpenTelemetryAgentTelemetryClient()
    assert set_telemetry_client(first, client) == 3
    assert shared.telemetry_client is client and second.telemetry_client is client


def test_anything_else_is_rejected_clearly() -> None:
    with pytest.raises(TypeError, match="takes a Dialog, DialogSet or DialogManager"):
        set_telemetry_client([], OpenTelemetryAgentTelemetryClient())  # type: ignore[arg-type]


async def test_waterfall_events_from_every_level_land_in_their_turns(
    telemetry: CapturedTelemetry,
) -> None:
    outer = OuterDialog()
    set_telemetry_client(outer, OpenTelemetryAgentTelemetryClient())

    async def route(context: TurnContext, state: TurnState) -> None:
        dialogs = DialogSet(state.conversation.create_property("dialogs"))
        dialogs.add(outer)
        dialog_context = await dialogs.create_context(context)
        if context.activity.text == "cancel":
            await dialog_context.cancel_all_dialogs()
        else:
            result = await dialog_context.continue_dialog()
            if result.status == DialogTurnStatus.Empty:
                await dialog_context.begin_dialog("outer")

    async with running_agent(route) as agent:
        async with aiohttp.ClientSession() as http:
            for text, conversation in (
                ("hi", "conv-d"),
                ("Ada", "conv-d"),
                ("hi", "conv-e"),
                ("cancel", "conv-e"),
            ):
                assert await agent.send(http, agent.activity(text, conversation)) == 202

    assert [r["activity"]["text"] for r in agent.replies()] == [
        "your name?",
        "thanks Ada",
        "your name?",
    ]
    turns = [s for s in telemetry.spans() if s.name == "bot.turn"]
    assert len(turns) == 4

    def seen(name: str) -> list[tuple[str, str]]:
        found = []
        for record in telemetry.events(name):
            props = record.log_record.attributes or {}
            found.append((str(props["DialogId"]), str(props["conversationId"])))
            trace_ids = {
                s.context.trace_id
                for s in turns
                if (s.attributes or {})["activity.conversation.id"] == props["conversationId"]
            }
            assert record.log_record.trace_id in trace_ids
            # The SDK's route span is switched off: the event is the turn's span event.
            turn = next(s for s in turns if s.context.trace_id == record.log_record.trace_id)
            assert name in [event.name for event in turn.events]
        return sorted(found)

    assert seen("WaterfallStart") == [
        ("inner-waterfall", "conv-d"),
        ("inner-waterfall", "conv-e"),
        ("outer-waterfall", "conv-d"),
        ("outer-waterfall", "conv-e"),
    ]
    assert seen("WaterfallComplete") == [
        ("inner-waterfall", "conv-d"),
        ("outer-waterfall", "conv-d"),
    ]
    assert ("inner-waterfall", "conv-d") in seen("WaterfallStep")
    assert ("outer-waterfall", "conv-e") in seen("WaterfallCancel")
    steps = {
        (record.log_record.attributes or {})["StepName"]
        for record in telemetry.events("WaterfallStep")
    }
    assert "OuterDialog.start_inner" in steps
