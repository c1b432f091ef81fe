"""``SampleBot``: a restaurant bot that books tables and answers questions.

Every message goes to the recognizer first (so Cancel and Help interrupt a booking);
``BookTable`` starts the booking dialog, small talk gets a short answer, anything else
is asked of the Q&A service. A dependency that fails degrades the answer, never the turn.

Two events of its own go to the telemetry client, as a restaurant would want them:
``TableBooked`` (day, guest, party size) and ``QuestionUnanswered`` (the question, so the
knowledge base can grow). Both carry personal data under keys the privacy policy has never
seen; it decides what leaves the bot.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from botbuilder.core import (
    ActivityHandler,
    BotTelemetryClient,
    ConversationState,
    NullTelemetryClient,
    Recognizer,
    RecognizerResult,
    TurnContext,
    UserState,
)
from botbuilder.dialogs import DialogSet
from botbuilder.schema import ChannelAccount

from bot_telemetry.bot.consent import record_consent

from .booking import BOOKING_DIALOG, CONSENT_OPTION, Booking, BookingDialog, booking_from_entities
from .http_clients import ServiceError
from .replies import with_feedback, with_suggestions

_log = logging.getLogger(__name__)

WELCOME = "Welcome to the Corner Bistro! I can book a table or answer questions about us."
HELP = (
    "Say 'book a table' to make a booking (say 'cancel' at any time), "
    "or ask me things like 'when are you open?'."
)
NO_ANSWER = (
    "Sorry, I don't know that one. Try 'book a table', or ask about opening hours or parking."
)
QNA_DOWN = "Sorry, I can't look that up right now. Please try again in a moment."
REPLIES = {
    "Greeting": "Hello! How can I help? You can book a table or ask me a question.",
    "Help": HELP,
    "Goodbye": "Goodbye, hope to see you soon!",
    "Cancel": "There's nothing to cancel.",
}
# Below this score an intent is not trusted to interrupt a dialog ("4" is not a booking).
INTERRUPT_SCORE = 0.6


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
        self.recognizer = recognizer
        self.qna = qna
        self.dialog_state = conversation_state.create_property("DialogState")
        self.bookings = user_state.create_property("Bookings")
        self.consent = user_state.create_property("Consent")
        self.telemetry_client = telemetry_client or NullTelemetryClient()
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
        for member in members_added:
            if member.id != turn_context.activity.recipient.id:
                await turn_context.send_activity(with_suggestions(WELCOME))

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        result = await self._recognize(turn_context)
        intent, score = _top(result)
        dialog_context = await self.dialogs.create_context(turn_context)
        if dialog_context.active_dialog is not None:
            if intent == "Cancel" and score >= INTERRUPT_SCORE:
                await dialog_context.cancel_all_dialogs()
                await turn_context.send_activity("OK, I've cancelled the booking.")
            elif intent == "Help" and score >= INTERRUPT_SCORE:
                await turn_context.send_activity(HELP)
                await dialog_context.reprompt_dialog()
            else:
                await dialog_context.continue_dialog()
            return
        if intent == "BookTable":
            booking = booking_from_entities(result.entities if result else {})
            decided = await self.consent.get(turn_context, lambda: None)
            options = {**asdict(booking), CONSENT_OPTION: decided}
            await dialog_context.begin_dialog(BOOKING_DIALOG, options)
        elif intent in REPLIES:
            await turn_context.send_activity(REPLIES[intent])
        else:
            await self._answer(turn_context)

    async def _recognize(self, turn_context: TurnContext) -> RecognizerResult | None:
        try:
            result: RecognizerResult = await self.recognizer.recognize(turn_context)
            return result
        except ServiceError as error:
            # Without intents the bot still continues dialogs and asks the Q&A service.
            _log.warning("recognizer failed: %s", error)
            return None

    async def _answer(self, turn_context: TurnContext) -> None:
        try:
            answers = await self.qna.get_answers(turn_context)
        except ServiceError as error:
            _log.warning("qna failed: %s", error)
            await turn_context.send_activity(QNA_DOWN)
            return
        best = answers[0] if answers else None
        if best is None or best.id < 0:
            self.telemetry_client.track_event(
                "QuestionUnanswered", {"userQuestion": turn_context.activity.text}
            )
            await turn_context.send_activity(NO_ANSWER)
        else:
            await turn_context.send_activity(with_feedback(best.answer))

    async def _consent(self, turn_context: TurnContext, granted: bool) -> None:
        """The answer to the consent question: kept with the user, and recorded (under the
        sample's consent mode, their personal data is recorded from now on)."""
        await self.consent.set(turn_context, granted)
        await record_consent(turn_context, granted)

    async def _remember(self, turn_context: TurnContext, booking: Booking) -> None:
        bookings = await self.bookings.get(turn_context, list)
        bookings.append(asdict(booking))
        self.telemetry_client.track_event(
            "TableBooked",
            {"day": booking.day, "guest": booking.name},
            {"partySize": booking.party_size or 0},
        )


def _top(result: RecognizerResult | None) -> tuple[str, float]:
    if result is None or not result.intents:
        return "None", 0.0
    top = result.get_top_scoring_intent()
    return top.intent, float(top.score or 0.0)
