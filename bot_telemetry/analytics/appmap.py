"""The app map: services and dependencies as nodes, calls between them as edges.

The rules are Grafana Tempo's service graph, which Application Insights' app map matches on
the points that matter here:

* An edge joins a CLIENT (or PRODUCER) span to the SERVER (or CONSUMER) span it is the direct
  parent of, when that span belongs to another service.
* A CLIENT/PRODUCER span with no such child goes to its peer node, named by ``peer.service``,
  ``service.peer.name``, ``db.system.name``, then ``server.address`` (Tempo: "virtual nodes").
  A peer whose name is an instrumented service is that service's node.
* An edge's call fails when either side's status is ERROR (Tempo); a service node's requests
  are its SERVER/CONSUMER spans and its failures those with ERROR status (App Insights).

Where we depart from Tempo:

* A request whose bot turn failed (its ``bot.turn`` child is ERROR) failed, whatever the
  HTTP answer: a bot's ``on_turn_error`` apologises and the request is answered 200, 201 or
  202, so by status alone a bot whose every turn fails would show no failure.
* Edge latency (p50/p95) is the CLIENT span's duration, what the caller waited, as App
  Insights shows on a dependency; Tempo keeps client and server histograms apart.
* Tempo draws a "user" node for root SERVER spans; we don't: the channel is instrumented
  and is the root, and a node's request count already shows traffic from outside.
* Tempo pairs spans in a stream with a wait window; we pair them in the store, so a late
  span is paired whenever it arrives.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from ..contract import TURN_SPAN_NAME
from ..store.database import (
    KIND_CLIENT,
    KIND_CONSUMER,
    KIND_NAMES,
    KIND_PRODUCER,
    KIND_SERVER,
    STATUS_ERROR,
)
from ..store.engine import Engine
from .query import Query
from .window import EVERYTHING, TimeWindow


class Node(TypedDict):
    id: str
    kind: Literal["service", "dependency"]
    requests: int
    failures: int


class Edge(TypedDict):
    source: str
    target: str
    calls: int
    failures: int
    p50_ms: float
    p95_ms: float


class AppMap(TypedDict):
    nodes: list[Node]
    edges: list[Edge]


_CALLERS = f"({KIND_CLIENT}, {KIND_PRODUCER})"
_CALLEES = f"({KIND_SERVER}, {KIND_CONSUMER})"

# Callees may start a little after the window's end; they are paired anyway. The join is on
# span_key/parent_key (one integer) rather than the id pair: the same pairs, several times
# faster on ClickHouse, and on DuckDB, whose keys are made from integers the store keeps,
# the ids' text is never read. A root callee's parent_key matches no span, so roots need no
# filter of their own (testing parent_span_id for NULL read that text again: a third of the
# join's time at 3M spans).
# A request failed when its span is ERROR or the bot turn it ran failed (a failed turn's
# request may be answered 2xx). Failed turns are few: one small set, looked up by key.
_REQUEST_FAILED = f"""(status_code = {STATUS_ERROR} OR span_key IN (
        SELECT parent_key FROM spans
        WHERE name = '{TURN_SPAN_NAME}' AND status_code = {STATUS_ERROR} AND start_ns >= $start))"""

EDGES = Query(
    "appmap.edges",
    f"""
WITH callers AS (
    SELECT span_key, service_name, peer, duration_ns, status_code FROM spans
    WHERE kind IN {_CALLERS} AND start_ns >= $start AND start_ns < $end
), callees AS (
    SELECT parent_key, service_name, {_REQUEST_FAILED} AS failed FROM spans
    WHERE kind IN {_CALLEES} AND start_ns >= $start
), pairs AS (
    SELECT c.service_name AS source,
           coalesce(s.service_name, c.peer) AS target,
           c.duration_ns,
           c.status_code = {STATUS_ERROR} OR coalesce(s.failed, false) AS failed
    FROM callers c LEFT JOIN callees s
      ON s.parent_key = c.span_key AND s.service_name <> c.service_name
)
SELECT source, target, count(*) AS calls, count(*) FILTER (WHERE failed) AS failures,
       quantile_cont(duration_ns, [0.5, 0.95]) AS latencies
FROM pairs WHERE target IS NOT NULL AND target <> source
GROUP BY source, target ORDER BY source, target
""",
)

SERVICES = Query(
    "appmap.services",
    f"""
