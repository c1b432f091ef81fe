"""Dialog funnels come with no set-up: every dialog seen, its steps in the order they run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot_telemetry.analytics.journeys import dialog_funnels, funnel
from bot_telemetry.store.engine import Engine
from tests.support.journeys import Stream, journey_engines

END = "2026-11-03T00:00:00Z"


def build() -> Stream:
    s = Stream()
    runs = {
        "c1": ("booking", ["ask_day", "ask_size", "confirm"], "WaterfallComplete"),
        "c2": ("booking", ["ask_day", "confirm"], "WaterfallComplete"),  # size known already
        "c3": ("booking", ["ask_day"], "WaterfallCancel"),
        "c4": ("booking", ["ask_day", "ask_size"], None),  # abandoned
        "c5": ("help", ["explain"], None),
    }
    for c, (conversation, (dialog, steps, end)) in enumerate(runs.items()):
        at = c * 1000
        props = {"DialogId": dialog, "InstanceId": f"run-{c}"}
        s.event(conversation, at, "WaterfallStart", **props)
        for i, step in enumerate(steps):
            s.event(conversation, at + 10 * (i + 1), "WaterfallStep", StepName=step, **props)
        if end:
            s.event(conversation, at + 100, end, **props)
    return s


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    with journey_engines(build(), tmp_path_factory.mktemp("dialogs"), "dialog_cases") as found:
        yield found


def test_every_dialog_with_its_steps_in_order(engines: tuple[Engine, Engine]) -> None:
    duckdb, clickhouse = engines
    found = dialog_funnels(duckdb, {"endTime": END})
    assert dialog_funnels(clickhouse, {"endTime": END}) == found
    assert [
        (d["dialogId"], d["starts"], d["completes"], d["cancels"], d["steps"]) for d in found
    ] == [
        ("booking", 4, 2, 1, ["ask_day", "ask_size", "confirm"]),
        ("help", 1, 0, 0, ["explain"]),
    ]
    booking = found[0]["funnel"]
    assert [s["event"] for s in booking["steps"]] == [
        "WaterfallStart",
        "WaterfallStep",
        "WaterfallStep",
        "WaterfallStep",
        "WaterfallComplete",
    ]
    # The funnel it describes runs as it is.
    result = funnel(duckdb, booking)
    assert funnel(clickhouse, booking) == result
    assert [s["count"] for s in result["steps"]] == [4, 4, 2, 1, 1]
    # After ask_day: c3 cancelled; c2 went on to confirm without ask_size.
    assert result["steps"][1]["dropOffCauses"]["cancelled"] == 1
    assert result["steps"][1]["dropOffCauses"]["wentElsewhere"] == 1
    # After ask_size: c4 did nothing more.
    assert result["steps"][2]["dropOffCauses"]["userLeft"] == 1
