"""Drop-off causes on generated conversations, against the rules of docs/journeys.md applied
the plain way in Python: which stopped entity gets which cause, and which turn it points to,
on DuckDB and ClickHouse (chDB). The attempts come from the funnel oracle; the causes are
judged here from what each turn was made to be (failing, slow, a handoff) and the events."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot_telemetry.analytics.journeys import FunnelRequest, funnel
from bot_telemetry.contract import DROP_OFF_CAUSES, FALLBACK_SCORE, SLOW_TURN_SECONDS
from bot_telemetry.store.engine import Engine
from tests.support.funnel_oracle import oracle_funnel
from tests.support.journeys import Record, Stream, journey_engines

STEPS = ["A", "B", "C"]


@dataclass
class Generated:
    stream: Stream = field(default_factory=Stream)
    #: Per trace: whether a span failed, the turn was slow, the turn was a handoff.
    turns: dict[str, tuple[bool, bool, bool]] = field(default_factory=dict)


def generate(seed: int) -> Generated:
    """60 conversations of 20 users: turns a second to 400 s apart, some failing (a call, the
    turn, an exception), slow or a handoff; steps, fallbacks, Q&A results, cancels,
    handoff replies, other events; now and then an event in no turn or the page's END."""
    rng = random.Random(seed)
    found = Generated()
    s = found.stream
    for c in range(60):
        conversation, user = f"k{c:02d}", f"u{c % 20}"
        at = float(rng.randrange(0, 4 * 3600))
        for _ in range(rng.randint(1, 7)):
            at += rng.choice([1, 20, 60, 200, 400])
            kind = rng.random()
            options: dict[str, Any] = {}
            if kind < 0.1:
                options["failing_call"] = 0.05
            elif kind < 0.15:
                options["failed"] = True
            elif kind < 0.2:
                options["exception"] = 0.1
            elif kind < 0.3:
                options["duration"] = SLOW_TURN_SECONDS + 1
            elif kind < 0.35:
                options["activity_type"] = "handoff"
            turn = s.turn(conversation, at, user=user, **options)
            found.turns[turn.trace_id] = (
                kind < 0.2,
                options.get("duration", 0) > SLOW_TURN_SECONDS,
                "activity_type" in options,
            )
            s.event(conversation, at + 0.01, "BotMessageReceived", turn=turn)
            for j in range(rng.randint(0, 2)):
                r, when = rng.random(), at + 0.02 + 0.01 * j
                if r < 0.45:
                    s.event(conversation, when, rng.choice(STEPS), turn=turn)
                elif r < 0.55:
                    s.event(
                        conversation,
                        when,
                        "LuisIntent.None",
                        turn=turn,
                        intent="None",
                        intentScore=0.3,
                    )
                elif r < 0.6:
                    s.event(
                        conversation,
                        when,
                        "LuisIntent.Book",
                        turn=turn,
                        intent="Book",
                        intentScore=rng.choice([0.4, 0.9]),
                    )
                elif r < 0.65:
                    s.event(
                        conversation,
                        when,
                        "QnAMessage",
                        turn=turn,
                        articleFound=rng.choice([True, False]),
                    )
                elif r < 0.7:
                    s.event(conversation, when, "WaterfallCancel", turn=turn)
                elif r < 0.75:
                    s.event(
                        conversation,
                        when,
                        "BotMessageSend",
                        turn=turn,
                        activityType=rng.choice(["message", "handoff"]),
                    )
                else:
                    s.event(conversation, when, "Other", turn=turn)
            if rng.random() < 0.1:
                s.event(conversation, at + 5, "NoTrace")
            if rng.random() < 0.1:
                s.client_event(conversation, at + 6, "END")  # not in the records: not looked at
    return found


def _fallback(record: Record) -> bool:
    properties = record.properties
    if record.name.startswith("LuisIntent."):
        return (
            properties.get("intent") == "None"
            or float(properties.get("intentScore", "1")) < FALLBACK_SCORE
        )
    return record.name == "QnAMessage" and properties.get("articleFound") == "false"


def _escalation(record: Record) -> bool:
    return record.name == "BotMessageSend" and record.properties.get("activityType") == "handoff"


def expected_causes(
    generated: Generated, body: dict[str, Any]
) -> dict[str, tuple[int, str, str | None]]:
    """entity -> (the step it stopped after, its cause, the trace shown)."""
    request = FunnelRequest.parse(body)
    records = generated.stream.records
    attempts = oracle_funnel(records, request)
    by_entity: dict[str, list[Record]] = {}
    for record in records:
        key = record.conversation if request.count_by == "conversation" else record.user
        by_entity.setdefault(key, []).append(record)
    found = {}
    for entity, counted in attempts.counted.items():
        if not 0 < counted.level < len(STEPS):
            continue
        last = counted.times[counted.level - 1]
        deadline = counted.times[0] + request.window_ns
        step_trace = counted.last.trace_id
        evidence = []
        for record in by_entity[entity]:
            if not last <= record.time_ns <= deadline:
                continue
            failed, slow, handoff = generated.turns.get(record.trace_id or "", (False,) * 3)
            later = record.time_ns > last
            if failed:
                rank = 0
            elif slow:
                rank = 1
            elif later and _fallback(record):
                rank = 2
            elif handoff or (later and _escalation(record)):
                rank = 3
            elif later and record.name == "WaterfallCancel":
                rank = 4
            elif later and (record.trace_id is None or record.trace_id != step_trace):
                rank = 5
            else:
                continue
            # The cause's earliest event with a trace, else one with none.
            trace = record.trace_id
            evidence.append((rank, trace is None, record.time_ns, trace or "", trace))
        if evidence:
            rank, *_, trace = min(evidence)
            found[entity] = (counted.level - 1, DROP_OFF_CAUSES[rank], trace)
        else:
            found[entity] = (counted.level - 1, "userLeft", step_trace)
    return found


@pytest.fixture(scope="module", params=[0, 1, 2])
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Generated, Engine, Engine]]:
    found = generate(request.param)
    folder = tmp_path_factory.mktemp("causes")
    with journey_engines(found.stream, folder, f"causes{request.param}") as (duckdb, clickhouse):
        yield found, duckdb, clickhouse


@pytest.mark.parametrize("count_by", ["conversation", "user"])
def test_each_stopped_entity_gets_the_defined_cause_and_turn(
    generated: tuple[Generated, Engine, Engine], count_by: str
) -> None:
    stream, duckdb, clickhouse = generated
    body = {
        "startTime": "2026-11-02T00:00:00Z",
        "endTime": "2026-11-02T05:00:00Z",
        "steps": STEPS,
        "window": "10m",
        "countBy": count_by,
        "dropOffLimit": 1000,
    }
    found = funnel(duckdb, body)
    assert funnel(clickhouse, body) == found
    expected = expected_causes(stream, body)
    assert {d["entity"]: (d["step"], d["cause"], d["traceId"]) for d in found["dropped"]} == (
        expected
    )
    # The streams are varied enough to show most causes.
    assert len({cause for _, cause, _ in expected.values()}) >= 4
