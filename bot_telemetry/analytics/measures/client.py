"""Client telemetry: clientEvents, feedback.

Client events are Sunbird v3 events a page or app sent to ``POST /v1/telemetry``, stored as
events of scope ``CLIENT_EVENT_SCOPE`` named by their ``eid`` (docs/client-telemetry.md); the
actor is their ``fromId``, already pseudonymised (the events' ``user_id``). A ``FEEDBACK``
event carries the user's rating in ``sunbird.edata.rating``.
"""

from __future__ import annotations

from typing import Any

from ... import contract
from .context import CLIENT_EVENTS
from .definition import COUNT, NUMBER, Measure, Sql, Value, register, rounded

_CLIENT = f"scope_name = '{contract.CLIENT_EVENT_SCOPE}'"
_RATING = f"TRY_CAST(attr(attributes, '{contract.SUNBIRD_EDATA_PREFIX}rating') AS DOUBLE)"


def _client_events(q: Sql) -> str:
    return f"""SELECT {q.bucket("time_ns")} AS bucket, name AS eid, count(*) AS events,
       count(DISTINCT user_id) AS actors
FROM events WHERE {_CLIENT} AND {q.window("time_ns")} {q.filters}
GROUP BY bucket, eid"""


def _client_values(raw: dict[str, Any]) -> dict[str, Any]:
    return {"events": raw["events"], "users": raw["actors"]}


CLIENT_EVENT_COUNTS = register(
    Measure(
        "clientEvents",
        "Client events stored, per eid (START, IMPRESSION, INTERACT, FEEDBACK, END, ...), "
        "and the distinct users (actors) who sent them.",
        CLIENT_EVENTS,
        keys=("eid",),
        values=(
            Value("events", COUNT, "events of the eid"),
            Value("users", COUNT, "distinct pseudonymous actors"),
        ),
        sql=_client_events,
        finish=_client_values,
    )
)


def _feedback(q: Sql) -> str:
    return f"""SELECT {q.bucket("time_ns")} AS bucket, count(*) AS events,
       count({_RATING}) AS rated, avg({_RATING}) AS mean_rating
FROM events
WHERE {_CLIENT} AND name = '{contract.FEEDBACK_EID}' AND {q.window("time_ns")}
  {q.filters}
GROUP BY bucket"""


def _feedback_values(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "count": raw["events"],
        "rated": raw["rated"],
        "meanRating": rounded(raw["mean_rating"]),
    }


FEEDBACK = register(
    Measure(
        "feedback",
        "FEEDBACK client events: how many, how many carry a rating, and the mean rating.",
        CLIENT_EVENTS,
        values=(
            Value("count", COUNT, "feedback events"),
            Value("rated", COUNT, "those with a rating"),
            Value("meanRating", NUMBER, "the mean of the ratings"),
        ),
        sql=_feedback,
        finish=_feedback_values,
    )
)
