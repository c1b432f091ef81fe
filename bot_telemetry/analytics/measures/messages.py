"""Messages: messagesReceived, messagesSent, replyLatency.

Counted from the BotMessageReceived and BotMessageSend events of type ``message``: what users
said and what the bot answered (typing and trace activities are not messages; a
conversationUpdate is not either).
"""

from __future__ import annotations

from typing import Any

from ... import contract
from .context import EVENTS, LOCALE
from .definition import COUNT, MILLISECONDS, Measure, Sql, Value, latency_quantiles, register

#: Message events: their locale is a property of their own.
_MESSAGE_EVENTS = EVENTS.with_columns(
    "BotMessageReceived / BotMessageSend events", **{LOCALE: "locale"}
)
_IS_MESSAGE = f"activity_type = '{contract.MESSAGE_ACTIVITY_TYPE}'"


def _count_of(event: str) -> Any:
    def sql(q: Sql) -> str:
        return f"""SELECT {q.bucket("time_ns")} AS bucket, count(*) AS messages
FROM events WHERE name = '{event}' AND {q.window("time_ns")} AND {_IS_MESSAGE} {q.filters}
GROUP BY bucket"""

    return sql


MESSAGES_RECEIVED = register(
    Measure(
        "messagesReceived",
        "Messages users sent the bot: BotMessageReceived events of type message.",
        _MESSAGE_EVENTS,
        values=(Value("messages", COUNT, "messages received"),),
        sql=_count_of(contract.BOT_MESSAGE_RECEIVED),
    )
)

MESSAGES_SENT = register(
    Measure(
        "messagesSent",
        "Messages the bot sent: BotMessageSend events of type message (welcomes included).",
        _MESSAGE_EVENTS,
        values=(Value("messages", COUNT, "messages sent"),),
        sql=_count_of(contract.BOT_MESSAGE_SEND),
    )
)


def _reply_latency(q: Sql) -> str:
    # One pass over the turns' message events, grouped by their trace (the integer key):
    # at 10M spans a join of received to sent on the 32-digit trace id cost twice the CPU.
    return f"""SELECT {q.bucket("in_ns")} AS bucket, count(*) AS replied,
       quantile_cont(out_ns - in_ns, [0.5, 0.95, 0.99]) AS latency
FROM (SELECT trace_key,
             min(time_ns) FILTER (WHERE name = '{contract.BOT_MESSAGE_RECEIVED}') AS in_ns,
             min(time_ns) FILTER (WHERE name = '{contract.BOT_MESSAGE_SEND}') AS out_ns
      FROM events
      WHERE name IN ('{contract.BOT_MESSAGE_RECEIVED}', '{contract.BOT_MESSAGE_SEND}')
        AND {_IS_MESSAGE} AND trace_key IS NOT NULL AND time_ns >= $start {q.filters}
      GROUP BY trace_key) turns_messages
WHERE in_ns < $end AND out_ns >= in_ns
GROUP BY bucket"""


REPLY_LATENCY = register(
    Measure(
        "replyLatency",
        "From a user's message to the bot's first reply in the same turn (the times the two "
        "events were recorded: the reply's once the channel took it): the 50th, 95th and 99th "
        "percentiles over the messages answered, by when the message came.",
        _MESSAGE_EVENTS,
        values=(
            Value("p50Ms", MILLISECONDS, "median"),
            Value("p95Ms", MILLISECONDS, "95th percentile"),
            Value("p99Ms", MILLISECONDS, "99th percentile"),
            Value("replied", COUNT, "messages answered in their turn"),
        ),
        sql=_reply_latency,
        finish=latency_quantiles("replied"),
    )
)
