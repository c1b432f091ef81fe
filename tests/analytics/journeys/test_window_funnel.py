"""On ClickHouse, our portable funnel gives windowFunnel's counts where the two definitions
are the same (docs/journeys.md says where they differ and why):

* ``ordered`` is ``windowFunnel(window, 'strict_once')`` (one event fills one step), and
  plain ``windowFunnel(window)`` when no event can match two steps;
* ``strict`` is ``windowFunnel(window, 'strict_order')`` for entities with one first step and
  no step repeated (windowFunnel stops at the first event between steps, where we try the
  next attempt; it lets a repeated step through, where we stop).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from bot_telemetry.analytics.journeys import FunnelRequest, funnel
from bot_telemetry.store.engine import Engine
from tests.support.journeys import Stream, journey_engines
from tests.support.window_funnel import step_counts, window_funnel_levels

END = "2026-11-03T00:00:00Z"


def _counts(engine: Engine, body: dict[str, Any]) -> list[int]:
    return [s["count"] for s in funnel(engine, body)["steps"]]


@pytest.mark.parametrize(
    ("steps", "window", "count_by", "modes"),
    [
        (["A", "B", "C"], "1h", "conversation", ("strict_once", None)),
        (["A", "B", "C", "Luis.*", "O"], "3h", "conversation", ("strict_once", None)),
        (["A", "B"], "5m", "user", ("strict_once", None)),
        (["A", "A", "B"], "1h", "conversation", ("strict_once",)),
        (["Luis.*", "Luis.x", "C"], "2h", "conversation", ("strict_once",)),
    ],
)
def test_ordered_is_window_funnel(
    random_engines: tuple[Stream, Engine, Engine],
    steps: list[str],
    window: str,
    count_by: str,
    modes: tuple[str | None, ...],
) -> None:
    _, _, clickhouse = random_engines
    body = {"steps": steps, "window": window, "countBy": count_by, "endTime": END}
    ours = _counts(clickhouse, body)
    assert ours[0] > 0
    request = FunnelRequest.parse(body)
    for mode in modes:
        assert step_counts(window_funnel_levels(clickhouse, request, mode), len(steps)) == ours


def test_a_repeated_step_is_where_plain_window_funnel_differs(
    random_engines: tuple[Stream, Engine, Engine],
) -> None:
    _, _, clickhouse = random_engines
    body = {"steps": ["A", "A", "B"], "window": "1h", "endTime": END}
    plain = step_counts(window_funnel_levels(clickhouse, FunnelRequest.parse(body), None), 3)
    # One A event fills both first steps in plain windowFunnel; not in ours.
    assert plain[1] > _counts(clickhouse, body)[1]


def one_attempt_stream(seed: int = 7, conversations: int = 120) -> Stream:
    """Each conversation: noise, one A, then B, C and O in a random order, each at most once,
    at random gaps."""
    rng = random.Random(seed)
    stream = Stream()
    for c in range(conversations):
        conversation = f"q{c:03d}"
        at = rng.randrange(0, 3 * 3600)
        if rng.random() < 0.3:
            stream.event(conversation, at, "O")
            at += 1
        stream.event(conversation, at, "A")
        rest = rng.sample(["B", "C", "O"], k=rng.randint(0, 3))
        for name in rest:
            at += rng.choice((1, 20, 90, 400))
            stream.event(conversation, at, name)
    return stream


@pytest.fixture(scope="module")
def single_attempts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with journey_engines(one_attempt_stream(), tmp_path_factory.mktemp("wf"), "wf_single") as (
        _,
        clickhouse,
    ):
        yield clickhouse


@pytest.mark.parametrize("window", ["30s", "5m", "1h"])
def test_strict_is_window_funnel_strict_order_for_single_attempts(
    single_attempts: Engine, window: str
) -> None:
    body = {"steps": ["A", "B", "C"], "window": window, "order": "strict", "endTime": END}
    ours = _counts(single_attempts, body)
    theirs = step_counts(
        window_funnel_levels(single_attempts, FunnelRequest.parse(body), "strict_order"), 3
    )
    assert ours == theirs
    assert ours[0] == 120 and 0 < ours[2] < ours[1] < ours[0]
