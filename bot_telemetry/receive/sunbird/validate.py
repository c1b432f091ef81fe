"""Validate one event against the v3 schema of its eid: the envelope, then its ``edata``.

>>> validate({"eid": "FEEDBACK", "ets": 1, "ver": "3.0", "mid": "m", "edata": {"rating": "5"},
...           "actor": {"id": "u", "type": "User"},
...           "context": {"channel": "c", "env": "web", "pdata": {"id": "app"}}}).reason
'edata.rating: expected a number, found string'
"""

from __future__ import annotations

from typing import Any

from ...contract import CLIENT_EVENT_EIDS
from .schemas import EDATA, ENVELOPE, Problem, kind_of

_EIDS = "one of " + ", ".join(CLIENT_EVENT_EIDS)


def validate(event: Any) -> Problem | None:
    """None when ``event`` is a valid v3 event, else the first problem found."""
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


__all__ = ["Problem", "validate"]
