"""The booking's steps, for either runtime's dialogs.

consent -> day -> party size -> name -> confirm. A user who has not said yet whether their
answers may be kept is asked first; the bot records the answer as their consent
(``record_consent``, see docs/exhaust.md). Answers the recognizer already found in the first
message ("a table for 4 on friday") skip their question. Each step is a WaterfallStep
event, so abandoned bookings show where users leave; each answer to a prompt is a
PromptAnswered event, what a data exhaust exports.

botbuilder-dialogs and microsoft-agents-hosting-dialogs have the same dialog API
(``ComponentDialog``, ``WaterfallDialog``, prompts, ``PromptOptions``) in different
packages: each runtime's ``BookingDialog`` (``booking.py``, ``agents_booking.py``) is a
``ComponentDialog`` mixing in ``BookingSteps`` and naming its runtime's classes in a
``DialogKit``. The step names (``BookingSteps._day``, ...) are the same on both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

BOOKING_DIALOG = "booking"
MAX_PARTY = 12
CONSENT_QUESTION = (
    "Before we start: may we keep your answers and your contact id to improve our service?"
)
#: The key of the booking's options that carries the user's earlier consent decision.
CONSENT_OPTION = "consent"

#: ``on_booked(turn_context, booking)``, awaited when a booking is confirmed.
OnBooked = Callable[[Any, "Booking"], Awaitable[None]]
#: ``on_consent(turn_context, granted)``, awaited with the answer to the consent question.
OnConsent = Callable[[Any, bool], Awaitable[None]]


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


@dataclass(frozen=True)
class DialogKit:
    """One runtime's dialog classes."""

    waterfall: Any
    text_prompt: Any
    number_prompt: Any
    confirm_prompt: Any
    prompt_options: Any
    text: Callable[[str], Any]  # MessageFactory.text


class BookingSteps:
    """The steps; mixed into a runtime's ``ComponentDialog`` (which provides
    ``add_dialog`` and ``initial_dialog_id``)."""

    kit: DialogKit
    add_dialog: Callable[[Any], Any]
    initial_dialog_id: str

    def _add_booking_dialogs(
        self, on_booked: OnBooked | None, on_consent: OnConsent | None = None
    ) -> None:
        kit = self.kit
        self._on_booked = on_booked
        self._on_consent = on_consent
        self.add_dialog(
            kit.waterfall(
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
        self.add_dialog(kit.confirm_prompt("booking.consent", default_locale="en-us"))
        self.add_dialog(kit.text_prompt("booking.day"))
        self.add_dialog(
            kit.number_prompt("booking.party", _valid_party_size, default_locale="en-us")
        )
        self.add_dialog(kit.text_prompt("booking.name"))
        self.add_dialog(kit.confirm_prompt("booking.confirm", default_locale="en-us"))
        self.initial_dialog_id = "booking.steps"

    def _ask(self, text: str, retry: str | None = None) -> Any:
        kit = self.kit
        if retry is None:
            return kit.prompt_options(prompt=kit.text(text))
        return kit.prompt_options(prompt=kit.text(text), retry_prompt=kit.text(retry))

    async def _consent(self, step: Any) -> Any:
        options = dict(step.options) if isinstance(step.options, dict) else {}
        decided = options.pop(CONSENT_OPTION, None)
        # Dialog state is stored (Blob Storage serialises it as JSON): keep plain values there.
        step.values["booking"] = asdict(Booking(**options))
        if decided is not None:
            return await step.next(None)
        return await step.prompt("booking.consent", self._ask(CONSENT_QUESTION))

    async def _day(self, step: Any) -> Any:
        if isinstance(step.result, bool) and self._on_consent is not None:
            await self._on_consent(step.context, step.result)
        booking = Booking(**step.values["booking"])
        if booking.day:
            return await step.next(booking.day)
        return await step.prompt("booking.day", self._ask("Which day would you like to come?"))

    async def _party_size(self, step: Any) -> Any:
        booking = _update(step, day=str(step.result))
        if booking.party_size:
            return await step.next(booking.party_size)
        return await step.prompt(
            "booking.party",
            self._ask("How many people?", f"Please give a number from 1 to {MAX_PARTY}."),
        )

    async def _name(self, step: Any) -> Any:
        _update(step, party_size=int(step.result))
        return await step.prompt("booking.name", self._ask("What name is the booking under?"))

    async def _confirm(self, step: Any) -> Any:
        booking = _update(step, name=str(step.result))
        return await step.prompt(
            "booking.confirm", self._ask(f"So that's {booking.summary()}. Shall I book it?")
        )

    async def _finish(self, step: Any) -> Any:
        booking = Booking(**step.values["booking"])
        if step.result:
            if self._on_booked is not None:
                await self._on_booked(step.context, booking)
            await step.context.send_activity(f"Booked: {booking.summary()}. See you then!")
        else:
            await step.context.send_activity("All right, I haven't booked anything.")
        return await step.end_dialog(asdict(booking) if step.result else None)


def _update(step: Any, **answers: Any) -> Booking:
    values: dict[str, Any] = step.values["booking"]
    values.update(answers)
    return Booking(**values)


async def _valid_party_size(prompt: Any) -> bool:
    value = prompt.recognized.value
    return bool(prompt.recognized.succeeded and value is not None and 1 <= value <= MAX_PARTY)
