"""The request: one POST body (the seed-002 shape), checked field by field.

    {"startTime": "2026-11-01T00:00:00Z", "endTime": null,
     "context": {"channelId": ["msteams"]},
     "measures": [{"measureType": "activeUsers", "timeGranularity": ["hour", "day"]},
                  {"measureType": "intents", "params": {"minScore": 0.5},
                   "page": 0, "pageSize": 50, "sortDirection": "descending"}]}

Anything wrong is a ``RequestError`` naming the field (``measures[1].timeGranularity``) and
what was expected there; nothing is run until the whole request is good.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..window import INSTANT_FORMS, TIME_RANGE, instant_ns
from .context import DIMENSIONS
from .definition import MEASURES, Measure
from .granularity import GRANULARITIES, MAX_BUCKETS, Buckets

DEFAULT_GRANULARITY: Final = ("hour",)
SORT_DIRECTIONS: Final = ("ascending", "descending")
#: The largest page one measure may ask for.
MAX_PAGE_SIZE: Final = 10_000
_FIELDS: Final = ("startTime", "endTime", "context", "measures")
_MEASURE_FIELDS: Final = (
    "measureType",
    "params",
    "timeGranularity",
    "page",
    "pageSize",
    "sortDirection",
)


class RequestError(ValueError):
    """A request that cannot be run: ``field`` names what is wrong, ``expected`` what
    should be there. The journeys' (funnels, paths, retention) is a kind of this one."""

    def __init__(self, field: str, expected: str, found: object = None, *, detail: str = ""):
        self.field = field
        self.expected = expected
        message = f"{field}: expected {expected}"
        if detail:
            message += f"; {detail}"
        elif found is not None:
            message += f", found {_shown(found)}"
        super().__init__(message)

    def as_json(self) -> dict[str, str]:
        return {"error": str(self), "field": self.field, "expected": self.expected}


def _shown(value: object) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if isinstance(value, bool) or value is None:
        return "true" if value is True else "false" if value is False else "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


@dataclass(frozen=True)
class MeasureSpec:
    """One entry of ``measures``: what to compute and how to return it."""

    measure_type: str
    params: Mapping[str, float] = field(default_factory=dict)
    time_granularity: tuple[str, ...] = DEFAULT_GRANULARITY
    page: int = 0
    page_size: int | None = None
    sort_direction: str = "ascending"
    #: Why the measure is not run: a context dimension it cannot take, when another measure
    #: of the request takes it (it is answered with this instead of rows).
    refused: RequestError | None = None


@dataclass(frozen=True)
class AnalyticsRequest:
    """A checked request: the window in nanoseconds, the context, the measures."""

    start_ns: int
    end_ns: int
    context: Mapping[str, tuple[str, ...]]
    measures: tuple[MeasureSpec, ...]


def parse_time(value: object, field: str, now_ns: int | None = None) -> int:
    """Nanoseconds since the epoch from ISO 8601 text, epoch milliseconds or a duration ago
    (``instant_ns``: the journeys' times too), from 1970 to 2262-04-11 (``TIME_RANGE``: the
    times the store can hold)."""
    ns = instant_ns(value, time.time_ns() if now_ns is None else now_ns)
    if ns is None:
        raise RequestError(field, f"{INSTANT_FORMS}, {TIME_RANGE}", value)
    return ns


def _list_of_strings(value: object, field: str) -> tuple[str, ...]:
    expected = "a non-empty list of strings"
    if not isinstance(value, list | tuple) or not value:
        raise RequestError(field, expected, value)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise RequestError(f"{field}[{index}]", "a string", item)
    return tuple(value)


def _whole_number(value: object, field: str, minimum: int, maximum: int) -> int:
    expected = f"a whole number from {minimum} to {maximum:,}"
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise RequestError(field, expected, value)
    return value


