"""Users and sessions: activeUsers, newUsers, sessions.

A **user** is the pseudonymous id on a turn (``enduser.pseudo.id``); a **session** is one
user's turns with no gap longer than ``SESSION_GAP_SECONDS`` (the ``gapSeconds`` parameter).
Only a turn that is the user's doing (``turns.by_user``) counts: not a proactive turn (the bot
wrote unasked: a reminder, a notification), nor one the channel sent on its own (Web Chat
opening a conversation, the bot added to a team or installed, typing) or the chat page sent
when it opened (``webchat/join``): such a turn makes no
user active or new and neither starts nor extends a session.
"""

from __future__ import annotations

from ... import contract
from ..window import MAX_DURATION_SECONDS
from .context import TURNS
from .definition import COUNT, Measure, Param, Sql, Value, register


def _active_users(q: Sql) -> str:
    return f"""SELECT {q.bucket("start_ns")} AS bucket, count(DISTINCT user_id) AS users
FROM turns WHERE {q.window("start_ns")} AND user_id IS NOT NULL AND by_user {q.filters}
GROUP BY bucket"""


ACTIVE_USERS = register(
    Measure(
        "activeUsers",
        "Distinct users with at least one turn of their own doing in the bucket: not a "
        "proactive turn (the bot writing to a user makes nobody active), nor one the channel "
        f"sent ({', '.join(contract.CHANNEL_ACTIVITY_TYPES)}), nor an event the chat page "
        f"sends by itself when it opens ({', '.join(contract.CLIENT_HOUSEKEEPING_EVENTS)}).",
        TURNS,
        values=(Value("users", COUNT, "distinct pseudonymous users"),),
        sql=_active_users,
    )
)


def _new_users(q: Sql) -> str:
    # A user's first turn ever (of those the context keeps), wherever the window starts.
    return f"""SELECT {q.bucket("first_ns")} AS bucket, count(*) AS users
FROM (SELECT user_id, min(start_ns) AS first_ns FROM turns
      WHERE start_ns < $end AND user_id IS NOT NULL AND by_user {q.filters}
      GROUP BY user_id) firsts
WHERE first_ns >= $start
GROUP BY bucket"""


NEW_USERS = register(
    Measure(
        "newUsers",
        "Users whose first turn of their own doing ever (among the turns the context keeps; "
        "proactive and channel-sent turns left out) is in the bucket: a user first seen "
        "before startTime is not new.",
        TURNS,
        values=(Value("users", COUNT, "users seen for the first time"),),
        sql=_new_users,
    )
)


def _sessions(q: Sql) -> str:
    # A turn starts a session when the same user's previous turn is more than the gap
    # before it; turns up to one gap before the window decide the first ones. Turns of one
    # user at the same instant need no order among them: whichever is first, the count of
    # session starts is the same (and a tie-break on the span id cost 60% more at 10M).
    return f"""SELECT {q.bucket("start_ns")} AS bucket, count(*) AS sessions
FROM (SELECT start_ns, lag(start_ns) OVER (PARTITION BY user_id ORDER BY start_ns)
             AS previous_ns
      FROM turns
      WHERE start_ns >= $start - $gapSeconds * CAST(1000000000 AS BIGINT) AND start_ns < $end
        AND user_id IS NOT NULL AND by_user {q.filters}) ordered
WHERE start_ns >= $start
  AND (previous_ns IS NULL OR start_ns - previous_ns > $gapSeconds * CAST(1000000000 AS BIGINT))
GROUP BY bucket"""


SESSIONS = register(
    Measure(
        "sessions",
        "Sessions started in the bucket: a session is one user's turns of their own doing "
        "(proactive and channel-sent turns left out) with no gap longer than gapSeconds "
        "between two of them.",
        TURNS,
        values=(Value("sessions", COUNT, "sessions that started in the bucket"),),
        sql=_sessions,
        params=(
            Param(
                "gapSeconds",
                "the longest pause within one session, in seconds",
                float(contract.SESSION_GAP_SECONDS),
                minimum=1,
                maximum=float(MAX_DURATION_SECONDS),
                integer=True,
            ),
        ),
    )
)
