from __future__ import annotations

from botbuilder.ai.luis import LuisTelemetryConstants
from botbuilder.ai.qna.utils import QnATelemetryConstants
from botbuilder.core import TelemetryConstants, TelemetryLoggerConstants

from bot_telemetry import contract


def test_event_names_are_botbuilders():
    assert contract.BOT_MESSAGE_RECEIVED == TelemetryLoggerConstants.BOT_MSG_RECEIVE_EVENT
    assert contract.BOT_MESSAGE_SEND == TelemetryLoggerConstants.BOT_MSG_SEND_EVENT
    assert contract.BOT_MESSAGE_UPDATE == TelemetryLoggerConstants.BOT_MSG_UPDATE_EVENT
    assert contract.BOT_MESSAGE_DELETE == TelemetryLoggerConstants.BOT_MSG_DELETE_EVENT
    assert contract.BOTBUILDER_LUIS_RESULT == LuisTelemetryConstants.luis_result
    assert contract.BOTBUILDER_QNA_MESSAGE == QnATelemetryConstants.qna_message_event


def test_property_keys_are_botbuilders_so_existing_queries_keep_working():
    pairs = {
        contract.CHANNEL_ID: TelemetryConstants.CHANNEL_ID_PROPERTY,
        contract.CONVERSATION_ID: TelemetryConstants.CONVERSATION_ID_PROPERTY,
        contract.CONVERSATION_NAME: TelemetryConstants.CONVERSATION_NAME_PROPERTY,
        contract.FROM_ID: TelemetryConstants.FROM_ID_PROPERTY,
        contract.FROM_NAME: TelemetryConstants.FROM_NAME_PROPERTY,
        contract.RECIPIENT_ID: TelemetryConstants.RECIPIENT_ID_PROPERTY,
        contract.RECIPIENT_NAME: TelemetryConstants.RECIPIENT_NAME_PROPERTY,
        contract.REPLY_ACTIVITY_ID: TelemetryConstants.REPLY_ACTIVITY_ID_PROPERTY,
        contract.LOCALE: TelemetryConstants.LOCALE_PROPERTY,
        contract.TEXT: TelemetryConstants.TEXT_PROPERTY,
        contract.SPEAK: TelemetryConstants.SPEAK_PROPERTY,
        contract.ATTACHMENTS: TelemetryConstants.ATTACHMENTS_PROPERTY,
        contract.INTENT: LuisTelemetryConstants.intent_property,
        contract.INTENT_SCORE: LuisTelemetryConstants.intent_score_property,
        contract.ENTITIES: LuisTelemetryConstants.entities_property,
        contract.ACTIVITY_ID: LuisTelemetryConstants.activity_id_property,
        contract.SENTIMENT_LABEL: LuisTelemetryConstants.sentiment_label_property,
        contract.QUESTION: QnATelemetryConstants.question_property,
        contract.ANSWER: QnATelemetryConstants.answer_property,
        contract.ARTICLE_FOUND: QnATelemetryConstants.article_found_property,
        contract.KNOWLEDGE_BASE_ID: QnATelemetryConstants.knowledge_base_id_property,
        contract.QUESTION_ID: QnATelemetryConstants.question_id_property,
        contract.MATCHED_QUESTION: QnATelemetryConstants.matched_question_property,
        contract.USERNAME: QnATelemetryConstants.username_property,
    }
    assert {ours: theirs for ours, theirs in pairs.items() if ours != theirs} == {}


def test_luis_intent_event_names():
    assert contract.luis_intent_event("BookFlight") == "LuisIntent.BookFlight"
