"""What the sample bot says, for either runtime.

Every message goes to the recognizer first (so Cancel and Help interrupt a booking);
``BookTable`` starts the booking dialog, small talk gets a short answer, anything else
is asked of the Q&A service. A dependency that fails degrades the answer, never the turn.

Two events of its own go to the telemetry client, as a restaurant would want them:
``TableBooked`` (day, guest, party size) and ``QuestionUnanswered`` (the question, so the
knowledge base can grow). Both carry personal data under keys the privacy policy has never
seen; it decides what leaves the bot.

botbuilder's ``TurnContext``, ``DialogSet`` and ``DialogContext`` and the Agents SDK's
have the same methods, so ``Conversation`` takes either; each runtime's bot
(``bot.py``, ``agents_bot.py``) only wires it to its pipeline and state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .booking_steps import BOOKING_DIALOG, CONSENT_OPTION, Booking, booking_from_entities
from .http_clients import ServiceError

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
#: What the welcome offers to say, one click each.
SUGGESTIONS = ("book a table", "when are you open?", "help")
# Below this score an intent is not trusted to interrupt a dialog ("4" is not a booking).
INTERRUPT_SCORE = 0.6


@dataclass(frozen=True)
class Replies:
    """A runtime's way of building the richer replies (``replies.py``, ``agents_replies.py``):
    suggested actions under the welcome, thumbs up/down under answers."""

    with_suggestions: Callable[[str], Any]
    with_feedback: Callable[[str], Any]


class Conversation:
    """The sample's replies: ``recognizer`` has ``recognize(turn_context)``, ``qna`` has
    ``get_answers(turn_context)``, ``telemetry_client`` has ``track_event(name,
    properties, measurements)`` (either runtime's client)."""

    def __init__(self, recognizer: Any, qna: Any, replies: Replies, telemetry_client: Any) -> None:
        self.recognizer = recognizer
        self.qna = qna
        self.replies = replies
        self.telemetry_client = telemetry_client

    async def welcome(self, turn_context: Any, members_added: list[Any]) -> None:
        for member in members_added:
            if member.id != turn_context.activity.recipient.id:
                await turn_context.send_activity(self.replies.with_suggestions(WELCOME))

    def booked(self, booking: Booking) -> None:
        """Record a confirmed booking."""
        self.telemetry_client.track_event(
            "TableBooked",
            {"day": booking.day, "guest": booking.name},
            {"partySize": booking.party_size or 0},
        )

    async def on_message(
        self, turn_context: Any, dialogs: Any, consent: bool | None = None
    ) -> None:
        """Answer a message; ``dialogs`` is the runtime's ``DialogSet`` holding the booking,
        ``consent`` the user's earlier answer to the consent question (None: not asked yet)."""
        result = await self._recognize(turn_context)
        intent, score = top_intent(result)
        dialog_context = await dialogs.create_context(turn_context)
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
            options = {**asdict(booking), CONSENT_OPTION: consent}
            await dialog_context.begin_dialog(BOOKING_DIALOG, options)
        elif intent in REPLIES:
            await turn_context.send_activity(REPLIES[intent])
        else:
            await self._answer(turn_context)

    async def _recognize(self, turn_context: Any) -> Any:
        try:
            return await self.recognizer.recognize(turn_context)
        except ServiceError as error:
            # Without intents the bot still continues dialogs and asks the Q&A service.
            _log.warning("recognizer failed: %s", error)
            return None

    async def _answer(self, turn_context: Any) -> None:
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
            await turn_context.send_activity(self.replies.with_feedback(best.answer))


def top_intent(result: Any) -> tuple[str, float]:
    """The best intent and its score (``None``, 0 when there is no result)."""
    intents = getattr(result, "intents", None)
    if not isinstance(intents, Mapping) or not intents:
        return "None", 0.0
    name, score = max(
        ((str(n), float(getattr(s, "score", 0.0) or 0.0)) for n, s in intents.items()),
        key=lambda pair: pair[1],
    )
    return name, score
