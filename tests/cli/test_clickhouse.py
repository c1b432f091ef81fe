"""``--store clickhouse://...``: every command over the OpenTelemetry Collector's tables in
ClickHouse (the test server: ClickHouse's HTTP interface over chDB), ``serve`` ingesting into
it or reading it only, and one clear line with exit status 2 for a store that cannot be used."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.collector.scenario import Sent, run_conversation
from tests.support.clickhouse import ClickHouseServer, clickhouse_server
from tests.support.ports import free_port
from tests.support.processes import REPO, run_cli, run_cli_here, running


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=60)


def cli_here(*args: str) -> subprocess.CompletedProcess[str]:
    """In this process: the refusals and the printed schema (the other tests run each command
    as a process of its own)."""
    return run_cli_here(*args)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    with clickhouse_server(tmp_path_factory.mktemp("clickhouse")) as started:
        yield started


@pytest.mark.parametrize(
    ("store", "says"),
    [
        ("clickhouse://reader:x@127.0.0.1:{closed}/otel", "cannot reach ClickHouse at 127.0.0.1"),
        ("clickhouse://reader:wrong@127.0.0.1:{port}/otel", "refused user 'reader': wrong user"),
        ("{url:nowhere}", "has no database 'nowhere'"),
        # Both ways to create it, as for missing tables (only the Collector's was named).
        ("{url:nowhere}", "or `bot-telemetry clickhouse-schema --store URL`"),
        ("{url:default}", "has no table otel_traces or otel_logs"),
        ("clickhouse://:8123/otel", "needs a host"),
    ],
    ids=[
        "unreachable",
        "wrong-password",
        "no-database",
        "no-database-fix",
        "no-tables",
        "malformed",
    ],
)
def test_a_store_that_cannot_be_used_is_one_line_and_status_2_or_1_when_down(
    server: ClickHouseServer, store: str, says: str
) -> None:
    """A store named wrong (password, database, URL) is bad input, 2; none answering at the
    address may be a server down, the operation failing, 1 (docs/cli.md#exit-status)."""
    if store.startswith("{url:"):
        store = server.url(store[5:-1])
    store = store.format(closed=free_port(), port=server.port)
    for command in (["appmap"], ["events"], ["serve", "--port", "0"]):
        done = cli_here(*command, "--store", store)
        assert done.returncode == (1 if says.startswith("cannot reach") else 2), done.stderr
        assert says in done.stderr
        if says != "needs a host":  # argparse prints its usage first for a malformed value
            assert done.stderr.count("\n") == 1, done.stderr
        assert "s3cret" not in done.stderr and "Traceback" not in done.stderr


def test_the_schema_command_prints_or_creates_the_exporter_tables(
    server: ClickHouseServer,
) -> None:
    printed = cli("clickhouse-schema", "--ttl", "30d")
    assert printed.returncode == 0
    assert "CREATE TABLE IF NOT EXISTS `otel`.`otel_traces`" in printed.stdout
    assert "TTL toDateTime(Timestamp) + toIntervalDay(30)" in printed.stdout
    created = cli("clickhouse-schema", "--store", server.url("made"))
    assert created.returncode == 0, created.stderr
    empty = cli("appmap", "--store", server.url("made"), "--format", "json")
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout) == {"nodes": [], "edges": []}


@pytest.mark.parametrize(
    ("ttl", "interval"),
    [
        ("30d", "toIntervalDay(30)"),
        ("720h", "toIntervalDay(30)"),
        ("12h", "toIntervalHour(12)"),
        ("36h", "toIntervalHour(36)"),
        ("90m", "toIntervalMinute(90)"),
    ],
)
def test_a_ttl_keeps_its_length_in_the_largest_unit_that_divides_it(
    ttl: str, interval: str
) -> None:
    """As the exporter's ``ttl`` becomes; 12h was 0 days (no TTL: kept for ever), 36h 1 day."""
    printed = cli_here("clickhouse-schema", "--ttl", ttl)
    assert printed.returncode == 0, printed.stderr
    assert f"TTL toDateTime(Timestamp) + {interval}\n" in printed.stdout
    assert f"TTL TimestampTime + {interval}\n" in printed.stdout


