"""User flows: the paths conversations (or sessions, users) take through events, as nodes and
edges for a Sankey diagram (docs/journeys.md).

    paths(engine, {"startEvent": "LuisIntent.BookTable", "stepLimit": 5,
                   "groupings": ["LuisIntent.*"]})

Each entity's events in the time range are taken in time order (equal times: by name, the
anchor first for ``startEvent`` and last for ``endEvent``), a
grouping pattern turning every name it matches into the pattern, and repeats in a row
counted once (a user asking three questions in a row is one ``QnAMessage`` node). With
``startEvent`` a path begins at the entity's first such event in the range and has up to
``stepLimit`` nodes; with ``endEvent`` it ends at the first such event and has up to
``stepLimit`` nodes before it (the end event is always at step ``stepLimit``); with neither it
begins at the entity's first event. A node is ``<step>_<event>``; its ``dropOff`` counts the
entities that did nothing after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from ...store.engine import Engine
from ..traces import iso
from .matching import (
    Params,
    context_condition,
    event_condition,
    name_condition,
    property_columns,
    scoped_events,
    with_clause,
)
from .requests import EventMatch, PathsRequest, request_of


class Node(TypedDict):
    id: str
    step: int
    event: str
    count: int
    dropOff: int


class Edge(TypedDict):
    source: str
    target: str
    count: int


class PathsResult(TypedDict):
    startTime: str
    endTime: str
    countBy: str
    startEvent: str | None
    endEvent: str | None
    stepLimit: int
    entities: int
    nodes: list[Node]
    edges: list[Edge]
    #: Edges left out beyond edgeLimit (the smallest).
    otherEdges: int


def paths(
    engine: Engine, request: PathsRequest | Mapping[str, Any] | None = None, **arguments: Any
) -> PathsResult:
    """The user flows ``request`` describes (a PathsRequest or its JSON body), or the keyword
    arguments do (``start_event="LuisIntent.*", step_limit=4``), on ``engine``."""
    parsed = request_of(PathsRequest, request, arguments, "paths")
    sql, values = paths_sql(parsed)
    rows = engine.query(sql, values).rows
    return _shape(parsed, rows)


def node_id(step: int, event: str) -> str:
    return f"{step}_{event}"


def paths_sql(request: PathsRequest) -> tuple[str, dict[str, Any]]:
    """The query (DuckDB SQL over the logical model) and its parameter values."""
    params = Params()
    window = request.range
    start, end = params.add(window.start_ns, "start"), params.add(window.end_ns, "end")
    limit = params.add(request.step_limit, "step_limit")
    node = "name"
    for pattern in reversed(request.groupings):
        node = (
            f"CASE WHEN {name_condition(EventMatch(pattern), params)} "
            f"THEN {params.add(pattern)} ELSE {node} END"
        )
    anchor: EventMatch | None = request.start or request.end
    anchored = event_condition(anchor, params) if anchor is not None else "false"
    keep = []
    if request.include:
        keep.append(
            "(" + " OR ".join(name_condition(EventMatch(p), params) for p in request.include) + ")"
        )
    if request.exclude:
        keep.append(
            "NOT ("
            + " OR ".join(name_condition(EventMatch(p), params) for p in request.exclude)
            + ")"
        )
    kept = " AND ".join(keep) if keep else "true"
    where = (
        f"time_ns >= {start} AND time_ns < {end} AND {context_condition(request.context, params)}"
    )
    anchors = [] if anchor is None else [anchor]
    columns = ["time_ns", "name", *property_columns(anchors)]
    scoped, _ = scoped_events(request.count_by, columns, where, params)
    # One sort of each entity's events by time (numbering them, finding where a node repeats)
    # over only the events a path can reach: each entity's anchor time, a hash aggregate, is
    # joined on first (the sort of every event was ~70% of the time at 10M). The sorts carry
    # numbers, not strings: an entity's from that aggregate, a node's from a small one in name
    # order (equal times are still sorted by name; the names cost ~20% of the sort).
    ordering = "PARTITION BY entity ORDER BY time_ns, node"
    if request.start is not None:
        # At equal times the anchor first: a path from it begins with it (sorted by name, an
        # event at its very time named before it began the path).
        ordering = "PARTITION BY entity ORDER BY time_ns, NOT anchors, node"
        # The runs from the anchor's time (the anchor starts a run even inside a run of its
        # node; a run before the anchor's time does not go on into it).
        reached = """anchored_at AS (
    SELECT entity, row_number() OVER () AS entity_no, min(time_ns) AS anchor_ns
    FROM named WHERE anchors GROUP BY entity
),
reached AS (
    SELECT a.entity_no AS entity, n.time_ns AS time_ns, k.node_no AS node,
        n.anchors AS anchors, a.anchor_ns AS anchor_ns
    FROM named n JOIN anchored_at a ON n.entity = a.entity JOIN nodes k ON n.node = k.node
    WHERE n.time_ns >= a.anchor_ns
)"""
        starts_run = "previous IS NULL OR previous <> node OR (anchors AND time_ns = anchor_ns)"
    elif request.end is not None:
        # The runs up to the end event's; the entity did nothing after it if its last event
        # is at the end event's time. At equal times the anchor last: a path into it ends
        # with it, what came at its very time before it.
        ordering = "PARTITION BY entity ORDER BY time_ns, anchors, node"
        reached = """anchored_at AS (
    SELECT entity, row_number() OVER () AS entity_no,
        min(CASE WHEN anchors THEN time_ns END) AS anchor_ns, max(time_ns) AS last_ns
    FROM named GROUP BY entity
),
reached AS (
    SELECT a.entity_no AS entity, n.time_ns AS time_ns, k.node_no AS node,
        n.anchors AS anchors, a.anchor_ns = a.last_ns AS last_at_end
    FROM named n JOIN anchored_at a ON n.entity = a.entity JOIN nodes k ON n.node = k.node
    WHERE n.time_ns <= a.anchor_ns
)"""
        starts_run = "previous IS NULL OR previous <> node"
    else:
        # Every event is reached: the paths begin at each entity's first.
        reached = """anchored_at AS (
    SELECT entity, row_number() OVER () AS entity_no FROM named
    WHERE entity IS NOT NULL GROUP BY entity
),
reached AS (
    SELECT a.entity_no AS entity, n.time_ns AS time_ns, k.node_no AS node,
        n.anchors AS anchors
    FROM named n JOIN anchored_at a ON n.entity = a.entity JOIN nodes k ON n.node = k.node
)"""
        starts_run = "previous IS NULL OR previous <> node"
    if request.end is not None:
        # Numbered back from the end event's run (it is at step stepLimit).
        back = "PARTITION BY entity ORDER BY pos DESC"
        numbered = f"""{limit} + 1 - row_number() OVER ({back}) AS step,
        lag(node) OVER ({back}) AS next_node,
        row_number() OVER ({back}) = 1 AND last_at_end AS ends"""
        carried = ", last_at_end"
    else:
        forth = "PARTITION BY entity ORDER BY pos"
        numbered = f"""row_number() OVER ({forth}) AS step,
        lead(node) OVER ({forth}) AS next_node,
        lead(node) OVER ({forth}) IS NULL AS ends"""
        carried = ""
    ctes = f"""{scoped},
