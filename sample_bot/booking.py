"""The booking dialog on botbuilder-dialogs: a four-question task a user can finish,
cancel or walk away from (the steps: ``booking_steps.py``)."""

from __future__ import annotations

from botbuilder.core import MessageFactory
from botbuilder.dialogs import ComponentDialog, WaterfallDialog
from botbuilder.dialogs.prompts import ConfirmPrompt, NumberPrompt, PromptOptions, TextPrompt

from .booking_steps import (
    BOOKING_DIALOG,
    MAX_PARTY,
    Booking,
    BookingSteps,
    DialogKit,
    OnBooked,
    OnConsent,
    booking_from_entities,
)

__all__ = ["BOOKING_DIALOG", "MAX_PARTY", "Booking", "BookingDialog", "booking_from_entities"]


class BookingDialog(BookingSteps, ComponentDialog):  # type: ignore[misc]
    kit = DialogKit(
        WaterfallDialog, TextPrompt, NumberPrompt, ConfirmPrompt, PromptOptions, MessageFactory.text
    )

    def __init__(
        self, on_booked: OnBooked | None = None, on_consent: OnConsent | None = None
    ) -> None:
        super().__init__(BOOKING_DIALOG)
        self._add_booking_dialogs(on_booked, on_consent)
