"""A recognition is counted once: a bot that wraps botbuilder-ai's LuisRecognizer and QnAMaker
(TelemetryRecognizer, TelemetryQnA) and also gives them a telemetry client, as a migrating
bot does, records botbuilder-ai's event (LuisResult, QnaMessage) and ours (LuisIntent.<Intent>,
QnAMessage) on the same span. intents, qnaAnswerRate and the intent dimension count it once,
on DuckDB and ClickHouse; botbuilder-ai's event alone (a bot without the wrapper) still
counts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot_telemetry import contract
from bot_telemetry.analytics.measures import parse_request, run
from bot_telemetry.store.engine import Engine
from tests.support.journeys import T0, Stream, journey_engines

HOUR = 3600 * 1_000_000_000


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    stream = Stream()
    # A wrapped LuisRecognizer with a telemetry client: both events, one recognition.
    both = stream.turn("a", 10)
    stream.event("a", 10.1, "LuisIntent.BookTable", turn=both, intent="BookTable", intentScore=0.9)
    stream.event(
        "a", 10.1, contract.BOTBUILDER_LUIS_RESULT, turn=both, intent="BookTable", intentScore=0.9
    )
    # botbuilder-ai's alone (no wrapper), in a turn and in no trace.
    alone = stream.turn("a", 20)
    stream.event(
        "a", 20.1, contract.BOTBUILDER_LUIS_RESULT, turn=alone, intent="Greeting", intentScore=0.8
    )
    stream.event("b", 25, contract.BOTBUILDER_LUIS_RESULT, intent="Help", intentScore=0.7)
    # Ours alone.
    ours = stream.turn("b", 30)
    stream.event("b", 30.1, "LuisIntent.None", turn=ours, intent="None", intentScore=0.2)
    # Q&A: both events of one answered question; botbuilder-ai's alone, unanswered; ours
    # alone, unanswered.
    asked = stream.turn("c", 40)
    stream.event("c", 40.1, contract.QNA_MESSAGE, turn=asked, articleFound=True)
    stream.event("c", 40.1, contract.BOTBUILDER_QNA_MESSAGE, turn=asked, articleFound=True)
    missed = stream.turn("c", 50)
    stream.event("c", 50.1, contract.BOTBUILDER_QNA_MESSAGE, turn=missed, articleFound=False)
    missed_too = stream.turn("c", 60)
    stream.event("c", 60.1, contract.QNA_MESSAGE, turn=missed_too, articleFound=False)
    with journey_engines(stream, tmp_path_factory.mktemp("recognition"), "recognition") as pair:
        yield pair


def answer(engine: Engine, measure: str, **context: list[str]) -> list[dict[str, Any]]:
    body: dict[str, Any] = {
        "startTime": T0 // 1_000_000,
        "endTime": (T0 + HOUR) // 1_000_000,
        "measures": [{"measureType": measure, "timeGranularity": ["hour"]}],
    }
    if context:
        body["context"] = context
    [result] = run(engine, parse_request(body))
    return [row for row in result.response if any(v for k, v in row.items() if k != "time")]


@pytest.mark.parametrize("which", ["duckdb", "clickhouse"])
def test_each_recognition_counts_once(engines: tuple[Engine, Engine], which: str) -> None:
    engine = engines[0] if which == "duckdb" else engines[1]
    counts = {row["intent"]: row["count"] for row in answer(engine, "intents")}
    assert counts == {"BookTable": 1, "Greeting": 1, "Help": 1, "None": 1}
    [rate] = answer(engine, "qnaAnswerRate")
    assert (rate["questions"], rate["answered"]) == (3, 1)
    # Turns that recognized BookTable: one turn, one recognition of it.
    [turns] = answer(engine, "turns", intent=["BookTable"])
    assert turns["turns"] == 1, turns
