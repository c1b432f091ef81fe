from __future__ import annotations

import time

import pytest

from bot_telemetry.analytics.window import TimeWindow, parse_duration


def test_durations_and_instants() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("2h") == 7200
    assert parse_duration("7d") == 7 * 86400
    window = TimeWindow.parse(since="15m")
    assert abs((time.time_ns() - window.start_ns) / 1e9 - 900) < 5
    fixed = TimeWindow.parse(since="2026-01-02T10:00:00Z", until="2026-01-02T11:00:00+00:00")
    assert fixed.end_ns - fixed.start_ns == 3600 * 10**9
    assert TimeWindow.parse() == TimeWindow()


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
