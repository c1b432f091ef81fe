"""The Sunbird telemetry v3 event schemas, written here from the published specification
(the pipeline's ``schemas/telemetry/3.0`` JSON Schemas, draft-04: the envelope, actor,
context, pdata, cdata, object and one ``edata`` per eid).

A small schema language of our own rather than a JSON Schema library: each node checks a
decoded JSON value and says, on the first mismatch, which field and what was expected —
the reason kept with a failed event. A general validator walking schema documents costs
several times more per event, and ingest speed is a goal (docs/client-telemetry.md); for the
same reason ``compiled.py`` turns these nodes into one straight-line check per eid, and the
nodes are walked only to say why an event is refused.

JSON Schema's meaning is kept: ``number`` accepts integers and decimals but not ``true``;
an object is open unless closed (``additionalProperties: false``); a required field must be
present, an optional one may be missing but, when present, must have its type (``null``
included: a ``"sid": null`` is not a string).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ...contract import CLIENT_EVENT_EIDS


class Problem(NamedTuple):
    """Why a value does not match: the field (``edata.rating``, ``context.cdata[0].id``),
    what the schema expects there, and what was found."""

    field: str
    expected: str
    found: str

    def under(self, name: str) -> Problem:
        """The same problem seen from the parent: ``rating`` becomes ``edata.rating``."""
        if not self.field:
            return self._replace(field=name)
        joiner = "" if self.field.startswith("[") else "."
        return self._replace(field=f"{name}{joiner}{self.field}")

    @property
    def reason(self) -> str:
        return f"{self.field or 'event'}: expected {self.expected}, found {self.found}"


def kind_of(value: Any) -> str:
    """A JSON value's type as JSON Schema names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "an empty string" if not value else "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class Node:
    """One schema node. ``check`` returns None when the value matches."""

    expected = "anything"

    def check(self, value: Any) -> Problem | None:
        return None


class Anything(Node):
    pass


@dataclass(frozen=True)
class Text(Node):
    non_empty: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "a non-empty string" if self.non_empty else "a string"

    def check(self, value: Any) -> Problem | None:
        if type(value) is str and (value or not self.non_empty):
            return None
        return Problem("", self.expected, kind_of(value))


@dataclass(frozen=True)
class Number(Node):
    minimum: float | None = None
    maximum: float | None = None

    @property
    def expected(self) -> str:  # type: ignore[override]
        if self.minimum is not None and self.maximum is not None:
            return f"a number from {self.minimum:g} to {self.maximum:g}"
        return "a number"

    def check(self, value: Any) -> Problem | None:
        kind = type(value)
        if kind is not int and kind is not float:
            return Problem("", self.expected, kind_of(value))
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            return Problem("", self.expected, repr(value))
        return None


@dataclass(frozen=True)
class OneOf(Node):
    values: tuple[str, ...]

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(f'"{value}"' for value in self.values)

    def check(self, value: Any) -> Problem | None:
        if type(value) is str and value in self.values:
            return None
        found = repr(value) if isinstance(value, str) else kind_of(value)
        return Problem("", self.expected, found)


@dataclass(frozen=True)
class Array(Node):
    item: Node = field(default_factory=Anything)

    @property
    def expected(self) -> str:  # type: ignore[override]
        inner = self.item.expected
        return "an array" if isinstance(self.item, Anything) else f"an array of {inner}"

    def check(self, value: Any) -> Problem | None:
        if type(value) is not list:
            return Problem("", self.expected, kind_of(value))
        if isinstance(self.item, Anything):
            return None
        check = self.item.check
        for index, item in enumerate(value):
            problem = check(item)
            if problem is not None:
                return problem.under(f"[{index}]")
        return None


class Object(Node):
    """An object: required and optional fields, closed or open to others."""

    expected = "an object"

    def __init__(
        self,
        required: Mapping[str, Node] | None = None,
        optional: Mapping[str, Node] | None = None,
        *,
        closed: bool = False,
    ) -> None:
        self.required = tuple((required or {}).items())
        self.optional = tuple((optional or {}).items())
        self.closed = closed
        self.known = frozenset(name for name, _ in self.required + self.optional)

    def check(self, value: Any) -> Problem | None:
        if type(value) is not dict:
            return Problem("", self.expected, kind_of(value))
        for name, node in self.required:
            if name not in value:
                return Problem(name, f"{node.expected} (required)", "nothing")
            problem = node.check(value[name])
            if problem is not None:
                return problem.under(name)
        for name, node in self.optional:
            if name in value:
                problem = node.check(value[name])
                if problem is not None:
                    return problem.under(name)
        if self.closed and not self.known.issuperset(value):
            extra = sorted(key for key in value if key not in self.known)[0]
            allowed = ", ".join(sorted(self.known)) or "none"
            return Problem(extra, f"no such field (allowed: {allowed})", "a value")
        return None


TEXT = Text()
NON_EMPTY = Text(non_empty=True)
NUMBER = Number()
ANY_OBJECT = Object()
#: An ets must be a time the store can hold: milliseconds from 1970 to 2262 (our bound; the
#: specification only says "number").
MAX_ETS = (2**63 - 1) // 1_000_000
ETS = Number(minimum=0, maximum=MAX_ETS)

