"""What the ``LuisIntent.*`` and ``QnAMessage`` events share: the turn's ids, and reading
values out of results whose types we do not own."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace

from ..contract import ACTIVITY_ID, CONVERSATION_ID, CORRELATION_ID
from ..signals.turn_context import TurnContextLike


def turn_event_properties(turn_context: TurnContextLike, span: trace.Span) -> dict[str, Any]:
    """``activityId``, ``conversationId`` and ``correlationId`` (the trace id, as hex)."""
    activity = turn_context.activity
    conversation = getattr(activity, "conversation", None)
    return {
        ACTIVITY_ID: getattr(activity, "id", None),
        CONVERSATION_ID: getattr(conversation, "id", None),
        CORRELATION_ID: trace.format_trace_id(span.get_span_context().trace_id),
    }


def number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (bools are not), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def string(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None
