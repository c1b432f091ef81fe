"""The two exhausts' queries, written once over the analytics model (``events``) and run on
DuckDB and ClickHouse alike.

The bot is UCI's ``conversationId``: it matches the bot process's ``service.name`` (what
``configure(service_name=...)`` set). A user's consent is their latest ``ConsentChanged``
event for that bot, over all time, whatever the window: a withdrawal hides the answers given
before it (a grant and a withdrawal in the same nanosecond count as a withdrawal).
"""

from __future__ import annotations

from ..analytics.query import Query
from ..contract import (
    ACTIVITY_ID,
    CONSENT,
    CONSENT_CHANGED,
    CONSENT_GRANTED,
    CONSENT_WITHDRAWN,
    ENCRYPTED_USER_ID,
    EOF,
    PROMPT_ANSWERED,
    PROMPT_RESPONSE,
    QUESTION_DESCRIPTION,
    QUESTION_DURATION_MS,
    QUESTION_ID,
    QUESTION_MAX_SCORE,
    QUESTION_OPTIONS,
    QUESTION_SCORE,
    QUESTION_TITLE,
    QUESTION_TYPE,
    X_PATH,
)

_DECISIONS = f"""decisions AS (
    SELECT user_id,
        first(attr(attributes, '{CONSENT}') ORDER BY time_ns DESC,
              CASE WHEN attr(attributes, '{CONSENT}') = '{CONSENT_WITHDRAWN}' THEN 0 ELSE 1 END)
            AS decision
    FROM events
    WHERE name = '{CONSENT_CHANGED}' AND service_name = $bot AND user_id IS NOT NULL
    GROUP BY user_id
)"""

#: The answer's attributes, read together (attrs(): one JSON parse per row on DuckDB).
_KEYS = (
    ACTIVITY_ID,
    QUESTION_ID,
    QUESTION_TYPE,
    QUESTION_TITLE,
    QUESTION_DESCRIPTION,
    QUESTION_DURATION_MS,
    QUESTION_SCORE,
    QUESTION_MAX_SCORE,
    QUESTION_OPTIONS,
    PROMPT_RESPONSE,
    X_PATH,
    EOF,
)


def _key(name: str) -> str:
    return f"nullif(e.a[{_KEYS.index(name) + 1}], '')"


_ANSWERS = f"""SELECT {_key(ACTIVITY_ID)} AS message_id,
    e.service_name AS bot,
    e.service_name AS bot_name,
    e.user_id AS device_id,
    e.session_id AS session,
    {_key(QUESTION_ID)} AS question_id,
    {_key(QUESTION_TYPE)} AS question_type,
    {_key(QUESTION_TITLE)} AS question_title,
    {_key(QUESTION_DESCRIPTION)} AS question_description,
    {_key(QUESTION_DURATION_MS)} AS duration_ms,
    {_key(QUESTION_SCORE)} AS score,
    {_key(QUESTION_MAX_SCORE)} AS max_score,
    {_key(QUESTION_OPTIONS)} AS question_options,
    CASE WHEN d.decision = '{CONSENT_GRANTED}' THEN {_key(PROMPT_RESPONSE)} END AS response,
    {_key(X_PATH)} AS x_path,
    {_key(EOF)} AS eof,
    e.time_ns AS answered_ns
FROM (
    SELECT attrs(attributes, {", ".join(f"'{key}'" for key in _KEYS)}) AS a,
        service_name, user_id, session_id, time_ns
    FROM events
    WHERE name = '{PROMPT_ANSWERED}' AND service_name = $bot
        AND time_ns >= $start AND time_ns < $end
) AS e LEFT JOIN decisions d ON d.user_id = e.user_id"""
_ANSWER_ORDER = "answered_ns, device_id, message_id, question_id"

#: One row per answered prompt, in the response file's column order (the duration in ms and
#: the time in ns, formatted by ``files``); the response only where the user's consent stands.
RESPONSES = Query("exhaust.responses", f"WITH {_DECISIONS}\n{_ANSWERS}\nORDER BY {_ANSWER_ORDER}")


#: One row per user who talked to the bot in the window: their consent and, where it
#: stands, the vault's ciphertext of their real id.
USERS = Query(
    "exhaust.users",
    f"""WITH {_DECISIONS},
sealed AS (
    SELECT user_id, first(attr(attributes, '{ENCRYPTED_USER_ID}') ORDER BY time_ns DESC) AS token
    FROM events
    WHERE name = '{CONSENT_CHANGED}' AND service_name = $bot AND user_id IS NOT NULL
        AND attr(attributes, '{ENCRYPTED_USER_ID}') IS NOT NULL
    GROUP BY user_id
),
talked AS (
    SELECT user_id AS device FROM events
    WHERE service_name = $bot AND time_ns >= $start AND time_ns < $end AND user_id IS NOT NULL
    GROUP BY user_id
)
SELECT t.device AS device_id, d.decision AS decision,
    CASE WHEN d.decision = '{CONSENT_GRANTED}' THEN s.token END AS token
FROM talked t
    LEFT JOIN decisions d ON d.user_id = t.device
    LEFT JOIN sealed s ON s.user_id = t.device
ORDER BY device_id""",
)

__all__ = ["RESPONSES", "USERS"]
