"""Funnel edge cases, each built so that its answer is known: window boundaries, ties, repeated
steps, attempts, strict and unordered order, exclusions, breakdowns, what is counted, the time
range, and every drop-off cause with the turn it points to. Every case runs on DuckDB and
ClickHouse (chDB) and must give the same, stated answer on both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot_telemetry.analytics.journeys import funnel
from bot_telemetry.store.engine import Engine
from tests.support.journeys import Stream, Turn, journey_engines

END = "2026-11-05T00:00:00Z"
TRACES: dict[str, Turn] = {}


def build() -> Stream:
    s = Stream()
    ev = s.event
    # A: the window runs from the first step to the last, both ends included.
    ev("wb1", 0, "wA"), ev("wb1", 60, "wB")
    ev("wb2", 1000, "wA"), ev("wb2", 1060.001, "wB")
    # B: equal times count in step order; a second step before the first does not.
    ev("t1", 5, "tB"), ev("t1", 5, "tA")
    ev("t2", 5, "tA"), ev("t2", 4, "tB")
    # C: a repeated step needs another event.
    ev("r1", 0, "rA"), ev("r1", 1, "rA"), ev("r1", 2, "rB")
    ev("r2", 0, "rA"), ev("r2", 1, "rB")
    ev("r3", 0, "rA"), ev("r3", 1, "rA")
    # D: the best attempt counts; a first step repeated before the second starts it again.
    for at, name in ((0, "aA"), (10, "aB"), (100, "aA"), (110, "aB"), (115, "aC")):
        ev("a1", at, name)
    ev("a2", 0, "aA"), ev("a2", 5, "aA"), ev("a2", 20, "aB")
    # E: strict: nothing in between; a later attempt may do better.
    ev("s1", 0, "sA"), ev("s1", 1, "sB"), ev("s1", 2, "sC")
    ev("s2", 0, "sA"), ev("s2", 1, "sX"), ev("s2", 2, "sB")
    for at, name in ((0, "sA"), (1, "sB"), (2, "sX"), (10, "sA"), (11, "sB"), (12, "sC")):
        ev("s3", at, name)
    # F: unordered: distinct steps within the window of any start.
    ev("u1", 0, "uC"), ev("u1", 10, "uA"), ev("u1", 20, "uB")
    ev("u2", 0, "uB"), ev("u2", 5, "uB")
    ev("u3", 0, "uA"), ev("u3", 100, "uC"), ev("u3", 130, "uB")
    # G: exclusions.
    for conversation, events in {
        "x1": ((0, "xA"), (5, "xX"), (10, "xB"), (20, "xC")),
        "x2": ((0, "xA"), (10, "xB"), (20, "xC"), (30, "xX")),
        "x3": ((0, "xA"), (10, "xB"), (20, "xX")),
        "x4": ((0, "xA"), (5, "xX"), (50, "xA"), (60, "xB")),
        "x5": ((0, "xA"), (10, "xB"), (200, "xX")),
    }.items():
        for at, name in events:
            ev(conversation, at, name)
    # H: a breakdown takes the first step's value.
    ev("b1", 0, "bA", channel="web"), ev("b1", 5, "bB", channel="teams")
    ev("b2", 0, "bA", channel="teams")
    ev("b3", 0, "bA", channel="web"), ev("b3", 5, "bB", channel="web")
    # I: conversations, users, sessions (a gap over 30 minutes starts a session).
    ev("k1", 0, "kA", user="uu"), ev("k2", 60, "kB", user="uu")
    ev("v1", 0, "kA", user="vv"), ev("v1", 100, "kB", user="vv")
    ev("v2", 5000, "kA", user="vv")
    # J: an attempt must start in the time range (T0+1000s to T0+2000s); later steps may not.
    ev("g1", 500, "gA"), ev("g1", 1100, "gB")
    ev("g2", 1500, "gA"), ev("g2", 2500, "gB")
    ev("g3", 2500, "gA")
    ev("g4", 1200, "gA")
    # K: alternatives and patterns.
    ev("p1", 0, "pw.a", k="1"), ev("p1", 1, "pw.done")
    ev("p2", 0, "pw.b", k="3"), ev("p2", 1, "pw.done")
    ev("p3", 0, "pw.c", k=2)

    # L: why each conversation stopped after dA (turns are 0.2 s unless said).
    def step(conversation: str, at: float, **turn: Any) -> Turn:
        first = s.turn(conversation, at, **turn)
        ev(conversation, at + 0.05, "dA", turn=first)
        TRACES[conversation] = first
        return first

    def later(conversation: str, at: float, name: str | None = None, **turn: Any) -> Turn:
        found = s.turn(conversation, at, **turn)
        ev(conversation, at + 0.01, "BotMessageReceived", turn=found)
        if name is not None:
            ev(conversation, at + 0.02, name, turn=found, **_properties(name))
        TRACES[conversation + ".later"] = found
        return found

    step("d_err", 0)
    later("d_err", 30, failing_call=0.05)
    step("d_exc", 0, exception=0.1)
    step("d_err_before", 0, failing_call=0.01)  # in the step's turn, before its event
    step("d_slow", 0)
    later("d_slow", 30, duration=5)
    step("d_both", 0)
    later("d_both", 30, duration=5, failing_call=0.05)
    step("d_fb", 0)
    later("d_fb", 30, "LuisIntent.None")
    step("d_qna", 0)
    later("d_qna", 30, "QnAMessage")
    step("d_esc", 0)
    later("d_esc", 30, "BotMessageSend")
    step("d_cancel", 0)
    later("d_cancel", 30, "WaterfallCancel")
    step("d_else", 0)
    later("d_else", 30)
    step("d_left", 0)
    step("d_late", 0)
    later("d_late", 3700, failing_call=0.05)
    step("d_ok", 0)
    ev("d_ok", 40, "dB")
    # M: one step.
    ev("o1", 0, "oA"), ev("o2", 0, "oA")
    # N: an earlier step's failed turn is not why the entity stopped after a later step.
    first = s.turn("e_earlier", 0, failing_call=0.01)
    ev("e_earlier", 0.05, "eA", turn=first)
    second = s.turn("e_earlier", 30)
    ev("e_earlier", 30.05, "eB", turn=second)
    TRACES["e_earlier"] = second
    # O: the page's own (Sunbird) events after the step: closing the page is leaving, not
    # going elsewhere; a later bot turn still is.
    for conversation in ("c_end", "c_then_turn"):
        first = s.turn(conversation, 0)
        ev(conversation, 0.05, "cA", turn=first)
        TRACES[conversation] = first
        s.client_event(conversation, 30, "INTERACT")
        s.client_event(conversation, 31, "END")
    TRACES["c_then_turn.later"] = later("c_then_turn", 40)
    # P: a bot event in no trace (sent outside a turn), then a turn: the turn to open is the
    # first with a trace (it was the engine's choice: none on DuckDB, this one on ClickHouse).
    first = s.turn("c_no_trace", 0)
    ev("c_no_trace", 0.05, "cA", turn=first)
    ev("c_no_trace", 30, "ProactiveReminder")
    TRACES["c_no_trace.later"] = later("c_no_trace", 40)
    # R: a dialog's step, then a turn outside the dialog (no DialogId): a fallback, a failure.
    for conversation, cause in (("z_fb", {"name": "LuisIntent.None"}), ("z_err", {})):
        first = s.turn(conversation, 0)
        ev(conversation, 0.05, "zA", turn=first, DialogId="dz")
        later(conversation, 30, failing_call=0.05 if not cause else None, **cause)
    # Q: a number property, as the bot recorded it: a float that is whole, an int, text.
    ev("n1", 0, "nA", seats=3.0), ev("n2", 0, "nA", seats=3), ev("n3", 0, "nA", seats="3")
    ev("n4", 0, "nA", seats=4.0), ev("n5", 0, "nA", seats=0.5)
    # S: numbers DuckDB's JSON writes with an exponent (1e21, 1e-7), ClickHouse's exporter
    # without (Go's FormatFloat: 1000000000000000000000, 0.0000001); one just short of each.
    ev("m1", 0, "mA", amount=1e21), ev("m2", 0, "mA", amount=1.5e21)
    ev("m3", 0, "mA", amount=1e-7), ev("m4", 0, "mA", amount=1.25e-7)
    ev("m5", 0, "mA", amount=1e20), ev("m6", 0, "mA", amount=1e-6)
    ev("m7", 0, "mA", amount=-1e22)
    return s


def _properties(name: str) -> dict[str, Any]:
    return {
        "LuisIntent.None": {"intent": "None", "intentScore": 0.42},
        "QnAMessage": {"articleFound": False},
        "BotMessageSend": {"activityType": "handoff"},
        "WaterfallCancel": {"DialogId": "booking"},
    }.get(name, {})


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    with journey_engines(build(), tmp_path_factory.mktemp("cases"), "funnel_cases") as found:
        yield found


def run(engines: tuple[Engine, Engine], **body: Any) -> dict[str, Any]:
    """The funnel on both engines: they must agree; DuckDB's answer."""
    request = {"endTime": END, "window": "1h", "dropOffLimit": 100, **body}
    duckdb, clickhouse = engines
    found = funnel(duckdb, request)
    assert funnel(clickhouse, request) == found
    return dict(found)


