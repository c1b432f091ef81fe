"""Funnels: how many users, conversations or sessions go through a list of steps, where they
stop, how long each step takes, and why those who stopped did (docs/journeys.md).

    result = funnel(engine, {
        "steps": [{"event": "WaterfallStart", "where": {"DialogId": "booking"}},
                  {"event": "WaterfallComplete", "where": {"DialogId": "booking"}}],
        "window": "30m", "countBy": "conversation"})
    result["steps"][1]["count"], result["steps"][0]["dropOffCauses"]

The counting rule is ClickHouse ``windowFunnel``'s: each entity is counted once, at the
furthest step it reaches in an attempt that starts inside the time range, the last step no
later than ``window`` after the first. The query is one definition over the logical model
(DuckDB SQL, compiled for each engine); no engine's own funnel function is used, so both give
the same answer (the tests compare it with ``windowFunnel`` on ClickHouse).

How an attempt is found, per entity, over its events sorted by time (equal times: the event
matching the earlier step first, see ``_sorted``):

* ``ordered``: an attempt begins at a first-step event (the last one before the second step,
  if several come before it) and takes, for each next step, the earliest matching event after
  the previous step's. One event fills one step.
* ``strict``: the same, but each next step must be the entity's very next event.
* ``unordered``: an attempt begins at any event matching a step; it reaches as many steps as
  it has distinct steps matched within the window.

The entity counts at the furthest step of its best attempt that no exclusion disqualifies
(the first such attempt if several reach as far).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypedDict

from ...contract import (
    CLIENT_EVENT_SCOPE,
    DROP_OFF_CAUSES,
    HANDOFF_ACTIVITY_TYPE,
    WATERFALL_CANCEL,
)
from ...store.database import STATUS_ERROR
from ...store.engine import Engine
from ..traces import iso
from ..window import _MAX_NS
from .matching import (
    Params,
    context_condition,
    event_condition,
    names_condition,
    not_by_user_event,
    property_columns,
    property_value,
    read_properties,
    scoped_events,
    with_clause,
)
from .requests import FunnelRequest, request_of

#: The rank ``userLeft`` gets when no other cause applies.
_USER_LEFT = DROP_OFF_CAUSES.index("userLeft")
#: Above every cause's rank: an event that shows no cause sorts after those that do.
_NO_RANK = len(DROP_OFF_CAUSES)


class Step(TypedDict):
    index: int
    name: str
    event: str
    where: dict[str, Any]
    count: int
    conversionFromFirst: float | None
    conversionFromPrevious: float | None
    dropOff: int
    dropOffRate: float | None
    medianSecondsToConvert: float | None
    p90SecondsToConvert: float | None
    dropOffCauses: dict[str, int]


class BreakdownValue(TypedDict):
    value: str | None
    other: bool
    steps: list[Step]


class DroppedEntity(TypedDict):
    step: int
    entity: str
    conversationId: str | None
    traceId: str | None
    stepTraceId: str | None
    cause: str | None
    time: str


class FunnelResult(TypedDict):
    order: str
    window: str
    countBy: str
    startTime: str
    endTime: str
    steps: list[Step]
    excluded: int
    breakdown: str | None
    breakdownValues: list[BreakdownValue]
    dropped: list[DroppedEntity]
    #: What the counts alone would not tell (a strict funnel stopped by events between its
    #: steps), as sentences; empty when nothing needs saying.
    notes: list[str]


def funnel(
    engine: Engine, request: FunnelRequest | Mapping[str, Any] | None = None, **arguments: Any
) -> FunnelResult:
    """The funnel ``request`` describes (a FunnelRequest or its JSON body), or the keyword
    arguments do (``steps=[...], window="1h", count_by="user"``), on ``engine``."""
    parsed = request_of(FunnelRequest, request, arguments, "funnel")
    sql, values = funnel_sql(parsed)
    rows = engine.query(sql, values).dicts()
    result = _shape(parsed, rows)
    result["notes"] = _strict_notes(engine, parsed, result["steps"])
    return result


def _strict_notes(engine: Engine, request: FunnelRequest, steps: list[Step]) -> list[str]:
    """Why a strict funnel stopped everyone at a step, when it is the order: nobody reached
    the step though some reached the one before, and in order (other events allowed between)
    some did. Every turn records several events (BotMessageReceived, a recognizer's result,
    BotMessageSend, ...), so steps in different turns are never adjacent, and the answer was
    a silent 0. The funnel is asked again as ordered only in that case."""
    if request.order != "strict":
        return []
    stuck = next(
        (k for k in range(1, len(steps)) if not steps[k]["count"] and steps[k - 1]["count"]),
        None,
    )
    if stuck is None:
        return []
    ordered = replace(request, order="ordered", breakdown=None, drop_off=False)
    sql, values = funnel_sql(ordered)
    reached = _shape(ordered, engine.query(sql, values).dicts())["steps"][stuck]["count"]
    if not reached:
        return []
    entity = request.count_by if reached == 1 else f"{request.count_by}s"
    before, step = steps[stuck - 1]["name"], steps[stuck]["name"]
    return [
        f"No {request.count_by} went from '{before}' to '{step}' with no other event between, "
        f"as a strict funnel asks; {reached} {entity} did with other events between (order "
        "ordered). Every turn records several events (BotMessageReceived, a recognizer's "
        "result, BotMessageSend, ...), so steps in different turns are never adjacent: ask "
        "for order ordered, with exclusions for what must not come between."
    ]


# --- the query ---------------------------------------------------------------------------


def funnel_sql(request: FunnelRequest) -> tuple[str, dict[str, Any]]:
    """The funnel's query (DuckDB SQL over the logical model) and its parameter values."""
    return _FunnelQuery(request).build()