def _server_sql(server: ClickHouseServer, sql: str) -> str:
    query = urllib.parse.urlencode({"user": "reader", "password": "s3cret pass"})
    with urllib.request.urlopen(
        f"http://127.0.0.1:{server.port}/?{query}", data=sql.encode(), timeout=30
    ) as answer:
        return str(answer.read().decode())


@pytest.mark.parametrize(
    ("made_with", "interval"),
    # What an earlier version made of --ttl 36h (one day) and of --ttl 12h (no TTL).
    [("1d", "toIntervalDay(1)"), (None, None)],
    ids=["36h-made-1-day", "12h-made-none"],
)
def test_the_schema_command_on_tables_with_another_ttl_prints_what_to_run(
    server: ClickHouseServer, made_with: str | None, interval: str | None
) -> None:
    """Tables that exist keep their TTL; the command said they were there and exited 0, so a
    user who upgraded to get 36h (or any TTL) went on keeping one day (or everything)."""
    store = server.url(f"aged_{made_with or 'none'}")
    made = cli("clickhouse-schema", "--store", store, *(["--ttl", made_with] if made_with else []))
    assert made.returncode == 0, made.stderr

    asked = cli("clickhouse-schema", "--store", store, "--ttl", "36h")
    assert asked.returncode == 1, asked.stderr
    database = f"aged_{made_with or 'none'}"
    alters = [line for line in asked.stdout.splitlines() if line]
    assert f"ALTER TABLE `{database}`.`otel_traces` MODIFY TTL toDateTime(Timestamp) + " in (
        asked.stdout
    )
    assert len(alters) == 8, asked.stdout  # traces, its lookup, logs, five metrics tables
    assert all(line.endswith("+ toIntervalHour(36);") for line in alters), asked.stdout
    assert "keep the TTL they were made with" in asked.stderr
    assert (interval or "no TTL") in asked.stderr
    assert "Traceback" not in asked.stderr

    for statement in alters:
        _server_sql(server, statement.rstrip(";"))
    again = cli("clickhouse-schema", "--store", store, "--ttl", "36h")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout == ""
    # Without --ttl nothing is asked of the TTL: the tables' own stands.
    plain = cli("clickhouse-schema", "--store", store)
    assert plain.returncode == 0, plain.stdout + plain.stderr


def test_serve_retention_over_tables_with_another_ttl_warns_with_the_command(
    server: ClickHouseServer,
) -> None:
    """serve --create-schema --retention leaves existing tables' TTL as it is (made by an
    earlier version's --retention 36h: one day): it said nothing, as though it had set it."""
    store = server.url("aged_serve")
    made = cli("clickhouse-schema", "--store", store, "--ttl", "1d")
    assert made.returncode == 0, made.stderr
    port = free_port()
    args = ["-m", "bot_telemetry.cli", "serve", "--store", store, "--port", str(port)]
    with running(
        [*args, "--no-grpc", "--create-schema", "--retention", "36h"],
        ready_url=f"http://127.0.0.1:{port}/api/health",
    ) as process:
        output = process.output()
    assert "keep the TTL they were made with, not --retention 36h" in output, output
    assert "otel_traces (toDateTime(Timestamp) + toIntervalDay(1))" in output, output
    assert "bot-telemetry clickhouse-schema --store URL --ttl 36h" in output, output
    assert "s3cret" not in output


def test_serve_retention_is_the_ttl_of_the_tables_it_creates(server: ClickHouseServer) -> None:
    port = free_port()
    store = server.url("retained")
    args = ["-m", "bot_telemetry.cli", "serve", "--store", store, "--port", str(port)]
    with running(
        [*args, "--no-grpc", "--create-schema", "--retention", "12h"],
        ready_url=f"http://127.0.0.1:{port}/api/appmap",
    ) as process:
        # No store file to put it beside: the working directory's, which serve now says.
        exhaust = REPO / ".bot-telemetry" / "exhaust"
        assert f"data exhaust folder {exhaust}  (--exhaust-dir moves it)" in process.output()
    query = urllib.parse.urlencode(
        {
            "query": "SELECT name, engine_full FROM system.tables WHERE database = 'retained' "
            "AND name IN ('otel_traces', 'otel_logs') FORMAT JSONEachRow",
            "user": "reader",
            "password": "s3cret pass",
        }
    )
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/?{query}", timeout=30) as answer:
        tables = [json.loads(line) for line in answer.read().splitlines()]
    assert len(tables) == 2
    for table in tables:
        assert "+ toIntervalHour(12)" in table["engine_full"], table


