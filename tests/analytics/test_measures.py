"""Every measure on a data set whose answers are known by construction (the plan of
tests/support/measure_traffic.py, computed in measures_expected.py without any query), on
DuckDB (through the store's ingest path) and on ClickHouse (chDB, the exporter's tables):
both engines give the expected answer, for several granularities and contexts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from bot_telemetry.analytics import query
from bot_telemetry.analytics.measures import MEASURES
from bot_telemetry.store.clickhouse import ChDBEngine
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from tests.analytics.measures_expected import EXPECTED, Window
from tests.support.bot_traffic import load_clickhouse, load_duckdb
from tests.support.clickhouse import chdb_engine
from tests.support.measure_traffic import END, MINUTE, START, Plan, make_plan, record

GRANULARITIES = ["hour", "day", "week", "month"]


@dataclass
class Loaded:
    plan: Plan
    duckdb: DuckDBEngine
    clickhouse: ChDBEngine


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    plan = make_plan()
    traffic, _ = record(plan)
    store = Store.open(tmp_path_factory.mktemp("measures") / "store.duckdb")
    load_duckdb(store, traffic)
    with chdb_engine("measures") as clickhouse:
        load_clickhouse(clickhouse, traffic)
        yield Loaded(plan, DuckDBEngine(store), clickhouse)
    store.close()


def ordered(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(rows, key=lambda r: tuple(str(v) for k, v in r.items() if k[0].islower()))


def same(actual: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]]) -> bool:
    """Equal rows; numbers rounded to 6 places may differ in the last one (a mean whose 7th
    digit is a 5 rounds by how the engine summed)."""
    if len(actual) != len(expected):
        return False
    for got, want in zip(ordered(actual), ordered(expected), strict=True):
        if got.keys() != want.keys():
            return False
        for key, value in want.items():
            found = got[key]
            if isinstance(value, float) and isinstance(found, float):
                if abs(found - value) > 1.5e-6:
                    return False
            elif found != value:
                return False
    return True


def check(
    loaded: Loaded,
    measure: str,
    context: Mapping[str, Sequence[str]] | None = None,
    params: Mapping[str, float] | None = None,
    start: int = START,
    end: int = END,
    granularities: Sequence[str] = GRANULARITIES,
) -> list[list[dict[str, Any]]]:
    """The measure on both engines equals the plan's answer; returns the answers."""
    item: dict[str, Any] = {"measureType": measure, "timeGranularity": list(granularities)}
    if params:
        item["params"] = dict(params)
    answers = []
    for engine in (loaded.duckdb, loaded.clickhouse):
        results = query(
            engine,
            start_time=start // 1_000_000,
            end_time=end // 1_000_000,
            context=context,
            measures=[item],
        )
        assert [(r.measure_type, r.time_granularity) for r in results] == [
            (measure, g) for g in granularities
        ]
        for result, granularity in zip(results, granularities, strict=True):
            window = Window(start, end, granularity, context or {}, params or {})
            expected = EXPECTED[measure](loaded.plan, window)
            assert same(result.response, expected), _difference(
                engine, granularity, result.response, expected
            )
        answers.append([r.response for r in results])
    return answers[0]


def _difference(engine: Engine, granularity: str, actual: Any, expected: Any) -> str:
    for got, want in zip(ordered(actual), ordered(expected), strict=False):
        if got != want:
            return f"{engine.dialect} {granularity}: got {got}, expected {want}"
    return f"{engine.dialect} {granularity}: {len(actual)} rows, expected {len(expected)}"


def nonzero(rows: Sequence[Mapping[str, Any]], value: str) -> int:
    return sum(1 for row in rows if row[value])


def test_every_measure_has_an_expected_answer() -> None:
    assert set(EXPECTED) == set(MEASURES)


@pytest.mark.parametrize("measure", list(MEASURES))
def test_each_measure_without_context(loaded: Loaded, measure: str) -> None:
    answers = check(loaded, measure)
    # Not vacuous: the plan makes something of every measure in the window.
    first = MEASURES[measure].values[0].name
    assert nonzero(answers[1], first) > 0, answers[1]


CONTEXTS: list[dict[str, list[str]]] = [
    {"channelId": ["msteams", "webchat"]},
    {"userId": ["user-1", "user-4"]},
    {"locale": ["de-DE"], "serviceVersion": ["1.1.0"]},
    {"dialogId": ["BookingDialog"]},
    {"intent": ["BookTable", "Help"]},
    {"dependency": ["qna"]},
    {"conversationId": ["conv-003", "conv-010", "conv-047"]},
    {"serviceName": ["webchat"]},
]


def _cases() -> list[Any]:
    cases = []
    for measure in MEASURES.values():
        for context in CONTEXTS:
            if all(d in measure.dimensions for d in context):
                ids = f"{measure.name}-{'+'.join(context)}"
                cases.append(pytest.param(measure.name, context, id=ids))
    return cases


