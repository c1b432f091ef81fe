"""The analytics vocabulary: one set of definitions for every measure, funnel, flow and export.

* **user**: the pseudonymous user id (``enduser.pseudo.id`` on a turn, ``fromId`` on events);
* **conversation**: the channel's conversation id;
* **session**: one user's events with no gap longer than ``SESSION_GAP_SECONDS``;
* **turn**: one ``bot.turn`` span;
* **dialog outcome**: one of ``DIALOG_OUTCOMES``; a dialog is abandoned only when no step
  came within ``ABANDONMENT_SECONDS``, never just because it is recent;
* **fallback turn**: the top intent is ``None`` or scores below ``FALLBACK_SCORE``, or the
  Q&A found no answer;
* **escalation**: a handoff activity; a **contained** conversation engaged the bot and was
  not escalated;
* **slow reply**: a turn that took longer than ``SLOW_TURN_SECONDS``;
* **drop-off cause**: why an entity stopped after a funnel step, one of ``DROP_OFF_CAUSES``
  (the first that applies, in that order) from what happened after the step: a span failed
  or recorded an exception (bot error), a turn was slow, the bot fell back, the conversation
  was handed to a person, the dialog was cancelled, the user did something else, or nothing
  more (the user left).
* **message**: an activity of type ``message``: what a user says, and the bot's replies.
* **the user's doing**: a turn whose activity the user sent (a message, a reaction, an
  edit, a card action or other invoke, an event such as Web Chat's feedback); not one of
  ``CHANNEL_ACTIVITY_TYPES``, which the channel sends on its own, nor an event named in
  ``CLIENT_HOUSEKEEPING_EVENTS``, which the page sends on its own when it opens, nor a
  proactive turn (the bot wrote unasked). Only those make a user active, new, in a session
  or back.
"""

from __future__ import annotations

from typing import Final

SESSION_GAP_SECONDS: Final = 30 * 60
ABANDONMENT_SECONDS: Final = 30 * 60
FALLBACK_SCORE: Final = 0.5
NONE_INTENT: Final = "None"

OUTCOME_COMPLETED: Final = "completed"
OUTCOME_CANCELLED: Final = "cancelled"
OUTCOME_ABANDONED: Final = "abandoned"
OUTCOME_IN_PROGRESS: Final = "in_progress"
DIALOG_OUTCOMES: Final = (
    OUTCOME_COMPLETED,
    OUTCOME_CANCELLED,
    OUTCOME_ABANDONED,
    OUTCOME_IN_PROGRESS,
)

#: The activity type botbuilder uses to hand a conversation to a person.
HANDOFF_ACTIVITY_TYPE: Final = "handoff"
#: The activity type of what a user says (and of the bot's replies): a **message**.
MESSAGE_ACTIVITY_TYPE: Final = "message"
#: The activity type of the bot's answer to an invoke (a Teams card action, messaging
#: extension, task module): sent through the turn, a BotMessageSend, not a chat line.
INVOKE_RESPONSE_ACTIVITY_TYPE: Final = "invokeResponse"
#: Activity types a channel sends on its own, whoever their ``from`` is: the members of a
#: conversation changed (Web Chat opening, the bot added to a team), the bot was installed
#: or added as a contact, someone is typing, the conversation ended. A turn of one is not
#: the user's doing.
CHANNEL_ACTIVITY_TYPES: Final = (
    "conversationUpdate",
    "installationUpdate",
    "contactRelationUpdate",
    "typing",
    "endOfConversation",
)
#: Names of ``event`` activities a chat page sends by itself when it opens, before the user
#: does anything: Web Chat's welcome samples post ``webchat/join`` on connecting, Copilot
#: Studio's canvas ``startConversation``. A turn of one is not the user's doing, like a
#: ``conversationUpdate``; any other event (Web Chat's feedback, a page's own button) is.
CLIENT_HOUSEKEEPING_EVENTS: Final = ("webchat/join", "startConversation")
#: The span event an exception is recorded as (OpenTelemetry's name).
EXCEPTION_EVENT: Final = "exception"
#: The client event (Sunbird eid) that carries a user's rating, under ``sunbird.edata.rating``.
FEEDBACK_EID: Final = "FEEDBACK"

#: A turn slower than this is a slow reply (funnels' drop-off causes; a request may say another).
SLOW_TURN_SECONDS: Final = 3.0

CAUSE_BOT_ERROR: Final = "botError"
CAUSE_SLOW_REPLY: Final = "slowReply"
CAUSE_FALLBACK: Final = "fallback"
CAUSE_ESCALATED: Final = "escalated"
CAUSE_CANCELLED: Final = "cancelled"
CAUSE_WENT_ELSEWHERE: Final = "wentElsewhere"
CAUSE_USER_LEFT: Final = "userLeft"
#: Why an entity dropped off after a funnel step, in the order they are tried.
DROP_OFF_CAUSES: Final = (
    CAUSE_BOT_ERROR,
    CAUSE_SLOW_REPLY,
    CAUSE_FALLBACK,
    CAUSE_ESCALATED,
    CAUSE_CANCELLED,
    CAUSE_WENT_ELSEWHERE,
    CAUSE_USER_LEFT,
)

__all__ = [
    "ABANDONMENT_SECONDS",
    "CAUSE_BOT_ERROR",
    "CAUSE_CANCELLED",
    "CAUSE_ESCALATED",
    "CAUSE_FALLBACK",
    "CAUSE_SLOW_REPLY",
    "CAUSE_USER_LEFT",
    "CAUSE_WENT_ELSEWHERE",
    "CHANNEL_ACTIVITY_TYPES",
    "CLIENT_HOUSEKEEPING_EVENTS",
    "DIALOG_OUTCOMES",
    "DROP_OFF_CAUSES",
    "EXCEPTION_EVENT",
    "FALLBACK_SCORE",
    "FEEDBACK_EID",
    "HANDOFF_ACTIVITY_TYPE",
    "INVOKE_RESPONSE_ACTIVITY_TYPE",
    "MESSAGE_ACTIVITY_TYPE",
    "NONE_INTENT",
    "OUTCOME_ABANDONED",
    "OUTCOME_CANCELLED",
    "OUTCOME_COMPLETED",
    "OUTCOME_IN_PROGRESS",
    "SESSION_GAP_SECONDS",
    "SLOW_TURN_SECONDS",
]
