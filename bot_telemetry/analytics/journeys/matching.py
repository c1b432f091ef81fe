"""SQL pieces every journey query shares: which events a step matches, the context filter,
what is counted (a user, a conversation or a session), and the parameters that carry every
value. All of it is DuckDB SQL over the logical relations, compiled for each engine.

    params = Params()
    condition = event_condition(EventMatch("LuisIntent.*"), params)
    # "starts_with(name, $p0)", params.values == {"p0": "LuisIntent."}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...contract import (
    CLIENT_EVENT_SCOPE,
    CLIENT_LIFECYCLE_EIDS,
    PROMOTED_EVENT_PROPERTIES,
    SESSION_GAP_SECONDS,
)
from ...store.rows import PROMOTED_TYPES
from .requests import DIMENSIONS, CountBy, EventMatch

#: Event properties the ``events`` relation also has as text columns (promoted at ingest,
#: the same value ``attr()`` reads): compared there, not in the attributes, which DuckDB
#: would parse as JSON for every event.
PROMOTED_PROPERTIES = {
    keys[0]: column
    for column, keys in PROMOTED_EVENT_PROPERTIES.items()
    if len(keys) == 1 and column not in PROMOTED_TYPES
}


class Params:
    """Values of a query's ``$name`` parameters, named as they are added."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any, name: str | None = None) -> str:
        key = name or f"p{len(self.values)}"
        self.values[key] = value
        return f"${key}"


def name_condition(match: EventMatch, params: Params) -> str:
    """A boolean over an ``events`` row's ``name`` alone: cheap, a first filter."""
    prefix = match.prefix
    if prefix is None:
        return f"name = {params.add(match.event)}"
    if prefix:
        return f"starts_with(name, {params.add(prefix)})"
    return "true"


def names_condition(matches: list[EventMatch], params: Params) -> str:
    """A boolean over ``name`` alone: the event's name can match one of ``matches``. The exact
    names are one ``IN`` list (DuckDB filtered 10M events by it in 0.34 s, by an ``OR`` of
    the same equalities in 0.41 s)."""
    exact = list(dict.fromkeys(m.event for m in matches if m.prefix is None))
    parts = [f"name IN ({', '.join(params.add(name) for name in exact)})"] if exact else []
    parts += dict.fromkeys(name_condition(m, params) for m in matches if m.prefix is not None)
    return " OR ".join(parts)


def event_condition(
    match: EventMatch, params: Params, read: Mapping[str, str] | None = None
) -> str:
    """A boolean over an ``events`` row (``name``, ``attributes``): the event is ``match``'s.
    Property values are compared as text; they are read only for events of the right name
    (reading an attribute parses JSON on DuckDB). ``read`` names columns already holding
    some properties (see ``read_properties``)."""
    name = name_condition(match, params)
    if not match.where:
        return f"({name})"
    properties = " AND ".join(
        f"coalesce({(read or {}).get(key) or property_column(key)} IN "
        f"({', '.join(params.add(value) for value in values)}), false)"
        for key, values in match.where
    )
    return f"(CASE WHEN {name} THEN {properties} ELSE false END)"


def read_properties(matches: list[EventMatch], params: Params) -> tuple[list[str], dict[str, str]]:
    """Each property the matches compare, read once per event (and only for the events whose
    name can match): select expressions ``... AS prop0`` and the key -> column map."""
    keys: dict[str, list[EventMatch]] = {}
    for match in matches:
        for key, _ in match.where:
            if key not in PROMOTED_PROPERTIES:
                keys.setdefault(key, []).append(match)
    selects, columns = [], {}
    for i, (key, users) in enumerate(keys.items()):
        names = " OR ".join(dict.fromkeys(name_condition(m, params) for m in users))
        selects.append(f"CASE WHEN {names} THEN {attribute_text(key)} END AS prop{i}")
        columns[key] = f"prop{i}"
    return selects, columns


def context_condition(context: tuple[tuple[str, tuple[str, ...]], ...], params: Params) -> str:
    """Events carrying one of the listed values for every dimension given."""
    parts = [
        f"{column} IN ({', '.join(params.add(value) for value in values)})"
        for column, values in context
    ]
    return " AND ".join(parts) if parts else "true"


#: A number DuckDB's JSON writes with an exponent (``1e21``, ``-1.5e300``: 1e21 and over)
#: and ClickHouse's exporter in full (Go's ``strconv.FormatFloat(f, 'f', -1, 64)``); groups:
#: sign, first digit, ``.fraction``, fraction, exponent.
_LARGE = r"^(-?)([0-9])(\.([0-9]+))?e\+?(2[1-9]|[3-9][0-9]|[1-9][0-9][0-9])$"
#: The same under 1e-6: ``1e-7``, ``1.25e-7`` (``0.0000001``, ``0.000000125`` in full).
_SMALL = r"^(-?)([0-9])(\.([0-9]+))?e-([7-9]|[1-9][0-9]+)$"