class _FunnelQuery:
    """The query is a pipeline: each step reads the one before it (only ``numbered`` is read
    once per step of an ordered funnel), because ClickHouse expands every reference to a CTE
    when it plans a query, and a query whose CTEs read each other many times takes seconds
    to plan."""

    def __init__(self, request: FunnelRequest):
        self.request = request
        self.params = Params()
        self.n = len(request.steps)
        window = request.range
        self.start = self.params.add(window.start_ns, "start")
        self.end = self.params.add(window.end_ns, "end")
        # Steps after the first may come up to a window after the range's end.
        self.until = self.params.add(min(window.end_ns + request.window_ns, _MAX_NS), "until")
        self.window = self.params.add(request.window_ns, "window")

    def build(self) -> tuple[str, dict[str, Any]]:
        request = self.request
        ctes = [self._scoped(), self._flagged()]
        if request.order == "ordered":
            ctes += self._ordered()
        elif request.order == "strict":
            ctes += [self._positions(), *self._strict()]
        else:
            ctes += [self._positions(), *self._unordered()]
        ctes.append(self._counted())
        ctes += self._classified()
        ctes.append(self._ranked())
        output = self._output()
        return with_clause(ctes, output) + "\n" + output, self.params.values

    # entity, the events in scope, and which step or exclusion each one matches

    def _scoped(self) -> str:
        request = self.request
        names = ["time_ns", "name", "trace_id", "span_id", "conversation_id"]
        # Only the columns the steps, exclusions and breakdown read (the attributes only for
        # a property that is not promoted: reading them is most of a funnel's cost on DuckDB).
        matches = [*request.steps, *(e.match for e in request.exclusions)]
        breakdown = () if request.breakdown is None else (request.breakdown,)
        names += property_columns(matches, *breakdown)
        if request.drop_off and request.count_by == "session":
            names += ["fallback", "escalation", "scope_name", "trace_key"]

        cte, _ = scoped_events(request.count_by, names, self._in_range(), self.params)
        return cte

    def _in_range(self) -> str:
        return (
            f"time_ns >= {self.start} AND time_ns < {self.until} AND "
            f"{context_condition(self.request.context, self.params)}"
        )

    def _flagged(self) -> str:
        request = self.request
        matches = [*request.steps, *(e.match for e in request.exclusions)]
        reads, read = read_properties(matches, self.params)
        steps = [event_condition(step, self.params, read) for step in request.steps]
        exclusions = [event_condition(e.match, self.params, read) for e in request.exclusions]
        flags = []
        for k, condition in enumerate(steps):
            if k == 0 and request.order != "unordered":
                condition = f"({condition} AND time_ns < {self.end})"
            flags.append(f"{condition} AS m{k}")
        flags += [f"{condition} AS x{j}" for j, condition in enumerate(exclusions)]
        if request.order == "unordered":
            flags.append(f"(({' OR '.join(steps)}) AND time_ns < {self.end}) AS opens")
        breakdown = (
            "CAST(NULL AS VARCHAR)"
            if request.breakdown is None
            else property_value(request.breakdown)
        )
        where = ""
        if request.order != "strict":
            # Only the events that match a step or an exclusion take part (by name first: a
            # property is read only for an event whose name matches).
            matches = [*request.steps, *(e.match for e in request.exclusions)]
            where = "WHERE " + names_condition(matches, self.params)
        properties = "".join(f", {expression}" for expression in reads)
        return f"""flagged AS (
    SELECT entity, time_ns, name, trace_id, span_id, conversation_id, {breakdown} AS bd,
        {", ".join(flags)}
    FROM (SELECT *{properties} FROM scoped {where}) s
)"""

    def _sorted(self) -> tuple[str, str]:
        """The window over an entity's events in order, and the rows it sorts (``flagged``
        with ``first_step``, ``last_step``).

        Equal times: the event that can fill the earliest step first, then the one whose
        latest step is earliest (a LuisIntent.None before a LuisIntent.Book when the steps
        are LuisIntent.* then LuisIntent.Book), then by which steps and exclusions it matches
        (flags, not the name: a string in the sort key cost a third of the sort on DuckDB).
        Two events matching the same ones at the same nanosecond count the same either way;
        only which one's trace is shown can differ."""
        first_step = " ".join(f"WHEN m{k} THEN {k}" for k in range(self.n))
        last_step = " ".join(f"WHEN m{k} THEN {k}" for k in reversed(range(self.n)))
        flags = [f"m{k}" for k in range(self.n)]
        flags += [f"x{j}" for j in range(len(self.request.exclusions))]
        order = f"PARTITION BY entity ORDER BY time_ns, first_step, last_step, {', '.join(flags)}"
        rows = f"""(SELECT *, CASE {first_step} ELSE {self.n} END AS first_step,
            CASE {last_step} ELSE {self.n} END AS last_step FROM flagged) f"""
        return order, rows

    def _positions(self) -> str:
        order, rows = self._sorted()
        extra = ""
        if self.request.order == "strict":
            # The first exclusion event after each event (for attempts that break off).
            extra = "".join(
                f",\n        min(CASE WHEN x{j} THEN time_ns END) OVER ({order} ROWS BETWEEN "
                f"1 FOLLOWING AND UNBOUNDED FOLLOWING) AS tx{j}"
                for j in range(len(self.request.exclusions))
            )
        return f"""positioned AS (
    SELECT *, row_number() OVER ({order}) AS pos{extra}
    FROM {rows}
)"""

    # attempts, by order: one row per attempt with its level (steps reached), the times of
    # the steps reached (t0, t1, ...), the last step's event and whether it is disqualified

    def _level(self, missing: str) -> str:
        """The furthest step reached, from ``missing(k)``: step k was not reached in time."""
        arms = " ".join(f"WHEN {missing.format(k=k)} THEN {k}" for k in range(1, self.n))
        return f"CASE {arms} ELSE {self.n} END" if arms else str(self.n)

    def _at_level(self, column: str) -> str:
        """``column{k}`` of the last step reached."""
        arms = " ".join(f"WHEN {k + 1} THEN {column}{k}" for k in range(self.n))
        return f"CASE level {arms} END"

    def _disqualified(self) -> str:
        """An exclusion event came after the attempt's ``fromStep`` and before its ``toStep``
        (or, short of it, within the window). ``ex{j}``: the exclusion events up to the
        ``fromStep`` event, ``ext{j}`` the time of the next one after it; ``eb{j}``: the
        exclusion events before the ``toStep`` event."""
        parts = []
        for j, exclusion in enumerate(self.request.exclusions):
            a, b = exclusion.from_step, exclusion.to_step
            parts.append(
                f"(level > {a} AND ext{j} IS NOT NULL AND CASE "
                f"WHEN level > {b} THEN eb{j} > ex{j} "
                f"ELSE ext{j} <= t0 + {self.window} END)"
            )
        return f"coalesce({' OR '.join(parts)}, false)" if parts else "false"

    def _ordered(self) -> list[str]:
        """One window pass numbers each step's events in order (``c{k}``: the events matching
        step k up to this one), so the next event of step k after any event is the one
        numbered ``c{k} + 1``: each step of an attempt is one join on (entity, number) with
        that step's events (a second window pass, the next position of each step after
        every event, took as long as the first on DuckDB)."""
        n = self.n
        exclusions = self.request.exclusions
        order, rows = self._sorted()
        upto = f"{order} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
        numbered = [f"count(CASE WHEN m{k} THEN 1 END) OVER ({upto}) AS c{k}" for k in range(n)]
        for j in range(len(exclusions)):
            numbered.append(f"count(CASE WHEN x{j} THEN 1 END) OVER ({upto}) AS cx{j}")
            numbered.append(
                f"count(CASE WHEN x{j} THEN 1 END) OVER ({order} ROWS BETWEEN "
                f"UNBOUNDED PRECEDING AND 1 PRECEDING) AS bx{j}"
            )
            numbered.append(
                f"min(CASE WHEN x{j} THEN time_ns END) OVER ({order} ROWS BETWEEN "
                f"1 FOLLOWING AND UNBOUNDED FOLLOWING) AS tx{j}"
            )
        flags = ", ".join(f"m{k}" for k in range(n))
        ctes = [
            f"""numbered AS (
    SELECT entity, time_ns, bd, trace_id, conversation_id, {flags}, {", ".join(numbered)}
    FROM {rows}
)"""
        ]

        def carried_at(step: int) -> list[str]:
            """What the attempt keeps from step ``step``'s event for the exclusions."""
            kept = []
            for j, e in enumerate(exclusions):
                if e.from_step == step:
                    kept += [f"p.cx{j} AS ex{j}", f"p.tx{j} AS ext{j}"]
                if e.to_step == step:
                    kept.append(f"p.bx{j} AS eb{j}")
            return kept

        # An attempt begins at the last first-step event before the second step: of the
        # first-step events followed by the same second-step event (the same c1), the last.
        first = [
            "p.entity AS entity",
            "p.c0 AS s0",
            "p.time_ns AS t0",
            "p.bd AS bd",
            "p.trace_id AS trace0",
            "p.conversation_id AS conversation0",
        ]
        if n > 1:
            first.append("p.c1 + 1 AS r1")
        first += carried_at(0)
        following = ", c1" if n > 1 else ""
        ctes.append(
            f"""chain0 AS (
    SELECT {", ".join(first)}
    FROM (SELECT *, max(c0) OVER (PARTITION BY entity{following}) AS last0
        FROM numbered WHERE m0) p
    WHERE p.c0 = p.last0
)"""
        )
        # Joined tables share column names (ClickHouse then qualifies c.*): name them all.
        carried = _names(first)
        for k in range(1, n):
            added = [
                f"p.time_ns AS t{k}",
                f"p.trace_id AS trace{k}",
                f"p.conversation_id AS conversation{k}",
            ]
            if k + 1 < n:
                added.append(f"p.c{k + 1} + 1 AS r{k + 1}")
            added += carried_at(k)
            kept = [f"c.{column} AS {column}" for column in carried]
            ctes.append(
                f"""chain{k} AS (
    SELECT {", ".join(kept + added)}
    FROM chain{k - 1} c
        LEFT JOIN (SELECT * FROM numbered WHERE m{k}) p
        ON p.entity = c.entity AND p.c{k} = c.r{k}
)"""
            )
            carried += _names(added)
        level = self._level("t{k} IS NULL OR t{k} > t0 + " + self.window)
        ctes.append(
            f"""leveled AS (SELECT *, {level} AS level FROM chain{n - 1}),
attempts AS (
    SELECT *, {self._disqualified()} AS disqualified,
        {self._at_level("t")} AS t_last, {self._at_level("trace")} AS step_trace,
        {self._at_level("conversation")} AS step_conversation
    FROM leveled
)"""
        )
        return ctes

    def _strict(self) -> list[str]:
        n = self.n
        exclusions = self.request.exclusions
        w = "PARTITION BY entity ORDER BY pos"
        leads = []
        for k in range(1, n):
            leads.append(f"lead(m{k}, {k}) OVER ({w}) AS a{k}")
            leads.append(f"lead(time_ns, {k}) OVER ({w}) AS t{k}")
            leads.append(f"lead(trace_id, {k}) OVER ({w}) AS trace{k}")
            leads.append(f"lead(conversation_id, {k}) OVER ({w}) AS conversation{k}")
        for j, exclusion in enumerate(exclusions):
            a = exclusion.from_step
            leads.append(f"lead(tx{j}, {a}) OVER ({w}) AS ext{j}" if a else f"tx{j} AS ext{j}")
        level = self._level("NOT coalesce(a{k}, false) OR t{k} > t0 + " + self.window)
        parts = []
        for j, exclusion in enumerate(exclusions):
            a, b = exclusion.from_step, exclusion.to_step
            # The next step is the very next event: nothing comes between reached steps, so
            # only an attempt that broke off between the two steps can be disqualified.
            parts.append(f"(level > {a} AND level <= {b} AND ext{j} <= t0 + {self.window})")
        disqualified = f"coalesce({' OR '.join(parts)}, false)" if parts else "false"
        lead_columns = "".join(f", {column}" for column in _names(leads))
        return [
            f"""stepped AS (
    SELECT entity, pos, time_ns, bd, trace_id, conversation_id, m0{
                "".join(f", {lead}" for lead in leads)
            }
    FROM positioned
),
leveled AS (
    SELECT entity, pos AS s0, time_ns AS t0, bd, trace_id AS trace0,
        conversation_id AS conversation0{lead_columns}, {level} AS level
    FROM stepped WHERE m0
),
attempts AS (
    SELECT *, {disqualified} AS disqualified, {self._at_level("t")} AS t_last,
        {self._at_level("trace")} AS step_trace,
        {self._at_level("conversation")} AS step_conversation
    FROM leveled
)"""
        ]

    def _unordered(self) -> list[str]:
        n = self.n
        w = "PARTITION BY entity ORDER BY pos ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING"
        firsts = []
        for k in range(n):
            firsts.append(f"min(CASE WHEN m{k} THEN time_ns END) OVER ({w}) AS f{k}")
            firsts.append(f"min(CASE WHEN m{k} THEN pos END) OVER ({w}) AS q{k}")
        reached = " + ".join(
            f"CASE WHEN f{k} <= time_ns + {self.window} THEN 1 ELSE 0 END" for k in range(n)
        )
        steps = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(n))
        done_ns = " ".join(f"WHEN {k} THEN f{k}" for k in range(n))
        done_pos = " ".join(f"WHEN {k} THEN q{k}" for k in range(n))
        times = ", ".join(
            f"max(CASE WHEN done_rank = {k + 1} THEN done_ns END) AS t{k}" for k in range(n)
        )
        return [
            f"""firsts AS (
    SELECT entity, pos, time_ns, bd, opens, {", ".join(firsts)} FROM positioned
),
candidates AS (
    SELECT entity, pos AS s0, time_ns AS t0, bd, {", ".join(f"f{k}, q{k}" for k in range(n))},
        {reached} AS level
    FROM firsts WHERE opens
),
best AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY entity ORDER BY level DESC, s0) AS pick
        FROM candidates) c
    WHERE pick = 1
),
completions AS (
    SELECT entity, s0, bd, level, done_ns, done_pos,
        row_number() OVER (PARTITION BY entity ORDER BY done_ns, done_pos) AS done_rank
    FROM (
        SELECT b.entity, b.s0, b.bd, b.level, b.t0,
            CASE k {done_ns} END AS done_ns, CASE k {done_pos} END AS done_pos
        FROM best b CROSS JOIN ({steps}) step_numbers) d
    WHERE done_ns <= t0 + {self.window}
),
completed AS (
    SELECT entity, s0, bd, level, {times}, max(done_pos) AS last_pos
    FROM completions GROUP BY entity, s0, bd, level
),
attempts AS (
    SELECT c.entity AS entity, c.s0 AS s0, c.bd AS bd, c.level AS level,
        {", ".join(f"c.t{k} AS t{k}" for k in range(n))}, false AS disqualified,
        p.time_ns AS t_last, p.trace_id AS step_trace, p.conversation_id AS step_conversation
    FROM completed c JOIN positioned p ON p.entity = c.entity AND p.pos = c.last_pos
)"""
        ]

    def _counted_columns(self) -> list[str]:
        times = [f"t{k}" for k in range(self.n)]
        return ["entity", "bd", "level", *times, "t_last", "step_trace", "step_conversation"]

    def _counted(self) -> str:
        """Per entity its best attempt that no exclusion disqualifies (level 0 when every
        attempt is disqualified: the entity is excluded)."""
        columns = [c for c in self._counted_columns() if c != "level"]
        # The attempts not disqualified come first: if the one picked is, all are.
        return f"""counted AS (
    SELECT {", ".join(columns)}, CASE WHEN disqualified THEN 0 ELSE reached END AS level,
        t0 + {self.window} AS deadline
    FROM (
        SELECT *, level AS reached,
            row_number() OVER (PARTITION BY entity ORDER BY disqualified, level DESC, s0)
                AS pick
        FROM attempts) a
    WHERE pick = 1 AND entity IS NOT NULL
)"""

    # why the ones who stopped did

    def _classified(self) -> list[str]:
        request = self.request
        columns = self._counted_columns()
        if not request.drop_off:
            return [
                f"""classified AS (
    SELECT {", ".join(columns)}, CAST(NULL AS BIGINT) AS cause_rank, step_trace AS cause_trace
    FROM counted
)"""
            ]
        slow = self.params.add(int(request.slow_reply_seconds * 1e9), "slow")
        cancel = self.params.add(WATERFALL_CANCEL, "cancel")
        handoff = self.params.add(HANDOFF_ACTIVITY_TYPE, "handoff")
        client = self.params.add(CLIENT_EVENT_SCOPE, "client_scope")
        if request.count_by == "session":
            # A session is made of the events the context keeps: its own are the evidence.
            source = "scoped"
        else:
            # All the entity's events, whatever the context: it picks who is counted, not
            # what happened to them (narrowed to a dialog, a fallback or a failed turn outside
            # the dialog's events was "user left").
            column = "conversation_id" if request.count_by == "conversation" else "user_id"
            source = f"""(
    SELECT {column} AS entity, time_ns, trace_key, trace_id, span_id, name, fallback,
        escalation, scope_name
    FROM events
    WHERE time_ns >= {self.start} AND time_ns < {self.until})"""
        kept = ", ".join(f"c.{c} AS {c}" for c in columns)
        carried = ", ".join(f"max({c}) AS {c}" for c in columns if c != "entity")
        # counted is read once: ClickHouse analyses a CTE again at each reference (and hashes
        # the whole subquery under a column wherever it compares expressions), and a second
        # read of counted for the causes doubled a funnel's planning time. Every entity is
        # joined, but only one that stopped part-way (its join key is NULL otherwise) is
        # judged against its own events (an equality join, as both engines run it best),
        # and only those between its last step and its deadline (in the ON clause, so an
        # entity with none keeps its row: at 9.3M events joining all of them to the signals
        # and grouping them cost 2.4 of 7.7 CPU-seconds);
        # only the events that show a cause have a rank (one that shows none is "user
        # left"); the others keep no cause and their last step's trace.
        return [
            f"""signals AS (
    SELECT trace_id AS turn_trace, max(failed_ns) AS failed_ns, max(slow) AS slow,
        max(handoff) AS handoff
    FROM (
        SELECT trace_id, end_ns AS failed_ns, 0 AS slow, 0 AS handoff FROM spans
        WHERE status_code = {STATUS_ERROR} AND end_ns >= {self.start}
            AND start_ns < {self.until}
        UNION ALL
        SELECT trace_id, time_ns AS failed_ns, 0 AS slow, 0 AS handoff FROM span_events
        WHERE name = 'exception' AND time_ns >= {self.start} AND time_ns < {self.until}
        UNION ALL
        SELECT trace_id, CAST(NULL AS BIGINT) AS failed_ns,
            CASE WHEN duration_ns > {slow} THEN 1 ELSE 0 END AS slow,
            CASE WHEN activity_type = {handoff} THEN 1 ELSE 0 END AS handoff
        FROM turns
        WHERE (duration_ns > {slow} OR activity_type = {handoff}) AND end_ns >= {self.start}
            AND start_ns < {self.until}) s
    GROUP BY trace_id
),
judged AS (
    SELECT {kept}, e.time_ns AS event_ns, e.trace_id AS event_trace,
        CASE WHEN e.time_ns >= c.t_last AND e.time_ns <= c.deadline
            -- The page's own (client) events say nothing of what the bot did, and the
            -- page's END or a click that reached no turn is not going elsewhere: a user who
            -- then did nothing with the bot left.
            AND coalesce(e.scope_name <> {client}, true)
            -- Nor does what the bot sent unasked (a reminder) or the channel sent on its
            -- own (the page opened again, typing): the user did nothing more.
            AND NOT {not_by_user_event("e.trace_key", "e.span_id", "e.scope_name", "e.name")}
        THEN CASE
            -- A span of the step's own turn or a later one failed (the turn the user saw
            -- last may have been degraded before the step's event).
            WHEN s.failed_ns IS NOT NULL THEN 0
            WHEN s.slow = 1 THEN 1
            -- The vocabulary (events' columns, over the promoted ones).
            WHEN e.time_ns > c.t_last AND e.fallback THEN 2
            WHEN s.handoff = 1 OR (e.time_ns > c.t_last AND e.escalation) THEN 3
            WHEN e.time_ns > c.t_last AND e.name = {cancel} THEN 4
            -- Another turn's event (an event in no trace cannot be told apart: it counts).
            WHEN e.time_ns > c.t_last AND (e.trace_id IS NULL OR c.step_trace IS NULL
                OR e.trace_id <> c.step_trace) THEN 5
        END END AS row_rank
    FROM counted c
        LEFT JOIN {source} e
            ON e.entity = CASE WHEN c.level > 0 AND c.level < {self.n} THEN c.entity END
            AND e.time_ns >= c.t_last AND e.time_ns <= c.deadline
        LEFT JOIN signals s ON s.turn_trace = e.trace_id
),
causes AS (
    SELECT entity, {carried}, min(row_rank) AS found_rank,
        -- The earliest of the cause's events that has a trace (one to open). first() is
        -- never given a NULL, nor a NULL in its order: ClickHouse's argMin skips them
        -- where DuckDB's first() keeps them, and the engines showed different turns.
        nullif(first(coalesce(event_trace, '') ORDER BY coalesce(row_rank, {_NO_RANK}),
            event_trace IS NULL, coalesce(event_ns, 0), coalesce(event_trace, '')), '')
            AS found_trace
    FROM judged GROUP BY entity
),
classified AS (
    SELECT {", ".join(columns)},
        CASE WHEN level > 0 AND level < {self.n}
            THEN coalesce(found_rank, {_USER_LEFT}) END AS cause_rank,
        CASE WHEN found_rank IS NOT NULL THEN found_trace ELSE step_trace END AS cause_trace
    FROM causes
)"""
        ]

    def _ranked(self) -> str:
        """Breakdown values beyond the top ``breakdownLimit`` (by entities) are grouped as
        other; the most recent ``dropOffLimit`` entities that stopped at each step are
        listed."""
        samples = self.params.add(self.request.drop_off_limit, "drop_off_limit")
        if self.request.breakdown is None:
            return f"""ranked AS (
    SELECT *, CAST(NULL AS VARCHAR) AS bd_key, false AS bd_other,
        level > 0 AND level < {self.n} AND row_number() OVER (
            PARTITION BY level ORDER BY t_last DESC, entity) <= {samples} AS sampled
    FROM classified
)"""
        limit = self.params.add(self.request.breakdown_limit, "breakdown_limit")
        return f"""ranked AS (
    SELECT *,
        CASE WHEN bd IS NOT NULL AND bd_rank <= {limit} THEN bd END AS bd_key,
        coalesce(bd IS NOT NULL AND bd_rank > {limit}, false) AS bd_other,
        level > 0 AND level < {self.n} AND sample_rank <= {samples} AS sampled
    FROM (
        SELECT *, dense_rank() OVER (PARTITION BY bd IS NULL ORDER BY bd_size DESC, bd)
                AS bd_rank,
            row_number() OVER (PARTITION BY level ORDER BY t_last DESC, entity)
                AS sample_rank
        FROM (SELECT *, count(*) OVER (PARTITION BY bd) AS bd_size FROM classified) c
    ) r
)"""

    def _output(self) -> str:
        """One row per (breakdown group, level, cause), plus one per listed entity. The
        quantiles are over the group and over everyone, as window aggregates (ClickHouse plans
        GROUPING SETS slowly), so every row of a group carries the group's and everyone's."""
        quantiles = []
        kept = []
        for k in range(1, self.n):
            step_time = f"CASE WHEN level > {k} THEN t{k} - t{k - 1} END"
            for name, q in ((f"median{k}", 0.5), (f"p90_{k}", 0.9)):
                quantiles.append(f"quantile_cont({step_time}, {q}) OVER () AS all_{name}")
                kept.append(f"max(all_{name}) AS all_{name}")
                if self.request.breakdown is not None:
                    quantiles.append(
                        f"quantile_cont({step_time}, {q}) OVER (PARTITION BY bd_key, bd_other) "
                        f"AS group_{name}"
                    )
                    kept.append(f"max(group_{name}) AS group_{name}")
        sample = {
            "sample_entity": "CASE WHEN sampled THEN entity END",
            "sample_conversation": "CASE WHEN sampled THEN step_conversation END",
            "sample_trace": "CASE WHEN sampled THEN cause_trace END",
            "sample_step_trace": "CASE WHEN sampled THEN step_trace END",
            "sample_ns": "CASE WHEN sampled THEN t_last END",
        }
        listed = ", ".join(f"{value} AS {name}" for name, value in sample.items())
        # A listed entity is one row (counted has one per entity): the rest of its sample
        # goes with it, as aggregates, not keys (ClickHouse hashes the whole query under each
        # key's column, in several passes: nine keys were a fifth of a funnel's planning).
        keys = ["bd_key", "bd_other", "level", "cause_rank", "sample_entity"]
        kept += [f"max({name}) AS {name}" for name in sample if name not in keys]
        return f"""SELECT {", ".join(keys)}, count(*) AS entities{"".join(", " + k for k in kept)}
FROM (SELECT *, {", ".join([*quantiles, listed])} FROM ranked) r
GROUP BY {", ".join(keys)}"""


