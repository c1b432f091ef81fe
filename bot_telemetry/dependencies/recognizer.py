"""``TelemetryRecognizer``: any botbuilder ``Recognizer`` as a dependency with intent events.

    recognizer = TelemetryRecognizer(LuisRecognizer(app), name="LUIS")
    result = await recognizer.recognize(turn_context)   # same result, now traced

Each call is a ``Recognizer Query`` CLIENT span to the recognizer's service and a custom
event ``LuisIntent.<TopIntent>`` (or botbuilder's ``LuisResult`` name for existing
Application Insights workbooks) with the activity and conversation ids, the trace id as
``correlationId``, intent and score, sentiment when the recognizer reports it and the
entity names. The user's text (``question``) is recorded only when the privacy policy
allows it. The recording is runtime-neutral (``recognition.RecognizerTelemetry``).
"""

from __future__ import annotations

from botbuilder.core import Recognizer

from .recognition import (
    ATTR_INTENT,
    ATTR_INTENT_SCORE,
    COMPONENT,
    NO_INTENT,
    SPAN_NAME,
    RecognizerTelemetry,
    entity_names,
    top_intent,
)

__all__ = [
    "ATTR_INTENT",
    "ATTR_INTENT_SCORE",
    "COMPONENT",
    "NO_INTENT",
    "SPAN_NAME",
    "TelemetryRecognizer",
    "entity_names",
    "top_intent",
]


class TelemetryRecognizer(RecognizerTelemetry, Recognizer):  # type: ignore[misc]
    """Wraps ``recognizer`` and is itself a botbuilder ``Recognizer``.

    ``name`` names the app-map node (default: ``LUIS`` for botbuilder's
    ``LuisRecognizer``, else the recognizer's class name); ``endpoint`` (a URL) adds
    ``server.address``/``server.port`` (read from ``LuisRecognizer`` or an ``endpoint``
    attribute when not given). ``luis_result_event=True`` names the event ``LuisResult``.
    """

    _wraps = "a botbuilder Recognizer"
