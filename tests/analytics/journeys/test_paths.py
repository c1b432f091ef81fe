"""User flows on a stream whose paths are known: anchors, groupings, repeats, limits,
include/exclude, drop-off per node; the same on DuckDB and ClickHouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.analytics.journeys import paths
from bot_telemetry.store.engine import Engine
from tests.support.journeys import Stream, journey_engines

END = "2026-11-03T00:00:00Z"


def build() -> Stream:
    s = Stream()
    conversations = {
        "p1": ["Start", "LuisIntent.Book", "LuisIntent.Help", "Step", "Step", "Complete"],
        "p2": ["Start", "LuisIntent.None", "Cancel"],
        "p3": ["Other", "Start", "Step"],
        "p4": ["Other"],
    }
    for c, (conversation, names) in enumerate(conversations.items()):
        for i, name in enumerate(names):
            s.event(conversation, c * 1000 + i * 10, name)
    return s


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    with journey_engines(build(), tmp_path_factory.mktemp("paths"), "paths_cases") as found:
        yield found


def run(engines: tuple[Engine, Engine], **body: Any) -> dict[str, Any]:
    request = {"endTime": END, **body}
    duckdb, clickhouse = engines
    found = paths(duckdb, request)
    assert paths(clickhouse, request) == found
    return dict(found)


def nodes(result: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {n["id"]: (n["count"], n["dropOff"]) for n in result["nodes"]}


def edges(result: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(e["source"], e["target"]): e["count"] for e in result["edges"]}


def test_paths_from_an_event_with_a_grouping(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, startEvent="Start", stepLimit=4, groupings=["LuisIntent.*"])
    assert result["entities"] == 3
    assert nodes(result) == {
        "1_Start": (3, 0),
        "2_LuisIntent.*": (2, 0),
        "2_Step": (1, 1),
        "3_Step": (1, 0),  # two Steps in a row are one node
        "3_Cancel": (1, 1),
        "4_Complete": (1, 1),
    }
    assert edges(result) == {
        ("1_Start", "2_LuisIntent.*"): 2,
        ("1_Start", "2_Step"): 1,
        ("2_LuisIntent.*", "3_Step"): 1,
        ("2_LuisIntent.*", "3_Cancel"): 1,
        ("3_Step", "4_Complete"): 1,
    }


def test_without_a_grouping_each_intent_is_a_node(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, startEvent="Start", stepLimit=4)
    assert edges(result)[("2_LuisIntent.Book", "3_LuisIntent.Help")] == 1
    assert "4_Step" in nodes(result) and "5_Step" not in nodes(result)


def test_the_edge_limit_keeps_the_most_taken(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, startEvent="Start", stepLimit=4, groupings=["LuisIntent.*"], edgeLimit=2)
    assert edges(result) == {("1_Start", "2_LuisIntent.*"): 2, ("1_Start", "2_Step"): 1}
    assert result["otherEdges"] == 3
    assert set(nodes(result)) == {"1_Start", "2_LuisIntent.*", "2_Step"}


def test_paths_into_an_event_inside_a_run(engines: tuple[Engine, Engine]) -> None:
    # p1's two Steps in a row are one node; the path ends with it, and p1 went on after it.
    result = run(engines, endEvent="Step", stepLimit=2)
    assert nodes(result)["2_Step"] == (2, 1)
    assert edges(result)[("1_LuisIntent.Help", "2_Step")] == 1


def test_paths_into_an_event(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, endEvent="Step", stepLimit=3, groupings=["LuisIntent.*"])
    assert result["entities"] == 2
    assert nodes(result) == {
        "1_Start": (1, 0),
        "1_Other": (1, 0),
        "2_LuisIntent.*": (1, 0),
        "2_Start": (1, 0),
        "3_Step": (2, 1),  # p1 went on to Complete, p3 did nothing more
    }


def test_without_an_anchor_paths_start_at_the_first_event(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, stepLimit=2, groupings=["LuisIntent.*"])
    assert result["entities"] == 4
    assert nodes(result)["1_Other"] == (2, 1)  # p4 did nothing else
    assert edges(result)[("1_Other", "2_Start")] == 1


def test_include_and_exclude(engines: tuple[Engine, Engine]) -> None:
    excluded = run(engines, startEvent="Start", exclude=["LuisIntent.*"])
    assert edges(excluded)[("1_Start", "2_Step")] == 2
    assert edges(excluded)[("2_Step", "3_Complete")] == 1
    included = run(engines, startEvent="Start", include=["Complete"])
    assert nodes(included) == {"1_Start": (3, 2), "2_Complete": (1, 1)}


def test_equal_times_at_the_anchor(tmp_path: Path) -> None:
    # Equal times are in name order, but a path from an event begins with it and a path into
    # one ends with it. From the anchor's time on, an event is not the repeat of one before
    # that time (t1's second Alpha comes after Start, not merged into the first Alpha).
    s = Stream()
    for conversation, events in {
        "t1": [(0, "Alpha"), (10, "Alpha"), (10, "Start"), (20, "Step")],
        "t2": [(0, "Alpha"), (10, "Start"), (10, "Step"), (10, "Zed")],
    }.items():
        for at, name in events:
            s.event(conversation, at, name)
    with journey_engines(s, tmp_path, "paths_ties") as found:
        result = run(found, startEvent="Start")
        # t1: Start, Alpha, Step; t2: Start, Step, Zed. (Alpha, sorting before Start, was
        # t1's first step: a path "from Start" began elsewhere.)
        assert result["entities"] == 2
        assert nodes(result) == {
            "1_Start": (2, 0),
            "2_Alpha": (1, 0),
            "2_Step": (1, 0),
            "3_Step": (1, 1),
            "3_Zed": (1, 1),
        }
        # Into Start: what came at its very time comes before it. t1: Alpha (at 0 and 10,
        # one run), Start, and Step later; t2: Alpha, Step, Zed, Start (the last three kept),
        # nothing after. (Zed, sorting after Start, ended t2's path "into Start".)
        into = run(found, endEvent="Start", stepLimit=3)
        assert into["entities"] == 2
        assert nodes(into) == {
            "1_Step": (1, 0),
            "2_Alpha": (1, 0),
            "2_Zed": (1, 0),
            "3_Start": (2, 1),
        }
