from __future__ import annotations

from typing import Any

import pytest
from botbuilder.core import ConversationState, MemoryStorage, NullTelemetryClient, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.dialogs import (
    ComponentDialog,
    DialogSet,
    DialogTurnStatus,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.prompts import PromptOptions, TextPrompt
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from bot_telemetry import OpenTelemetryBotTelemetryClient, TelemetryMiddleware, set_telemetry_client
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


def build_tree() -> tuple[DialogSet, ConversationState]:
    state = ConversationState(MemoryStorage())
    dialogs = DialogSet(state.create_property("dialogs"))
    dialogs.add(OuterDialog())
    return dialogs, state


def make_bot(dialogs: DialogSet, state: ConversationState) -> Any:
    async def bot(context: TurnContext) -> None:
        dialog_context = await dialogs.create_context(context)
        if context.activity.text == "cancel":
            await dialog_context.cancel_all_dialogs()
        else:
            result = await dialog_context.continue_dialog()
            if result.status == DialogTurnStatus.Empty:
                await dialog_context.begin_dialog("outer")
        await state.save_changes(context)

    return bot


def message(text: str, conversation: str = "conv-d") -> Activity:
    return Activity(
        type=ActivityTypes.message,
        text=text,
        from_property=ChannelAccount(id="user-d"),
        conversation=ConversationAccount(id=conversation),
    )


def walk(dialogs: DialogSet) -> list[Any]:
    outer = dialogs._dialogs["outer"]
    inner = outer._dialogs._dialogs["inner"]
    return [
        outer,
        outer._dialogs._dialogs["outer-waterfall"],
        inner,
        inner._dialogs._dialogs["inner-waterfall"],
        inner._dialogs._dialogs["name-prompt"],
    ]


def test_botbuilder_alone_leaves_nested_dialogs_on_the_null_client() -> None:
    dialogs, _ = build_tree()
    client = OpenTelemetryBotTelemetryClient()
    dialogs.telemetry_client = client
    nested = walk(dialogs)
    assert nested[0].telemetry_client is client
    assert all(isinstance(d.telemetry_client, NullTelemetryClient) for d in nested[1:])


def test_set_telemetry_client_reaches_every_dialog_in_a_nested_tree() -> None:
    dialogs, _ = build_tree()
    client = OpenTelemetryBotTelemetryClient()
    assert set_telemetry_client(dialogs, client) == 5
    assert all(d.telemetry_client is client for d in walk(dialogs))
    assert dialogs.telemetry_client is client

    assert set_telemetry_client(dialogs, None) == 5
    assert all(isinstance(d.telemetry_client, NullTelemetryClient) for d in walk(dialogs))


def test_shared_and_cyclic_dialogs_are_visited_once() -> None:
    shared = WaterfallDialog("shared", [])
    first, second = ComponentDialog("first"), ComponentDialog("second")
    first.add_dialog(shared)
    second.add_dialog(shared)
    first.add_dialog(second)
    second.add_dialog(first)  # a cycle botbuilder itself would recurse on forever
    client = OpenTelemetryBotTelemetryClient()
    assert set_telemetry_client(first, client) == 3
    assert shared.telemetry_client is client and second.telemetry_client is client


def test_anything_else_is_rejected_clearly() -> None:
    with pytest.raises(TypeError, match="takes a Dialog, DialogSet or DialogManager, not list"):
        set_telemetry_client([], OpenTelemetryBotTelemetryClient())  # type: ignore[arg-type]


async def test_waterfall_events_from_every_level_land_in_their_turns(
    telemetry: CapturedTelemetry,
) -> None:
    dialogs, state = build_tree()
    set_telemetry_client(dialogs, OpenTelemetryBotTelemetryClient())
    adapter = TestAdapter(make_bot(dialogs, state))
    adapter.use(TelemetryMiddleware())

    await adapter.receive_activity(message("hi"))
    await adapter.receive_activity(message("Ada"))
    await adapter.receive_activity(message("hi", "conv-e"))
    await adapter.receive_activity(message("cancel", "conv-e"))

    assert [a.text for a in adapter.activity_buffer] == ["your name?", "thanks Ada", "your name?"]
    turns = {
        (span.attributes or {})["activity.conversation.id"]: span
        for span in telemetry.spans()
        if span.name == "bot.turn"
    }
    assert len([s for s in telemetry.spans() if s.name == "bot.turn"]) == 4

    def seen(name: str) -> list[tuple[str, str]]:
        found = []
        for record in telemetry.events(name):
            props = record.log_record.attributes or {}
            found.append((str(props["DialogId"]), str(props["conversationId"])))
            trace_ids = {
                s.context.trace_id
                for s in telemetry.spans()
                if s.name == "bot.turn"
                and (s.attributes or {})["activity.conversation.id"] == props["conversationId"]
            }
            assert record.log_record.trace_id in trace_ids
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
    assert set(turns) == {"conv-d", "conv-e"}
