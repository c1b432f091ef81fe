"""The analytics vocabulary's definitions over an event's name and attributes, written once as
DuckDB SQL with the ``attr()`` macro (contract/analytics.py says what they mean).

They are the ``events`` relation's ``fallback`` and ``escalation`` columns on every engine,
and the compiler's macros ``is_fallback(name, attributes)`` and
``is_escalation(name, attributes)``, for a query that should read attributes only for the
rows it keeps (reading one parses JSON on DuckDB): a funnel judges only the events after a
step where someone stopped.
"""

from __future__ import annotations

from ..contract import (
    ACTIVITY_TYPE,
    ARTICLE_FOUND,
    BOT_MESSAGE_RECEIVED,
    BOT_MESSAGE_SEND,
    BOTBUILDER_LUIS_RESULT,
    BOTBUILDER_QNA_MESSAGE,
    FALLBACK_SCORE,
    HANDOFF_ACTIVITY_TYPE,
    INTENT,
    INTENT_SCORE,
    LUIS_INTENT_PREFIX,
    NONE_INTENT,
    QNA_MESSAGE,
)


def fallback(name: str, attributes: str) -> str:
    """A recognizer result whose intent is None or scores below FALLBACK_SCORE, or a Q&A
    result with no answer. The event's name decides first: attributes are read only for the
    events that can be either."""
    return f"""CASE
    WHEN {name} = '{LUIS_INTENT_PREFIX}{NONE_INTENT}' THEN true
    WHEN starts_with({name}, '{LUIS_INTENT_PREFIX}') OR {name} = '{BOTBUILDER_LUIS_RESULT}'
    THEN coalesce(attr({attributes}, '{INTENT}') = '{NONE_INTENT}'
        OR TRY_CAST(attr({attributes}, '{INTENT_SCORE}') AS DOUBLE) < {FALLBACK_SCORE}, false)
    WHEN {name} IN ('{QNA_MESSAGE}', '{BOTBUILDER_QNA_MESSAGE}')
    THEN coalesce(attr({attributes}, '{ARTICLE_FOUND}') = 'false', false)
    ELSE false END"""


def escalation(name: str, attributes: str) -> str:
    """An activity in or out whose type is a handoff."""
    return f"""CASE WHEN {name} IN ('{BOT_MESSAGE_SEND}', '{BOT_MESSAGE_RECEIVED}')
    THEN coalesce(attr({attributes}, '{ACTIVITY_TYPE}') = '{HANDOFF_ACTIVITY_TYPE}', false)
    ELSE false END"""


#: Macro name -> definition, for the compiler.
MACROS = {"is_fallback": fallback, "is_escalation": escalation}
