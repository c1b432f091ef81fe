"""Understanding the user: intents, fallbackRate, qnaAnswerRate.

Intents come from the recognizer's events (``LuisIntent.<Intent>``, or botbuilder-ai's
``LuisResult`` where ours is not on the same span) with their ``intent`` and ``intentScore``;
Q&A results from ``QnAMessage`` (or botbuilder-ai's ``QnaMessage``, likewise) with
``articleFound``. A **fallback turn** is a message
turn where the top intent was ``None`` or scored below the threshold, or the Q&A found no
answer.
"""

from __future__ import annotations

from typing import Any

from ... import contract
from .context import (
    DEPENDENCY,
    EVENTS,
    INTENT,
    INTENT_EVENT_CONDITION,
    INTENT_RESULT_CONDITION,
    QNA_EVENT_NAMES,
    QNA_RESULT_CONDITION,
    TURNS,
)
from .definition import COUNT, NUMBER, RATIO, Measure, Param, Sql, Value, ratio, register, rounded

_INTENT = "intent"
_SCORE = "intent_score"
_NOT_FOUND = "NOT article_found"


#: A result's recognizer is the events' ``recognizer`` column: the ``name`` of the
#: TelemetryRecognizer that recorded it (its app-map node), else botbuilder-ai's
#: ``applicationId``, else NULL; a column, so splitting recognizers costs no join.
_RECOGNIZER = "recognizer"
_OWN_RECOGNIZER = f"{_RECOGNIZER} IN {{values}}"


def _intents(q: Sql) -> str:
    at_least = " AND " + _SCORE + " >= $minScore" if q.params.get("minScore") is not None else ""
    return f"""SELECT {q.bucket("time_ns")} AS bucket, {_INTENT} AS intent,
       {_RECOGNIZER} AS recognizer, count(*) AS recognitions, avg({_SCORE}) AS mean_score
FROM events
WHERE {INTENT_RESULT_CONDITION} AND {q.window("time_ns")} AND {_INTENT} IS NOT NULL
  {at_least} {q.filters}
GROUP BY bucket, intent, recognizer"""


def _intent_values(raw: dict[str, Any]) -> dict[str, Any]:
    return {"count": raw["recognitions"], "meanScore": rounded(raw["mean_score"])}


INTENTS = register(
    Measure(
        "intents",
        "Recognized top intents per intent and recognizer: how many, and their mean score "
        "(recognitions scoring below minScore are left out when it is given). The recognizer "
        "is the dependency the result was recorded on (TelemetryRecognizer's name), else "
        "botbuilder-ai's applicationId; the dependency context narrows to its results.",
        EVENTS.with_columns(
            "recognizer results (LuisIntent.<Intent> events)", **{INTENT: _INTENT}
        ).with_conditions(**{DEPENDENCY: _OWN_RECOGNIZER}),
        keys=("intent", "recognizer"),
        values=(
            Value("count", COUNT, "recognitions of the intent by the recognizer"),
            Value("meanScore", NUMBER, "their mean score, 0 to 1"),
        ),
        sql=_intents,
        finish=_intent_values,
        params=(Param("minScore", "leave out recognitions scoring below this", None, 0, 1),),
    )
)


def _fallbacks(q: Sql) -> str:
    # Turns to their results by trace_key (an integer), each fallback turn once.
    return f"""WITH fallback AS (
    SELECT DISTINCT trace_key FROM events
    WHERE time_ns >= $start AND trace_key IS NOT NULL
      AND ((({INTENT_EVENT_CONDITION}) AND ({_INTENT} = '{contract.NONE_INTENT}'
                                              OR {_SCORE} < $threshold))
           OR (name IN ({QNA_EVENT_NAMES}) AND {_NOT_FOUND}))
)
SELECT {q.bucket("m.start_ns")} AS bucket, count(*) AS turns,
       count(f.trace_key) AS fallback_turns
FROM (SELECT trace_key, start_ns FROM turns
      WHERE {q.window("start_ns")} AND activity_type = '{contract.MESSAGE_ACTIVITY_TYPE}'
        {q.filters}) m
LEFT JOIN fallback f ON f.trace_key = m.trace_key
GROUP BY bucket"""


def _fallback_rate(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "rate": ratio(raw["fallback_turns"], raw["turns"]),
        "fallbackTurns": raw["fallback_turns"],
        "turns": raw["turns"],
    }


FALLBACK_RATE = register(
    Measure(
        "fallbackRate",
        "The share of message turns that fell back: the recognizer's top intent was None "
        "or scored below threshold, or the Q&A found no answer.",
        TURNS,
        values=(
            Value("rate", RATIO, "fallbackTurns / turns"),
            Value("fallbackTurns", COUNT, "message turns that fell back"),
            Value("turns", COUNT, "message turns"),
        ),
        sql=_fallbacks,
        finish=_fallback_rate,
        params=(
            Param(
                "threshold",
                "a top intent scoring below this is a fallback",
                contract.FALLBACK_SCORE,
                0,
                1,
            ),
        ),
    )
)


def _answers(q: Sql) -> str:
    return f"""SELECT {q.bucket("time_ns")} AS bucket, count(*) AS questions,
       count(*) FILTER (WHERE article_found) AS answered
FROM events WHERE {QNA_RESULT_CONDITION} AND {q.window("time_ns")} {q.filters}
GROUP BY bucket"""


def _answer_rate(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "rate": ratio(raw["answered"], raw["questions"]),
        "answered": raw["answered"],
        "questions": raw["questions"],
    }


QNA_ANSWER_RATE = register(
    Measure(
        "qnaAnswerRate",
        "The share of questions put to the Q&A service that it answered (articleFound). A "
        "call that failed records no result and is not counted.",
        EVENTS.with_columns("Q&A results (QnAMessage events)"),
        values=(
            Value("rate", RATIO, "answered / questions"),
            Value("answered", COUNT, "questions answered"),
            Value("questions", COUNT, "questions asked"),
        ),
        sql=_answers,
        finish=_answer_rate,
    )
)
