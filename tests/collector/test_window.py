from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bot_telemetry.analytics.window import (
    TimeWindow,
    instant_ns,
    latest_first,
    parse_duration,
    parse_instant,
)


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
    ("text", "seconds"),
    [
        ("7d", 7 * 86400),
        ("7D", 7 * 86400),  # as pandas writes it
        (" 7 d ", 7 * 86400),
        ("7 days", 7 * 86400),
        ("1 day", 86400),
        ("90min", 5400),
        ("90 minutes", 5400),
        ("1h30m", 5400),
        ("1 hour 30 minutes", 5400),
        ("1h, 30m", 5400),
        ("1.5h", 5400),
        ("2 hrs", 7200),
        ("45 secs", 45),
        ("2wk", 14 * 86400),
        ("PT1H30M", 5400),  # ISO 8601
        ("P7D", 7 * 86400),
        ("p1dt12h", 36 * 3600),
        ("P2W", 14 * 86400),
        ("PT0.5S", 0.5),
    ],
)
def test_durations_as_people_write_them(text: str, seconds: float) -> None:
    """A notebook's "7 days" or "1h30m", an API caller's "PT1H": each said only 30s, 15m,
    2h, 7d or 1w was a duration."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["ten minutes", "30", "1M", "P1M", "P1Y", "PT", "P", "", "7 dayz", "h", "1h30", "-7d"],
)
def test_what_is_not_a_duration_is_refused_naming_it(text: str) -> None:
    """ "1M" is refused, not guessed: a month to pandas, a minute to a Go or journalctl user."""
    with pytest.raises(ValueError, match=f"^{text!r} is not a duration like 30s, 15m"):
        parse_duration(text)


def test_a_time_is_a_duration_ago_in_any_of_those_forms() -> None:
    now = 1_790_000_000_000_000_000
    week_ago = now - 7 * 86400 * 10**9
    for text in ("7d", "7 days", "-7d", "7 days ago", "7d ago", "P7D", "168h"):
        assert parse_instant(text, now) == week_ago, text
    assert instant_ns(timedelta(days=7), now) == week_ago  # from Python
    assert instant_ns("now", now) == now
    assert instant_ns("1790000000000", now) == now  # epoch milliseconds, as a query string's
    assert instant_ns("1M ago", now) is None


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