named AS (
    SELECT entity, time_ns, {node} AS node, {anchored} AS anchors FROM scoped
    WHERE ({kept}) OR {anchored}
),
nodes AS (
    SELECT node, row_number() OVER (ORDER BY node) AS node_no FROM named GROUP BY node
),
{reached},
marked AS (
    SELECT *, lag(node) OVER ({ordering}) AS previous, row_number() OVER ({ordering}) AS pos
    FROM reached
),
runs AS (
    SELECT entity, node, pos{carried} FROM marked
    WHERE {starts_run}
),
stepped AS (
    SELECT entity, node, {numbered} FROM runs
),
counted AS (
    SELECT step, node, CASE WHEN step < {limit} THEN next_node END AS next_node,
        count(*) AS entities, count(*) FILTER (WHERE ends) AS ended
    FROM stepped WHERE step BETWEEN 1 AND {limit}
    GROUP BY ALL
)"""
    # Read more than once (named, nodes): MATERIALIZED, else chDB runs them again at each use.
    query = """SELECT c.step AS step, k.node AS node, j.node AS next_node,
    c.entities AS entities, c.ended AS ended
FROM counted c JOIN nodes k ON c.node = k.node_no LEFT JOIN nodes j ON c.next_node = j.node_no
ORDER BY step, node, next_node NULLS FIRST"""
    return with_clause([ctes], query) + "\n" + query, params.values


def _shape(request: PathsRequest, rows: list[tuple[Any, ...]]) -> PathsResult:
    nodes: dict[str, Node] = {}
    edges: dict[tuple[str, str], Edge] = {}
    for step, node, next_node, count, ended in rows:
        key = node_id(int(step), node)
        found = nodes.setdefault(key, Node(id=key, step=int(step), event=node, count=0, dropOff=0))
        found["count"] += int(count)
        found["dropOff"] += int(ended)
        if next_node is not None:
            target = node_id(int(step) + 1, next_node)
            edges[(key, target)] = Edge(source=key, target=target, count=int(count))
    ranked = sorted(edges.values(), key=lambda e: (-e["count"], e["source"], e["target"]))
    kept = ranked[: request.edge_limit]
    used = {e["source"] for e in kept} | {e["target"] for e in kept}
    # Every path has its anchor: the first step, or with endEvent the last.
    anchor_step = request.step_limit if request.end is not None else 1
    entities = sum(n["count"] for n in nodes.values() if n["step"] == anchor_step)
    shown = [n for n in nodes.values() if n["id"] in used or n["step"] == anchor_step]
    return PathsResult(
        startTime=iso(request.range.start_ns),
        endTime=iso(request.range.end_ns),
        countBy=request.count_by,
        startEvent=None if request.start is None else request.start.label(),
        endEvent=None if request.end is None else request.end.label(),
        stepLimit=request.step_limit,
        entities=entities,
        nodes=sorted(shown, key=lambda n: (n["step"], -n["count"], n["event"])),
        edges=kept,
        otherEdges=len(ranked) - len(kept),
    )
