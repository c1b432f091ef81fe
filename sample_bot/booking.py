"""The booking dialog: a four-question task a user can finish, cancel or walk away from.

consent -> day -> party size -> name -> confirm. A user who has not said yet whether their
answers may be kept is asked first (the answer is recorded as their consent, see
``bot_telemetry.bot.consent``). Answers the recognizer already found in the first message
("a table for 4 on friday") skip their question. Each step is a WaterfallStep event, so
abandoned bookings show where users leave; each answer to a prompt is a PromptAnswered
event, what a data exhaust exports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from botbuilder.core import MessageFactory
from botbuilder.dialogs import (
    ComponentDialog,
    DialogTurnResult,
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

BOOKING_DIALOG = "booking"
MAX_PARTY = 12
CONSENT_QUESTION = (
    "Before we start: may we keep your answers and your contact id to improve our service?"
)
#: The key of the booking's options that carries the user's earlier consent decision.
CONSENT_OPTION = "consent"


@dataclass
class Booking:
    day: str | None = None
    party_size: int | None = None
    name: str | None = None

    def summary(self) -> str:
        return f"a table for {self.party_size} on {self.day}, under the name {self.name}"


def booking_from_entities(entities: dict[str, Any]) -> Booking:
    """What a LUIS v3 result already tells us: ``{"day": [["friday"]], "number": [4]}``."""
    booking = Booking()
    days = entities.get("day") or []
    if days and isinstance(days[0], list) and days[0]:
        booking.day = str(days[0][0])
    numbers = [n for n in entities.get("number") or [] if isinstance(n, int | float)]
    if numbers and 1 <= numbers[0] <= MAX_PARTY:
        booking.party_size = int(numbers[0])
    return booking


class BookingDialog(ComponentDialog):  # type: ignore[misc]
    def __init__(self, on_booked: Any = None, on_consent: Any = None) -> None:
        super().__init__(BOOKING_DIALOG)
        self._on_booked = on_booked
        self._on_consent = on_consent
        self.add_dialog(
            WaterfallDialog(
                "booking.steps",
                [
                    self._consent,
                    self._day,
                    self._party_size,
                    self._name,
                    self._confirm,
                    self._finish,
                ],
            )
        )
        self.add_dialog(ConfirmPrompt("booking.consent", default_locale="en-us"))
        self.add_dialog(TextPrompt("booking.day"))
        self.add_dialog(NumberPrompt("booking.party", _valid_party_size, default_locale="en-us"))
        self.add_dialog(TextPrompt("booking.name"))
        self.add_dialog(ConfirmPrompt("booking.confirm", default_locale="en-us"))
        self.initial_dialog_id = "booking.steps"

    async def _consent(self, step: WaterfallStepContext) -> DialogTurnResult:
        options = dict(step.options) if isinstance(step.options, dict) else {}
        decided = options.pop(CONSENT_OPTION, None)
        # Dialog state is stored (Blob Storage serialises it as JSON): keep plain values there.
        step.values["booking"] = asdict(Booking(**options))
        if decided is not None:
            return await step.next(None)
        return await step.prompt(
            "booking.consent", PromptOptions(prompt=MessageFactory.text(CONSENT_QUESTION))
        )

    async def _day(self, step: WaterfallStepContext) -> DialogTurnResult:
        if isinstance(step.result, bool) and self._on_consent is not None:
            await self._on_consent(step.context, step.result)
        booking = Booking(**step.values["booking"])
        if booking.day:
            return await step.next(booking.day)
        return await step.prompt(
            "booking.day",
            PromptOptions(prompt=MessageFactory.text("Which day would you like to come?")),
        )

    async def _party_size(self, step: WaterfallStepContext) -> DialogTurnResult:
        booking = _update(step, day=str(step.result))
        if booking.party_size:
            return await step.next(booking.party_size)
        return await step.prompt(
            "booking.party",
            PromptOptions(
                prompt=MessageFactory.text("How many people?"),
                retry_prompt=MessageFactory.text(f"Please give a number from 1 to {MAX_PARTY}."),
            ),
        )

    async def _name(self, step: WaterfallStepContext) -> DialogTurnResult:
        _update(step, party_size=int(step.result))
        return await step.prompt(
            "booking.name",
            PromptOptions(prompt=MessageFactory.text("What name is the booking under?")),
        )

    async def _confirm(self, step: WaterfallStepContext) -> DialogTurnResult:
        booking = _update(step, name=str(step.result))
        return await step.prompt(
            "booking.confirm",
            PromptOptions(
                prompt=MessageFactory.text(f"So that's {booking.summary()}. Shall I book it?")
            ),
        )

    async def _finish(self, step: WaterfallStepContext) -> DialogTurnResult:
        booking = Booking(**step.values["booking"])
        if step.result:
            if self._on_booked is not None:
                await self._on_booked(step.context, booking)
            await step.context.send_activity(f"Booked: {booking.summary()}. See you then!")
        else:
            await step.context.send_activity("All right, I haven't booked anything.")
        return await step.end_dialog(asdict(booking) if step.result else None)


def _update(step: WaterfallStepContext, **answers: Any) -> Booking:
    values: dict[str, Any] = step.values["booking"]
    values.update(answers)
    return Booking(**values)


async def _valid_party_size(prompt: PromptValidatorContext) -> bool:
    value = prompt.recognized.value
    return bool(prompt.recognized.succeeded and value is not None and 1 <= value <= MAX_PARTY)
