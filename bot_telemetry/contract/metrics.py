"""The bot's own OpenTelemetry metrics: names, units and attributes (docs/measures.md).

Names follow the semantic conventions' rules where no convention exists for bots: a ``bot.``
namespace, durations as ``.duration`` histograms in seconds, counts pluralized with a
``{thing}`` unit (as ``messaging.client.sent.messages`` counts ``{message}``), ``error.type``
on a failed operation. Attributes are few and of low cardinality: never a conversation, user
or activity id.
"""

from __future__ import annotations

from typing import Final

#: Histogram, seconds: how long each turn took. Attributes: activity.channel_id,
#: activity.type, error.type (the exception's type when an exception escaped the turn).
METRIC_TURN_DURATION: Final = "bot.turn.duration"
#: Counter, {message}: activities the bot received. Attributes: activity.channel_id,
#: activity.type (``message`` for what users said).
METRIC_MESSAGES_RECEIVED: Final = "bot.messages.received"
#: Counter, {message}: activities the bot sent (typing and trace left out). Attributes:
#: activity.channel_id, activity.type.
METRIC_MESSAGES_SENT: Final = "bot.messages.sent"
#: Histogram, seconds: each dependency call. Attributes: peer.service (the app map's node),
#: bot.dependency.component, error.type (failed calls only: count them by it).
METRIC_DEPENDENCY_DURATION: Final = "bot.dependency.duration"
#: Counter, {turn}: fallback turns (analytics vocabulary). Attributes: activity.channel_id,
#: bot.fallback.reason.
METRIC_TURN_FALLBACKS: Final = "bot.turn.fallbacks"
#: Counter, {run}: waterfall dialog runs started, completed and cancelled. Attributes:
#: bot.dialog.id, bot.dialog.outcome. Abandoned runs are the absence of an event; the
#: collector's dialogOutcomes measure judges them.
METRIC_DIALOG_RUNS: Final = "bot.dialog.runs"
#: Not a metric: the observable instrument whose callback hands the durations kept on the
#: turn's path to the two histograms at each collection. It observes nothing, so the SDK
#: never exports it.
INSTRUMENT_PENDING_DURATIONS: Final = "bot_telemetry.pending_durations"

UNIT_SECONDS: Final = "s"
UNIT_MESSAGE: Final = "{message}"
UNIT_TURN: Final = "{turn}"
UNIT_RUN: Final = "{run}"

#: Semantic conventions' class of error: an exception's qualified type name.
ATTR_ERROR_TYPE: Final = "error.type"
#: What kind of component made a dependency call: Recognizer, QnA, Storage, Middleware.
ATTR_DEPENDENCY_COMPONENT: Final = "bot.dependency.component"
ATTR_FALLBACK_REASON: Final = "bot.fallback.reason"
ATTR_DIALOG_ID: Final = "bot.dialog.id"
ATTR_DIALOG_OUTCOME: Final = "bot.dialog.outcome"

#: bot.fallback.reason values: the top intent was None, scored below FALLBACK_SCORE, or the
#: Q&A found no answer (the first reason of a turn is kept).
FALLBACK_NONE_INTENT: Final = "none_intent"
FALLBACK_LOW_SCORE: Final = "low_score"
FALLBACK_NO_ANSWER: Final = "no_answer"
#: bot.dialog.outcome values the bot records.
DIALOG_STARTED: Final = "started"
DIALOG_COMPLETED: Final = "completed"
DIALOG_CANCELLED: Final = "cancelled"

#: Histogram bucket boundaries in seconds: the semantic conventions' advice for HTTP
#: durations, which turns and dependency calls resemble.
DURATION_BUCKETS_SECONDS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)

__all__ = [
    "ATTR_DEPENDENCY_COMPONENT",
    "ATTR_DIALOG_ID",
    "ATTR_DIALOG_OUTCOME",
    "ATTR_ERROR_TYPE",
    "ATTR_FALLBACK_REASON",
    "DIALOG_CANCELLED",
    "DIALOG_COMPLETED",
    "DIALOG_STARTED",
    "DURATION_BUCKETS_SECONDS",
    "FALLBACK_LOW_SCORE",
    "FALLBACK_NONE_INTENT",
    "FALLBACK_NO_ANSWER",
    "INSTRUMENT_PENDING_DURATIONS",
    "METRIC_DEPENDENCY_DURATION",
    "METRIC_DIALOG_RUNS",
    "METRIC_MESSAGES_RECEIVED",
    "METRIC_MESSAGES_SENT",
    "METRIC_TURN_DURATION",
    "METRIC_TURN_FALLBACKS",
    "UNIT_MESSAGE",
    "UNIT_RUN",
    "UNIT_SECONDS",
    "UNIT_TURN",
]
