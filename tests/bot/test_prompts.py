"""PromptAnswered through botbuilder's real adapter, dialogs and prompts: every prompt type,
valid and invalid answers, durations across turns, the dialog path, Eof, and what the
privacy policy and consent let through."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botbuilder.core import ConversationState, MemoryStorage, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.dialogs import (
    ComponentDialog,
    DialogSet,
    DialogTurnStatus,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.choices import Choice
from botbuilder.dialogs.prompts import (
    AttachmentPrompt,
    ChoicePrompt,
    ConfirmPrompt,
    DateTimePrompt,
    NumberPrompt,
    OAuthPrompt,
    OAuthPromptSettings,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
)
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
)

from bot_telemetry import PrivacyPolicy, TelemetryMiddleware
from bot_telemetry.bot.prompts import record_prompt_answers
from bot_telemetry.signals import set_consent_registry
from tests.support.telemetry import CapturedTelemetry, capture


async def _valid_size(prompt: PromptValidatorContext) -> bool:
    return bool(prompt.recognized.succeeded and 1 <= prompt.recognized.value <= 12)


class Survey(ComponentDialog):
    """Six questions, one of each prompt type, then a goodbye."""

    def __init__(self) -> None:
        super().__init__("survey")
        self.add_dialog(TextPrompt("survey.name"))
        self.add_dialog(NumberPrompt("survey.size", _valid_size, default_locale="en-us"))
        self.add_dialog(ChoicePrompt("survey.colour", default_locale="en-us"))
        self.add_dialog(DateTimePrompt("survey.when", default_locale="en-us"))
        self.add_dialog(AttachmentPrompt("survey.photo"))
        self.add_dialog(ConfirmPrompt("survey.ok", default_locale="en-us"))
        steps = [self.name, self.size, self.colour, self.when, self.photo, self.ok, self.done]
        self.add_dialog(WaterfallDialog("survey.steps", steps))
        self.initial_dialog_id = "survey.steps"

    async def name(self, step: WaterfallStepContext) -> Any:
        return await step.prompt("survey.name", options("What is your name?"))

    async def size(self, step: WaterfallStepContext) -> Any:
        return await step.prompt(
            "survey.size", options(f"How many of you, {step.result}?", "A number from 1 to 12.")
        )

    async def colour(self, step: WaterfallStepContext) -> Any:
        choices = [Choice("red"), Choice("green"), Choice("blue")]
        return await step.prompt(
            "survey.colour", PromptOptions(prompt=text("Pick a colour"), choices=choices)
        )

    async def when(self, step: WaterfallStepContext) -> Any:
        return await step.prompt("survey.when", options("When?"))

    async def photo(self, step: WaterfallStepContext) -> Any:
        return await step.prompt("survey.photo", options("Send a photo"))

    async def ok(self, step: WaterfallStepContext) -> Any:
        return await step.prompt("survey.ok", options("All correct?"))

    async def done(self, step: WaterfallStepContext) -> Any:
        await step.context.send_activity("thank you")
        return await step.end_dialog(step.result)


def text(value: str) -> Activity:
    return Activity(type=ActivityTypes.message, text=value)


def options(prompt: str, retry: str | None = None) -> PromptOptions:
    return PromptOptions(prompt=text(prompt), retry_prompt=text(retry) if retry else None)


def message(
    body: str, user: str = "user-1", attachments: list[Attachment] | None = None
) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        text=body,
        attachments=attachments,
        from_property=ChannelAccount(id=user, name="Grace Hopper"),
        conversation=ConversationAccount(id=f"conv-{user}"),
        locale="en-us",
    )


def survey_bot(**wire: Any) -> tuple[TestAdapter, DialogSet]:
    state = ConversationState(MemoryStorage())
    dialogs = DialogSet(state.create_property("dialogs"))
    dialogs.add(Survey())
    assert record_prompt_answers(dialogs, **wire) == 6

    async def bot(context: TurnContext) -> None:
        dialog_context = await dialogs.create_context(context)
        result = await dialog_context.continue_dialog()
        if result.status == DialogTurnStatus.Empty:
            await dialog_context.begin_dialog("survey")
        await state.save_changes(context)

    adapter = TestAdapter(bot)
    adapter.use(TelemetryMiddleware())
    return adapter, dialogs


PHOTO = Attachment(content_type="image/png", name="cat.png", content_url="https://x.test/cat.png")
ANSWERS = [
    ("Grace Hopper", None),
    ("20", None),  # invalid: out of range, asked again
    ("4", None),
    ("green", None),
    ("tomorrow at 7pm", None),
    ("", [PHOTO]),
    ("yes", None),
]


@pytest.fixture
def opened() -> Iterator[CapturedTelemetry]:
    captured = capture("bot", PrivacyPolicy(log_personal_information=True))
    yield captured
    captured.handle.shutdown()


def answered(telemetry: CapturedTelemetry) -> list[dict[str, Any]]:
    return [dict(r.log_record.attributes or {}) for r in telemetry.events("PromptAnswered")]


async def run_survey(adapter: TestAdapter, user: str = "user-1") -> None:
    await adapter.receive_activity(message("hi", user))
    for body, attachments in ANSWERS:
        await adapter.receive_activity(message(body, user, attachments))


async def test_every_prompt_type_records_one_event_per_answer(opened: CapturedTelemetry) -> None:
    adapter, _ = survey_bot()
    await run_survey(adapter)
    events = answered(opened)
    assert [e["questionType"] for e in events] == [
        "text",
        "number",
        "number",
        "choice",
        "datetime",
        "attachment",
        "confirm",
    ]
    assert [e["questionId"] for e in events] == [
        "survey.steps#0",
        "survey.steps#1",
        "survey.steps#1",
        "survey.steps#2",
        "survey.steps#3",
        "survey.steps#4",
        "survey.steps#5",
    ]
    assert [(e["questionScore"], e["questionMaxScore"]) for e in events] == [
        (1, 1),
        (0, 1),
        (1, 1),
        (1, 1),
        (1, 1),
        (1, 1),
        (1, 1),
    ]
    responses = [json.loads(e["promptResponse"]) for e in events]
    assert responses[:4] == ["Grace Hopper", 20, 4, "green"]
    assert responses[4][0]["timex"].endswith("T19")
    assert responses[5] == [
        {"contentType": "image/png", "name": "cat.png", "contentUrl": "https://x.test/cat.png"}
    ]
    assert responses[6] is True
    # only the last question ended the dialog
    assert [e["eof"] for e in events] == [False] * 6 + [True]
    assert {e["xPath"] for e in events} == {f"survey/survey.steps/{e['promptId']}" for e in events}
    assert events[0]["questionTitle"] == "What is your name?"
    assert events[2]["questionDescription"] == "A number from 1 to 12."
    assert json.loads(events[3]["questionOptions"]) == ["red", "green", "blue"]
    assert "questionOptions" not in events[0]
    assert all(
        isinstance(e["questionDurationMs"], int) and e["questionDurationMs"] >= 0 for e in events
    )
    assert events[0]["StepName"].endswith("Survey.name")
    # the turn's identity is on every answer, as on every custom event of a turn
    assert {e["conversationId"] for e in events} == {"conv-user-1"}
    assert len({e["enduser.pseudo.id"] for e in events}) == 1


async def test_the_default_policy_keeps_answers_and_quoted_names_out(
    telemetry: CapturedTelemetry,
) -> None:
    adapter, _ = survey_bot()
    await run_survey(adapter)
    events = answered(telemetry)
    assert len(events) == 7
    assert all("promptResponse" not in e for e in events)
    # the size question quotes the name the user gave in that turn
    assert events[1]["questionTitle"] == "How many of you, [REDACTED]?"
    # the answer ("green") is not looked for in the question: its options would say it
    assert json.loads(events[3]["questionOptions"]) == ["red", "green", "blue"]
    raw = json.dumps(events)
    assert "Grace" not in raw and "cat.png" not in raw


async def test_consent_mode_records_answers_only_of_users_who_consented() -> None:
    from bot_telemetry.bot.consent import record_consent

    set_consent_registry(None)
    captured = capture("bot", PrivacyPolicy(consent_mode=True))
    try:
        adapter, _ = survey_bot()
        # user-2 consents from a turn of their own (as a consent prompt would), user-3 never
        consenting = TestAdapter(lambda context: record_consent(context, True))
        consenting.use(TelemetryMiddleware())
        await consenting.receive_activity(message("I agree", "user-2"))
        await run_survey(adapter, "user-2")
        await run_survey(adapter, "user-3")
        events = answered(captured)
        by_user: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            by_user.setdefault(event["conversationId"], []).append(event)
        assert len(by_user["conv-user-2"]) == len(by_user["conv-user-3"]) == 7
        assert all("promptResponse" in e for e in by_user["conv-user-2"])
        assert all("promptResponse" not in e for e in by_user["conv-user-3"])
        texts: dict[str, set[str]] = {"conv-user-2": set(), "conv-user-3": set()}
        for record in captured.events("BotMessageReceived"):
            attributes = record.log_record.attributes or {}
            if "text" in attributes:
                texts[str(attributes["conversationId"])].add(str(attributes["text"]))
        # the message text of the consenting user is recorded too, nobody else's
        assert {"hi", "Grace Hopper", "tomorrow at 7pm"} <= texts["conv-user-2"]
        assert texts["conv-user-3"] == set()
        consent = [dict(r.log_record.attributes or {}) for r in captured.events("ConsentChanged")]
        assert [c["consent"] for c in consent] == ["granted"]
    finally:
        captured.handle.shutdown()
        set_consent_registry(None)


async def test_duration_runs_from_the_prompt_to_the_answer_across_turns(
    opened: CapturedTelemetry,
) -> None:
    adapter, _ = survey_bot()
    await adapter.receive_activity(message("hi"))
    await asyncio.sleep(0.3)  # the user thinks (the time measured, not a wait for a result)
    await adapter.receive_activity(message("Grace"))
    await adapter.receive_activity(message("4"))
    first, second = answered(opened)
    assert 300 <= first["questionDurationMs"] < 5_000
    assert 0 <= second["questionDurationMs"] < first["questionDurationMs"]


async def test_wiring_is_idempotent_and_leaves_other_prompts_alone() -> None:
    state = ConversationState(MemoryStorage())
    dialogs = DialogSet(state.create_property("dialogs"))
    dialogs.add(Survey())
    settings = OAuthPromptSettings("conn", "Sign in", "Please sign in")
    dialogs.add(OAuthPrompt("login", settings))
    assert record_prompt_answers(dialogs) == 6
    assert record_prompt_answers(dialogs) == 0
    with pytest.raises(TypeError, match=r"record_prompt_answers\(\) takes a Dialog"):
        record_prompt_answers("survey")  # type: ignore[arg-type]
