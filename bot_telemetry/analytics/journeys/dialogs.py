"""Dialog funnels with no set-up: for every dialog id seen, WaterfallStart -> each step by
name, in the order the steps run -> WaterfallComplete, ready to run as a funnel.

    for dialog in dialog_funnels(engine, {"startTime": "7d"}):
        funnel(engine, dialog["funnel"])

botbuilder's waterfall events carry ``DialogId``, ``StepName`` and ``InstanceId`` (one run of
the dialog); a step's place is its average position within the runs that reached it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from ...contract import (
    DIALOG_ID,
    STEP_NAME,
    WATERFALL_CANCEL,
    WATERFALL_COMPLETE,
    WATERFALL_START,
    WATERFALL_STEP,
)
from ...store.engine import Engine
from ..measures.arguments import in_python_words, json_body, python_names
from .matching import Params, context_condition
from .requests import MAX_STEPS, RequestError, TimeRange, _object, _unknown, parse_context

#: The window of a dialog funnel: a run's last step within a day of its start.
DIALOG_WINDOW = "1d"


class DialogFunnel(TypedDict):
    dialogId: str
    starts: int
    completes: int
    cancels: int
    steps: list[str]
    #: Steps left out past MAX_STEPS (a funnel has at most 20 steps).
    truncated: int
    #: The body of POST /analytics/funnel for this dialog.
    funnel: dict[str, Any]


_STEP_ORDER = """
WITH waterfall AS (
    SELECT name, dialog_id, step_name, coalesce(instance_id, conversation_id) AS run, time_ns
    FROM events
    WHERE name IN ($start_event, $step_event, $complete_event, $cancel_event)
        AND dialog_id IS NOT NULL AND time_ns >= $start AND time_ns < $end AND {context}
), steps AS (
    SELECT dialog_id, step_name, row_number() OVER (
            PARTITION BY dialog_id, run ORDER BY time_ns, step_name) AS place
    FROM waterfall WHERE name = $step_event AND step_name IS NOT NULL
), totals AS (
    SELECT dialog_id, count(*) FILTER (WHERE name = $start_event) AS starts,
        count(*) FILTER (WHERE name = $complete_event) AS completes,
        count(*) FILTER (WHERE name = $cancel_event) AS cancels
    FROM waterfall GROUP BY dialog_id
)
SELECT t.dialog_id AS dialog, t.starts, t.completes, t.cancels, s.step_name AS step,
    s.average_place
FROM totals t LEFT JOIN (
    SELECT dialog_id, step_name, avg(place) AS average_place FROM steps
    GROUP BY dialog_id, step_name) s ON s.dialog_id = t.dialog_id
ORDER BY t.dialog_id, s.average_place, s.step_name
"""


_FIELDS = ("startTime", "endTime", "context")


def dialog_funnels(
    engine: Engine,
    request: Mapping[str, Any] | None = None,
    now_ns: int | None = None,
    **arguments: Any,
) -> list[DialogFunnel]:
    """Every dialog with waterfall events in the time range (``startTime``, ``endTime``,
    ``context`` as for funnels; from Python also ``start_time=``, ...), most started first."""
    if arguments and request is not None:
        raise TypeError("dialog_funnels() takes a request body or keyword arguments, not both")
    body = _object(request or json_body(arguments, _FIELDS, "dialog_funnels"))
    _unknown(body, _FIELDS, "")
    try:
        window = TimeRange.parse(body, now_ns)
        context = parse_context(body.get("context"))
    except RequestError as error:
        raise in_python_words(error, python_names(_FIELDS) if arguments else {}) from None
    params = Params()
    sql = _STEP_ORDER.replace("{context}", context_condition(context, params))
    values = {
        **params.values,
        "start": window.start_ns,
        "end": window.end_ns,
        "start_event": WATERFALL_START,
        "step_event": WATERFALL_STEP,
        "complete_event": WATERFALL_COMPLETE,
        "cancel_event": WATERFALL_CANCEL,
    }
    found: dict[str, DialogFunnel] = {}
    for dialog, starts, completes, cancels, step, _ in engine.query(sql, values):
        entry = found.setdefault(
            dialog,
            DialogFunnel(
                dialogId=dialog,
                starts=int(starts),
                completes=int(completes),
                cancels=int(cancels),
                steps=[],
                truncated=0,
                funnel={},
            ),
        )
        if step is not None:
            entry["steps"].append(step)
    for entry in found.values():
        room = MAX_STEPS - 2
        entry["truncated"] = max(0, len(entry["steps"]) - room)
        entry["steps"] = entry["steps"][:room]
        entry["funnel"] = _funnel_body(entry["dialogId"], entry["steps"], body)
    return sorted(found.values(), key=lambda d: (-d["starts"], d["dialogId"]))


def _funnel_body(dialog: str, steps: list[str], request: Mapping[str, Any]) -> dict[str, Any]:
    where = {DIALOG_ID: dialog}
    return {
        **{key: request[key] for key in ("startTime", "endTime", "context") if key in request},
        "steps": [
            {"event": WATERFALL_START, "where": where},
            *({"event": WATERFALL_STEP, "where": {**where, STEP_NAME: s}} for s in steps),
            {"event": WATERFALL_COMPLETE, "where": where},
        ],
        "order": "ordered",
        "window": DIALOG_WINDOW,
        "countBy": "conversation",
        "exclusions": [],
    }