def counts(result: dict[str, Any]) -> list[int]:
    return [step["count"] for step in result["steps"]]


@pytest.mark.parametrize("order", ["ordered", "strict", "unordered"])
def test_the_window_includes_its_end(engines: tuple[Engine, Engine], order: str) -> None:
    result = run(engines, steps=["wA", "wB"], window="60s", order=order)
    assert counts(result) == [2, 1]
    assert result["steps"][1]["medianSecondsToConvert"] == 60.0


def test_equal_times_count_in_step_order(engines: tuple[Engine, Engine]) -> None:
    assert counts(run(engines, steps=["tA", "tB"])) == [2, 1]


def test_a_repeated_step_needs_another_event(engines: tuple[Engine, Engine]) -> None:
    assert counts(run(engines, steps=["rA", "rA", "rB"])) == [3, 2, 1]


def test_the_best_attempt_counts_and_a_repeated_first_step_restarts_it(
    engines: tuple[Engine, Engine],
) -> None:
    result = run(engines, steps=["aA", "aB", "aC"], window="18s")
    assert counts(result) == [2, 2, 1]
    # a1 counts its second attempt (10 s to aB), a2 the one from its second aA (15 s).
    assert result["steps"][1]["medianSecondsToConvert"] == 12.5
    assert result["steps"][1]["p90SecondsToConvert"] == 14.5
    assert result["steps"][2]["medianSecondsToConvert"] == 5.0


