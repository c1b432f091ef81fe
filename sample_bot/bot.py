"""``SampleBot``: a restaurant bot that books tables and answers questions, on botbuilder.

What it says is ``conversation.Conversation`` (shared with the Agents SDK variant,
``agents_bot.py``); this wires it to botbuilder's ``ActivityHandler`` and state.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from botbuilder.core import (
    ActivityHandler,
    BotTelemetryClient,
    ConversationState,
    NullTelemetryClient,
    Recognizer,
    TurnContext,
    UserState,
)
from botbuilder.dialogs import DialogSet
from botbuilder.schema import ChannelAccount

from bot_telemetry.bot.consent import record_consent

from .booking import Booking, BookingDialog
from .conversation import (
    HELP,
    INTERRUPT_SCORE,
    NO_ANSWER,
    QNA_DOWN,
    REPLIES,
    WELCOME,
    Conversation,
    Replies,
)
from .replies import with_feedback, with_suggestions

__all__ = [
    "HELP",
    "INTERRUPT_SCORE",
    "NO_ANSWER",
    "QNA_DOWN",
    "REPLIES",
    "WELCOME",
    "SampleBot",
]


class SampleBot(ActivityHandler):  # type: ignore[misc]
    def __init__(
        self,
        conversation_state: ConversationState,
        user_state: UserState,
        recognizer: Recognizer,
        qna: Any,
        dialog: BookingDialog | None = None,
        telemetry_client: BotTelemetryClient | None = None,
    ) -> None:
        self.conversation_state = conversation_state
        self.user_state = user_state
        self.telemetry_client = telemetry_client or NullTelemetryClient()
        self.conversation = Conversation(
            recognizer, qna, Replies(with_suggestions, with_feedback), self.telemetry_client
        )
        self.dialog_state = conversation_state.create_property("DialogState")
        self.bookings = user_state.create_property("Bookings")
        self.consent = user_state.create_property("Consent")
        self.dialog = dialog or BookingDialog(on_booked=self._remember, on_consent=self._consent)
        self.dialogs = DialogSet(self.dialog_state)
        self.dialogs.add(self.dialog)

    async def on_turn(self, turn_context: TurnContext) -> None:
        await super().on_turn(turn_context)
        await self.conversation_state.save_changes(turn_context)
        await self.user_state.save_changes(turn_context)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        await self.conversation.welcome(turn_context, members_added)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        consent = await self.consent.get(turn_context, lambda: None)
        await self.conversation.on_message(turn_context, self.dialogs, consent)

    async def _consent(self, turn_context: TurnContext, granted: bool) -> None:
        """The answer to the consent question: kept with the user, and recorded (under the
        sample's consent mode, their personal data is recorded from now on)."""
        await self.consent.set(turn_context, granted)
        await record_consent(turn_context, granted)

    async def _remember(self, turn_context: TurnContext, booking: Booking) -> None:
        bookings = await self.bookings.get(turn_context, list)
        bookings.append(asdict(booking))
        self.conversation.booked(booking)
