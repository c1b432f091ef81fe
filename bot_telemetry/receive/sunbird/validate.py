"""Validate one event against the v3 schema of its eid: the envelope, then its ``edata``.

>>> validate({"eid": "FEEDBACK", "ets": 1, "ver": "3.0", "mid": "m", "edata": {"rating": "5"},
...           "actor": {"id": "u", "type": "User"},
...           "context": {"channel": "c", "env": "web", "pdata": {"id": "app"}}}).reason
'edata.rating: expected a number, found string'
"""

from __future__ import annotations

from typing import Any

from ...contract import CLIENT_EVENT_EIDS
from .compiled import compile_all
from .schemas import EDATA, ENVELOPE, Problem, kind_of

_EIDS = "one of " + ", ".join(CLIENT_EVENT_EIDS)
#: Per eid, whether an event is valid, compiled from the same schemas (compiled.py).
ACCEPTS = compile_all(ENVELOPE, EDATA)


def validate(event: Any) -> Problem | None:
    """None when ``event`` is a valid v3 event, else the first problem found."""
    if type(event) is dict:
        eid = event.get("eid")
        if type(eid) is str:
            accepts = ACCEPTS.get(eid)
            if accepts is not None and accepts(event):
                return None
    return problem_of(event)


def problem_of(event: Any) -> Problem | None:
    """What ``validate`` says, found by walking the schema nodes (the reference the compiled
    checks follow; slower, and the only one that says why)."""
    if type(event) is not dict:
        return Problem("", "an event object", kind_of(event))
    problem = ENVELOPE.check(event)
    if problem is not None:
        return problem
    schema = EDATA.get(event["eid"])
    if schema is None:
        return Problem("eid", _EIDS, repr(event["eid"]))
    problem = schema.check(event["edata"])
    return None if problem is None else problem.under("edata")


__all__ = ["Problem", "problem_of", "validate"]