def test_strict_allows_nothing_between_steps(engines: tuple[Engine, Engine]) -> None:
    assert counts(run(engines, steps=["sA", "sB", "sC"], order="strict")) == [3, 2, 2]
    # The same events in order, other events allowed between.
    assert counts(run(engines, steps=["sA", "sB", "sC"])) == [3, 3, 2]


def test_unordered_counts_distinct_steps_within_the_window(
    engines: tuple[Engine, Engine],
) -> None:
    result = run(engines, steps=["uA", "uB", "uC"], order="unordered", window="60s")
    assert counts(result) == [3, 2, 1]
    # u1: uC, then uA 10 s later, then uB 10 s after that; u3: uC then uB 30 s later.
    assert result["steps"][1]["medianSecondsToConvert"] == 20.0
    assert result["steps"][2]["medianSecondsToConvert"] == 10.0


def test_exclusions_disqualify_attempts(engines: tuple[Engine, Engine]) -> None:
    whole = run(
        engines,
        steps=["xA", "xB", "xC"],
        window="100s",
        exclusions=[{"event": "xX", "fromStep": 0, "toStep": 2}],
    )
    assert counts(whole) == [3, 3, 1]
    assert whole["excluded"] == 2  # x1 (between the steps), x3 (after B, within the window)
    middle = run(
        engines,
        steps=["xA", "xB", "xC"],
        window="100s",
        exclusions=[{"event": "xX", "fromStep": 1, "toStep": 2}],
    )
    assert counts(middle) == [4, 4, 2]
    assert middle["excluded"] == 1


