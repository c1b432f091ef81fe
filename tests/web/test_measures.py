"""POST /analytics/query and GET /analytics/measures on a real ``serve`` (in this process, on a
free port), over real HTTP: the answers of the plan, the 400s naming the field, the token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.analytics.traces import iso
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.analytics.measures_expected import EXPECTED, Window
from tests.analytics.test_measures import same
from tests.support.measure_traffic import END, START, Plan, planned_store

TOKEN = "measures-token"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    path = tmp_path_factory.mktemp("measures-web") / "store.duckdb"
    return path, planned_store(path)


@pytest.fixture(scope="module")
def collector(planned: tuple[Path, Plan]) -> Iterator[CollectorThread]:
    with CollectorThread(ServerConfig(store=planned[0], port=0)) as running:
        yield running


def post(url: str, body: Any, token: str | None = None) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/analytics/query",
        data=data,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_answer_has_one_element_per_measure_and_granularity_in_order(
    collector: CollectorThread, planned: tuple[Path, Plan]
) -> None:
    plan = planned[1]
    context = {"channelId": ["msteams", "webchat"]}
    status, answer = post(
        collector.url,
        {
            "startTime": START // 1_000_000,
            "endTime": "2026-11-03T20:00:00Z",
            "context": context,
            "measures": [
                {"measureType": "activeUsers", "timeGranularity": ["hour", "day"]},
                {"measureType": "intents", "params": {"minScore": 0.5}, "timeGranularity": ["day"]},
                {"measureType": "dependencyCalls", "timeGranularity": ["week"]},
            ],
        },
    )
    assert status == 200, answer
    assert [(a["measureType"], a["timeGranularity"]) for a in answer] == [
        ("activeUsers", "hour"),
        ("activeUsers", "day"),
        ("intents", "day"),
        ("dependencyCalls", "week"),
    ]
    assert set(answer[0]) == {"measureType", "timeGranularity", "response"}
    expected_params = ({}, {}, {"minScore": 0.5}, {})
    for element, params in zip(answer, expected_params, strict=True):
        window = Window(START, END, element["timeGranularity"], context, params)
        assert same(element["response"], EXPECTED[element["measureType"]](plan, window))
    hours = answer[0]["response"]
    assert len(hours) == 4 * 24  # every hour there, empty ones as 0
    assert sum(1 for row in hours if row["users"] == 0) > 10
    assert hours[0] == {"time": "2026-10-30T20:00:00.000Z", "users": hours[0]["users"]}


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"measures": [{"measureType": "turns"}]}, "startTime", "required"),
        (
            {
                "startTime": 0,
                "context": {"channelId": "msteams"},
                "measures": [{"measureType": "turns"}],
            },
            "context.channelId",
            "non-empty list of strings",
        ),
        (
            {"startTime": 0, "measures": [{"measureType": "bookings"}]},
            "measures[0].measureType",
            "activeUsers, newUsers, conversations",
        ),
        (
            {"startTime": 0, "context": {"tenant": ["a"]}, "measures": [{"measureType": "turns"}]},
            "context.tenant",
            "channelId, conversationId, userId, serviceName, serviceVersion, dialogId, intent",
        ),
        (
            {
                "startTime": "2026-11-02T00:00:00Z",
                "endTime": "2026-11-01T00:00:00Z",
                "measures": [{"measureType": "turns"}],
            },
            "endTime",
            "a time after startTime",
        ),
        (
            {
                "startTime": "2026-11-01T00:00:00Z",
                "endTime": "2026-11-02T00:00:00Z",
                "measures": [{"measureType": "turns", "timeGranularity": ["second"]}],
            },
            "measures[0].timeGranularity[0]",
            "at most 10,000 buckets",
        ),
        (
            {
                "startTime": 0,
                "context": {"dialogId": ["x"]},
                "measures": [{"measureType": "feedback"}],
            },
            "context.dialogId",
            "conversationId, userId, serviceName",
        ),
        # Seconds beyond 366 days overflowed the engines' nanoseconds: a 500 "store query
        # failed: Overflow ..." before.
        *(
            (
                {
                    "startTime": "2026-11-01T00:00:00Z",
                    "endTime": "2026-11-02T00:00:00Z",
                    "measures": [{"measureType": measure, "params": {name: value}}],
                },
                f"measures[0].params.{name}",
                "a whole number from 1 to 31,622,400",
            )
            for measure, name, value in (
                ("sessions", "gapSeconds", 10**10),
                ("sessions", "gapSeconds", 10**12),
                ("sessions", "gapSeconds", 1e300),
                ("dialogOutcomes", "abandonmentSeconds", 1e30),
            )
        ),
    ],
)
def test_bad_requests_are_400s_naming_the_field(
    collector: CollectorThread, body: dict[str, Any], field: str, says: str
) -> None:
    status, answer = post(collector.url, body)
    assert status == 400
    assert answer["field"] == field
    assert says in answer["error"]
    assert answer["error"].startswith(f"{field}: expected {answer['expected']}")


def test_a_start_time_may_be_a_duration_ago(collector: CollectorThread) -> None:
    """The same forms as from Python and the CLI: "7d" was a 400 here."""
    for start in ("7d", "7 days ago", "P7D"):
        status, answer = post(
            collector.url,
            {
                "startTime": start,
                "measures": [{"measureType": "turns", "timeGranularity": ["day"]}],
            },
        )
        assert status == 200, answer
        assert len(answer[0]["response"]) in (7, 8)  # days the last 7 days touch
    status, answer = post(collector.url, {"startTime": "7 dayz", "measures": ["turns"]})
    assert (status, answer["field"]) == (400, "startTime")
    assert "a duration ago (7d)" in answer["error"]


def test_a_body_that_is_not_json(collector: CollectorThread) -> None:
    status, answer = post(collector.url, b"{startTime: 0")
    assert status == 400
    assert answer["field"] == "body"
    assert "not JSON" in answer["error"]


def test_the_catalog(collector: CollectorThread, planned: tuple[Path, Plan]) -> None:
    with urllib.request.urlopen(f"{collector.url}/analytics/measures", timeout=10) as response:
        found = json.loads(response.read())
    names = [m["measureType"] for m in found["measures"]]
    assert names[:3] == ["activeUsers", "newUsers", "conversations"]
    assert len(names) == 23
    assert found["granularities"] == ["second", "minute", "hour", "day", "week", "month"]
    intents = next(m for m in found["measures"] if m["measureType"] == "intents")
    assert intents["keys"] == ["intent", "recognizer"]
    assert intents["params"][0]["name"] == "minScore"
    assert {"name": "intent", "via": "row"} in intents["dimensions"]
    assert {"name": "dependency", "via": "row"} in intents["dimensions"]
    assert {"name": "dialogId", "via": "turn"} in intents["dimensions"]
    plan = planned[1]
    times = [t.start_ns for t in plan.turns] + [e.time_ns for e in plan.client_events]
    times += [e.time_ns for t in plan.turns for e in t.events]
    assert found["stored"] == {"first": iso(min(times)), "last": iso(max(times))}


def test_the_token_guards_the_measures_too(tmp_path: Path) -> None:
    config = ServerConfig(store=tmp_path / "store.duckdb", port=0, token=TOKEN)
    body = {"startTime": 0, "measures": [{"measureType": "turns", "timeGranularity": ["month"]}]}
    with CollectorThread(config) as running:
        assert post(running.url, body)[0] == 401
        status, answer = post(running.url, body, token=TOKEN)
    assert status == 200
    assert answer[0]["measureType"] == "turns"
    assert all(row["turns"] == 0 for row in answer[0]["response"])  # an empty store