def attribute_text(key: str) -> str:
    """An event property read from the attributes, as text the same on both engines, as the
    ClickHouse exporter's map has it (Go's FormatFloat): a whole number without its ``.0``
    (DuckDB's JSON writes the float 3.0 as ``3.0``), a very large or small one in full
    (DuckDB's ``1e21`` and ``1e-7`` are ``1000000000000000000000`` and ``0.0000001``), so
    ``seats=3`` or ``amount=1e21`` matches, and a breakdown reads, alike on both. Text that
    looks the same is read the same (the engines cannot tell it from a number on
    ClickHouse). ``where`` values are made alike by ``requests.property_text``."""
    return number_text(f"attr(attributes, '{key}')")


def number_text(text: str) -> str:
    """``text`` (an SQL expression) with a number in DuckDB's JSON spelling rewritten as the
    ClickHouse exporter spells it (``attribute_text``); other text as it is."""
    whole = rf"regexp_replace({text}, '^(-?[0-9]+)\.0$', '\1')"

    def group(pattern: str, which: str) -> str:
        return f"regexp_replace({text}, '{pattern}', '{which}')"

    large_digits, large_fraction = group(_LARGE, r"\1\2\4"), group(_LARGE, r"\4")
    small_sign, small_digits = group(_SMALL, r"\1"), group(_SMALL, r"\2\4")
    exponent = r"\5"
    large_exponent = f"CAST({group(_LARGE, exponent)} AS INTEGER)"
    small_exponent = f"CAST({group(_SMALL, exponent)} AS INTEGER)"
    large = f"{large_digits} || repeat('0', {large_exponent} - length({large_fraction}))"
    small = f"{small_sign} || '0.' || repeat('0', {small_exponent} - 1) || {small_digits}"
    # The LIKE first: most values hold no "e" and pay one test, not two regular expressions.
    return (
        f"CASE WHEN {text} NOT LIKE '%e%' THEN {whole} "
        f"WHEN regexp_matches({text}, '{_LARGE}') THEN {large} "
        f"WHEN regexp_matches({text}, '{_SMALL}') THEN {small} "
        f"ELSE {whole} END"
    )


def property_column(key: str) -> str:
    """An event property: its promoted column, else read from the attributes."""
    return PROMOTED_PROPERTIES.get(key) or attribute_text(key)


def property_value(key: str) -> str:
    """A dimension's column (``channelId`` is ``channel_id``), else the event property."""
    return DIMENSIONS.get(key) or property_column(key)


def property_columns(matches: list[EventMatch], *keys: str) -> list[str]:
    """The ``events`` columns reading the properties of ``matches`` and the dimensions or
    properties ``keys`` takes: promoted columns, and ``attributes`` only if some property is
    not promoted."""
    wanted = [key for match in matches for key, _ in match.where]
    found = [PROMOTED_PROPERTIES.get(key, "attributes") for key in wanted]
    found += [DIMENSIONS.get(key) or PROMOTED_PROPERTIES.get(key, "attributes") for key in keys]
    return list(dict.fromkeys(found))


