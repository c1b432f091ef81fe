"""Custom event property keys: botbuilder's camelCase, so existing Application Insights
queries over ``customDimensions`` keep working."""

from __future__ import annotations

from typing import Final

ACTIVITY_ID: Final = "activityId"
ACTIVITY_TYPE: Final = "activityType"
#: BotMessageReceived's: what an invoke or event activity names (``adaptiveCard/action``);
#: not botbuilder's, absent when the activity has no name.
ACTIVITY_NAME: Final = "activityName"
#: BotMessageReceived's, ours, on a ``messageReaction``: the reaction types added or
#: removed (``like``, ``heart``), comma-separated; ``replyActivityId`` is the message they
#: are about.
REACTIONS_ADDED: Final = "reactionsAdded"
REACTIONS_REMOVED: Final = "reactionsRemoved"
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
#: An answer a model wrote (an LLM), not a knowledge base's text: personal, like message text.
GENERATED_ANSWER: Final = "generatedAnswer"
SCORE: Final = "score"
ARTICLE_FOUND: Final = "articleFound"
KNOWLEDGE_BASE_ID: Final = "knowledgeBaseId"
QUESTION_ID: Final = "questionId"
MATCHED_QUESTION: Final = "matchedQuestion"
#: botbuilder-ai's LuisResult event (``LuisTelemetryConstants``).
APPLICATION_ID: Final = "applicationId"
#: Ours, on a recognizer result (``LuisIntent.<Intent>``): the ``name`` of the
#: ``TelemetryRecognizer`` that recorded it (its app-map node), so a bot asking two
#: recognizers sees each one's intents apart, in every backend.
RECOGNIZER: Final = "recognizer"
INTENT_2: Final = "intent2"
INTENT_SCORE_2: Final = "intentScore2"
#: botbuilder's Teams properties on BotMessageReceived.
TEAMS_TENANT_ID: Final = "TeamsTenantId"
TEAMS_USER_AAD_OBJECT_ID: Final = "TeamsUserAadObjectId"
TEAMS_TEAM_INFO: Final = "TeamsTeamInfo"
#: botbuilder's waterfall events.
DIALOG_ID: Final = "DialogId"
STEP_NAME: Final = "StepName"
INSTANCE_ID: Final = "InstanceId"

#: Properties every BotMessage* event carries.
ACTIVITY_PROPERTIES: Final = (ACTIVITY_ID, ACTIVITY_TYPE, CHANNEL_ID, CONVERSATION_ID)
#: Besides ACTIVITY_PROPERTIES, every custom event recorded inside a turn carries these: the
#: pseudonymous user id and the session id, under the turn span's attribute names.
TURN_IDENTITY_KEYS: Final = ("enduser.pseudo.id", "session.id")

#: Properties of a custom event the embedded store keeps in columns of their own (filled at
#: ingest), so the event queries never parse JSON: column name -> the properties it holds, the
#: first one present wins (the user: the turn's pseudonymous id, else fromId).
PROMOTED_EVENT_PROPERTIES: Final = {
    "user_id": (TURN_IDENTITY_KEYS[0], FROM_ID),
    "session_id": (TURN_IDENTITY_KEYS[1],),
    "channel_id": (CHANNEL_ID,),
    "dialog_id": (DIALOG_ID,),
    "activity_type": (ACTIVITY_TYPE,),
    "locale": (LOCALE,),
    "intent": (INTENT,),
    "intent_score": (INTENT_SCORE,),
    # A result's recognizer: ours, else botbuilder-ai's LuisResult's application id.
    "recognizer": (RECOGNIZER, APPLICATION_ID),
    "article_found": (ARTICLE_FOUND,),
    "instance_id": (INSTANCE_ID,),
    "step_name": (STEP_NAME,),
}

__all__ = [
    "ACTIVITY_ID",
    "ACTIVITY_NAME",
    "ACTIVITY_PROPERTIES",
    "ACTIVITY_TYPE",
    "ANSWER",
    "APPLICATION_ID",
    "ARTICLE_FOUND",
    "ATTACHMENTS",
    "CHANNEL_ID",
    "CONVERSATION_ID",
    "CONVERSATION_NAME",
    "CORRELATION_ID",
    "DIALOG_ID",
    "ENTITIES",
    "FROM_ID",
    "FROM_NAME",
    "GENERATED_ANSWER",
    "INSTANCE_ID",
    "INTENT",
    "INTENT_2",
    "INTENT_SCORE",
    "INTENT_SCORE_2",
    "KNOWLEDGE_BASE_ID",
    "LOCALE",
    "MATCHED_QUESTION",
    "ORIGINAL_QUESTION",
    "PROMOTED_EVENT_PROPERTIES",
    "QUESTION",
    "QUESTION_ID",
    "REACTIONS_ADDED",
    "REACTIONS_REMOVED",
    "RECIPIENT_ID",
    "RECIPIENT_NAME",
    "RECOGNIZER",
    "REPLY_ACTIVITY_ID",
    "SCORE",
    "SENTIMENT_LABEL",
    "SENTIMENT_SCORE",
    "SPEAK",
    "STEP_NAME",
    "TEAMS_TEAM_INFO",
    "TEAMS_TENANT_ID",
    "TEAMS_USER_AAD_OBJECT_ID",
    "TEXT",
    "TURN_IDENTITY_KEYS",
    "USERNAME",
]