def _unknown_keys(given: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    for key in given:
        if key not in known:
            name = f"{where}.{key}" if where else str(key)
            raise RequestError(name, "one of " + ", ".join(known), detail=f"{key!r} is unknown")


def _context(value: object) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RequestError("context", "an object of dimension: [values]", value)
    _unknown_keys(value, DIMENSIONS, "context")
    return {name: _list_of_strings(values, f"context.{name}") for name, values in value.items()}


def _amount(number: float) -> str:
    """A bound as the refusal says it: ``0.5``, ``1``, ``31,622,400``."""
    return f"{number:,.0f}" if float(number).is_integer() else f"{number:g}"


def _params(measure: Measure, value: object, field: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RequestError(field, "an object of parameter: number", value)
    known = {param.name: param for param in measure.params}
    if not known and value:
        name = next(iter(value))
        raise RequestError(f"{field}.{name}", f"no parameters: {measure.name} takes none")
    _unknown_keys(value, tuple(known), field)
    params = {}
    for name, given in value.items():
        param = known[name]
        top = "" if param.maximum is None else f" to {_amount(param.maximum)}"
        kind = "a whole number" if param.integer else "a number"
        expected = f"{kind} from {_amount(param.minimum)}{top}"
        ok = isinstance(given, int | float) and not isinstance(given, bool)
        if ok and isinstance(given, float):
            ok = math.isfinite(given) and (given.is_integer() or not param.integer)
        # (An int is compared as it is: float() of JSON's 400-digit number would overflow.)
        if not ok or given < param.minimum:
            raise RequestError(f"{field}.{name}", expected, given)
        if param.maximum is not None and given > param.maximum:
            raise RequestError(f"{field}.{name}", expected, given)
        params[name] = float(given)
    return params


def _measure(item: object, index: int, request: dict[str, Any]) -> MeasureSpec:
    where = f"measures[{index}]"
    if not isinstance(item, Mapping):
        raise RequestError(where, 'an object like {"measureType": "activeUsers"}', item)
    _unknown_keys(item, _MEASURE_FIELDS, where)
    name = item.get("measureType")
    if not isinstance(name, str) or name not in MEASURES:
        raise RequestError(f"{where}.measureType", "one of " + ", ".join(MEASURES), name)
    measure = MEASURES[name]
    untaken = [dimension for dimension in request["context"] if dimension not in measure.dimensions]
    for dimension in untaken:
        # A dimension none of the measures takes is a mistake in the request; one that only
        # some take narrows those, and the others say they do not take it.
        if dimension not in request["taken"]:
            raise _untaken(measure, dimension)
    granularities = item.get("timeGranularity", list(DEFAULT_GRANULARITY))
    field = f"{where}.timeGranularity"
    if not isinstance(granularities, list | tuple) or not granularities:
        raise RequestError(field, "a non-empty list of " + ", ".join(GRANULARITIES), granularities)
    for number, granularity in enumerate(granularities):
        if granularity not in GRANULARITIES:
            raise RequestError(
                f"{field}[{number}]", "one of " + ", ".join(GRANULARITIES), granularity
            )
        count = bucket_count(granularity, request["start_ns"], request["end_ns"])
        if count > MAX_BUCKETS:
            raise RequestError(
                f"{field}[{number}]",
                f"a granularity giving at most {MAX_BUCKETS:,} buckets in the window",
                detail=f"{granularity} gives {count:,}: choose a coarser one or a shorter window",
            )
    sort = item.get("sortDirection", "ascending")
    if sort not in SORT_DIRECTIONS:
        raise RequestError(f"{where}.sortDirection", "ascending or descending", sort)
    page_size = item.get("pageSize")
    return MeasureSpec(
        measure_type=name,
        params=_params(measure, item.get("params"), f"{where}.params"),
        time_granularity=tuple(dict.fromkeys(granularities)),
        page=_whole_number(item.get("page", 0), f"{where}.page", 0, 2**31),
        page_size=None
        if page_size is None
        else _whole_number(page_size, f"{where}.pageSize", 1, MAX_PAGE_SIZE),
        sort_direction=sort,
        refused=_untaken(measure, untaken[0]) if untaken else None,
    )


def _untaken(measure: Measure, dimension: str) -> RequestError:
    return RequestError(
        f"context.{dimension}",
        f"one of the dimensions {measure.name} takes: " + ", ".join(measure.dimensions),
        detail=f"{dimension} does not apply to {measure.subject.doc}",
    )


def bucket_count(granularity: str, start_ns: int, end_ns: int) -> int:
    """How many buckets of ``granularity`` the window has: a measure may ask for at most
    ``MAX_BUCKETS`` (the request refuses more, and ``usable_granularities`` says which fit)."""
    return Buckets.of(granularity, start_ns, end_ns).count


def usable_granularities(start_ns: int, end_ns: int) -> list[dict[str, Any]]:
    """Every granularity with its bucket count in the window and whether a request may ask
    for it (``GET /analytics/granularities``: the UI offers only those, by this same rule)."""
    found = []
    for granularity in GRANULARITIES:
        count = bucket_count(granularity, start_ns, end_ns)
        found.append({"granularity": granularity, "buckets": count, "usable": count <= MAX_BUCKETS})
    return found


def parse_request(body: object, now_ns: int | None = None) -> AnalyticsRequest:
    """The request in ``body`` (a decoded JSON object), or a ``RequestError``."""
    if not isinstance(body, Mapping):
        raise RequestError("body", 'a JSON object like {"startTime": ..., "measures": [...]}', body)
    _unknown_keys(body, _FIELDS, "")
    start_ns, end_ns = parse_window(body, now_ns)
    request: dict[str, Any] = {
        "start_ns": start_ns,
        "end_ns": end_ns,
        "context": _context(body.get("context")),
    }
    measures = body.get("measures")
    if not isinstance(measures, list | tuple) or not measures:
        raise RequestError(
            "measures", 'a non-empty list like [{"measureType": "activeUsers"}]', measures
        )
    named = (item.get("measureType") for item in measures if isinstance(item, Mapping))
    request["taken"] = {
        dimension
        for name in named
        if isinstance(name, str) and name in MEASURES
        for dimension in MEASURES[name].dimensions
    }
    specs = tuple(_measure(item, index, request) for index, item in enumerate(measures))
    return AnalyticsRequest(start_ns, end_ns, request["context"], specs)


def parse_window(body: Mapping[str, Any], now_ns: int | None = None) -> tuple[int, int]:
    """``startTime`` (required) and ``endTime`` (default: now) of ``body``, in nanoseconds."""
    if body.get("startTime") is None:
        raise RequestError("startTime", INSTANT_FORMS, detail="it is required")
    now = time.time_ns() if now_ns is None else now_ns
    start_ns = parse_time(body["startTime"], "startTime", now)
    end = body.get("endTime")
    end_ns = now if end is None else parse_time(end, "endTime", now)
    if end_ns <= start_ns:
        raise RequestError(
            "endTime", "a time after startTime", end if end is not None else "now (the default)"
        )
    return start_ns, end_ns
