"""Turns the channel sends on its own in the measures, on DuckDB and ClickHouse (chDB), over a
real botbuilder bot's telemetry (tests/support/channel_turns.py): Web Chat opening a
conversation, the bot added to a team or installed, typing, the conversation ending make
nobody active, new or in a session; a message, a reaction, a card action do. They are still
turns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot_telemetry.analytics import query
from bot_telemetry.store.engine import Engine
from tests.support.channel_turns import ACTING, NOT_ACTING, ChannelTraffic, channel_engines
from tests.support.telemetry import CapturedTelemetry


@pytest.fixture
def traffic(telemetry: CapturedTelemetry, tmp_path: Path) -> Iterator[ChannelTraffic]:
    with channel_engines(telemetry, tmp_path, "channel_measures") as found:
        yield found


def _total(
    engine: Engine, measure: str, value: str, window: tuple[int, int], user: str | None = None
) -> int:
    """The value summed over the window's hours."""
    (result,) = query(
        engine,
        start_time=window[0] // 1_000_000,
        end_time=window[1] // 1_000_000 + 1000,
        context={"userId": [user]} if user else None,
        measures=[{"measureType": measure, "timeGranularity": ["hour"]}],
    )
    return sum(int(row[value]) for row in result.response)


def test_only_what_users_did_makes_them_active_new_or_in_a_session(
    traffic: ChannelTraffic, telemetry: CapturedTelemetry
) -> None:
    pseudonym = telemetry.handle.privacy.pseudonymize
    everything = (traffic.start_ns - 10**9, traffic.end_ns)
    for engine in traffic.engines:
        dialect = engine.dialect
        assert _total(engine, "turns", "turns", everything) == 13, dialect
        for user in NOT_ACTING:
            for measure, value in (
                ("activeUsers", "users"),
                ("newUsers", "users"),
                ("sessions", "sessions"),
            ):
                found = _total(engine, measure, value, everything, pseudonym(user))
                assert found == 0, (dialect, user, measure)
        for user in ACTING:
            for measure, value in (
                ("activeUsers", "users"),
                ("newUsers", "users"),
                ("sessions", "sessions"),
            ):
                found = _total(engine, measure, value, everything, pseudonym(user))
                assert found == 1, (dialect, user, measure)
        assert _total(engine, "activeUsers", "users", everything) == len(ACTING), dialect
        # Web Chat opened late-talker's conversation before the window; they first said
        # something in it: new in it, their session starting then.
        later = (traffic.middle_ns, traffic.end_ns)
        late = pseudonym("late-talker")
        assert _total(engine, "newUsers", "users", later, late) == 1, dialect
        assert _total(engine, "sessions", "sessions", later, late) == 1, dialect


def test_conversations_say_in_how_many_the_user_did_something(
    traffic: ChannelTraffic,
) -> None:
    # A conversation is the channel's id: the pages opened with nobody speaking and the
    # team the bot was added to are conversations, but the user did nothing in them.
    everything = (traffic.start_ns - 10**9, traffic.end_ns)
    for engine in traffic.engines:
        dialect = engine.dialect
        assert _total(engine, "conversations", "conversations", everything) == 7, dialect
        assert _total(engine, "conversations", "withUser", everything) == len(ACTING), dialect
        # late-talker's conversation opened before this window: active in it, by the user.
        later = (traffic.middle_ns, traffic.end_ns)
        assert _total(engine, "conversations", "withUser", later) == 3, dialect