SELECT service_name,
       count(*) FILTER (WHERE kind IN {_CALLEES}) AS requests,
       count(*) FILTER (WHERE kind IN {_CALLEES} AND {_REQUEST_FAILED}) AS failures
FROM spans WHERE start_ns >= $start AND start_ns < $end
GROUP BY service_name
ORDER BY count(*) FILTER (WHERE parent_span_id IS NULL) DESC, service_name
""",
)


def _ms(nanoseconds: float | None) -> float:
    return round((nanoseconds or 0) / 1e6, 3)


def build_app_map(engine: Engine, window: TimeWindow = EVERYTHING) -> AppMap:
    """The app map of everything that started in ``window``.

    Services come first, those that start the most traces (the channel) leading, so a
    layout can begin where the traffic does even when calls go both ways; then dependencies.
    """
    services: dict[str, Node] = {}
    for name, requests, failures in SERVICES.run(engine, **window.bounds):
        services[name] = Node(id=name, kind="service", requests=requests, failures=failures)
    edges: list[Edge] = []
    dependencies: dict[str, Node] = {}
    for source, target, calls, failures, (p50, p95) in EDGES.run(engine, **window.bounds):
        edges.append(
            Edge(
                source=source,
                target=target,
                calls=calls,
                failures=failures,
                p50_ms=_ms(p50),
                p95_ms=_ms(p95),
            )
        )
        if target not in services:
            # An uninstrumented dependency's requests are the calls made to it.
            node = dependencies.setdefault(
                target, Node(id=target, kind="dependency", requests=0, failures=0)
            )
            node["requests"] += calls
            node["failures"] += failures
    nodes = list(services.values()) + sorted(dependencies.values(), key=lambda n: n["id"])
    return AppMap(nodes=nodes, edges=edges)


class Operation(TypedDict):
    service: str
    name: str
    kind: str
    calls: int
    failures: int
    p50_ms: float
    p95_ms: float


IS_SERVICE = Query(
    "appmap.is_service",
    """SELECT count(*) > 0 FROM spans
       WHERE service_name = $node AND start_ns >= $start AND start_ns < $end""",
)

_OPERATIONS = f"""
SELECT service_name, name, kind, count(*) AS calls,
       count(*) FILTER (WHERE status_code = {STATUS_ERROR}) AS failures,
       quantile_cont(duration_ns, 0.5) AS p50, quantile_cont(duration_ns, 0.95) AS p95
FROM spans WHERE {{where}} AND start_ns >= $start AND start_ns < $end
GROUP BY service_name, name, kind
ORDER BY calls DESC, name, service_name, kind LIMIT $limit
"""
SERVICE_OPERATIONS = Query(
    "appmap.service_operations", _OPERATIONS.format(where="service_name = $node")
)
DEPENDENCY_OPERATIONS = Query(
    "appmap.dependency_operations",
    _OPERATIONS.format(where=f"peer = $node AND kind IN {_CALLERS}"),
)


def node_operations(
    engine: Engine, node: str, window: TimeWindow = EVERYTHING, limit: int = 50
) -> list[Operation]:
    """A node's operations: a service's spans by name, or the calls made to a dependency."""
    is_service = IS_SERVICE.run(engine, node=node, **window.bounds).scalar()
    query = SERVICE_OPERATIONS if is_service else DEPENDENCY_OPERATIONS
    return [
        Operation(
            service=service,
            name=name,
            kind=KIND_NAMES.get(kind, str(kind)),
            calls=calls,
            failures=failures,
            p50_ms=_ms(p50),
            p95_ms=_ms(p95),
        )
        for service, name, kind, calls, failures, p50, p95 in query.run(
            engine, node=node, limit=limit, **window.bounds
        )
    ]


NODE_TRACE_IDS = Query(
    "appmap.node_trace_ids",
    f"""SELECT trace_id FROM spans
        WHERE (service_name = $node OR (peer = $node AND kind IN {_CALLERS}))
          AND start_ns >= $start AND start_ns < $end
        GROUP BY trace_id ORDER BY max(start_ns) DESC, trace_id LIMIT $limit""",
)


def node_trace_ids(
    engine: Engine, node: str, window: TimeWindow = EVERYTHING, limit: int = 20
) -> list[str]:
    """The most recent traces that touch a node (as a service or as a called dependency)."""
    return [row[0] for row in NODE_TRACE_IDS.run(engine, node=node, limit=limit, **window.bounds)]
