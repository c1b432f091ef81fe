"""The journeys API over HTTP: ``bot-telemetry serve``'s own app on the DuckDB store (with its
token guard), and the same routes over ClickHouse (chDB); the same answers as the Python API,
and a 400 naming the field for bad input."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot_telemetry.analytics.journeys import funnel, paths, retention
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from bot_telemetry.web import CollectorThread, ServerConfig
from bot_telemetry.web.journeys import add_journey_routes
from bot_telemetry.web.routes import Queries, add_routes
from tests.support.clickhouse import chdb_engine
from tests.support.journeys import Stream, booking, converse, load_clickhouse, load_duckdb
from tests.support.servers import serving_in_thread

TOKEN = "a-token-of-sixteen-or-more"
FUNNEL = {
    "steps": [
        "LuisIntent.BookTable",
        {"event": "WaterfallStep", "where": {"StepName": ["ask_size"]}},
        {"event": "WaterfallComplete", "where": {"DialogId": "booking"}},
    ],
    "window": "30m",
    "endTime": "2026-11-10T00:00:00Z",
}


def stream() -> Stream:
    s = Stream()
    for i, (name, script) in enumerate(booking().items()):
        for copy in range(2):
            converse(s, f"{name}-{copy}", i * 300 + copy * 100, script, user=f"user-{copy}")
    return s


PATHS = {"startEvent": "LuisIntent.BookTable", "endTime": "2026-11-10T00:00:00Z"}
RETENTION = {
    "startTime": "2026-11-02T00:00:00Z",
    "endTime": "2026-11-10T00:00:00Z",
    "period": "day",
    "totalIntervals": 3,
}


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web-journeys") / "store.duckdb"
    store = Store.open(path)
    load_duckdb(store, stream())
    store.close()
    return path


@pytest.fixture(scope="module")
def expected(store_file: Path) -> dict[str, Any]:
    """The Python API's answers, before serve holds the store."""
    engine = DuckDBEngine(Store.open(store_file, read_only=True), owns_store=True)
    try:
        return json.loads(
            json.dumps(
                {
                    "/analytics/funnel": funnel(engine, FUNNEL),
                    "/analytics/paths": paths(engine, PATHS),
                    "/analytics/retention": retention(engine, RETENTION),
                }
            )
        )
    finally:
        engine.close()


@pytest.fixture(scope="module")
def served(store_file: Path, expected: dict[str, Any]) -> Iterator[str]:
    with CollectorThread(ServerConfig(store=store_file, port=0, token=TOKEN)) as running:
        yield running.url


@pytest.fixture(scope="module")
def clickhouse() -> Iterator[Engine]:
    with chdb_engine("web_journeys") as engine:
        load_clickhouse(engine, stream())
        yield engine


@pytest.fixture(scope="module")
def served_clickhouse(clickhouse: Engine) -> Iterator[str]:
    app = web.Application()
    queries = Queries(clickhouse)
    add_routes(app, queries)
    add_journey_routes(app, queries)
    with serving_in_thread(app) as url:
        yield url
    queries.close()


def post(url: str, body: Any, token: str | None = TOKEN) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_api_answers_what_the_python_api_does(served: str, expected: dict[str, Any]) -> None:
    for path, body in (
        ("/analytics/funnel", FUNNEL),
        ("/analytics/paths", PATHS),
        ("/analytics/retention", RETENTION),
    ):
        assert post(served + path, body) == (200, expected[path])
    found = expected["/analytics/funnel"]
    assert [s["count"] for s in found["steps"]] == [10, 4, 2]
    causes = found["steps"][1]["dropOffCauses"]
    assert causes["botError"] == 2


def test_both_engines_answer_the_same_over_http(served: str, served_clickhouse: str) -> None:
    for path, body in (
        ("/analytics/funnel", {**FUNNEL, "breakdown": "channelId"}),
        ("/analytics/funnel/dialogs", {"endTime": "2026-11-10T00:00:00Z"}),
        ("/analytics/paths", {"endEvent": "WaterfallComplete", "endTime": "2026-11-10T00:00:00Z"}),
    ):
        status, on_duckdb = post(served + path, body)
        assert status == 200
        assert post(served_clickhouse + path, body) == (200, on_duckdb)


