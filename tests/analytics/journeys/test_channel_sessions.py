"""Sessions in funnels and user flows with turns the channel sends on its own, on DuckDB and
ClickHouse (chDB), over a real botbuilder bot's telemetry (tests/support/channel_turns.py,
``RETURNER_TURNS``): Web Chat opening the page again 15 minutes after the user's last
message neither keeps their session open nor joins it to the next one, as the ``sessions``
measure counts them; its events belong to the session of the user's nearest turn of their
own within the gap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.analytics import query
from bot_telemetry.analytics.journeys import funnel, paths
from bot_telemetry.analytics.traces import iso
from tests.support.channel_turns import ChannelTraffic, channel_engines
from tests.support.telemetry import CapturedTelemetry


@pytest.fixture
def traffic(telemetry: CapturedTelemetry, tmp_path: Path) -> Iterator[ChannelTraffic]:
    with channel_engines(telemetry, tmp_path, "channel_sessions", returner=True) as found:
        yield found


def _window(traffic: ChannelTraffic) -> dict[str, Any]:
    return {"startTime": iso(traffic.start_ns - 10**9), "endTime": iso(traffic.end_ns + 10**9)}


def _received(kind: str) -> dict[str, Any]:
    return {"event": "BotMessageReceived", "where": {"activityType": kind}}


def test_the_page_opened_again_neither_extends_nor_joins_a_session(
    traffic: ChannelTraffic,
) -> None:
    request = {
        **_window(traffic),
        "steps": [_received("message"), _received("message")],
        "countBy": "session",
        "window": "2h",
    }
    for engine in traffic.engines:
        (sessions,) = query(
            engine,
            start_time=traffic.start_ns // 10**6 - 1000,
            end_time=traffic.end_ns // 10**6 + 1000,
            measures=[{"measureType": "sessions", "timeGranularity": ["day"]}],
        )
        assert sum(row["sessions"] for row in sessions.response) == 3, engine.dialect
        # Three sessions of one message each: none went on to a second message.
        answer = funnel(engine, request)
        counts = [step["count"] for step in answer["steps"]]
        assert counts == [3, 0], (engine.dialect, counts)
        flows = paths(engine, {**_window(traffic), "countBy": "session"})
        assert flows["entities"] == 3, (engine.dialect, flows)


def test_the_pages_turn_belongs_to_the_nearest_session(traffic: ChannelTraffic) -> None:
    # The page opened at 15 minutes is nearer the message before (15) than the one after
    # (25): it is in the first session (nothing follows it there); the one at 72 is 32
    # minutes after the last message and 23 before the next: in the session it began.
    request = {
        **_window(traffic),
        "steps": [_received("conversationUpdate"), _received("message")],
        "countBy": "session",
        "window": "2h",
    }
    for engine in traffic.engines:
        answer = funnel(engine, request)
        counts = [step["count"] for step in answer["steps"]]
        assert counts == [2, 1], (engine.dialect, counts)
