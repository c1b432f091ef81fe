"""Funnels and retention with proactive turns, on DuckDB and ClickHouse (chDB), over a real
botbuilder bot's telemetry (tests/support/proactive.py): what the bot sent unasked (a
reminder, ``continue_conversation``) is not something the user did. A user who stopped and
was then reminded left (not "went elsewhere"); a user the bot only wrote to is in no cohort."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot_telemetry.analytics.journeys import funnel, retention
from bot_telemetry.analytics.traces import iso
from bot_telemetry.store.engine import Engine
from tests.support.proactive import proactive_engines
from tests.support.telemetry import CapturedTelemetry


@pytest.fixture
def engines(
    telemetry: CapturedTelemetry, tmp_path: Path
) -> Iterator[tuple[list[Engine], int, int]]:
    with proactive_engines(telemetry, tmp_path, "proactive_retention") as found:
        yield found


def test_a_user_the_bot_only_wrote_to_is_in_no_cohort(
    engines: tuple[list[Engine], int, int],
) -> None:
    found, start_ns, end_ns = engines
    request = {
        "startTime": iso(start_ns - 10**9),
        "endTime": iso(end_ns + 10**9),
        "period": "day",
        "totalIntervals": 2,
    }
    for engine in found:
        answer = retention(engine, request)
        sizes = [cohort["size"] for cohort in answer["cohorts"]]
        assert sum(sizes) == 2, (engine.dialect, answer)
        # The reminders to the two who wrote are not them coming back either: only
        # interval 0, their own first day, counts them.
        for cohort in answer["cohorts"]:
            assert cohort["values"][0] == cohort["size"], (engine.dialect, cohort)


def test_a_user_reminded_after_stopping_left_rather_than_went_elsewhere(
    engines: tuple[list[Engine], int, int],
) -> None:
    found, start_ns, end_ns = engines
    request = {
        "startTime": iso(start_ns - 10**9),
        "endTime": iso(end_ns + 10**9),
        "steps": [{"event": "BotMessageReceived"}, {"event": "TableBooked"}],
        "countBy": "user",
        "window": "1h",
    }
    for engine in found:
        answer = funnel(engine, request)
        causes = sorted(d["cause"] for d in answer["dropped"])
        assert causes == ["userLeft", "userLeft"], (engine.dialect, answer["dropped"])


def test_a_proactive_turn_inside_a_users_turn_leaves_the_users_events_theirs(
    telemetry: CapturedTelemetry, tmp_path: Path
) -> None:
    # The agent's proactive turn is a child of user-1's turn, in its trace: an event belongs
    # to its trace's turn, but a trace with turns of both kinds is judged by the span, so
    # user-1's message is theirs and the agent, only written to, is in no cohort.
    with proactive_engines(telemetry, tmp_path, "proactive_nested", notifying=True) as found:
        engines, start_ns, end_ns = found
        turns = engines[0].query("SELECT count(DISTINCT trace_id) AS n FROM turns").scalar()
        assert turns == 1
        request = {
            "startTime": iso(start_ns - 10**9),
            "endTime": iso(end_ns + 10**9),
            "period": "day",
            "totalIntervals": 2,
        }
        for engine in engines:
            answer = retention(engine, request)
            assert sum(c["size"] for c in answer["cohorts"]) == 1, (engine.dialect, answer)
