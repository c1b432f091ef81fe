"""The telemetry contract: event names, event property keys and span attribute keys.

Other layers (dependencies, collector, analytics) import these instead of spelling the
strings again, so a renamed key breaks at import time rather than in a dashboard.
Property keys are botbuilder's camelCase, so existing Application Insights queries over
``customDimensions`` keep working.

    from bot_telemetry.bot.contract import BOT_MESSAGE_RECEIVED, CONVERSATION_ID
"""

from __future__ import annotations

from typing import Final

# --- custom event names ---------------------------------------------------------------
BOT_MESSAGE_RECEIVED: Final = "BotMessageReceived"
BOT_MESSAGE_SEND: Final = "BotMessageSend"
BOT_MESSAGE_UPDATE: Final = "BotMessageUpdate"
BOT_MESSAGE_DELETE: Final = "BotMessageDelete"
QNA_MESSAGE: Final = "QnAMessage"
LUIS_INTENT_PREFIX: Final = "LuisIntent."

#: Events botbuilder's own components emit through a ``BotTelemetryClient``.
WATERFALL_EVENTS: Final = (
    "WaterfallStart",
    "WaterfallStep",
    "WaterfallComplete",
    "WaterfallCancel",
)
BOTBUILDER_LUIS_RESULT: Final = "LuisResult"
BOTBUILDER_QNA_MESSAGE: Final = "QnaMessage"


def luis_intent_event(intent: str) -> str:
    """The event name for a recognized intent.

    >>> luis_intent_event("BookFlight")
    'LuisIntent.BookFlight'
    """
    return f"{LUIS_INTENT_PREFIX}{intent}"


# --- custom event property keys -------------------------------------------------------
ACTIVITY_ID: Final = "activityId"
ACTIVITY_TYPE: Final = "activityType"
CHANNEL_ID: Final = "channelId"
CONVERSATION_ID: Final = "conversationId"
CONVERSATION_NAME: Final = "conversationName"
CORRELATION_ID: Final = "correlationId"
FROM_ID: Final = "fromId"
FROM_NAME: Final = "fromName"
RECIPIENT_ID: Final = "recipientId"
RECIPIENT_NAME: Final = "recipientName"
REPLY_ACTIVITY_ID: Final = "replyActivityId"
LOCALE: Final = "locale"
TEXT: Final = "text"
SPEAK: Final = "speak"
ATTACHMENTS: Final = "attachments"
INTENT: Final = "intent"
INTENT_SCORE: Final = "intentScore"
ENTITIES: Final = "entities"
SENTIMENT_LABEL: Final = "sentimentLabel"
SENTIMENT_SCORE: Final = "sentimentScore"
QUESTION: Final = "question"
ORIGINAL_QUESTION: Final = "originalQuestion"
USERNAME: Final = "username"
ANSWER: Final = "answer"
SCORE: Final = "score"
ARTICLE_FOUND: Final = "articleFound"
KNOWLEDGE_BASE_ID: Final = "knowledgeBaseId"
QUESTION_ID: Final = "questionId"
MATCHED_QUESTION: Final = "matchedQuestion"

#: Properties every BotMessage* event carries.
ACTIVITY_PROPERTIES: Final = (ACTIVITY_ID, ACTIVITY_TYPE, CHANNEL_ID, CONVERSATION_ID)

# --- spans ----------------------------------------------------------------------------
#: The name of the turn span; the collector finds turns by it.
TURN_SPAN_NAME: Final = "bot.turn"

ATTR_ACTIVITY_ID: Final = "activity.id"
ATTR_ACTIVITY_TYPE: Final = "activity.type"
ATTR_CHANNEL_ID: Final = "activity.channel_id"
#: The collector groups traces into conversations by this attribute.
ATTR_CONVERSATION_ID: Final = "activity.conversation.id"
ATTR_GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
ATTR_SESSION_ID: Final = "session.id"
ATTR_ENDUSER_PSEUDO_ID: Final = "enduser.pseudo.id"

ATTR_PEER_SERVICE: Final = "peer.service"
ATTR_SERVICE_PEER_NAME: Final = "service.peer.name"
ATTR_SERVER_ADDRESS: Final = "server.address"
ATTR_SERVER_PORT: Final = "server.port"
ATTR_DB_SYSTEM_NAME: Final = "db.system.name"
ATTR_DB_NAMESPACE: Final = "db.namespace"

#: The log record attribute Azure Monitor turns into a customEvents row.
CUSTOM_EVENT_NAME: Final = "microsoft.custom_event.name"