def scoped_events(
    count_by: CountBy,
    names: list[str],
    where: str,
    params: Params,
) -> tuple[str, str]:
    """CTEs giving ``entity`` (what is counted) and the ``events`` columns ``names`` for the
    events ``where`` selects, and the name of the last one. A session is a user's run of
    events of their own doing (not of a turn that is not ``by_user``) with no gap longer than
    SESSION_GAP_SECONDS; its key is the user and the time the session began (docs/journeys.md,
    Sessions)."""
    columns = ", ".join(dict.fromkeys(names))
    if count_by == "conversation":
        return (
            f"scoped AS (SELECT conversation_id AS entity, {columns} FROM events "
            f"WHERE {where} AND conversation_id IS NOT NULL)",
            "scoped",
        )
    if count_by == "user":
        # Events with no user are dropped by the caller, after a window or an aggregate: a
        # filter on user_id here would read it twice on DuckDB (it is parsed from JSON).
        return (
            f"scoped AS (SELECT user_id AS entity, {columns} FROM events WHERE {where})",
            "scoped",
        )
    gap = params.add(SESSION_GAP_SECONDS * 10**9, "session_gap")
    others = ", ".join(name for name in dict.fromkeys(names) if name != "user_id")
    # As the sessions measure counts them, only events of the user's own doing open or extend
    # a session: a conversationUpdate 20 minutes after the user left keeps nothing open.
    # Such an event (a turn not by_user) belongs to the session of the user's nearest event
    # of their own within the gap (the earlier one on a tie), else to none: a welcome sent
    # when the page opened goes with what the user then said, an endOfConversation with
    # what they said last. Equal times are one moment (RANGE frames): the same session.
    mine = "PARTITION BY user_id ORDER BY time_ns RANGE BETWEEN UNBOUNDED PRECEDING AND"
    return (
        f"""user_events AS (
    SELECT user_id, {others}, own,
        own AND coalesce(time_ns - max(CASE WHEN own THEN time_ns END) OVER ({mine} 1 PRECEDING)
            > {gap}, true) AS opens
    FROM (SELECT *, NOT {NOT_BY_USER_EVENT} AS own FROM events
        WHERE {where} AND user_id IS NOT NULL) e
), user_sessions AS (
    SELECT *,
        max(CASE WHEN opens THEN time_ns END) OVER ({mine} CURRENT ROW) AS began,
        max(CASE WHEN own THEN time_ns END) OVER ({mine} CURRENT ROW) AS own_before,
        min(CASE WHEN own THEN time_ns END) OVER (PARTITION BY user_id ORDER BY time_ns
            RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS own_after,
        min(CASE WHEN opens THEN time_ns END) OVER (PARTITION BY user_id ORDER BY time_ns
            RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS opens_after
    FROM user_events
), scoped AS (
    SELECT user_id || '@' || CAST(CASE
            WHEN own THEN began
            WHEN time_ns - own_before <= {gap}
                AND coalesce(time_ns - own_before <= own_after - time_ns, true) THEN began
            -- The next own event begins a session, or goes on with the one before.
            WHEN own_after - time_ns <= {gap}
                THEN CASE WHEN opens_after = own_after THEN own_after ELSE began END
        END AS VARCHAR) AS entity,
        {columns}
    FROM user_sessions
)""",
        "scoped",
    )


_CTE_NAME = re.compile(r"^(\w+) AS \(", re.MULTILINE)


_LIFECYCLE = ", ".join(f"'{eid}'" for eid in CLIENT_LIFECYCLE_EIDS)


#: An event recorded in a turn that is not the user's doing (``turns.by_user`` false): a
#: proactive turn (the bot wrote unasked, with ``continue_conversation``) or one the channel
#: sent on its own (Web Chat opening, the bot added to a team or installed, typing). It
#: neither brings a user into a cohort nor back, nor counts as what a user did after
#: dropping off.
#:
#: A turn is one trace (DESIGN.md), so an event belongs to the turn of its trace, whichever
#: span it was recorded under: the turn span, a dependency call's, a middleware's, another
#: service's, or the page's event that names the trace (a client event linked to the request
#: that caused the turn). Matching the turn span's id alone took an event under a child span
#: (a custom event inside a dependency call of a conversationUpdate) for the user's. A trace
#: that holds turns of both kinds (a proactive turn started inside a user's turn) is judged
#: by the span: only the events on a turn span that is not the user's doing are not theirs.
#: An event in no trace, or in a trace with no turn, is the user's, except the page's own
#: lifecycle events (``CLIENT_LIFECYCLE_EIDS``: its START on load, END as the tab closes),
#: which are never the user's whatever trace they name: a page loaded before any turn names
#: none.
def not_by_user_event(
    trace_key: str = "trace_key",
    span_id: str = "span_id",
    scope_name: str = "scope_name",
    name: str = "name",
) -> str:
    """Whether the event whose trace, span, scope and name are the columns ``trace_key``,
    ``span_id``, ``scope_name`` and ``name`` is one."""
    # trace_key, not trace_id, in both lookups: an integer is the cheaper join (at 1M events
    # the span lookup by (trace_id, span_id) cost about 6% more of a retention or a session
    # path on both engines); a collision of 64 bits and a span id is not worth a string.
    return f"""(coalesce({scope_name} = '{CLIENT_EVENT_SCOPE}' AND {name} IN ({_LIFECYCLE}), false)
    OR coalesce({trace_key} IN (
        SELECT trace_key FROM turns GROUP BY trace_key HAVING NOT bool_or(by_user)), false)
    OR coalesce(({trace_key}, {span_id}) IN (
        SELECT trace_key, span_id FROM turns WHERE NOT by_user), false))"""


NOT_BY_USER_EVENT = not_by_user_event()


def with_clause(ctes: list[str], query: str) -> str:
    """``WITH`` the CTEs (each ``name AS (...)``, possibly several in one string), those read
    more than once marked MATERIALIZED: computed once on both engines (ClickHouse otherwise
    runs a CTE again at every reference)."""
    text = ",\n".join(ctes)
    names = _CTE_NAME.findall(text)
    everything = text + "\n" + query
    for name in names:
        uses = len(re.findall(rf"\b{name}\b", everything)) - 1
        if uses > 1:
            text = re.sub(rf"^{name} AS \(", f"{name} AS MATERIALIZED (", text, flags=re.M)
    return "WITH " + text
