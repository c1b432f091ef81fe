"""Dialogs: dialogOutcomes, dialogSteps.

A dialog run is one waterfall instance: botbuilder's ``WaterfallStart`` begins it, each
``WaterfallStep`` records a step, ``WaterfallComplete`` or ``WaterfallCancel`` ends it (all
carry ``DialogId`` and ``InstanceId``). Its **outcome**, as of endTime: completed, cancelled,
**abandoned** when its last event is at least ``abandonmentSeconds`` before endTime, or
**in progress** — never abandoned just because it is recent.
"""

from __future__ import annotations

from typing import Any

from ... import contract
from ..window import MAX_DURATION_SECONDS
from .context import DIALOG_ID, EVENTS, WATERFALL_EVENT_NAMES
from .definition import COUNT, Measure, Param, Sql, Value, register

_INSTANCE = "instance_id"
_STEP = "step_name"
_STARTS = EVENTS.with_columns("dialog runs (WaterfallStart events)", **{DIALOG_ID: "dialog_id"})


def _starts(q: Sql) -> str:
    return f"""SELECT {_INSTANCE} AS instance, dialog_id AS dialog, time_ns AS begun_ns,
           {q.bucket("time_ns")} AS bucket
    FROM events
    WHERE name = '{contract.WATERFALL_START}' AND {q.window("time_ns")}
      AND {_INSTANCE} IS NOT NULL AND dialog_id IS NOT NULL {q.filters}"""


def _outcomes(q: Sql) -> str:
    return f"""WITH starts AS ({_starts(q)}
), later AS (
    SELECT {_INSTANCE} AS instance, max(time_ns) AS last_ns,
           bool_or(name = '{contract.WATERFALL_COMPLETE}') AS completed,
           bool_or(name = '{contract.WATERFALL_CANCEL}') AS cancelled
    FROM events
    WHERE name IN ({WATERFALL_EVENT_NAMES}) AND {q.window("time_ns")}
      AND {_INSTANCE} IN (SELECT instance FROM starts)
    GROUP BY instance
)
SELECT s.bucket AS bucket, s.dialog AS dialogId, count(*) AS runs,
       count(*) FILTER (WHERE l.completed) AS completed_runs,
       count(*) FILTER (WHERE NOT l.completed AND l.cancelled) AS cancelled_runs,
       count(*) FILTER (WHERE NOT l.completed AND NOT l.cancelled
                          AND l.last_ns <= $end - $abandonmentSeconds * CAST(1000000000 AS BIGINT))
           AS abandoned_runs
FROM starts s JOIN later l ON l.instance = s.instance
GROUP BY s.bucket, s.dialog"""


def _outcome_values(raw: dict[str, Any]) -> dict[str, Any]:
    ended = raw["completed_runs"] + raw["cancelled_runs"] + raw["abandoned_runs"]
    return {
        "started": raw["runs"],
        contract.OUTCOME_COMPLETED: raw["completed_runs"],
        contract.OUTCOME_CANCELLED: raw["cancelled_runs"],
        contract.OUTCOME_ABANDONED: raw["abandoned_runs"],
        "inProgress": raw["runs"] - ended,
    }


DIALOG_OUTCOMES = register(
    Measure(
        "dialogOutcomes",
        "Dialog runs begun in the bucket, per dialog, by outcome as of endTime: completed, "
        "cancelled, abandoned (no event of the run for abandonmentSeconds before endTime) "
        "or in progress.",
        _STARTS,
        keys=("dialogId",),
        values=(
            Value("started", COUNT, "runs begun"),
            Value(contract.OUTCOME_COMPLETED, COUNT, "runs that completed"),
            Value(contract.OUTCOME_CANCELLED, COUNT, "runs cancelled"),
            Value(contract.OUTCOME_ABANDONED, COUNT, "runs abandoned"),
            Value("inProgress", COUNT, "runs still going"),
        ),
        sql=_outcomes,
        finish=_outcome_values,
        params=(
            Param(
                "abandonmentSeconds",
                "a run with no event for this long before endTime is abandoned",
                float(contract.ABANDONMENT_SECONDS),
                minimum=1,
                maximum=float(MAX_DURATION_SECONDS),
                integer=True,
            ),
        ),
    )
)


def _steps(q: Sql) -> str:
    return f"""WITH starts AS ({_starts(q)}
), reached AS (
    SELECT {_INSTANCE} AS instance, {_STEP} AS step FROM events
    WHERE name = '{contract.WATERFALL_STEP}' AND {q.window("time_ns")} AND {_STEP} IS NOT NULL
      AND {_INSTANCE} IN (SELECT instance FROM starts)
    GROUP BY instance, step
)
SELECT s.bucket AS bucket, s.dialog AS dialogId, r.step AS step,
       count(*) AS reached
FROM starts s JOIN reached r ON r.instance = s.instance
GROUP BY s.bucket, s.dialog, r.step"""


DIALOG_STEPS = register(
    Measure(
        "dialogSteps",
        "How far dialog runs got: for each dialog and step, the runs begun in the bucket "
        "that reached the step (a WaterfallStep event). dialogOutcomes' started gives the "
        "runs begun, to make shares of.",
        _STARTS,
        keys=("dialogId", "step"),
        values=(Value("reached", COUNT, "runs begun in the bucket that reached the step"),),
        sql=_steps,
    )
)
