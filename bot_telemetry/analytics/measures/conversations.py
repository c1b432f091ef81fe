"""Conversations: conversations, turnsPerConversation, escalationRate, containmentRate.

A **conversation** is the channel's conversation id on a turn (DESIGN.md), whoever's doing
the turn was: a Web Chat page opened with nobody speaking is one; ``withUser`` counts those
with a turn of the user's own doing (``turns.by_user``). It is **escalated** when a
handoff activity went either way in the window (a BotMessageSend or BotMessageReceived of
type ``handoff``), and **contained** when a user sent it a message (it engaged the bot) and
it was not escalated. The rates are over the conversations active in each bucket; whether a
conversation escalated is judged over the whole window, so one escalated on day two counts
as escalated on day one too.
"""

from __future__ import annotations

from typing import Any

from ... import contract
from .context import TURNS
from .definition import COUNT, NUMBER, RATIO, Measure, Sql, Value, ratio, register, rounded


def _conversations(q: Sql) -> str:
    return f"""WITH active AS (
    -- One grouping by (bucket, conversation): two distinct counts hashed every turn twice.
    SELECT bucket, count(*) AS conversations, count(CASE WHEN user_did THEN 1 END) AS with_user
    FROM (SELECT {q.bucket("start_ns")} AS bucket, conversation_id, bool_or(by_user) AS user_did
          FROM turns WHERE {q.window("start_ns")} AND conversation_id IS NOT NULL {q.filters}
          GROUP BY bucket, conversation_id) per_conversation
    GROUP BY bucket
), begun AS (
    SELECT {q.bucket("first_ns")} AS bucket, count(*) AS started
    FROM (SELECT conversation_id, min(start_ns) AS first_ns FROM turns
          WHERE start_ns < $end AND conversation_id IS NOT NULL {q.filters}
          GROUP BY conversation_id) firsts
    WHERE first_ns >= $start GROUP BY bucket
)
SELECT a.bucket AS bucket, a.conversations AS conversations, coalesce(b.started, 0) AS started,
    a.with_user AS with_user
FROM active a LEFT JOIN begun b ON b.bucket = a.bucket"""


def _conversation_counts(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversations": raw["conversations"],
        "started": raw["started"],
        "withUser": raw["with_user"],
    }


CONVERSATIONS = register(
    Measure(
        "conversations",
        "Conversations with at least one turn in the bucket, those whose first turn ever is "
        "in it (a conversation begun before startTime is not started), and those with a "
        "turn of the user's own doing in it (a Web Chat page opened with nobody speaking, "
        "the bot added to a team, are conversations, not with a user).",
        TURNS,
        values=(
            Value("conversations", COUNT, "conversations active in the bucket"),
            Value("started", COUNT, "conversations whose first turn is in the bucket"),
            Value(
                "withUser",
                COUNT,
                "conversations with a turn of the user's own doing in the bucket (turns.by_user)",
            ),
        ),
        sql=_conversations,
        finish=_conversation_counts,
    )
)


def _turns_per_conversation(q: Sql) -> str:
    return f"""SELECT bucket, count(*) AS conversations, sum(turn_count) AS total_turns,
       quantile_cont(turn_count, 0.5) AS median, max(turn_count) AS most
FROM (SELECT {q.bucket("start_ns")} AS bucket, conversation_id, count(*) AS turn_count
      FROM turns WHERE {q.window("start_ns")} AND conversation_id IS NOT NULL {q.filters}
      GROUP BY bucket, conversation_id) per_conversation
GROUP BY bucket"""


def _per_conversation(raw: dict[str, Any]) -> dict[str, Any]:
    turns = None if raw["total_turns"] is None else int(raw["total_turns"])
    mean = turns / raw["conversations"] if turns is not None and raw["conversations"] else None
    return {
        "mean": rounded(mean),
        "median": rounded(raw["median"]),
        "max": raw["most"],
        "conversations": raw["conversations"],
    }


TURNS_PER_CONVERSATION = register(
    Measure(
        "turnsPerConversation",
        "Turns per conversation: for each conversation active in the bucket, its turns in "
        "the bucket; their mean, median and largest.",
        TURNS,
        values=(
            Value("mean", NUMBER, "mean turns per conversation"),
            Value("median", NUMBER, "median turns per conversation"),
            Value("max", NUMBER, "the most turns one conversation had"),
            Value("conversations", COUNT, "conversations active in the bucket"),
        ),
        sql=_turns_per_conversation,
        finish=_per_conversation,
    )
)

_HANDOFF = f"""SELECT DISTINCT conversation_id FROM events
    WHERE name IN ('{contract.BOT_MESSAGE_SEND}', '{contract.BOT_MESSAGE_RECEIVED}')
      AND {Sql.window("time_ns")}
      AND activity_type = '{contract.HANDOFF_ACTIVITY_TYPE}'
      AND conversation_id IS NOT NULL"""


def _escalation(q: Sql) -> str:
    return f"""WITH active AS (
    SELECT DISTINCT {q.bucket("start_ns")} AS bucket, conversation_id FROM turns
    WHERE {q.window("start_ns")} AND conversation_id IS NOT NULL {q.filters}
), escalated AS ({_HANDOFF})
SELECT a.bucket AS bucket, count(*) AS conversations, count(e.conversation_id) AS escalated
FROM active a LEFT JOIN escalated e ON e.conversation_id = a.conversation_id
GROUP BY a.bucket"""


def _escalation_rate(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "rate": ratio(raw["escalated"], raw["conversations"]),
        "escalated": raw["escalated"],
        "conversations": raw["conversations"],
    }


ESCALATION_RATE = register(
    Measure(
        "escalationRate",
        "The share of conversations active in the bucket that were handed to a person (a "
        "handoff activity, sent or received, in the window).",
        TURNS,
        values=(
            Value("rate", RATIO, "escalated / conversations"),
            Value("escalated", COUNT, "conversations with a handoff"),
            Value("conversations", COUNT, "conversations active in the bucket"),
        ),
        sql=_escalation,
        finish=_escalation_rate,
    )
)


def _containment(q: Sql) -> str:
    return f"""WITH engaged AS (
    SELECT DISTINCT {q.bucket("start_ns")} AS bucket, conversation_id FROM turns
    WHERE {q.window("start_ns")} AND conversation_id IS NOT NULL
      AND activity_type = '{contract.MESSAGE_ACTIVITY_TYPE}' {q.filters}
), escalated AS ({_HANDOFF})
SELECT g.bucket AS bucket, count(*) AS engaged,
       count(*) FILTER (WHERE e.conversation_id IS NULL) AS contained
FROM engaged g LEFT JOIN escalated e ON e.conversation_id = g.conversation_id
GROUP BY g.bucket"""


def _containment_rate(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "rate": ratio(raw["contained"], raw["engaged"]),
        "contained": raw["contained"],
        "engaged": raw["engaged"],
    }


CONTAINMENT_RATE = register(
    Measure(
        "containmentRate",
        "The share of engaged conversations (a user message in the bucket) that were not "
        "escalated in the window.",
        TURNS,
        values=(
            Value("rate", RATIO, "contained / engaged"),
            Value("contained", COUNT, "engaged conversations without a handoff"),
            Value("engaged", COUNT, "conversations with a user message in the bucket"),
        ),
        sql=_containment,
        finish=_containment_rate,
    )
)