def test_serve_retention_on_clickhouse_without_create_schema_is_refused(
    server: ClickHouseServer,
) -> None:
    """It would drop nothing: ClickHouse drops by the tables' TTL, not by serve's passes."""
    done = cli_here("serve", "--store", server.url("retained"), "--port", "0", "--retention", "7d")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "--retention on a ClickHouse store is the TTL of the tables --create-schema" in (
        done.stderr
    )


@pytest.fixture(scope="module")
def ingested(server: ClickHouseServer) -> Iterator[tuple[str, Sent]]:
    """``serve --store clickhouse://...`` taking the scenario's telemetry over OTLP."""
    port = free_port()
    store = server.url("ingest")
    args = ["-m", "bot_telemetry.cli", "serve", "--store", store, "--port", str(port)]
    with running(
        [*args, "--create-schema", "--no-grpc"], ready_url=f"http://127.0.0.1:{port}/api/health"
    ):
        yield f"http://127.0.0.1:{port}", run_conversation(f"http://127.0.0.1:{port}")


def test_serve_ingests_into_clickhouse_and_every_command_reads_it(
    server: ClickHouseServer, ingested: tuple[str, Sent]
) -> None:
    url, sent = ingested
    store = server.url("ingest")
    app_map = get_json(f"{url}/api/appmap")
    edges = {(e["source"], e["target"]): (e["calls"], e["failures"]) for e in app_map["edges"]}
    assert edges == {
        ("channel", "bot"): (3, 0),
        ("bot", "nlu"): (3, 1),
        ("bot", "qna"): (3, 0),
        ("bot", "azure.blob"): (3, 0),
        ("bot", "channel"): (3, 0),
    }
    from_cli = cli("appmap", "--store", store, "--format", "json")
    assert json.loads(from_cli.stdout) == app_map
    events = cli("events", "--store", store, "--format", "jsonl")
    names = [json.loads(line)["name"] for line in events.stdout.splitlines()]
    assert names.count("BotMessageReceived") == 3
    assert names.count("QnAMessage") == 3
    trace = cli("trace", sent.failed_traces[0], "--store", store, "--format", "json")
    assert trace.returncode == 0, trace.stderr
    detail = json.loads(trace.stdout)
    assert detail["errors"] == 2
    assert {s["name"] for s in detail["spans"]} >= {"bot.turn", "POST /luis/predict handler"}
    talks = cli("conversations", "--store", store, "--format", "json")
    assert [
        (c["conversation_id"], c["turns"], c["failed_turns"]) for c in json.loads(talks.stdout)
    ] == [("conv-1", 3, 1)]
    one = cli("conversations", "conv-1", "--store", store, "--format", "json")
    transcript = json.loads(one.stdout)
    assert [turn["text"] for turn in transcript["turns"]] == [
        "hi",
        "what's up?",
        "<script>alert(1)</script>",
    ]


def test_a_read_only_serve_is_a_stateless_reader(
    server: ClickHouseServer, ingested: tuple[str, Sent]
) -> None:
    url, _ = ingested
    port = free_port()
    args = ["-m", "bot_telemetry.cli", "serve", "--store", server.url("ingest")]
    with running(
        [*args, "--port", str(port), "--read-only"],
        ready_url=f"http://127.0.0.1:{port}/api/health",
    ) as reader:
        assert get_json(f"http://127.0.0.1:{port}/api/appmap") == get_json(f"{url}/api/appmap")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/traces", data=b"", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
        assert "read-only" in refused.value.read().decode()
        assert "reader on" in reader.output()
        assert "s3cret" not in reader.output()
