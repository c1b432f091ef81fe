"""The sample bot on the Microsoft 365 Agents SDK: the same conversation as ``SampleBot``
(``conversation.py``), as an ``AgentApplication``'s routes.

botbuilder's ``ActivityHandler`` saves state in ``on_turn``; an ``AgentApplication``
loads its ``TurnState`` before the route and saves it after, so the routes only use it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState
from microsoft_agents.hosting.dialogs import DialogSet

from bot_telemetry.agents.consent import record_consent

from . import agents_replies
from .agents_booking import BookingDialog
from .booking_steps import Booking
from .conversation import Conversation, Replies

DIALOG_STATE = "DialogState"
BOOKINGS = "Bookings"
CONSENT = "Consent"
#: Where a message route leaves its TurnState for the booking dialog's callback, which is
#: handed only the turn context.
TURN_STATE_KEY = "sample_bot.turn_state"


class AgentsSampleBot:
    """Adds the sample's routes to ``app``."""

    def __init__(
        self,
        app: AgentApplication[TurnState],
        recognizer: Any,
        qna: Any,
        telemetry_client: Any,
    ) -> None:
        replies = Replies(agents_replies.with_suggestions, agents_replies.with_feedback)
        self.conversation = Conversation(recognizer, qna, replies, telemetry_client)
        self.dialog = BookingDialog(on_booked=self._remember, on_consent=self._consent)
        app.conversation_update("membersAdded")(self._on_members_added)
        app.activity("message")(self._on_message)

    async def _on_members_added(self, context: TurnContext, state: TurnState) -> None:
        await self.conversation.welcome(context, list(context.activity.members_added or []))

    async def _on_message(self, context: TurnContext, state: TurnState) -> None:
        context.turn_state[TURN_STATE_KEY] = state
        dialogs = DialogSet(state.conversation.create_property(DIALOG_STATE))
        dialogs.add(self.dialog)
        consent = await state.user.create_property(CONSENT).get(context, lambda: None)
        await self.conversation.on_message(context, dialogs, consent)

    async def _consent(self, context: TurnContext, granted: bool) -> None:
        """The answer to the consent question: kept with the user, and recorded."""
        state: TurnState = context.turn_state[TURN_STATE_KEY]
        await state.user.create_property(CONSENT).set(context, granted)
        await record_consent(context, granted)

    async def _remember(self, context: TurnContext, booking: Booking) -> None:
        state: TurnState = context.turn_state[TURN_STATE_KEY]
        accessor = state.user.create_property(BOOKINGS)
        bookings = await accessor.get(context, list)
        bookings.append(asdict(booking))
        await accessor.set(context, bookings)
        self.conversation.booked(booking)
