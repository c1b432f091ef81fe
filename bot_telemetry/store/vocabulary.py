"""The analytics vocabulary's definitions over an event's name and its promoted columns,
written once as DuckDB SQL (contract/analytics.py says what they mean).

They are the ``events`` relation's ``fallback`` and ``escalation`` columns on every engine,
read from the promoted columns (``intent``, ``intent_score``, ``article_found``,
``activity_type``): real columns in the DuckDB store, map reads on ClickHouse, so neither
parses JSON. The compiler's macros ``is_fallback(name, attributes)`` and
``is_escalation(name, attributes)`` give the same definitions over an attributes map, for a
query that has only that: they read the keys as ingest promotes them (``store.rows``).
"""

from __future__ import annotations

from ..contract import (
    ACTIVITY_TYPE,
    ARTICLE_FOUND,
    BOT_MESSAGE_RECEIVED,
    BOT_MESSAGE_SEND,
    BOTBUILDER_LUIS_RESULT,
    BOTBUILDER_QNA_MESSAGE,
    CHANNEL_ACTIVITY_TYPES,
    CLIENT_HOUSEKEEPING_EVENTS,
    FALLBACK_SCORE,
    HANDOFF_ACTIVITY_TYPE,
    INTENT,
    INTENT_SCORE,
    LUIS_INTENT_PREFIX,
    NONE_INTENT,
    QNA_MESSAGE,
)


def fallback(name: str, intent: str, intent_score: str, article_found: str) -> str:
    """A recognizer result whose intent is None or scores below FALLBACK_SCORE, or a Q&A
    result with no answer (``article_found`` false). The event's name decides first."""
    return f"""CASE
    WHEN {name} = '{LUIS_INTENT_PREFIX}{NONE_INTENT}' THEN true
    WHEN starts_with({name}, '{LUIS_INTENT_PREFIX}') OR {name} = '{BOTBUILDER_LUIS_RESULT}'
    THEN coalesce({intent} = '{NONE_INTENT}' OR {intent_score} < {FALLBACK_SCORE}, false)
    WHEN {name} IN ('{QNA_MESSAGE}', '{BOTBUILDER_QNA_MESSAGE}')
    THEN coalesce(NOT {article_found}, false)
    ELSE false END"""


def escalation(name: str, activity_type: str) -> str:
    """An activity in or out whose type is a handoff."""
    return f"""CASE WHEN {name} IN ('{BOT_MESSAGE_SEND}', '{BOT_MESSAGE_RECEIVED}')
    THEN coalesce({activity_type} = '{HANDOFF_ACTIVITY_TYPE}', false)
    ELSE false END"""


def by_user(activity_type: str, activity_name: str, proactive: str) -> str:
    """A turn that is the user's doing (contract.analytics): neither an activity the channel
    sends on its own (CHANNEL_ACTIVITY_TYPES), nor an event the page sends on its own
    (CLIENT_HOUSEKEEPING_EVENTS), nor proactive. A turn with no activity type (none
    recorded) counts as the user's. Plain SQL both engines read as written: each passes its
    own expressions for the turn's type, name and proactive flag; the name is read only for
    ``event`` turns (on DuckDB a JSON read: CASE evaluates it for those rows alone)."""
    kinds = ", ".join(f"'{kind}'" for kind in CHANNEL_ACTIVITY_TYPES)
    names = ", ".join(f"'{name}'" for name in CLIENT_HOUSEKEEPING_EVENTS)
    housekeeping = f"""CASE WHEN {activity_type} = 'event'
        THEN coalesce({activity_name} IN ({names}), false) ELSE false END"""
    return (
        f"(coalesce({activity_type} NOT IN ({kinds}), true) AND NOT ({housekeeping}) "
        f"AND NOT ({proactive}))"
    )


def _flag(text: str) -> str:
    # As ingest reads a flag (store.rows): true or false in any case, else nothing.
    return f"CASE lower({text}) WHEN 'true' THEN true WHEN 'false' THEN false END"


def fallback_of_attributes(name: str, attributes: str) -> str:
    """``fallback`` over an attributes map (uses attr(); the macro ``is_fallback``)."""
    return fallback(
        name,
        f"attr({attributes}, '{INTENT}')",
        f"TRY_CAST(attr({attributes}, '{INTENT_SCORE}') AS DOUBLE)",
        _flag(f"attr({attributes}, '{ARTICLE_FOUND}')"),
    )


def escalation_of_attributes(name: str, attributes: str) -> str:
    """``escalation`` over an attributes map (the macro ``is_escalation``)."""
    return escalation(name, f"attr({attributes}, '{ACTIVITY_TYPE}')")


#: Macro name -> definition over (name, attributes), for the compiler.
MACROS = {"is_fallback": fallback_of_attributes, "is_escalation": escalation_of_attributes}