@pytest.mark.parametrize(("measure", "context"), _cases())
def test_each_measure_in_a_context(
    loaded: Loaded, measure: str, context: dict[str, list[str]]
) -> None:
    check(loaded, measure, context, granularities=["day"])


def test_fine_granularities_over_a_short_window(loaded: Loaded) -> None:
    middle = START + 30 * 60 * MINUTE
    for measure in ("turns", "messagesReceived", "dependencyCalls", "intents"):
        check(loaded, measure, start=middle, end=middle + 90 * MINUTE, granularities=["minute"])
    answer = check(loaded, "turns", start=middle, end=middle + 5 * MINUTE, granularities=["second"])
    assert len(answer[0]) == 300


@pytest.mark.parametrize(
    ("measure", "params"),
    [
        ("intents", {"minScore": 0.6}),
        ("fallbackRate", {"threshold": 0.8}),
        ("sessions", {"gapSeconds": 600}),
        ("dialogOutcomes", {"abandonmentSeconds": 60}),
    ],
)
def test_parameters(loaded: Loaded, measure: str, params: dict[str, float]) -> None:
    with_params = check(loaded, measure, params=params, granularities=["day"])
    without = check(loaded, measure, granularities=["day"])
    assert with_params != without  # the parameter changed the answer


@pytest.mark.parametrize(
    ("measure", "param"),
    [(m.name, p.name) for m in MEASURES.values() for p in m.params],
)
def test_each_parameter_at_its_upper_bound(loaded: Loaded, measure: str, param: str) -> None:
    """The largest value a request may give runs on both engines and gives the expected
    answer (seconds beyond it overflowed the engines' 64-bit nanoseconds: a 500)."""
    (largest,) = (p.maximum for p in MEASURES[measure].params if p.name == param)
    assert largest is not None
    check(loaded, measure, params={param: largest}, granularities=["day"])


def test_dialogs_are_never_abandoned_for_being_recent(loaded: Loaded) -> None:
    """Runs whose last event is within the abandonment timeout before endTime are in
    progress; with endTime long after, the same runs are abandoned."""
    now = check(loaded, "dialogOutcomes", granularities=["month"])[0]
    later = check(
        loaded, "dialogOutcomes", end=END + 3600 * 1_000_000_000, granularities=["month"]
    )[0]

    def total(rows: list[dict[str, Any]], key: str) -> int:
        return sum(int(row[key]) for row in rows)

    assert total(now, "inProgress") > 0
    assert total(later, "inProgress") < total(now, "inProgress")
    assert total(later, "abandoned") == total(now, "abandoned") + total(now, "inProgress") - total(
        later, "inProgress"
    )


def test_order_and_pages(loaded: Loaded) -> None:
    item = {"measureType": "intents", "timeGranularity": ["day"], "sortDirection": "descending"}
    window = {"start_time": START // 1_000_000, "end_time": END // 1_000_000}
    for engine in (loaded.duckdb, loaded.clickhouse):
        whole = query(engine, measures=[item], **window)[0].response
        times = [row["time"] for row in whole]
        assert times == sorted(times, reverse=True)
        for time in set(times):
            counts = [(row["count"], row["intent"]) for row in whole if row["time"] == time]
            # by count, largest first, then by intent
            assert counts == sorted(counts, key=lambda c: (-int(str(c[0])), c[1]))
        assert len(whole) == 5 * 4  # five days, four intents (every day filled)
        pages = [
            query(engine, measures=[{**item, "page": page, "pageSize": 6}], **window)[0].response
            for page in range(5)
        ]
        assert [row for page in pages for row in page] == whole
        assert [len(page) for page in pages] == [6, 6, 6, 2, 0]


def test_a_window_without_telemetry_has_every_bucket_empty(loaded: Loaded) -> None:
    start = END + 10 * 24 * 60 * MINUTE
    for engine in (loaded.duckdb, loaded.clickhouse):
        results = query(
            engine,
            start_time=start // 1_000_000,
            end_time=(start + 6 * 60 * MINUTE) // 1_000_000,
            measures=[
                {"measureType": "turns"},
                {"measureType": "turnLatency"},
                {"measureType": "intents"},
            ],
        )
        counts, latencies, grouped = (r.response for r in results)
        assert counts == [
            {"time": f"2026-11-13T{hour:02d}:00:00.000Z", "turns": 0} for hour in range(20, 24)
        ] + [{"time": f"2026-11-14T{hour:02d}:00:00.000Z", "turns": 0} for hour in range(2)]
        assert all(row["p50Ms"] is None and row["turns"] == 0 for row in latencies)
        assert len(latencies) == 6
        assert grouped == []  # no intent seen: no key to fill buckets for
