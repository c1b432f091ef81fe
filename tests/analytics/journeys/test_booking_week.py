"""A week of a booking bot, worked out by hand: eight conversations of seven users (one
across midnight, one failing, one out of order, one repeating steps, one cancelled, one on
the last day only, one slow, one closing the page), asked as a funnel, user flows and
retention, on DuckDB and ClickHouse (chDB). Each answer below is counted from the events
written in ``build``, not from the code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot_telemetry.analytics.journeys import funnel, paths, retention
from bot_telemetry.store.engine import Engine
from tests.support.journeys import Stream, Turn, journey_engines

H, DAY = 3600, 86400
BOOKING = {"DialogId": "booking"}
START, END = "2026-11-02T00:00:00Z", "2026-11-09T00:00:00Z"  # Monday to Monday
STEPS = [
    {"event": "WaterfallStart", "where": BOOKING},
    {"event": "WaterfallStep", "where": {"StepName": "ask_date"}},
    {"event": "WaterfallStep", "where": {"StepName": "ask_time"}},
    {"event": "WaterfallComplete", "where": BOOKING},
]
TRACES: dict[str, Turn] = {}


def build() -> Stream:
    s = Stream()

    def turn(
        conversation: str, at: float, *events: tuple[str, dict[str, Any]], **options: Any
    ) -> Turn:
        """A turn: BotMessageReceived, then the events 10 ms apart."""
        found = s.turn(conversation, at, **options)
        s.event(conversation, at + 0.01, "BotMessageReceived", turn=found, activityType="message")
        for j, (name, properties) in enumerate(events):
            s.event(conversation, at + 0.02 + 0.01 * j, name, turn=found, **properties)
        return found

    def run(conversation: str, n: int = 1) -> dict[str, Any]:
        return {**BOOKING, "InstanceId": f"{conversation}-{n}"}

    def step(conversation: str, name: str) -> tuple[str, dict[str, Any]]:
        return ("WaterfallStep", {**run(conversation), "StepName": name})

    # c1, u1, Monday 10:00: every step, a minute apart.
    turn("c1", 10 * H, ("WaterfallStart", run("c1")), user="u1")
    turn("c1", 10 * H + 60, step("c1", "ask_date"))
    turn("c1", 10 * H + 120, step("c1", "ask_time"))
    turn("c1", 10 * H + 180, ("WaterfallComplete", run("c1")))
    # c2, u2: starts Monday 23:50, gives the date Tuesday 00:05 (900 s later), then nothing.
    TRACES["c2"] = turn("c2", DAY - 600, ("WaterfallStart", run("c2")), user="u2")
    TRACES["c2.step"] = turn("c2", DAY + 300, step("c2", "ask_date"))
    # c3, u3, Tuesday noon: starts; 30 s later a turn whose call fails.
    turn("c3", DAY + 12 * H, ("WaterfallStart", run("c3")), user="u3")
    TRACES["c3.failed"] = turn("c3", DAY + 12 * H + 30, failing_call=0.05)
    # c4, u4, Wednesday: the date step before the start (out of order), then nothing.
    turn("c4", 2 * DAY + 9 * H, step("c4", "ask_date"), user="u4")
    TRACES["c4"] = turn("c4", 2 * DAY + 9 * H + 20, ("WaterfallStart", run("c4")))
    # c5, u5, Thursday 08:00: starts twice (10 s apart), the date twice, then the rest.
    turn("c5", 3 * DAY + 8 * H, ("WaterfallStart", run("c5", 0)), user="u5")
    turn("c5", 3 * DAY + 8 * H + 10, ("WaterfallStart", run("c5")))
    turn("c5", 3 * DAY + 8 * H + 30, step("c5", "ask_date"))
    turn("c5", 3 * DAY + 8 * H + 50, step("c5", "ask_date"))
    turn("c5", 3 * DAY + 8 * H + 70, step("c5", "ask_time"))
    turn("c5", 3 * DAY + 8 * H + 100, ("WaterfallComplete", run("c5")))
    # c6, u1 again, Thursday 15:00: another dialog (not a step: its DialogId differs), the
    # booking 20 s later, cancelled 20 s after that.
    turn(
        "c6",
        3 * DAY + 15 * H,
        ("WaterfallStart", {"DialogId": "faq", "InstanceId": "f"}),
        user="u1",
    )
    turn("c6", 3 * DAY + 15 * H + 20, ("WaterfallStart", run("c6")))
    cancel = ("WaterfallCancel", run("c6"))
    intent = ("LuisIntent.Cancel", {"intent": "Cancel", "intentScore": 0.9})
    TRACES["c6.cancel"] = turn("c6", 3 * DAY + 15 * H + 40, intent, cancel)
    # c7, u6, Sunday 23:00 (the last day): starts; not understood 30 s later.
    turn("c7", 6 * DAY + 23 * H, ("WaterfallStart", run("c7")), user="u6")
    none = ("LuisIntent.None", {"intent": "None", "intentScore": 0.3})
    TRACES["c7.none"] = turn("c7", 6 * DAY + 23 * H + 30, none)
    # c8, u2 again, Wednesday 14:00: the date 40 s in, then a 5 s turn 40 s later.
    turn("c8", 2 * DAY + 14 * H, ("WaterfallStart", run("c8")), user="u2")
    turn("c8", 2 * DAY + 14 * H + 40, step("c8", "ask_date"))
    TRACES["c8.slow"] = turn("c8", 2 * DAY + 14 * H + 80, duration=5)
    # c9, u7, Friday 10:00: starts; a minute later the page says END (Sunbird, no turn).
    TRACES["c9"] = turn("c9", 4 * DAY + 10 * H, ("WaterfallStart", run("c9")), user="u7")
    s.client_event("c9", 4 * DAY + 10 * H + 60, "END")
    return s


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    with journey_engines(build(), tmp_path_factory.mktemp("week"), "booking_week") as found:
        yield found


def both(engines: tuple[Engine, Engine], analysis: Any, **body: Any) -> dict[str, Any]:
    duckdb, clickhouse = engines
    request = {"startTime": START, "endTime": END, **body}
    found = analysis(duckdb, request)
    assert analysis(clickhouse, request) == found
    return dict(found)


def test_the_booking_funnel(engines: tuple[Engine, Engine]) -> None:
    result = both(engines, funnel, steps=STEPS, window="1h", dropOffLimit=100)
    steps = result["steps"]
    # Started: c1-c9 (c6's booking, not its faq); the date after the start: c1 (60 s),
    # c2 (900 s, across midnight), c5 (20 s, from its second start), c8 (40 s) - not c4,
    # whose date came first; the time: c1 (60 s), c5 (40 s); completed: c1 (60), c5 (30).
    assert [s["count"] for s in steps] == [9, 4, 2, 2]
    assert [s["conversionFromFirst"] for s in steps] == [1.0, 0.444444, 0.222222, 0.222222]
    assert [s["conversionFromPrevious"] for s in steps] == [1.0, 0.444444, 0.5, 1.0]
    assert [s["dropOff"] for s in steps] == [5, 2, 0, 0]
    # Medians and continuous 90th percentiles: (20, 40, 60, 900) -> 50 and 60 + 0.7 * 840.
    assert [s["medianSecondsToConvert"] for s in steps] == [None, 50.0, 50.0, 45.0]
    assert [s["p90SecondsToConvert"] for s in steps] == [None, 648.0, 58.0, 57.0]
    assert steps[0]["dropOffCauses"] == {
        "botError": 1,  # c3
        "slowReply": 0,
        "fallback": 1,  # c7
        "escalated": 0,
        "cancelled": 1,  # c6
        "wentElsewhere": 0,
        "userLeft": 2,  # c4, and c9 who closed the page
    }
    assert steps[1]["dropOffCauses"]["slowReply"] == 1  # c8
    assert steps[1]["dropOffCauses"]["userLeft"] == 1  # c2
    dropped = {
        (d["step"], d["conversationId"]): (d["cause"], d["traceId"]) for d in result["dropped"]
    }
    assert dropped == {
        (0, "c3"): ("botError", TRACES["c3.failed"].trace_id),
        (0, "c4"): ("userLeft", TRACES["c4"].trace_id),
        (0, "c6"): ("cancelled", TRACES["c6.cancel"].trace_id),
        (0, "c7"): ("fallback", TRACES["c7.none"].trace_id),
        (0, "c9"): ("userLeft", TRACES["c9"].trace_id),
        (1, "c2"): ("userLeft", TRACES["c2.step"].trace_id),
        (1, "c8"): ("slowReply", TRACES["c8.slow"].trace_id),
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # u1 completes (c1); u2 reaches the date twice (c2, c8); u5 completes.
        ({"countBy": "user"}, [7, 3, 2, 2]),
        # No session of anyone spans two conversations (c2's 15-minute gap is one session).
        ({"countBy": "session"}, [9, 4, 2, 2]),
        # c2's date comes 900 s after its start: in a 900 s window (both ends count), not 899.
        ({"window": "900s"}, [9, 4, 2, 2]),
        ({"window": "899s"}, [9, 3, 2, 2]),
        # From Tuesday: c2 began on Monday; until Tuesday: c2's later steps still count.
        ({"startTime": "2026-11-03T00:00:00Z"}, [7, 2, 1, 1]),
        ({"endTime": "2026-11-03T00:00:00Z"}, [2, 2, 1, 1]),
        # In any order c4's date counts too.
        ({"order": "unordered"}, [9, 5, 2, 2]),
        # Every turn begins with BotMessageReceived: strictly, no step follows another.
        ({"order": "strict"}, [9, 0, 0, 0]),
        # c6 is cancelled between the start and the date: its only attempt is excluded.
        ({"exclusions": [{"event": "WaterfallCancel", "fromStep": 0, "toStep": 1}]}, [8, 4, 2, 2]),
    ],
)
def test_the_booking_funnel_asked_otherwise(
    engines: tuple[Engine, Engine], body: dict[str, Any], expected: list[int]
) -> None:
    result = both(engines, funnel, **{"steps": STEPS, "window": "1h", **body})
    assert [s["count"] for s in result["steps"]] == expected


def test_flows_after_the_booking_starts(engines: tuple[Engine, Engine]) -> None:
    start = {"event": "WaterfallStart", "where": BOOKING}
    result = both(engines, paths, startEvent=start, stepLimit=4, exclude=["BotMessageReceived"])
    # Two steps in a row are one WaterfallStep node; c9's END is the page's own event.
    assert result["entities"] == 9
    assert {n["id"]: (n["count"], n["dropOff"]) for n in result["nodes"]} == {
        "1_WaterfallStart": (9, 2),  # c3, c4
        "2_WaterfallStep": (4, 2),  # c1, c2, c5, c8; c2 and c8 stop there
        "2_LuisIntent.Cancel": (1, 0),
        "2_LuisIntent.None": (1, 1),
        "2_END": (1, 1),
        "3_WaterfallComplete": (2, 2),
        "3_WaterfallCancel": (1, 1),
    }


def test_daily_retention(engines: tuple[Engine, Engine]) -> None:
    result = both(engines, retention, period="day", totalIntervals=7)
    table = [(c["cohortStart"][:10], c["size"], c["values"]) for c in result["cohorts"]]
    # u1 (Mon, back Thu), u2 (Mon 23:50, back Tue 00:05 and Wed); u3 Tue; u4 Wed; u5 Thu;
    # u7 Fri; u6 Sun only.
    assert table == [
        ("2026-11-02", 2, [2, 1, 1, 1, 0, 0, 0]),
        ("2026-11-03", 1, [1, 0, 0, 0, 0, 0]),
        ("2026-11-04", 1, [1, 0, 0, 0, 0]),
        ("2026-11-05", 1, [1, 0, 0, 0]),
        ("2026-11-06", 1, [1, 0, 0]),
        ("2026-11-07", 0, [0, 0]),
        ("2026-11-08", 1, [1]),
    ]
