"""``serve --store clickhouse://...`` as an ingest front end: OTLP spans, logs and metrics and
a web page's Sunbird events posted to it land in the Collector exporter's tables, and its API
answers what a ``serve`` on DuckDB answers for the same posts. Two real ``serve`` processes,
the ClickHouse HTTP interface of tests/support/clickhouse_server.py (chDB behind it) for the
second.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from bot_telemetry.store.clickhouse import ClickHouseEngine, HTTPClickHouseEngine
from bot_telemetry.store.clickhouse_ingest import (
    ClickHouseSink,
    insert_keeping_the_good,
    refusal_reason,
)
from bot_telemetry.store.location import ClickHouseLocation
from bot_telemetry.store.rows import SEVERITY_NAMES, Batch, logs_batch
from bot_telemetry.store.writer import StoreWriter
from tests.receive.sunbird.events import bundle, event
from tests.support.clickhouse import chdb_engine, clickhouse_server
from tests.support.otlp_messages import (
    T0,
    logs_request,
    metrics_request,
    new_span_id,
    new_trace_id,
    spans_request,
)
from tests.support.ports import free_port
from tests.support.posthog import PostHogServer
from tests.support.processes import run_cli_here, running
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(120)
KEY = {"BOT_TELEMETRY_PSEUDONYM_KEY": "the same key on both collectors"}


def post(url: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def post_json(url: str, body: dict[str, Any]) -> Any:
    status, answer = post(url, json.dumps(body).encode(), "application/json")
    assert status == 200, answer
    return answer


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@contextmanager
def serve(store: str, env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["-m", "bot_telemetry.cli", "serve", "--store", store, "--port", str(port)]
    with running([*args, "--no-grpc"], ready_url=f"{url}/api/health", env={**KEY, **(env or {})}):
        yield url


PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def create_schema(store: str) -> None:
    # In this process: the command's own tests run it as a process (tests/cli/test_clickhouse.py).
    done = run_cli_here("clickhouse-schema", "--store", store)
    assert done.returncode == 0, done.stderr


#: A severity text other than OTLP's short names (as .NET's loggers write it): a row that
#: passes serve's checks and that a table taking only those names refuses.
REFUSED = "Information"


def severity_names_only(engine: ClickHouseEngine) -> None:
    """The logs table's SeverityText as an Enum of OTLP's short severity names (an operator's
    choice, smaller than a String): ClickHouse then refuses a whole insert for one record with
    another text (``REFUSED``)."""
    names = ", ".join(f"'{name}' = {number}" for number, name in SEVERITY_NAMES.items())
    engine.raw(
        f"ALTER TABLE {engine.tables.qualified('otel_logs')} "
        f"MODIFY COLUMN SeverityText Enum8('' = 0, {names})"
    )


def severity_names_only_at(store: str) -> None:
    engine = HTTPClickHouseEngine.open(ClickHouseLocation.parse(store))
    try:
        severity_names_only(engine)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def collectors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("clickhouse-ingest")
    with clickhouse_server(folder / "clickhouse") as server:
        store = server.url("otel")
        create_schema(store)
        severity_names_only_at(store)
        with serve(str(folder / "store.duckdb")) as on_duckdb, serve(store) as on_clickhouse:
            yield {"duckdb": on_duckdb, "clickhouse": on_clickhouse}


def send_the_same(url: str) -> list[int]:
    """One turn's spans, a custom event, the page's events (one invalid) and a retry."""
    trace, server_span, turn = TRACE, SERVER_SPAN, TURN
    spans = spans_request(
        [
            {"trace_id": trace, "span_id": server_span, "name": "POST /api/messages", "kind": 2},
            {
                "trace_id": trace,
                "span_id": turn,
                "parent_span_id": server_span,
                "name": "bot.turn",
                "kind": 1,
                "attributes": {"activity.conversation.id": "conv-1", "activity.type": "message"},
            },
            {
                "trace_id": trace,
                "parent_span_id": turn,
                "name": "Recognizer Query",
                "kind": 3,
                "attributes": {"peer.service": "nlu"},
                "status": 2,
            },
        ],
        service="bot",
    )
    logs = logs_request(
        [
            {
                "trace_id": trace,
                "span_id": server_span,
                "time_unix_nano": T0,
                "event_name": "BotMessageReceived",
                "attributes": {"conversationId": "conv-1", "channelId": "webchat"},
            }
        ],
        service="bot",
    )
    metrics = metrics_request(
        [
            {
                "name": "bot.messages.received",
                "kind": "sum",
                "unit": "{message}",
                "points": [{"as_int": 3, "attributes": {"channel": "webchat"}}],
            },
            {
                "name": "bot.turn.duration",
                "kind": "histogram",
                "unit": "s",
                "points": [
                    {
                        "count": 3,
                        "sum": 0.6,
                        "min": 0.1,
                        "max": 0.3,
                        "explicit_bounds": [0.1, 0.25],
                        "bucket_counts": [1, 1, 1],
                    }
                ],
            },
            {"name": "queue.depth", "kind": "gauge", "points": [{"as_double": 7.5}]},
            {
                "name": "reply.size",
                "kind": "exponential_histogram",
                "points": [
                    {
                        "scale": 0,
                        "count": 6,
                        "sum": 20.0,
                        "zero_count": 1,
                        "positive": (1, [2, 3]),
                        "start_time_unix_nano": T0 - 10,
                    }
                ],
            },
            {
                "name": "rpc.latency",
                "kind": "summary",
                "points": [{"count": 4, "sum": 2.0, "start_time_unix_nano": T0 - 10}],
            },
        ],
        service="bot",
    )
    text = json.dumps(PAGE).encode()
    statuses = [
        post(f"{url}/v1/traces", spans.SerializeToString(), "application/x-protobuf")[0],
        post(f"{url}/v1/logs", logs.SerializeToString(), "application/x-protobuf")[0],
        post(f"{url}/v1/metrics", metrics.SerializeToString(), "application/x-protobuf")[0],
    ]
    answers = [post(f"{url}/v1/telemetry", text, "application/json") for _ in range(2)]
    assert answers[0][1]["params"]["status"] == "partial", answers  # the second: a retry
    return statuses + [status for status, _ in answers]


# The same ids and times in both collectors, so their answers can be compared.
TRACE, SERVER_SPAN, TURN = new_trace_id(), new_span_id(), new_span_id()
NOW_MS = time.time_ns() // 1_000_000
START, END = "2020-01-01T00:00:00Z", NOW_MS + 3_600_000  # epoch milliseconds are taken too
PAGE = bundle(
    [
        event("START", ets=NOW_MS - 3_000),
        event("INTERACT", ets=NOW_MS - 2_000),
        event("FEEDBACK", ets=NOW_MS - 1_000),
        {**event("LOG", ets=NOW_MS), "ver": "2.0"},  # invalid: kept in the failed set
    ]
)
METRIC_NAMES = (
    "bot.messages.received",
    "bot.turn.duration",
    "queue.depth",
    "reply.size",
    "rpc.latency",
)


def kind_read(kind: str) -> str:
    # The one documented difference (store/clickhouse_ingest.py): serve keeps an exponential
    # histogram as the explicit buckets it converts it to, so on ClickHouse it is written to
    # the histogram table; the buckets, counts and sums are the same.
    return "histogram" if kind == "exponential_histogram" else kind


def seen(url: str) -> dict[str, Any]:
    """What the API says, in terms both engines share (ClickHouse keeps values as text)."""
    conversation = get(f"{url}/api/conversations/conv-1")
    return {
        "stats": get(f"{url}/api/client-events/stats"),
        "page": sorted(
            (e["eid"], e["label"], e["conversation_id"], e["actor"])
            for e in get(f"{url}/api/client-events?conversation=conv-1")
        ),
        "failed": [
            (f["eid"], f["field"], f["reason"]) for f in get(f"{url}/api/client-events?failed=1")
        ],
        "app map": get(f"{url}/api/appmap"),
        "events": sorted(e["name"] for e in get(f"{url}/api/events?limit=100")),
        "metrics": sorted(
            (m["name"], kind_read(m["kind"]), m["unit"], m["series"], m["points"])
            for m in get(f"{url}/api/metrics")
        ),
        "each metric": [
            {**found, "kind": kind_read(found["kind"])}
            for found in (get(f"{url}/api/metrics/{name}") for name in METRIC_NAMES)
        ],
        "the trace": sorted(
            (span["service"], span["name"], span["kind"], span["status"], span["parent_span_id"])
            for span in get(f"{url}/api/traces/{TRACE.hex()}")["spans"]
        ),
        "a node": get(f"{url}/api/nodes/bot"),
        # A step's condition on a page event's number (text on ClickHouse).
        "a funnel": post_json(
            f"{url}/analytics/funnel",
            {
                "startTime": None,
                "countBy": "conversation",
                "steps": [
                    {"event": "START"},
                    {"event": "INTERACT"},
                    {"event": "FEEDBACK", "where": {"sunbird.edata.rating": "5"}},
                ],
            },
        )["steps"],
        "user flows": post_json(
            f"{url}/analytics/paths",
            {"startTime": START, "endTime": END, "startEvent": "START", "countBy": "user"},
        ),
        "retention": post_json(
            f"{url}/analytics/retention",
            {"endTime": END, "period": "day", "cohortEvent": {"event": "INTERACT"}},
        ),
        "measures": post_json(
            f"{url}/analytics/query",
            {
                "startTime": START,
                "endTime": END,
                "measures": [
                    {"measureType": name, "timeGranularity": ["month"]}
                    for name in ("clientEvents", "feedback", "activeUsers")
                ],
            },
        ),
        "in the conversation": sorted(
            [note["eid"] for turn in conversation["turns"] for note in turn["client_events"]]
            + [note["eid"] for note in conversation["client_events"]]
        ),
    }


def test_serve_on_clickhouse_stores_and_answers_what_serve_on_duckdb_does(
    collectors: dict[str, str],
) -> None:
    for url in collectors.values():
        assert send_the_same(url) == [200, 200, 200, 200, 200]
    on_duckdb, on_clickhouse = seen(collectors["duckdb"]), seen(collectors["clickhouse"])
    assert on_duckdb["stats"]["stored"] == {"FEEDBACK": 1, "INTERACT": 1, "START": 1}
    assert on_duckdb["stats"]["receiver"]["duplicates"] == 3  # the retry's valid events
    assert [eid for eid, *_ in on_duckdb["page"]] == ["FEEDBACK", "INTERACT", "START"]
    assert on_duckdb["failed"][0][:2] == ("LOG", "ver")
    assert ("bot", "nlu") in {(e["source"], e["target"]) for e in on_duckdb["app map"]["edges"]}
    assert "BotMessageReceived" in on_duckdb["events"]
    assert tuple(name for name, *_ in on_duckdb["metrics"]) == METRIC_NAMES
    assert [name for _, name, *_ in on_duckdb["the trace"]] == [
        "POST /api/messages",
        "Recognizer Query",
        "bot.turn",
    ]
    assert len(on_duckdb["a node"]["operations"]) == 3
    assert [step["count"] for step in on_duckdb["a funnel"]] == [1, 1, 1]
    assert {node["event"] for node in on_duckdb["user flows"]["nodes"]} >= {"START", "FEEDBACK"}
    assert sum(cohort["size"] for cohort in on_duckdb["retention"]["cohorts"]) == 1
    assert [answer["measureType"] for answer in on_duckdb["measures"]] == [
        "clientEvents",
        "feedback",
        "activeUsers",
    ]
    for name, answer in on_duckdb.items():
        assert on_clickhouse[name] == answer, name


def test_while_clickhouse_is_down_posts_are_503s_and_their_retries_are_stored(
    tmp_path: Path,
) -> None:
    port, folder = free_port(), tmp_path / "clickhouse"
    spans = spans_request([{"name": "kept for later"}], service="bot").SerializeToString()
    page = json.dumps(bundle([event("START", actor="back-later")])).encode()
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(clickhouse_server(folder, port))
        store = first.url("otel")
        create_schema(store)
        url = stack.enter_context(serve(store))
        first.process.stop()

        funnel = json.dumps({"steps": [{"event": "START"}, {"event": "END"}]}).encode()
        refused = [
            urllib.request.Request(f"{url}/v1/traces", data=spans, headers=PROTOBUF),
            urllib.request.Request(f"{url}/v1/telemetry", data=page, headers=JSON),
            # Reads too: the UI and API say the store is away, not that a query broke.
            urllib.request.Request(f"{url}/api/client-events/stats"),
            urllib.request.Request(f"{url}/analytics/funnel", data=funnel, headers=JSON),
        ]
        for request in refused:
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(request, timeout=60)
            # Unavailable, not failed: OTLP senders and the Sunbird SDK retry a 503.
            assert answer.value.code == 503, answer.value.read()
            assert answer.value.headers["Retry-After"]

        stack.enter_context(clickhouse_server(folder, port))  # back, on the same data
        assert post(f"{url}/v1/traces", spans, PROTOBUF["Content-Type"])[0] == 200
        assert post(f"{url}/v1/telemetry", page, JSON["Content-Type"])[0] == 200
        assert get(f"{url}/api/client-events/stats")["stored"] == {"START": 1}
        assert [t["root_name"] for t in get(f"{url}/api/traces")] == ["kept for later"]


def test_a_row_clickhouse_refuses_is_refused_alone_and_the_others_are_stored(
    collectors: dict[str, str],
) -> None:
    """ClickHouse refuses a whole insert for one row it cannot take (here a severity text the
    table's Enum does not hold): the export was a 500 and every record of it lost. Now the
    other records are stored and the answer is a partial success naming ClickHouse's reason,
    without the record's data."""
    good = [
        {"time_unix_nano": T0 + n, "event_name": f"kept beside a bad row {n}", "severity_number": 9}
        for n in range(5)
    ]
    bad = {
        "time_unix_nano": T0,
        "event_name": "refused by ClickHouse",
        "severity_text": REFUSED,
        "body": "alice@example.com",
    }
    records = [good[0], bad, *good[1:4], {**bad, "event_name": "refused too"}, good[4]]
    status, answer = post_protobuf(
        f"{collectors['clickhouse']}/v1/logs", logs_request(records, service="bot")
    )
    assert status == 200, answer
    partial = ExportLogsServiceResponse.FromString(answer).partial_success
    assert partial.rejected_log_records == 2
    assert "SeverityText" in partial.error_message, partial.error_message
    assert "UNKNOWN_ELEMENT_OF_ENUM" in partial.error_message
    assert "alice" not in partial.error_message and REFUSED not in partial.error_message
    names = {e["name"] for e in get(f"{collectors['clickhouse']}/api/events?limit=1000")}
    assert {record["event_name"] for record in good} <= names
    assert not {"refused by ClickHouse", "refused too"} & names


@pytest.mark.parametrize("engine", ["duckdb", "clickhouse"])
def test_a_severity_number_outside_otlps_is_refused_alone_on_both_engines(
    collectors: dict[str, str], engine: str
) -> None:
    """OTLP severity numbers are 0-24. ClickHouse's UInt8 column stored 300 as 44 (and
    refused -1 with a parse error), DuckDB stored 300 as sent; now such a record is refused
    at receive, alone, with the reason, on both engines."""
    name = f"severity on {engine}"
    good = [
        {"time_unix_nano": T0 + n, "event_name": f"{name} kept {n}", "severity_number": n}
        for n in (0, 9, 24)
    ]
    bad = [
        {"time_unix_nano": T0, "event_name": f"{name} refused {n}", "severity_number": n}
        for n in (300, -1)
    ]
    status, answer = post_protobuf(
        f"{collectors[engine]}/v1/logs", logs_request([good[0], bad[0], *good[1:], bad[1]])
    )
    assert status == 200, answer
    partial = ExportLogsServiceResponse.FromString(answer).partial_success
    assert partial.rejected_log_records == 2
    assert "a log record has severity_number 300, not one of 0-24" in partial.error_message
    assert "a log record has severity_number -1, not one of 0-24" in partial.error_message
    names = {e["name"] for e in get(f"{collectors[engine]}/api/events?limit=1000")}
    assert {n for n in names if n.startswith(name)} == {record["event_name"] for record in good}


def post_protobuf(url: str, message: Any) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=message.SerializeToString(), headers=PROTOBUF)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_rows_refused_in_a_group_commit_are_rejected_in_the_export_they_came_from(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The writer inserts the batches waiting together as one: the rows ClickHouse refuses
    there are told to each export they came from (its partial success), not lost from view,
    and said once in serve's log (client events, answered before they are stored, get no
    partial success)."""

    def records(name: str, bad: set[int]) -> Batch:
        return logs_batch(
            logs_request(
                [
                    {"time_unix_nano": T0, "event_name": f"{name} {n}", "severity_text": REFUSED}
                    if n in bad
                    else {"time_unix_nano": T0, "event_name": f"{name} {n}"}
                    for n in range(6)
                ]
            )
        )

    with chdb_engine("grouped") as engine:
        engine.create_schema()
        severity_names_only(engine)
        writer = StoreWriter(ClickHouseSink(engine))
        try:
            caplog.set_level(logging.WARNING, logger="bot_telemetry.store.clickhouse_ingest")
            # Lingering, both wait for the flush, which writes them as one group.
            exports = [records("first", {4}), records("second", {0, 5})]
            written = [writer.submit(batch, linger=30, enough=10_000) for batch in exports]
            writer.flush().result(30)
            done = [future.result(30) for future in written]
        finally:
            writer.close()
        stored = engine.raw(f"SELECT EventName FROM {engine.tables.qualified('otel_logs')}")
    assert [batch.rejected for batch in exports] == [1, 2]
    said = [r.getMessage() for r in caplog.records if r.name.endswith("clickhouse_ingest")]
    assert len(said) == 1 and "UNKNOWN_ELEMENT_OF_ENUM" in said[0], said
    assert [(d.logs, len(d.refused)) for d in done] == [(5, 1), (4, 2)]
    assert sorted(name for (name,) in stored.rows) == sorted(
        [f"first {n}" for n in (0, 1, 2, 3, 5)] + [f"second {n}" for n in (1, 2, 3, 4)]
    )


def test_isolating_bad_rows_is_bounded_and_every_row_is_stored_or_refused() -> None:
    """Half of 200 rows bad: past ISOLATING_INSERTS the rows not yet placed are refused with
    them, so a batch of bad rows costs a bounded number of inserts, and no row is unaccounted."""
    rows = [
        {
            "Timestamp": "2026-01-01 00:00:00",
            "ServiceName": "bot",
            "EventName": f"row {n}",
            "SeverityNumber": -1 if n % 2 else 9,
        }
        for n in range(200)
    ]
    with chdb_engine("bounded") as engine:
        engine.create_schema()
        refused = insert_keeping_the_good(engine, engine.tables.logs, rows)
        stored = engine.raw(f"SELECT EventName FROM {engine.tables.qualified('otel_logs')}")
    refused_rows = {index for index, _ in refused}
    assert {n for n in range(200) if n % 2} <= refused_rows
    assert 0 < len(stored.rows) < 100  # some good rows landed before the budget ran out
    assert sorted(name for (name,) in stored.rows) == sorted(
        f"row {n}" for n in range(200) if n not in refused_rows
    )
    assert {reason for _, reason in refused} == {
        "ClickHouse refused the row: Unsigned type must not contain '…' symbol: (while reading "
        "the value of key SeverityNumber) (CANNOT_PARSE_NUMBER)"
    }


def test_rows_clickhouse_refused_are_not_forwarded_to_posthog(tmp_path: Path) -> None:
    """serve forwards what it stored to PostHog: not the records ClickHouse refused, which
    their sender counts as lost."""
    posthog = PostHogServer()
    records = [
        {"time_unix_nano": T0, "event_name": "Stored", "severity_number": 9},
        {"time_unix_nano": T0, "event_name": "RefusedByClickHouse", "severity_text": REFUSED},
        {"time_unix_nano": T0 + 1, "event_name": "StoredToo"},
    ]
    try:
        with clickhouse_server(tmp_path / "clickhouse") as server:
            store = server.url("otel")
            create_schema(store)
            severity_names_only_at(store)
            env = {"POSTHOG_API_KEY": posthog.api_key, "POSTHOG_HOST": posthog.url}
            with serve(store, env) as url:
                status, answer = post_protobuf(f"{url}/v1/logs", logs_request(records))
                assert status == 200, answer
                rejected = ExportLogsServiceResponse.FromString(answer).partial_success
                assert rejected.rejected_log_records == 1
                wait_for(lambda: len(posthog.received()) >= 2, timeout=30)
        assert sorted(event.name for event in posthog.received()) == ["Stored", "StoredToo"]
    finally:
        posthog.close()


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            "Code: 27. DB::Exception: Cannot parse input: expected '\"' before: 'alice@example.com"
            "\"}': (while reading the value of key Body): (at row 3)\n: While executing "
            "JSONEachRowRowInputFormat. (CANNOT_PARSE_INPUT_ASSERTION_FAILED) (version 26.9.2.1)",
            "ClickHouse refused the row: Cannot parse input: expected '…': (while reading the "
            "value of key Body) (CANNOT_PARSE_INPUT_ASSERTION_FAILED)",
        ),
        (
            "Received ClickHouse exception, code: 469, server response: Code: 469. "
            "DB::Exception: Constraint `short_body` for table otel.otel_logs is violated at row "
            "1. Expression: (length(Body) < 10). Column values: Body = 'alice@example.com'. "
            "(VIOLATED_CONSTRAINT) (version 25.8.1.1) (for url http://clickhouse:8123)",
            "ClickHouse refused the row: Constraint `short_body` for table otel.otel_logs is "
            "violated (VIOLATED_CONSTRAINT)",
        ),
        (
            "Code: 6. DB::Exception: Cannot parse string 'alice' as UInt8: syntax error at "
            "begin of string. (at row 1) (CANNOT_PARSE_TEXT) (version 26.9.2.1)",
            "ClickHouse refused the row: Cannot parse string '…' as UInt8: syntax error at "
            "begin of string (CANNOT_PARSE_TEXT)",
        ),
    ],
)
def test_clickhouses_reason_is_said_without_the_rows_data(message: str, reason: str) -> None:
    assert refusal_reason(message) == reason
