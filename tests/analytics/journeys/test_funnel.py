"""Funnels on a generated stream: DuckDB and ClickHouse give the same answer, and it is the
one docs/journeys.md defines (computed the plain way by tests/support/funnel_oracle.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from bot_telemetry.analytics.journeys import FunnelRequest, funnel
from bot_telemetry.analytics.journeys.funnel import funnel_sql
from bot_telemetry.store.clickhouse import ClickHouseEngine
from bot_telemetry.store.compiler import bound
from bot_telemetry.store.engine import Engine
from tests.support.funnel_oracle import oracle_funnel
from tests.support.journeys import T0, Stream

HOUR = 3600
END = "2026-11-03T00:00:00Z"

CASES: dict[str, dict[str, Any]] = {
    "ordered": {"steps": ["A", "B", "C"], "window": "1h"},
    "ordered-long-window": {"steps": ["A", "B", "C"], "window": "7d"},
    "ordered-where-and-patterns": {
        "steps": [
            {"event": "A", "where": {"k": "1"}},
            {"event": "B", "where": {"k": ["1", "2"]}},
            "Luis.*",
        ],
        "window": "2h",
    },
    "ordered-repeated-step": {"steps": ["A", "A", "B"], "window": "1h"},
    "ordered-overlapping-steps": {"steps": ["Luis.*", "Luis.x", "C"], "window": "1h"},
    "ordered-one-step": {"steps": ["B"], "window": "1h"},
    "ordered-five-steps": {"steps": ["A", "B", "C", "Luis.*", "O"], "window": "3h"},
    "strict": {"steps": ["A", "B", "C"], "window": "1h", "order": "strict"},
    "strict-pattern": {"steps": ["Luis.*", "A"], "window": "10m", "order": "strict"},
    "unordered": {"steps": ["A", "B", "C"], "window": "1h", "order": "unordered"},
    "unordered-overlapping": {
        "steps": ["Luis.*", "Luis.y", "O"],
        "window": "30m",
        "order": "unordered",
    },
    "by-user": {"steps": ["A", "B", "C"], "window": "30m", "countBy": "user"},
    "by-session": {"steps": ["A", "B", "C"], "window": "2h", "countBy": "session"},
    "strict-by-session": {
        "steps": ["A", "B"],
        "window": "2h",
        "countBy": "session",
        "order": "strict",
    },
    "exclusion-whole": {
        "steps": ["A", "B", "C"],
        "window": "1h",
        "exclusions": [{"event": "X", "fromStep": 0, "toStep": 2}],
    },
    "exclusion-middle": {
        "steps": ["A", "B", "C"],
        "window": "2h",
        "exclusions": [{"event": "X", "fromStep": 1, "toStep": 2}],
    },
    "exclusions-two": {
        "steps": ["A", "B", "C"],
        "window": "2h",
        "exclusions": [
            {"event": "X", "fromStep": 0, "toStep": 1},
            {"event": "Luis.*", "where": {"k": "2"}, "fromStep": 1, "toStep": 2},
        ],
    },
    "strict-exclusion": {
        "steps": ["A", "B", "C"],
        "window": "1h",
        "order": "strict",
        "exclusions": [{"event": "X", "fromStep": 0, "toStep": 2}],
    },
    "breakdown": {"steps": ["A", "B", "C"], "window": "1h", "breakdown": "channelId"},
    "breakdown-property": {"steps": ["A", "B"], "window": "1h", "breakdown": "k"},
    "context": {"steps": ["A", "B"], "window": "1h", "context": {"channelId": ["web"]}},
    "time-range": {
        "steps": ["A", "B", "C"],
        "window": "1h",
        "startTime": "2026-11-02T01:00:00Z",
        "endTime": "2026-11-02T03:00:00Z",
    },
}


def _request(case: str) -> dict[str, Any]:
    body = {"endTime": END, "dropOffLimit": 1000, **CASES[case]}
    return body


def _summary(result: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "counts": [s["count"] for s in result["steps"]],
        "median": [s["medianSecondsToConvert"] for s in result["steps"]],
        "p90": [s["p90SecondsToConvert"] for s in result["steps"]],
        "excluded": result["excluded"],
        "breakdown": {
            (v["value"], v["other"]): [s["count"] for s in v["steps"]]
            for v in result["breakdownValues"]
        },
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_both_engines_give_the_defined_answer(
    random_engines: tuple[Stream, Engine, Engine], case: str
) -> None:
    stream, duckdb, clickhouse = random_engines
    body = _request(case)
    on_duckdb = funnel(duckdb, body)
    assert funnel(clickhouse, body) == on_duckdb

    request = FunnelRequest.parse(body)
    expected = oracle_funnel(stream.records, request)
    n = len(request.steps)
    got = _summary(on_duckdb)
    assert got["counts"] == expected.counts(n=n)
    assert got["counts"][0] > 0
    assert got["median"] == [None] + [expected.seconds(k, 0.5) for k in range(1, n)]
    assert got["p90"] == [None] + [expected.seconds(k, 0.9) for k in range(1, n)]
    assert got["excluded"] == len(expected.excluded)
    if request.breakdown is not None:
        groups = {c.breakdown for c in expected.counted.values()}
        assert got["breakdown"] == {(value, False): expected.counts(value, n) for value in groups}
    # Every entity that stopped short is listed once, at the step where it stopped.
    dropped = on_duckdb["dropped"]
    assert len(dropped) == sum(s["dropOff"] for s in on_duckdb["steps"])
    stopped = {e: c.level - 1 for e, c in expected.counted.items() if c.level < n}
    assert {d["entity"]: d["step"] for d in dropped} == stopped or request.count_by == "session"
    assert sum(sum(s["dropOffCauses"].values()) for s in on_duckdb["steps"]) == len(stopped)


def test_the_cases_cover_every_order_and_count(
    random_engines: tuple[Stream, Engine, Engine],
) -> None:
    parsed = [FunnelRequest.parse(_request(case)) for case in CASES]
    assert {p.order for p in parsed} == {"ordered", "strict", "unordered"}
    assert {p.count_by for p in parsed} == {"conversation", "user", "session"}
    assert T0 < FunnelRequest.parse(_request("time-range")).range.start_ns


def test_the_largest_accepted_values_are_answered_alike(
    random_engines: tuple[Stream, Engine, Engine],
) -> None:
    """The window and slowReplySeconds at their bounds (366 days), over the whole time range
    (1970 to 2262-04-11): no overflow on either engine (past the bounds, a 400)."""
    _, duckdb, clickhouse = random_engines
    body = {
        "steps": ["A", "B"],
        "startTime": 0,
        "endTime": "2262-04-11T23:47:16.854775Z",
        "window": 366 * 86400,
        "slowReplySeconds": 366 * 86400,
    }
    on_duckdb = funnel(duckdb, body)
    assert funnel(clickhouse, body) == on_duckdb
    assert on_duckdb["steps"][0]["count"] > 0


def _analysed_size(clickhouse: ClickHouseEngine, body: dict[str, Any]) -> int:
    """The lines of ClickHouse's analysed query tree of the funnel ``body`` asks for."""
    sql, values = funnel_sql(FunnelRequest.parse(body))
    compiled = clickhouse.compile(sql, values)
    explained = clickhouse.raw(
        "EXPLAIN QUERY TREE passes = 1 " + compiled.sql, bound(compiled, values)
    )
    return len(explained.rows)


def test_the_drop_off_causes_add_the_same_to_clickhouse_s_analysis_whatever_the_funnel(
    random_engines: tuple[Stream, Engine, Engine],
) -> None:
    """ClickHouse analyses a CTE again at every reference: the causes read the funnel's
    attempts a second time, so the analysis (the planning time) doubled with them, more
    for more steps (0.4-0.7 s a funnel on chDB, as long as running it). Read once, the
    causes add a part of their own, the same whatever the order and the steps."""
    _, _, clickhouse = random_engines
    assert isinstance(clickhouse, ClickHouseEngine)
    added = []
    for order in ("ordered", "strict", "unordered"):
        for steps in (["A", "B"], ["A", "B", "C", "O", "X"]):
            body = {"steps": steps, "order": order, "window": "1h", "endTime": END}
            with_causes = _analysed_size(clickhouse, body)
            added.append(with_causes - _analysed_size(clickhouse, {**body, "dropOff": False}))
    # (It was 2,656 to 6,911 lines, by order and steps; it is ~1,730 for every one.)
    assert max(added) - min(added) < 100, added
