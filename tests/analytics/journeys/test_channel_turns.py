"""Funnels and retention with turns the channel sends on its own, on DuckDB and ClickHouse
(chDB), over a real botbuilder bot's telemetry (tests/support/channel_turns.py): Web Chat
opening a conversation, the bot added to a team or installed, typing, the conversation
ending are not something the user did. Users who only had those are in no cohort; a user who
stopped and then only had those left (not "went elsewhere")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot_telemetry.analytics.journeys import funnel, retention
from bot_telemetry.analytics.traces import iso
from tests.support.channel_turns import ACTING, PROFILE_READ, ChannelTraffic, channel_engines
from tests.support.telemetry import CapturedTelemetry


@pytest.fixture
def traffic(telemetry: CapturedTelemetry, tmp_path: Path) -> Iterator[ChannelTraffic]:
    with channel_engines(telemetry, tmp_path, "channel_journeys") as found:
        yield found


def _window(traffic: ChannelTraffic) -> dict[str, str]:
    return {"startTime": iso(traffic.start_ns - 10**9), "endTime": iso(traffic.end_ns + 10**9)}


def test_users_the_channel_alone_brought_are_in_no_cohort(traffic: ChannelTraffic) -> None:
    request = {**_window(traffic), "period": "day", "totalIntervals": 2}
    for engine in traffic.engines:
        answer = retention(engine, request)
        sizes = [cohort["size"] for cohort in answer["cohorts"]]
        assert sum(sizes) == len(ACTING), (engine.dialect, answer)


def test_a_user_who_stopped_then_only_had_the_channels_turns_left(
    traffic: ChannelTraffic,
) -> None:
    request = {
        **_window(traffic),
        "steps": [
            {"event": "BotMessageReceived", "where": {"activityType": "message"}},
            {"event": "TableBooked"},
        ],
        "countBy": "user",
        "window": "1h",
    }
    for engine in traffic.engines:
        answer = funnel(engine, request)
        # leaver (typing, the page opened again, the conversation ended after "hi") and
        # late-talker (nothing after "hello").
        causes = sorted(d["cause"] for d in answer["dropped"])
        assert causes == ["userLeft", "userLeft"], (engine.dialect, answer["dropped"])


def test_an_event_under_a_child_span_of_the_channels_turn_is_not_the_users(
    traffic: ChannelTraffic,
) -> None:
    # Every conversationUpdate turn records ProfileRead under a dependency call's span, not
    # on the turn span: it is in the turn's trace, so it is the channel's doing as the turn
    # is. It puts nobody in a cohort (before: the five users the channel alone brought).
    request = {**_window(traffic), "period": "day", "totalIntervals": 2}
    for engine in traffic.engines:
        answer = retention(engine, {**request, "cohortEvent": PROFILE_READ})
        assert answer["cohorts"] and all(c["size"] == 0 for c in answer["cohorts"]), (
            engine.dialect,
            answer,
        )
        # A message still is the user's (the same rule, for a turn that is theirs).
        answer = retention(engine, {**request, "cohortEvent": "BotMessageReceived"})
        assert sum(c["size"] for c in answer["cohorts"]) == len(ACTING), (engine.dialect, answer)


def test_a_page_event_is_the_doing_of_the_turn_whose_trace_it_names(
    traffic: ChannelTraffic,
) -> None:
    # The page's START names the trace of its request that opened the conversation, whose
    # turn (the conversationUpdate) the channel sent: the page opening is not the user's
    # doing, as the webchat/join it may send is not. Its INTERACT names the user's message.
    request = {**_window(traffic), "period": "day", "totalIntervals": 2}
    for engine in traffic.engines:
        for name, users in (("START", 0), ("INTERACT", 1)):
            answer = retention(engine, {**request, "cohortEvent": name})
            assert sum(c["size"] for c in answer["cohorts"]) == users, (engine.dialect, name)


def test_the_pages_own_lifecycle_events_are_not_the_users(traffic: ChannelTraffic) -> None:
    # page-only's page loaded before any turn and was closed: its START, IMPRESSION,
    # HEARTBEAT and END name no trace. They are the page's doing, as webchat/join is: no
    # cohort, no session (before: page-only was in a cohort and had a session of them).
    request = {**_window(traffic), "period": "day", "totalIntervals": 2}
    for engine in traffic.engines:
        for name in ("START", "IMPRESSION", "HEARTBEAT", "END"):
            answer = retention(engine, {**request, "cohortEvent": name})
            assert sum(c["size"] for c in answer["cohorts"]) == 0, (engine.dialect, name)
        sessions = funnel(
            engine,
            {**_window(traffic), "steps": [{"event": "START"}], "countBy": "session"},
        )
        assert [s["count"] for s in sessions["steps"]] == [0], (engine.dialect, sessions)