def test_a_breakdown_takes_the_first_steps_value(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, steps=["bA", "bB"], breakdown="channelId")
    by_value = {v["value"]: counts(v) for v in result["breakdownValues"]}
    assert by_value == {"web": [2, 2], "teams": [1, 0]}
    assert counts(result) == [3, 2]
    limited = run(engines, steps=["bA", "bB"], breakdown="channelId", breakdownLimit=1)
    assert {(v["value"], v["other"]): counts(v) for v in limited["breakdownValues"]} == {
        ("web", False): [2, 2],
        (None, True): [1, 0],
    }


@pytest.mark.parametrize(
    ("count_by", "expected"),
    [("conversation", [3, 1]), ("user", [2, 2]), ("session", [3, 2])],
)
def test_what_is_counted(
    engines: tuple[Engine, Engine], count_by: str, expected: list[int]
) -> None:
    assert counts(run(engines, steps=["kA", "kB"], window="2h", countBy=count_by)) == expected


def test_an_attempt_starts_in_the_time_range(engines: tuple[Engine, Engine]) -> None:
    result = run(
        engines,
        steps=["gA", "gB"],
        startTime="2026-11-02T00:16:40Z",  # T0 + 1000 s
        endTime="2026-11-02T00:33:20Z",  # T0 + 2000 s
    )
    assert counts(result) == [2, 1]


def test_alternatives_and_patterns(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, steps=[{"event": "pw.*", "where": {"k": ["1", "2"]}}, "pw.done"])
    assert counts(result) == [2, 1]


@pytest.mark.parametrize("value", [3, 3.0, "3", "3.0"])
def test_a_whole_number_property_matches_with_or_without_its_point_zero(
    engines: tuple[Engine, Engine], value: object
) -> None:
    # n1 (3.0), n2 (3) and n3 ("3"); DuckDB read the float as "3.0", ClickHouse as "3".
    assert counts(run(engines, steps=[{"event": "nA", "where": {"seats": value}}])) == [3]


def test_a_breakdown_by_a_number_property_is_the_same_on_both_engines(
    engines: tuple[Engine, Engine],
) -> None:
    result = run(engines, steps=["nA"], breakdown="seats")
    assert {v["value"]: counts(v) for v in result["breakdownValues"]} == {
        "3": [3],
        "4": [1],
        "0.5": [1],
    }


def test_a_breakdown_by_very_large_or_small_numbers_is_the_same_text_on_both_engines(
    engines: tuple[Engine, Engine],
) -> None:
    result = run(engines, steps=["mA"], breakdown="amount")
    assert {v["value"]: counts(v) for v in result["breakdownValues"]} == {
        "1000000000000000000000": [1],
        "1500000000000000000000": [1],
        "0.0000001": [1],
        "0.000000125": [1],
        "100000000000000000000": [1],
        "0.000001": [1],
        "-10000000000000000000000": [1],
    }


@pytest.mark.parametrize(
    ("value", "matched"),
    [
        (1e21, 1),
        ("1e21", 1),
        ("1e+21", 1),
        ("1000000000000000000000", 1),
        ([1e-7, 1.25e-7], 2),
        ("1e-07", 1),
        ("0.0000001", 1),
        (-1e22, 1),
        (1e20, 1),
    ],
)
def test_a_very_large_or_small_number_property_matches_on_both_engines(
    engines: tuple[Engine, Engine], value: object, matched: int
) -> None:
    assert counts(run(engines, steps=[{"event": "mA", "where": {"amount": value}}])) == [matched]


def test_one_step(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, steps=["oA"])
    assert counts(result) == [2]
    assert result["dropped"] == [] and result["steps"][0]["dropOff"] == 0


