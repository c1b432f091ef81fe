"""Custom event names: what the bot records, and what every query looks for.

from bot_telemetry.contract import BOT_MESSAGE_RECEIVED, luis_intent_event
"""

from __future__ import annotations

from typing import Final

BOT_MESSAGE_RECEIVED: Final = "BotMessageReceived"
BOT_MESSAGE_SEND: Final = "BotMessageSend"
BOT_MESSAGE_UPDATE: Final = "BotMessageUpdate"
BOT_MESSAGE_DELETE: Final = "BotMessageDelete"
QNA_MESSAGE: Final = "QnAMessage"
LUIS_INTENT_PREFIX: Final = "LuisIntent."

#: Events botbuilder's own components emit through a ``BotTelemetryClient``.
WATERFALL_START: Final = "WaterfallStart"
WATERFALL_STEP: Final = "WaterfallStep"
WATERFALL_COMPLETE: Final = "WaterfallComplete"
WATERFALL_CANCEL: Final = "WaterfallCancel"
WATERFALL_EVENTS: Final = (WATERFALL_START, WATERFALL_STEP, WATERFALL_COMPLETE, WATERFALL_CANCEL)
BOTBUILDER_LUIS_RESULT: Final = "LuisResult"
BOTBUILDER_QNA_MESSAGE: Final = "QnaMessage"


def luis_intent_event(intent: str) -> str:
    """The event name for a recognized intent.

    >>> luis_intent_event("BookFlight")
    'LuisIntent.BookFlight'
    """
    return f"{LUIS_INTENT_PREFIX}{intent}"


__all__ = [
    "BOTBUILDER_LUIS_RESULT",
    "BOTBUILDER_QNA_MESSAGE",
    "BOT_MESSAGE_DELETE",
    "BOT_MESSAGE_RECEIVED",
    "BOT_MESSAGE_SEND",
    "BOT_MESSAGE_UPDATE",
    "LUIS_INTENT_PREFIX",
    "QNA_MESSAGE",
    "WATERFALL_CANCEL",
    "WATERFALL_COMPLETE",
    "WATERFALL_EVENTS",
    "WATERFALL_START",
    "WATERFALL_STEP",
    "luis_intent_event",
]
