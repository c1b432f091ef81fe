"""Prompt answers and consent on the Agents SDK, through its real pipeline (as
tests/bot/test_prompts.py on botbuilder): the same PromptAnswered events, consent mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
from microsoft_agents.hosting.dialogs.prompts import (
    ConfirmPrompt,
    NumberPrompt,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
)

from bot_telemetry import PrivacyPolicy
from bot_telemetry.agents import record_consent, record_prompt_answers
from bot_telemetry.signals import set_consent_registry
from tests.agents.harness import running_agent
from tests.support.telemetry import CapturedTelemetry, capture


async def _size(prompt: PromptValidatorContext) -> bool:
    return bool(prompt.recognized.succeeded and 1 <= prompt.recognized.value <= 12)


def _ask(text: str) -> PromptOptions:
    return PromptOptions(prompt=Activity(type=ActivityTypes.message, text=text))


class Survey(ComponentDialog):
    def __init__(self) -> None:
        super().__init__("survey")
        self.add_dialog(TextPrompt("survey.name"))
        self.add_dialog(NumberPrompt("survey.size", _size, default_locale="en-us"))
        self.add_dialog(ConfirmPrompt("survey.ok", default_locale="en-us"))
        self.add_dialog(WaterfallDialog("survey.steps", [self.name, self.size, self.ok, self.end]))
        self.initial_dialog_id = "survey.steps"

    async def name(self, step: WaterfallStepContext) -> Any:
        return await step.prompt("survey.name", _ask("What is your name?"))

    async def size(self, step: WaterfallStepContext) -> Any:
        return await step.prompt("survey.size", _ask(f"How many of you, {step.result}?"))

    async def ok(self, step: WaterfallStepContext) -> Any:
        return await step.prompt("survey.ok", _ask("All correct?"))

    async def end(self, step: WaterfallStepContext) -> Any:
        return await step.end_dialog(step.result)


@pytest.fixture
def consent_mode() -> Iterator[CapturedTelemetry]:
    set_consent_registry(None)
    captured = capture("agent", PrivacyPolicy(consent_mode=True))
    yield captured
    captured.handle.shutdown()
    set_consent_registry(None)


async def test_answers_are_recorded_and_only_consenting_users_answers_kept(
    consent_mode: CapturedTelemetry,
) -> None:
    survey = Survey()
    assert record_prompt_answers(survey) == 3

    async def route(context: TurnContext, state: TurnState) -> None:
        if context.activity.text == "I agree":
            await record_consent(context, True)
            return
        dialogs = DialogSet(state.conversation.create_property("dialogs"))
        dialogs.add(survey)
        dialog_context = await dialogs.create_context(context)
        result = await dialog_context.continue_dialog()
        if result.status == DialogTurnStatus.Empty:
            await dialog_context.begin_dialog("survey")

    async with running_agent(route) as agent:
        async with aiohttp.ClientSession() as http:
            for user in ("user-yes", "user-no"):
                messages = ["start", "Grace Hopper", "20", "4", "yes"]
                if user == "user-yes":
                    messages.insert(0, "I agree")
                for text in messages:
                    activity = agent.activity(text, f"conv-{user}", user=user)
                    assert await agent.send(http, activity) == 202

    answered: dict[str, list[dict[str, Any]]] = {}
    for record in consent_mode.events("PromptAnswered"):
        attributes = dict(record.log_record.attributes or {})
        answered.setdefault(str(attributes["conversationId"]), []).append(attributes)
    for conversation in ("conv-user-yes", "conv-user-no"):
        events = answered[conversation]
        assert [(e["questionId"], e["questionType"], e["questionScore"]) for e in events] == [
            ("survey.steps#0", "text", 1),
            ("survey.steps#1", "number", 0),
            ("survey.steps#1", "number", 1),
            ("survey.steps#2", "confirm", 1),
        ]
        assert [e["eof"] for e in events] == [False, False, False, True]
        assert events[0]["xPath"] == "survey/survey.steps/survey.name"
    kept = [json.loads(e["promptResponse"]) for e in answered["conv-user-yes"]]
    assert kept == ["Grace Hopper", 20, 4, True]
    assert all("promptResponse" not in e for e in answered["conv-user-no"])
    # the size question quotes the name: made safe for both, so that a consenting user's
    # later withdrawal leaves nothing personal in the question (their answers say it)
    for conversation in ("conv-user-yes", "conv-user-no"):
        assert answered[conversation][1]["questionTitle"] == "How many of you, [REDACTED]?"
    (granted,) = consent_mode.events("ConsentChanged")
    assert (granted.log_record.attributes or {})["consent"] == "granted"