def _names(expressions: list[str]) -> list[str]:
    """The output names of ``expr AS name`` items."""
    return [expression.rsplit(" AS ", 1)[1] for expression in expressions]


# --- the answer --------------------------------------------------------------------------


def _steps(
    request: FunnelRequest,
    levels: dict[int, int],
    causes: dict[tuple[int, int], int],
    quantiles: Mapping[str, Any] | None,
) -> list[Step]:
    n = len(request.steps)
    reached = [sum(count for level, count in levels.items() if level > k) for k in range(n)]
    steps = []
    for k, step in enumerate(request.steps):
        count = reached[k]
        following = reached[k + 1] if k + 1 < n else count
        dropped = count - following
        step_causes = (
            {cause: causes.get((k + 1, rank), 0) for rank, cause in enumerate(DROP_OFF_CAUSES)}
            if request.drop_off and k + 1 < n
            else {}
        )
        median = p90 = None
        if k > 0 and quantiles is not None:
            median = _seconds(quantiles.get(f"median{k}"))
            p90 = _seconds(quantiles.get(f"p90_{k}"))
        steps.append(
            Step(
                index=k,
                name=step.label(),
                event=step.event,
                where=step.as_json()["where"],
                count=count,
                conversionFromFirst=_ratio(count, reached[0]),
                conversionFromPrevious=_ratio(count, reached[k - 1]) if k else _ratio(count, count),
                dropOff=dropped,
                dropOffRate=_ratio(dropped, count),
                medianSecondsToConvert=median,
                p90SecondsToConvert=p90,
                dropOffCauses=step_causes,
            )
        )
    return steps


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _seconds(nanoseconds: Any) -> float | None:
    return None if nanoseconds is None else round(float(nanoseconds) / 1e9, 6)


