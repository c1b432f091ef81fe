"""Survey answers from botbuilder's real adapter, dialogs and prompts, for the exhaust tests.

Three users on an SMS-like channel (real ids are phone numbers) answer the same survey (name,
party size with one invalid answer, confirm): ``consenting`` grants consent first,
``silent`` never answers the consent question, ``withdrawn`` grants, answers, then withdraws.
The bot runs with personal data recorded for everyone (so the export's own consent rule is
what hides answers), pseudonyms keyed with a known key, and an identity vault.

What was driven is returned beside the OTLP export requests, so tests compute the expected
files from it, not from a query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botbuilder.core import ConversationState, MemoryStorage, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.dialogs import (
    ComponentDialog,
    DialogSet,
    DialogTurnStatus,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.prompts import (
    ConfirmPrompt,
    NumberPrompt,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
)
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from bot_telemetry import PrivacyPolicy, TelemetryMiddleware
from bot_telemetry.bot.consent import record_consent
from bot_telemetry.bot.prompts import record_prompt_answers
from bot_telemetry.privacy import IdentityVault
from bot_telemetry.privacy.vault import new_key
from tests.support.telemetry import capture

PSEUDONYM_KEY = "exhaust-tests-pseudonym-key"
POLICY = PrivacyPolicy(log_personal_information=True, pseudonymization_key=PSEUDONYM_KEY)
VAULT_KEYS = f"k1:{new_key()}"
BOT = "survey-bot"
USERS = {"consenting": "+447700900001", "silent": "+447700900002", "withdrawn": "+447700900003"}
#: What each user types, in order; the second size is out of range and asked again.
ANSWERS = ("Grace Hopper", "20", "4", "yes")
#: (question id, type, title) per answer, and the recognised response as JSON.
QUESTIONS = (
    ("survey.steps#0", "text", "What is your name?"),
    ("survey.steps#1", "number", "How many people?"),
    ("survey.steps#1", "number", "How many people?"),
    ("survey.steps#2", "confirm", "Shall I book it?"),
)
RESPONSES = ('"Grace Hopper"', "20", "4", "true")
SCORES = ("1", "0", "1", "1")
EOFS = ("false", "false", "false", "true")


async def _size(prompt: PromptValidatorContext) -> bool:
    return bool(prompt.recognized.succeeded and 1 <= prompt.recognized.value <= 12)


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
        options = _ask("How many people?")
        options.retry_prompt = Activity(type=ActivityTypes.message, text="From 1 to 12, please.")
        return await step.prompt("survey.size", options)

    async def ok(self, step: WaterfallStepContext) -> Any:
        return await step.prompt("survey.ok", _ask("Shall I book it?"))

    async def end(self, step: WaterfallStepContext) -> Any:
        return await step.end_dialog(step.result)


def _ask(text: str) -> PromptOptions:
    return PromptOptions(prompt=Activity(type=ActivityTypes.message, text=text))


@dataclass
class Driven:
    requests: list[ExportLogsServiceRequest] = field(default_factory=list)
    answers: int = 0

    @staticmethod
    def pseudonym(real_id: str) -> str:
        return POLICY.pseudonymize(real_id)


def _message(text: str, user: str) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        text=text,
        channel_id="sms",
        from_property=ChannelAccount(id=user, name="Grace Hopper"),
        conversation=ConversationAccount(id=f"sms-{user}"),
        locale="en-us",
    )


async def drive(vault: IdentityVault) -> Driven:
    """The three users' turns through the real pipeline; their telemetry as OTLP requests."""
    captured = capture(BOT, POLICY)
    try:
        state = ConversationState(MemoryStorage())
        dialogs = DialogSet(state.create_property("dialogs"))
        dialogs.add(Survey())
        record_prompt_answers(dialogs)

        async def bot(context: TurnContext) -> None:
            text = context.activity.text
            if text in ("I agree", "I withdraw"):
                await record_consent(context, text == "I agree", vault=vault)
                return
            dialog_context = await dialogs.create_context(context)
            result = await dialog_context.continue_dialog()
            if result.status == DialogTurnStatus.Empty:
                await dialog_context.begin_dialog("survey")
            await state.save_changes(context)

        adapter = TestAdapter(bot)
        adapter.use(TelemetryMiddleware())
        driven = Driven()
        for role, user in USERS.items():
            if role in ("consenting", "withdrawn"):
                await adapter.receive_activity(_message("I agree", user))
            await adapter.receive_activity(_message("start", user))
            for text in ANSWERS:
                await adapter.receive_activity(_message(text, user))
                driven.answers += 1
            if role == "withdrawn":
                await adapter.receive_activity(_message("I withdraw", user))
        driven.requests.append(encode_logs(list(captured.logs())))
        return driven
    finally:
        captured.handle.shutdown()


def expected_responses(role: str) -> list[str]:
    """The Question Response column for a user's four answers."""
    return list(RESPONSES) if role == "consenting" else [""] * len(RESPONSES)


def as_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
