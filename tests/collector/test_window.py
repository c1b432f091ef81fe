from __future__ import annotations

import time

import pytest

from bot_telemetry.analytics.window import TimeWindow, latest_first, parse_duration


def test_durations_and_instants() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("2h") == 7200
    assert parse_duration("7d") == 7 * 86400
    window = TimeWindow.parse(since="15m")
    assert abs((time.time_ns() - window.start_ns) / 1e9 - 900) < 5
    fixed = TimeWindow.parse(since="2026-01-02T10:00:00Z", until="2026-01-02T11:00:00+00:00")
    assert fixed.end_ns - fixed.start_ns == 3600 * 10**9
    assert TimeWindow.parse() == TimeWindow()


def test_instants_are_exact_to_the_microsecond() -> None:
    # A float of the seconds times 1e9 gave ...000999936: 64 ns early, so an event 50 ns
    # before the millisecond was inside a window from it.
    window = TimeWindow.parse(since="2026-11-02T00:00:00.001Z", until="2026-11-02T10:15:30.123Z")
    assert window.start_ns == 1_793_577_600_001_000_000
    assert window.end_ns == 1_793_614_530_123_000_000
    assert TimeWindow.parse(since="2026-11-02T01:00:00.000001+01:00").start_ns == (
        1_793_577_600_000_001_000
    )


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("soon", None, "neither a duration"),
        ("1h", "2h", "window is empty"),
    ],
)
def test_bad_windows(since: str, until: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimeWindow.parse(since, until)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("ten minutes")


def test_latest_first_grows_from_the_latest_row_to_the_whole_window() -> None:
    window = TimeWindow(1_000, 10_000)
    stretches = list(latest_first(window, latest_ns=9_000, step_ns=10))
    assert stretches == [
        TimeWindow(8_991, 10_000),  # the last 10 ns up to and with the latest row
        TimeWindow(8_841, 10_000),  # 16 times longer
        TimeWindow(6_441, 10_000),
        window,  # 40,960 ns would start before the window: the window itself
    ]
    assert list(latest_first(window, latest_ns=9_000, step_ns=2**63)) == [window]
    assert list(latest_first(window, latest_ns=1_000, step_ns=1)) == [window]
    # Told what share of the rows wanted each stretch held: long enough for all of them.
    stretches = latest_first(window, latest_ns=9_000, step_ns=10)
    assert next(stretches) == TimeWindow(8_991, 10_000)
    assert stretches.send(1 / 50) == TimeWindow(8_001, 10_000)  # 100 times longer
    assert stretches.send(0.9) == window  # 16 times longer starts before the window
    nothing = latest_first(window, latest_ns=9_000, step_ns=10)
    next(nothing)
    assert nothing.send(0) == window  # nothing in the last 10 ns: read it all