def _shape(request: FunnelRequest, rows: list[dict[str, Any]]) -> FunnelResult:
    # Per group (None: everyone; else (value, other)): entities by level and by (level,
    # cause), and the time-to-convert quantiles.
    levels: dict[Any, dict[int, int]] = {}
    causes: dict[Any, dict[tuple[int, int], int]] = {}
    quantiles: dict[Any, dict[str, Any]] = {}
    dropped: list[DroppedEntity] = []
    for row in rows:
        level, rank, count = int(row["level"]), row["cause_rank"], int(row["entities"])
        if row["sample_entity"] is not None:
            dropped.append(
                DroppedEntity(
                    step=level - 1,
                    entity=row["sample_entity"],
                    conversationId=row["sample_conversation"],
                    traceId=row["sample_trace"],
                    stepTraceId=row["sample_step_trace"],
                    cause=None if rank is None else DROP_OFF_CAUSES[int(rank)],
                    time=iso(int(row["sample_ns"])),
                )
            )
        groups: list[Any] = [None]
        if request.breakdown is not None:
            groups.append((row["bd_key"], bool(row["bd_other"])))
        for group in groups:
            found = levels.setdefault(group, {})
            found[level] = found.get(level, 0) + count
            if rank is not None:
                by_cause = causes.setdefault(group, {})
                by_cause[(level, int(rank))] = by_cause.get((level, int(rank)), 0) + count
            prefix = "all_" if group is None else "group_"
            quantiles[group] = {
                key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)
            }
    values = [
        BreakdownValue(
            value=group[0],
            other=group[1],
            steps=_steps(request, found, causes.get(group, {}), quantiles.get(group)),
        )
        for group, found in levels.items()
        if group is not None and any(level > 0 for level in found)
    ]
    values.sort(
        key=lambda v: (v["other"], -v["steps"][0]["count"], v["value"] is None, v["value"] or "")
    )
    dropped.sort(key=lambda d: (d["step"], _descending(d["time"]), d["entity"]))
    window = request.range
    return FunnelResult(
        order=request.order,
        window=request.window,
        countBy=request.count_by,
        startTime=iso(window.start_ns),
        endTime=iso(min(window.end_ns, _MAX_NS)),
        steps=_steps(request, levels.get(None, {}), causes.get(None, {}), quantiles.get(None)),
        excluded=levels.get(None, {}).get(0, 0),
        breakdown=request.breakdown,
        breakdownValues=values,
        dropped=dropped,
        notes=[],
    )


def _descending(text: str) -> tuple[int, ...]:
    return tuple(-ord(character) for character in text)
