"""A recognizer as a dependency with intent events, for any runtime.

``RecognizerTelemetry`` wraps anything with an async ``recognize(turn_context)`` whose
result has LUIS's shape (``intents`` mapping names to scores, ``entities``,
``properties["sentiment"]``): botbuilder's ``RecognizerResult``, a plain object or dict; or
CLU's (Azure AI Language conversations: ``analyze_conversation``'s response, or its
prediction, with ``intents`` and ``entities`` lists of ``category`` and ``confidenceScore``).
botbuilder users wrap with ``bot_telemetry.TelemetryRecognizer`` (also a botbuilder
``Recognizer``); the Agents SDK, which has no recognizer type, with
``bot_telemetry.dependencies.agents.TelemetryRecognizer``.

    recognizer = TelemetryRecognizer(LuisRecognizer(app), name="LUIS")
    result = await recognizer.recognize(turn_context)   # same result, now traced

Each call is a ``Recognizer Query`` CLIENT span to the recognizer's service and a custom
event ``LuisIntent.<TopIntent>`` (or botbuilder's ``LuisResult`` name for existing
Application Insights workbooks) with the activity and conversation ids, the trace id as
``correlationId``, intent and score, sentiment when the recognizer reports it and the
entity names. The user's text (``question``) is recorded only when the privacy policy
allows it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .._deprecated import renamed
from .._private import luis_application
from ..contract import (
    BOTBUILDER_LUIS_RESULT,
    ENTITIES,
    FALLBACK_LOW_SCORE,
    FALLBACK_NONE_INTENT,
    FALLBACK_SCORE,
    INTENT,
    INTENT_SCORE,
    QUESTION,
    RECOGNIZER,
    SENTIMENT_LABEL,
    SENTIMENT_SCORE,
    luis_intent_event,
)
from ..privacy import PrivacyPolicy
from ..signals.custom_events import track_custom_event
from ..signals.metrics import note_fallback
from ..signals.turn_context import TurnContextLike
from .call import DependencyCall, Target, dependency_call
from .events import number, string, turn_event_properties
from .trace_activities import TraceActivities

COMPONENT: Final = "Recognizer"
SPAN_NAME: Final = "Recognizer Query"
ATTR_INTENT: Final = "bot.recognizer.intent"
ATTR_INTENT_SCORE: Final = "bot.recognizer.intent_score"
#: The intent reported when the recognizer found none (LUIS's own name for it).
NO_INTENT: Final = "None"

_log = logging.getLogger(__name__)


class RecognizerTelemetry:
    """Wraps ``recognizer``; ``recognize`` returns exactly what it returns.

    ``name`` names the app-map node (default: ``LUIS`` for botbuilder's
    ``LuisRecognizer``, else the recognizer's class name); ``endpoint`` (a URL) adds
    ``server.address``/``server.port`` (read from ``LuisRecognizer`` or an ``endpoint``
    attribute when not given). ``luis_result_event=True`` names the event ``LuisResult``.
    """

    _wraps = "a recognizer"

    def __init__(
        self,
        recognizer: Any,
        *,
        name: str | None = None,
        endpoint: str | None = None,
        luis_result_event: bool = False,
        trace_activities: TraceActivities | str | None = None,
        privacy: PrivacyPolicy | None = None,
        service_name: str | None = None,
        policy: PrivacyPolicy | None = None,
    ) -> None:
        name = renamed(type(self).__name__, "service_name", "name", service_name, name)
        privacy = renamed(type(self).__name__, "policy", "privacy", policy, privacy)
        if not callable(getattr(recognizer, "recognize", None)):
            raise TypeError(
                f"{type(self).__name__} wraps {self._wraps} (an object with an async "
                f"recognize(turn_context)), got {type(recognizer).__name__}"
            )
        self.inner = recognizer
        application = luis_application(recognizer) if _is_luis(recognizer) else None
        default_name = "LUIS" if application is not None else type(recognizer).__name__
        url = (
            endpoint
            or string(getattr(application, "endpoint", None))
            or string(getattr(recognizer, "endpoint", None))
        )
        self._target = Target.for_url(name or default_name, url)
        self._luis_result_event = luis_result_event
        self._trace_activities = TraceActivities.resolve(trace_activities)
        self._privacy = privacy

    async def recognize(self, turn_context: TurnContextLike, *args: Any, **kwargs: Any) -> Any:
        async with dependency_call(
            SPAN_NAME,
            self._target,
            component=COMPONENT,
            turn_context=turn_context,
            trace_activities=self._trace_activities,
            privacy=self._privacy,
        ) as call:
            result = await self.inner.recognize(turn_context, *args, **kwargs)
            self._report(result, turn_context, call)
        return result

    def _report(self, result: Any, turn_context: TurnContextLike, call: DependencyCall) -> None:
        try:
            intent, score = top_intent(result)
            call.set_attribute(ATTR_INTENT, intent)
            if score is not None:
                call.set_attribute(ATTR_INTENT_SCORE, score)
            properties = turn_event_properties(turn_context, call.span)
            properties[INTENT] = intent
            properties[INTENT_SCORE] = score
            properties[RECOGNIZER] = self._target.name
            properties.update(_sentiment(result))
            properties[ENTITIES] = entity_names(result)
            properties[QUESTION] = getattr(turn_context.activity, "text", None)
        except Exception:  # a result we cannot read must not fail the turn
            _log.warning("could not read the recognizer result for telemetry", exc_info=True)
            return
        name = BOTBUILDER_LUIS_RESULT if self._luis_result_event else luis_intent_event(intent)
        # A LuisRecognizer given a telemetry client has recorded botbuilder's own LuisResult
        # of this call: a second one would count the recognition twice.
        if name != BOTBUILDER_LUIS_RESULT or not _recorded_on(call.span, name):
            track_custom_event(name, properties, privacy=self._privacy, span=call.span)
        if intent == NO_INTENT:
            note_fallback(FALLBACK_NONE_INTENT)
        elif score is not None and score < FALLBACK_SCORE:
            note_fallback(FALLBACK_LOW_SCORE)


def _recorded_on(span: Any, name: str) -> bool:
    # An SDK span lists the span events recorded on it so far (custom events are added to
    # their span); a non-recording span has none, and the event is recorded as usual.
    return any(event.name == name for event in getattr(span, "events", ()))


def top_intent(result: Any) -> tuple[str, float | None]:
    """The best-scoring intent and its score; ``("None", None)`` when there is none.

    Intents without a score (an LLM gives no confidence) count when none has one: the
    first of them, with no score, rather than ``None``, which would make it a fallback.

    >>> top_intent(type("R", (), {"intents": {"BookFlight": {}}})())
    ('BookFlight', None)
    """
    intents = _member(_prediction(result), "intents")
    best: tuple[str, float | None] = (NO_INTENT, None)
    if isinstance(intents, Mapping):
        scored = [(name, _score(intent)) for name, intent in intents.items()]
    elif _is_list(intents):  # CLU's: [{"category": ..., "confidenceScore": ...}, ...]
        scored = [(_member(i, "category"), _score(i)) for i in intents]
    else:
        return best
    unscored: str | None = None
    for name, score in scored:
        if name is None:
            continue
        if score is None:
            unscored = unscored if unscored is not None else str(name)
        elif best[1] is None or score > best[1]:
            best = (str(name), score)
    if best[1] is None and unscored is not None:
        return unscored, None
    return best


def entity_names(result: Any) -> list[str]:
    """Entity names only (values can be personal); LUIS's ``$instance`` metadata left out.
    CLU's entities are a list: their categories, each once."""
    entities = _member(_prediction(result), "entities")
    if isinstance(entities, Mapping):
        return sorted(str(name) for name in entities if not str(name).startswith("$"))
    if _is_list(entities):
        found = (_member(entity, "category") for entity in entities)
        return sorted({str(category) for category in found if category is not None})
    return []


def _prediction(result: Any) -> Any:
    """What holds the intents: the result, or in CLU's ``analyze_conversation`` response
    (``{"kind": "ConversationResult", "result": {"prediction": ...}}``) its prediction."""
    if isinstance(result, Mapping):
        inner = result.get("result")
        if isinstance(inner, Mapping) and isinstance(inner.get("prediction"), Mapping):
            return inner["prediction"]
    return result


def _member(value: Any, name: str) -> Any:
    # A dict's key (CLU's JSON, a LUIS-shaped dict) or an object's attribute.
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _sentiment(result: Any) -> dict[str, Any]:
    properties = _member(result, "properties")
    sentiment = properties.get("sentiment") if isinstance(properties, Mapping) else None
    if not isinstance(sentiment, Mapping):
        return {}
    found: dict[str, Any] = {}
    if sentiment.get("label") is not None:
        found[SENTIMENT_LABEL] = str(sentiment["label"])
    score = number(sentiment.get("score"))
    if score is not None:
        found[SENTIMENT_SCORE] = score
    return found


def _score(intent: Any) -> float | None:
    # LUIS's score, else CLU's confidenceScore (its intents, an orchestration's targets).
    score = number(_member(intent, "score"))
    return score if score is not None else number(_member(intent, "confidenceScore"))


def _is_luis(recognizer: object) -> bool:
    # By name: botbuilder-ai is an optional extra, not imported unless the bot uses it.
    return any(kind.__name__ == "LuisRecognizer" for kind in type(recognizer).__mro__)
