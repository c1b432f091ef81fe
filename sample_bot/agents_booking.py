"""The booking dialog on microsoft-agents-hosting-dialogs (the steps: ``booking_steps.py``)."""

from __future__ import annotations

from microsoft_agents.hosting.core import MessageFactory
from microsoft_agents.hosting.dialogs import ComponentDialog, WaterfallDialog
from microsoft_agents.hosting.dialogs.prompts import (
    ConfirmPrompt,
    NumberPrompt,
    PromptOptions,
    TextPrompt,
)

from .booking_steps import BOOKING_DIALOG, BookingSteps, DialogKit, OnBooked, OnConsent


class BookingDialog(BookingSteps, ComponentDialog):
    kit = DialogKit(
        WaterfallDialog, TextPrompt, NumberPrompt, ConfirmPrompt, PromptOptions, MessageFactory.text
    )

    def __init__(
        self, on_booked: OnBooked | None = None, on_consent: OnConsent | None = None
    ) -> None:
        super().__init__(BOOKING_DIALOG)
        self._add_booking_dialogs(on_booked, on_consent)
