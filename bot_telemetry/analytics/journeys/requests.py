"""The requests of funnels, paths and retention, read from their JSON bodies (or the same
from Python, where a tuple is taken for a list).

Every check names the field and what was expected, so that an HTTP 400, a CLI error and a
Python ``RequestError`` say the same thing:

    FunnelRequest.parse({"steps": []})
    # RequestError: steps: expected a list of 1 to 20 steps, got none

Times are ISO 8601 (``2026-11-01T00:00:00Z``), epoch milliseconds, or a duration ago
(``7d``), from 1970 to 2262-04-11 as in the measures API (``TIME_RANGE``); ``null`` means the
beginning (``startTime``) or now (``endTime``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Final, Literal, TypeVar

from ...contract import SLOW_TURN_SECONDS
from ...store.otel_rows import attribute_text
from ..measures.arguments import in_python_words, json_body, python_names
from ..measures.request import RequestError as AnalyticsRequestError
from ..window import (
    _MAX_NS,
    DURATION_FORMS,
    INSTANT_FORMS,
    MAX_DURATION_SECONDS,
    TIME_RANGE,
    duration_seconds,
    instant_ns,
)

MAX_STEPS: Final = 20
MAX_WINDOW_SECONDS: Final = MAX_DURATION_SECONDS
DEFAULT_WINDOW: Final = "14d"

Order = Literal["ordered", "strict", "unordered"]
CountBy = Literal["user", "conversation", "session"]
Period = Literal["day", "week", "month"]
ORDERS: Final[tuple[Order, ...]] = ("ordered", "strict", "unordered")
COUNT_BY: Final[tuple[CountBy, ...]] = ("user", "conversation", "session")
PERIODS: Final[tuple[Period, ...]] = ("day", "week", "month")

#: Context dimensions and breakdowns that are columns of the ``events`` relation; any other
#: breakdown is an event property.
DIMENSIONS: Final = {
    "channelId": "channel_id",
    "conversationId": "conversation_id",
    "userId": "user_id",
    "serviceName": "service_name",
    "serviceVersion": "service_version",
    "dialogId": "dialog_id",
}

_PROPERTY_KEY = re.compile(r"^[^\"'\\]+$")


class RequestError(AnalyticsRequestError):
    """A request that cannot be answered; the message names the field and what it needs.
    A kind of the measures' ``RequestError`` (``bot_telemetry.analytics.RequestError``), so
    that one ``except`` catches a bad request of any analysis."""

    def __init__(self, field: str, expected: str):
        # The journeys' messages are whole ("steps[0]: unknown field; the fields are ..."),
        # not always "expected X, found Y": the text is kept as it is.
        ValueError.__init__(self, f"{field}: {expected}")
        self.field = field
        self.expected = expected.removeprefix("expected ")


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _object(body: object, name: str = "request body") -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise RequestError(name, f"expected a JSON object, got {_describe(body)}")
    return body


def _unknown(body: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    extra = sorted(set(body) - set(known))
    if extra:
        raise RequestError(
            f"{where}{extra[0]}", f"unknown field; the fields are {', '.join(sorted(known))}"
        )


def parse_time(value: object, field: str, now_ns: int) -> int | None:
    """Nanoseconds since the epoch (``instant_ns``: the measures' times too), or None for
    null; a time out of ``TIME_RANGE`` (1970 to 2262-04-11) is refused."""
    if value is None or value == "":
        return None
    found = instant_ns(value, now_ns)
    if found is None:
        raise RequestError(field, f"expected {INSTANT_FORMS}, {TIME_RANGE}, got {_describe(value)}")
    return found


@dataclass(frozen=True)
class TimeRange:
    """[start_ns, end_ns): which attempts, paths or cohorts a request looks at."""

    start_ns: int = 0
    end_ns: int = _MAX_NS

    @classmethod
    def parse(cls, body: Mapping[str, Any], now_ns: int | None = None) -> TimeRange:
        now = time.time_ns() if now_ns is None else now_ns
        start = parse_time(body.get("startTime"), "startTime", now)
        end = parse_time(body.get("endTime"), "endTime", now)
        found = cls(0 if start is None else start, now if end is None else end)
        if found.end_ns <= found.start_ns:
            given = "" if end is not None else ", got now (the default)"
            raise RequestError("endTime", f"expected a time after startTime{given}")
        return found


_WHOLE = re.compile(r"-?[0-9]+\.0")
_EXPONENT = re.compile(r"-?[0-9]+(\.[0-9]+)?[eE][-+]?[0-9]+")


def property_text(text: str) -> str:
    """A ``where`` value as the stored properties are compared (``matching.attribute_text``,
    the ClickHouse exporter's spelling): a whole number without its ``.0``, so ``3``, ``3.0``
    and ``"3.0"`` all match 3.0; a number with an exponent in full, so ``1e21``, ``1e+21``
    and ``1000000000000000000000`` all match 1e21, ``1e-07`` matches 1e-7."""
    if _WHOLE.fullmatch(text):
        return text[:-2]
    if _EXPONENT.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return attribute_text(number)
    return text


def _text_values(value: object, field: str) -> tuple[str, ...]:
    """One value or a list of alternatives, each compared as text (numbers and booleans as
    their JSON text)."""
    values = value if isinstance(value, list | tuple) else [value]
    if not values:
        raise RequestError(field, "expected a value or a non-empty list of alternatives")
    found = []
    for item in values:
        if isinstance(item, bool):
            found.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            found.append(property_text(str(item)))
        else:
            raise RequestError(field, f"expected strings or numbers, got {_describe(item)}")
    return tuple(found)


def property_key(key: object, field: str) -> str:
    if not isinstance(key, str) or not _PROPERTY_KEY.match(key):
        raise RequestError(
            field, f"expected a property name without quotes or backslashes, got {_describe(key)}"
        )
    return key


def parse_context(value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``{"channelId": ["webchat"]}`` as ((column, values), ...)."""
    if value is None:
        return ()
    context = _object(value, "context")
    found = []
    for name, values in context.items():
        if name not in DIMENSIONS:
            raise RequestError(
                f"context.{name}",
                f"unknown dimension; the dimensions are {', '.join(sorted(DIMENSIONS))}",
            )
        if not isinstance(values, list | tuple) or not values:
            raise RequestError(f"context.{name}", "expected a non-empty list of strings")
        found.append((DIMENSIONS[name], _text_values(values, f"context.{name}")))
    return tuple(found)


@dataclass(frozen=True)
class EventMatch:
    """Which events a step (or an exclusion, a path's start, a cohort) stands for: a name, or a
    prefix pattern ``LuisIntent.*`` (``*`` alone: any event), and property equalities, each
    with alternatives."""

    event: str
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def prefix(self) -> str | None:
        """The name's prefix when the event is a pattern (``""`` for ``*``)."""
        return self.event[:-1] if self.event.endswith("*") else None

    def label(self) -> str:
        if not self.where:
            return self.event
        conditions = ", ".join(f"{key}={'|'.join(values)}" for key, values in self.where)
        return f"{self.event} ({conditions})"

    def as_json(self) -> dict[str, Any]:
        where = {key: list(values) if len(values) > 1 else values[0] for key, values in self.where}
        return {"event": self.event, "where": where}

    @classmethod
    def parse(cls, value: object, field: str) -> EventMatch:
        if isinstance(value, str):
            return cls(event_name(value, field))
        body = _object(value, field)
        _unknown(body, ("event", "where"), f"{field}.")
        if "event" not in body:
            raise RequestError(f"{field}.event", "expected an event name or pattern")
        where_body = body.get("where") or {}
        where = _object(where_body, f"{field}.where")
        conditions = tuple(
            (
                property_key(key, f"{field}.where"),
                _text_values(values, f"{field}.where.{key}"),
            )
            for key, values in where.items()
        )
        return cls(event_name(body["event"], f"{field}.event"), conditions)


def event_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestError(
            field, f"expected an event name or a pattern like LuisIntent.*, got {_describe(value)}"
        )
    name = value.strip()
    if "*" in name[:-1]:
        raise RequestError(field, f"a pattern may only end in * (LuisIntent.*), got {name!r}")
    if "|" in name:
        # The text syntax (the UI's forms, the CLI) reads `|` as alternatives of a property
        # value only: taken literally here, `A|B` would quietly match nothing.
        raise RequestError(
            field,
            "an event name cannot hold | (alternatives are for property values, EVENT:key=a|b; "
            f"for either of several events use a pattern like LuisIntent.*), got {name!r}",
        )
    return name


def _choice(body: Mapping[str, Any], name: str, choices: Sequence[str], default: str) -> str:
    value = body.get(name)
    if value is None:
        return default
    if value not in choices:
        raise RequestError(name, f"expected one of {', '.join(choices)}, got {_describe(value)}")
    return str(value)


def _integer(
    body: Mapping[str, Any], name: str, default: int, low: int, high: int, where: str = ""
) -> int:
    """``body[name]``, a whole number from low to high; ``where`` is the path to ``body``
    (``exclusions[0].``), so that the refusal names the whole field."""
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(
            f"{where}{name}",
            f"expected a whole number from {low} to {high}, got {_describe(value)}",
        )
    return value


def _number(body: Mapping[str, Any], name: str, default: float, low: int, high: int) -> float:
    """``body[name]``, a number above low and at most high."""
    value = body.get(name)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not low < value <= high  # False for NaN too
    ):
        raise RequestError(
            name, f"expected a number above {low} and at most {high:,}, got {_describe(value)}"
        )
    return float(value)


def parse_window(value: object) -> tuple[str, int]:
    """The window's text and nanoseconds: ``"30m"``, ``"14d"``, a number of seconds, or (from
    Python) a ``timedelta``."""
    if value is None:
        value = DEFAULT_WINDOW
    seconds: float
    if isinstance(value, timedelta):  # from Python, as a datetime is a time
        seconds = value.total_seconds()
        text = f"{int(seconds)}s" if seconds.is_integer() else f"{seconds}s"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        # (compared as given: float() of JSON's 400-digit number would overflow)
        seconds, text = value, f"{value}s"
    elif isinstance(value, str) and (given := duration_seconds(value)) is not None:
        seconds, text = given, value.strip()
    else:
        raise RequestError(
            "window",
            f"expected a duration like {DURATION_FORMS}, or a number of seconds, "
            f"got {_describe(value)}",
        )
    # (Less than a nanosecond is 0 ns, a window in which only equal times would count.)
    if not 0 < seconds <= MAX_WINDOW_SECONDS or int(seconds * 1e9) == 0:
        raise RequestError("window", f"expected a duration above 0 and at most 366d, got {text}")
    return text, int(seconds * 1e9)


@dataclass(frozen=True)
class Exclusion:
    """Attempts with this event between step ``from_step`` and step ``to_step`` (indexes from
    0) are not counted."""

    match: EventMatch
    from_step: int
    to_step: int


def parse_breakdown(value: object) -> str | None:
    if value is None or value == "":
        return None
    return property_key(value, "breakdown")


_FUNNEL_FIELDS = (
    "startTime",
    "endTime",
    "context",
    "steps",
    "order",
    "window",
    "countBy",
    "breakdown",
    "breakdownLimit",
    "exclusions",
    "slowReplySeconds",
    "dropOff",
    "dropOffLimit",
)


@dataclass(frozen=True)
class FunnelRequest:
    """``POST /analytics/funnel``'s body (docs/journeys.md)."""

    #: The body's fields (from Python: keyword arguments, ``python_name`` of each).
    FIELDS: ClassVar[tuple[str, ...]] = _FUNNEL_FIELDS

    steps: tuple[EventMatch, ...]
    range: TimeRange = field(default_factory=TimeRange)
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()
    order: Order = "ordered"
    window: str = DEFAULT_WINDOW
    window_ns: int = 14 * 86400 * 10**9
    count_by: CountBy = "conversation"
    breakdown: str | None = None
    breakdown_limit: int = 25
    exclusions: tuple[Exclusion, ...] = ()
    slow_reply_seconds: float = SLOW_TURN_SECONDS
    drop_off: bool = True
    drop_off_limit: int = 20

    @classmethod
    def parse(cls, body: object, now_ns: int | None = None) -> FunnelRequest:
        request = _object(body)
        _unknown(request, _FUNNEL_FIELDS, "")
        steps_body = request.get("steps")
        if not isinstance(steps_body, list | tuple) or not steps_body:
            got = _describe(steps_body) if steps_body else "none"
            raise RequestError("steps", f"expected a list of 1 to {MAX_STEPS} steps, got {got}")
        if len(steps_body) > MAX_STEPS:
            raise RequestError(
                "steps", f"expected at most {MAX_STEPS} steps, got {len(steps_body)}"
            )
        steps = tuple(EventMatch.parse(step, f"steps[{i}]") for i, step in enumerate(steps_body))
        order = _choice(request, "order", ORDERS, "ordered")
        window, window_ns = parse_window(request.get("window"))
        exclusions_body = request.get("exclusions")
        exclusions_body = [] if exclusions_body is None else exclusions_body
        if not isinstance(exclusions_body, list | tuple):
            raise RequestError("exclusions", "expected a list of {event, fromStep, toStep}")
        if exclusions_body and order == "unordered":
            raise RequestError(
                "exclusions", "an unordered funnel has no steps in between: leave exclusions out"
            )
        exclusions = []
        for i, item in enumerate(exclusions_body):
            name = f"exclusions[{i}]"
            entry = _object(item, name)
            _unknown(entry, ("event", "where", "fromStep", "toStep"), f"{name}.")
            match = EventMatch.parse({k: entry[k] for k in ("event", "where") if k in entry}, name)
            low = _integer(entry, "fromStep", 0, 0, len(steps) - 1, f"{name}.")
            high = _integer(entry, "toStep", len(steps) - 1, 0, len(steps) - 1, f"{name}.")
            if high <= low:
                raise RequestError(
                    f"{name}.toStep",
                    f"expected a step after fromStep ({low}) and at most {len(steps) - 1}",
                )
            exclusions.append(Exclusion(match, low, high))
        drop_off = request.get("dropOff", True)
        if not isinstance(drop_off, bool):
            raise RequestError("dropOff", f"expected true or false, got {_describe(drop_off)}")
        return cls(
            steps=steps,
            range=TimeRange.parse(request, now_ns),
            context=parse_context(request.get("context")),
            order=order,  # type: ignore[arg-type]
            window=window,
            window_ns=window_ns,
            count_by=_choice(request, "countBy", COUNT_BY, "conversation"),  # type: ignore[arg-type]
            breakdown=parse_breakdown(request.get("breakdown")),
            breakdown_limit=_integer(request, "breakdownLimit", 25, 1, 1000),
            exclusions=tuple(exclusions),
            slow_reply_seconds=_number(
                request, "slowReplySeconds", SLOW_TURN_SECONDS, 0, MAX_DURATION_SECONDS
            ),
            drop_off=drop_off,
            drop_off_limit=_integer(request, "dropOffLimit", 20, 0, 1000),
        )


_PATHS_FIELDS = (
    "startTime",
    "endTime",
    "context",
    "startEvent",
    "endEvent",
    "stepLimit",
    "edgeLimit",
    "countBy",
    "include",
    "exclude",
    "groupings",
)


def _patterns(body: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise RequestError(name, "expected a list of event names or patterns (LuisIntent.*)")
    return tuple(event_name(item, f"{name}[{i}]") for i, item in enumerate(value))


@dataclass(frozen=True)
class PathsRequest:
    """``POST /analytics/paths``'s body."""

    #: The body's fields (from Python: keyword arguments, ``python_name`` of each).
    FIELDS: ClassVar[tuple[str, ...]] = _PATHS_FIELDS

    range: TimeRange = field(default_factory=TimeRange)
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()
    start: EventMatch | None = None
    end: EventMatch | None = None
    step_limit: int = 5
    edge_limit: int = 50
    count_by: CountBy = "conversation"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    groupings: tuple[str, ...] = ()

    @classmethod
    def parse(cls, body: object, now_ns: int | None = None) -> PathsRequest:
        request = _object(body)
        _unknown(request, _PATHS_FIELDS, "")
        start = request.get("startEvent")
        end = request.get("endEvent")
        if start is not None and end is not None:
            raise RequestError("endEvent", "give startEvent or endEvent, not both")
        groupings = _patterns(request, "groupings")
        for i, grouping in enumerate(groupings):
            if not grouping.endswith("*"):
                raise RequestError(
                    f"groupings[{i}]", f"expected a pattern like LuisIntent.*, got {grouping!r}"
                )
        return cls(
            range=TimeRange.parse(request, now_ns),
            context=parse_context(request.get("context")),
            start=None if start is None else EventMatch.parse(start, "startEvent"),
            end=None if end is None else EventMatch.parse(end, "endEvent"),
            step_limit=_integer(request, "stepLimit", 5, 2, 20),
            edge_limit=_integer(request, "edgeLimit", 50, 1, 1000),
            count_by=_choice(request, "countBy", COUNT_BY, "conversation"),  # type: ignore[arg-type]
            include=_patterns(request, "include"),
            exclude=_patterns(request, "exclude"),
            groupings=groupings,
        )


_RETENTION_FIELDS = (
    "startTime",
    "endTime",
    "context",
    "cohortEvent",
    "returningEvent",
    "period",
    "totalIntervals",
)


@dataclass(frozen=True)
class RetentionRequest:
    """``POST /analytics/retention``'s body. No cohort event: a user's first conversation;
    no returning event: any event (a conversation) of the user."""

    #: The body's fields (from Python: keyword arguments, ``python_name`` of each).
    FIELDS: ClassVar[tuple[str, ...]] = _RETENTION_FIELDS

    range: TimeRange = field(default_factory=TimeRange)
    start_given: bool = False
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()
    cohort: EventMatch | None = None
    returning: EventMatch | None = None
    period: Period = "week"
    total_intervals: int = 8

    @classmethod
    def parse(cls, body: object, now_ns: int | None = None) -> RetentionRequest:
        request = _object(body)
        _unknown(request, _RETENTION_FIELDS, "")
        cohort = request.get("cohortEvent")
        returning = request.get("returningEvent")
        return cls(
            range=TimeRange.parse(request, now_ns),
            start_given=request.get("startTime") not in (None, ""),
            context=parse_context(request.get("context")),
            cohort=None if cohort is None else EventMatch.parse(cohort, "cohortEvent"),
            returning=None if returning is None else EventMatch.parse(returning, "returningEvent"),
            period=_choice(request, "period", PERIODS, "week"),  # type: ignore[arg-type]
            total_intervals=_integer(request, "totalIntervals", 8, 1, 120),
        )


_Parsed = TypeVar("_Parsed", FunnelRequest, PathsRequest, RetentionRequest)


def request_of(
    kind: type[_Parsed],
    request: _Parsed | Mapping[str, Any] | None,
    arguments: Mapping[str, Any],
    function: str,
) -> _Parsed:
    """``request`` (parsed, or its JSON body) or, from Python, the keyword ``arguments`` that
    stand for its body (``count_by="user"``), whose refusals name them as the caller wrote
    them (``count_by: expected one of ...``)."""
    if arguments and request is not None:
        raise TypeError(f"{function}() takes a request body or keyword arguments, not both")
    if isinstance(request, kind):
        return request
    if not arguments:
        return kind.parse({} if request is None else request)
    try:
        return kind.parse(json_body(arguments, kind.FIELDS, function))
    except RequestError as error:
        raise in_python_words(error, python_names(kind.FIELDS)) from None