VERSIONS = ("3.0", "3.1")

PDATA = Object({"id": TEXT}, {"ver": TEXT, "pid": TEXT, "platform": TEXT})
CDATA_ITEM = Object({"type": TEXT, "id": TEXT}, closed=True)
ROLLUP = Object(optional={name: TEXT for name in ("l1", "l2", "l3", "l4")})
ACTOR = Object({"id": TEXT, "type": TEXT})
CONTEXT = Object(
    {"channel": NON_EMPTY, "env": TEXT, "pdata": PDATA},
    {"sid": TEXT, "did": TEXT, "cdata": Array(CDATA_ITEM), "rollup": ANY_OBJECT},
)
OBJECT = Object(optional={"id": TEXT, "type": TEXT, "ver": TEXT, "rollup": ROLLUP})
TARGET = Object(
    {"id": TEXT, "ver": TEXT, "type": TEXT},
    {"parent": Object(optional={"id": TEXT, "type": TEXT})},
    closed=True,
)
PLUGIN = Object({"id": TEXT, "ver": TEXT}, {"category": TEXT}, closed=True)
INLINE_OBJECT = Object(
    {"id": TEXT, "type": TEXT, "ver": TEXT},
    {"subtype": TEXT, "name": TEXT, "code": TEXT, "parent": ANY_OBJECT},
    closed=True,
)

#: The envelope every event shares; ``edata`` is checked per eid (``EDATA``).
ENVELOPE = Object(
    {
        "eid": TEXT,
        "ets": ETS,
        "ver": OneOf(VERSIONS),
        "mid": NON_EMPTY,
        "actor": ACTOR,
        "context": CONTEXT,
        "edata": ANY_OBJECT,
    },
    {"object": OBJECT, "tags": Array(TEXT)},
)


def _edata(required: Mapping[str, Node] | None = None, **optional: Node) -> Object:
    return Object(required, optional, closed=True)


#: ``edata`` per eid; every one is closed except HEARTBEAT's.
EDATA: dict[str, Object] = {
    "START": _edata(
        {"type": TEXT},
        dspec=ANY_OBJECT,
        uaspec=Object(optional={k: TEXT for k in ("agent", "ver", "system", "platform", "raw")}),
        loc=TEXT,
        mode=TEXT,
        duration=NUMBER,
        pageid=TEXT,
    ),
    "END": _edata(
        {"type": TEXT}, mode=TEXT, duration=NUMBER, pageid=TEXT, summary=Array(ANY_OBJECT)
    ),
    "IMPRESSION": _edata(
        {"type": TEXT, "pageid": TEXT, "uri": TEXT},
        subtype=TEXT,
        duration=NUMBER,
        visits=Array(
            Object(
                {"objid": TEXT, "objtype": TEXT},
                {"objver": TEXT, "section": TEXT, "index": NUMBER},
                closed=True,
            )
        ),
    ),
    "INTERACT": _edata(
        {"type": TEXT, "id": TEXT},
        subtype=TEXT,
        pageid=TEXT,
        target=TARGET,
        plugin=PLUGIN,
        extra=ANY_OBJECT,
        duration=NUMBER,
    ),
    "FEEDBACK": _edata(rating=NUMBER, comments=TEXT, commentid=TEXT, commenttxt=TEXT),
    "LOG": _edata({"type": TEXT, "level": TEXT, "message": TEXT}, pageid=TEXT, params=Array()),
    "ERROR": _edata(
        {"err": TEXT, "errtype": TEXT, "stacktrace": TEXT},
        pageid=TEXT,
        object=INLINE_OBJECT,
        plugin=PLUGIN,
    ),
    "INTERRUPT": _edata({"type": TEXT}, pageid=TEXT),
    "SUMMARY": _edata(
        {
            "type": TEXT,
            "starttime": NUMBER,
            "endtime": NUMBER,
            "timespent": NUMBER,
            "pageviews": NUMBER,
            "interactions": NUMBER,
        },
        mode=TEXT,
        extra=Array(),
    ),
    "ASSESS": _edata(
        {
            "item": Object({"id": TEXT}),
            "pass": TEXT,
            "score": NUMBER,
            "resvalues": Array(),
            "duration": NUMBER,
        },
        index=NUMBER,
    ),
    "RESPONSE": _edata({"target": ANY_OBJECT, "type": TEXT, "values": Array()}),
    "SHARE": _edata({"items": Array()}, dir=TEXT, type=TEXT),
    "SEARCH": _edata(
        {"query": TEXT, "size": NUMBER, "topn": Array()},
        type=TEXT,
        filters=ANY_OBJECT,
        sort=ANY_OBJECT,
        correlationid=TEXT,
    ),
    "AUDIT": _edata(type=TEXT, props=Array(TEXT), state=TEXT, prevstate=TEXT, duration=NUMBER),
    "EXDATA": _edata(type=TEXT, data=TEXT),
    "METRICS": _edata({"system": TEXT, "subsystem": TEXT}, metrics=Array()),
    "HEARTBEAT": ANY_OBJECT,
}

assert set(EDATA) == set(CLIENT_EVENT_EIDS), "a schema per eid of the contract"