RANGE = "from 1970-01-01 to 2262-04-11"
#: Each analysis with the least body it takes.
JOURNEYS: dict[str, dict[str, Any]] = {
    "/analytics/funnel": {"steps": ["A"]},
    "/analytics/funnel/dialogs": {},
    "/analytics/paths": {},
    "/analytics/retention": {},
}


@pytest.mark.parametrize(
    ("path", "body", "field", "says"),
    [
        ("/analytics/funnel", {"steps": []}, "steps", "1 to 20 steps"),
        ("/analytics/funnel", {"steps": ["A"], "order": "backwards"}, "order", "ordered"),
        ("/analytics/funnel", {"steps": ["A"], "window": "forever"}, "window", "a duration"),
        ("/analytics/funnel", {"steps": ["A"] * 21}, "steps", "at most 20 steps"),
        ("/analytics/paths", {"stepLimit": 100}, "stepLimit", "from 2 to 20"),
        ("/analytics/retention", {"period": "decade"}, "period", "day, week, month"),
        ("/analytics/funnel/dialogs", {"context": {"channelId": "x"}}, "context.channelId", "list"),
        ("/analytics/funnel", b"{not json", "request body", "JSON"),
        ("/analytics/funnel", [1], "request body", "JSON object"),
        # each of these was a 500
        (
            "/analytics/funnel",
            {"steps": ["A"], "slowReplySeconds": 1e300},
            "slowReplySeconds",
            "at most 31,622,400",
        ),
        ("/analytics/retention", {"startTime": "9999-12-31", "period": "day"}, "startTime", RANGE),
        (
            "/analytics/retention",
            {
                "startTime": "9999-12-31",
                "endTime": "9999-12-31T12:00Z",
                "period": "month",
                "totalIntervals": 120,
            },
            "startTime",
            RANGE,
        ),
        ("/analytics/retention", {"startTime": -1e15}, "startTime", RANGE),
        # the whole field, not "toStep" / "fromStep"
        (
            "/analytics/funnel",
            {"steps": ["A", "B"], "exclusions": [{"event": "X", "toStep": 5}]},
            "exclusions[0].toStep",
            "from 0 to 1",
        ),
        (
            "/analytics/funnel",
            {"steps": ["A", "B"], "exclusions": [{"event": "X", "fromStep": -1}]},
            "exclusions[0].fromStep",
            "from 0 to 1",
        ),
        # startTime out of range: it is named (was "endTime: expected a time after
        # startTime"), and 1900 or a negative epoch is refused (was a 200)
        *(
            (path, {**body, "startTime": start}, "startTime", RANGE)
            for path, body in JOURNEYS.items()
            for start in ("9999-12-31", 1e30, "1900-01-01", -5)
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    served: str, path: str, body: Any, field: str, says: str
) -> None:
    status, answer = post(served + path, body)
    assert (status, answer["field"]) == (400, field), answer
    assert answer["error"].startswith(f"{field}: ")
    assert says in answer["error"]


def test_the_token_guards_the_api(served: str) -> None:
    status, answer = post(served + "/analytics/funnel", FUNNEL, token=None)
    assert status == 401 and "token" in answer["error"]


def get(url: str, token: str | None = TOKEN) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_events_take_a_step_s_pattern_on_both_engines(served: str, served_clickhouse: str) -> None:
    """``/api/events?name=LuisIntent.*`` lists what the step ``LuisIntent.*`` matches (it
    listed nothing: the name was compared whole)."""
    path = "/api/events?name=LuisIntent.*&limit=1000"

    def listed(url: str) -> list[tuple[str, str, str]]:
        # Not the properties: ClickHouse keeps every attribute value as text (documented).
        status, found = get(url + path)
        assert status == 200, found
        return [(e["time"], e["name"], e["span_id"]) for e in found]

    on_duckdb = listed(served)
    assert listed(served_clickhouse) == on_duckdb
    assert {name for _, name, _ in on_duckdb} == {
        "LuisIntent.BookTable",
        "LuisIntent.Cancel",
        "LuisIntent.None",
    }
    status, refused = get(served + "/api/events?name=Luis*.None")
    assert (status, refused) == (
        400,
        {"error": "name: a pattern may only end in * (LuisIntent.*), got 'Luis*.None'"},
    )