def test_why_each_one_stopped(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, steps=["dA", "dB"])
    assert counts(result) == [13, 1]
    assert result["steps"][0]["dropOffCauses"] == {
        "botError": 4,  # a failing call after the step or in its turn, an exception, both
        "slowReply": 1,
        "fallback": 2,  # a None intent, a Q&A miss
        "escalated": 1,
        "cancelled": 1,
        "wentElsewhere": 1,
        "userLeft": 2,  # nothing more; a failure after the window
    }
    stopped = {d["conversationId"]: d for d in result["dropped"]}
    assert len(stopped) == 12 and all(d["step"] == 0 for d in stopped.values())
    later = {
        "d_err": "botError",
        "d_both": "botError",
        "d_slow": "slowReply",
        "d_fb": "fallback",
        "d_qna": "fallback",
        "d_esc": "escalated",
        "d_cancel": "cancelled",
        "d_else": "wentElsewhere",
    }
    for conversation, cause in later.items():
        assert stopped[conversation]["cause"] == cause, conversation
        # The turn to open is the one that explains it; the step's own turn is kept too.
        assert stopped[conversation]["traceId"] == TRACES[conversation + ".later"].trace_id
        assert stopped[conversation]["stepTraceId"] == TRACES[conversation].trace_id
    for conversation, cause in (
        ("d_exc", "botError"),
        ("d_err_before", "botError"),
        ("d_left", "userLeft"),
        ("d_late", "userLeft"),
    ):
        assert stopped[conversation]["cause"] == cause, conversation
        assert stopped[conversation]["traceId"] == TRACES[conversation].trace_id


def test_an_earlier_steps_failure_is_not_the_cause(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, steps=["eA", "eB", "eC"])
    assert counts(result) == [1, 1, 0]
    (stopped,) = result["dropped"]
    assert (stopped["step"], stopped["cause"]) == (1, "userLeft")
    assert stopped["traceId"] == stopped["stepTraceId"] == TRACES["e_earlier"].trace_id


@pytest.mark.parametrize("count_by", ["conversation", "user", "session"])
def test_the_pages_own_events_are_not_going_elsewhere(
    engines: tuple[Engine, Engine], count_by: str
) -> None:
    # c_end: cA, then the page's INTERACT and END (no trace) and nothing else: user left,
    # shown with the step's own turn. c_then_turn: the same, then a bot turn 40 s after
    # the step: went elsewhere, shown with that turn. c_no_trace: a bot event in no trace,
    # then a turn: went elsewhere, shown with the turn (the first evidence with a trace).
    result = run(engines, steps=["cA", "cB"], countBy=count_by)
    assert counts(result) == [3, 0]
    causes = result["steps"][0]["dropOffCauses"]
    assert (causes["userLeft"], causes["wentElsewhere"]) == (1, 2)
    stopped = {d["conversationId"]: d for d in result["dropped"]}
    assert stopped["c_end"]["cause"] == "userLeft"
    assert stopped["c_end"]["traceId"] == TRACES["c_end"].trace_id
    for conversation in ("c_then_turn", "c_no_trace"):
        assert stopped[conversation]["cause"] == "wentElsewhere"
        assert stopped[conversation]["traceId"] == TRACES[conversation + ".later"].trace_id


@pytest.mark.parametrize("count_by", ["conversation", "user"])
def test_a_context_picks_who_is_counted_not_what_happened_to_them(
    engines: tuple[Engine, Engine], count_by: str
) -> None:
    # z_fb and z_err stopped after the dialog's step zA; their next turns (a LuisIntent.None,
    # a failing call) carry no DialogId. Narrowed to the dialog, they were "user left".
    for context in (None, {"dialogId": ["dz"]}):
        body: dict[str, Any] = {"steps": ["zA", "zB"], "countBy": count_by}
        if context:
            body["context"] = context
        result = run(engines, **body)
        assert counts(result) == [2, 0]
        causes = result["steps"][0]["dropOffCauses"]
        assert (causes["fallback"], causes["botError"], causes["userLeft"]) == (1, 1, 0)


def test_the_slow_reply_threshold_is_a_parameter(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, steps=["dA", "dB"], slowReplySeconds=6)
    causes = result["steps"][0]["dropOffCauses"]
    assert causes["slowReply"] == 0 and causes["wentElsewhere"] == 2


def test_without_drop_off_the_counts_are_the_same(engines: tuple[Engine, Engine]) -> None:
    plain = run(engines, steps=["dA", "dB"], dropOff=False)
    assert counts(plain) == [13, 1]
    assert plain["steps"][0]["dropOffCauses"] == {}
    # Who stopped is still listed, with the turn of the step where they stopped.
    assert len(plain["dropped"]) == 12
    assert all(d["cause"] is None and d["traceId"] == d["stepTraceId"] for d in plain["dropped"])
