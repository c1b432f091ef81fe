"""``bot-telemetry measures``: on the store file, through the running ``serve`` that holds it,
as a table, JSON and CSV, with the progress bar. The progress bar and serve's tests run it as
a user does (a child process, stderr a pipe); the others through ``main()`` in this process."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.analytics.measures_expected import EXPECTED, Window
from tests.analytics.test_measures import same
from tests.support.measure_traffic import START, Plan, planned_store
from tests.support.processes import run_cli, run_cli_here

SINCE = "2026-10-30T20:00:00Z"
UNTIL = "2026-11-03T20:00:00Z"
END = START + 4 * 86_400 * 1_000_000_000


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    path = tmp_path_factory.mktemp("measures-cli") / "store.duckdb"
    return path, planned_store(path)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli_here("measures", *args)


def cli_process(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("measures", *args)


def window_args(store: Path) -> list[str]:
    return ["--store", str(store), "--since", SINCE, "--until", UNTIL]


def test_json_is_the_api_answer(planned: tuple[Path, Plan]) -> None:
    store, plan = planned
    ran = cli(
        "activeUsers",
        "intents",
        *window_args(store),
        "--granularity",
        "day,week",
        "--channel",
        "msteams",
        "--channel",
        "webchat",
        "--param",
        "minScore=0.5",
        "--format",
        "json",
    )
    # activeUsers takes no minScore: the error names the field.
    assert ran.returncode == 2
    assert "measures[0].params.minScore: expected no parameters" in ran.stderr

    ran = cli(
        "activeUsers",
        "intents",
        *window_args(store),
        "--granularity",
        "day,week",
        "--channel",
        "msteams",
        "--channel",
        "webchat",
        "--format",
        "json",
    )
    assert ran.returncode == 0, ran.stderr
    answer = json.loads(ran.stdout)
    assert [(a["measureType"], a["timeGranularity"]) for a in answer] == [
        ("activeUsers", "day"),
        ("activeUsers", "week"),
        ("intents", "day"),
        ("intents", "week"),
    ]
    context = {"channelId": ["msteams", "webchat"]}
    for element in answer:
        window = Window(START, END, element["timeGranularity"], context, {})
        assert same(element["response"], EXPECTED[element["measureType"]](plan, window))
    assert ran.stderr == ""  # fast: no progress bar


def test_table_and_csv(planned: tuple[Path, Plan]) -> None:
    store, plan = planned
    table = cli("turnLatency", "dependencyCalls", *window_args(store), "--granularity", "day")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "turnLatency by day"
    assert lines[1].split() == ["TIME", "P50MS", "P95MS", "P99MS", "TURNS"]
    assert len([line for line in lines if line.startswith("2026-")]) == 5 + 5 * 3
    assert "dependencyCalls by day" in lines

    ran = cli(
        "turns", "failedTurns", *window_args(store), "--granularity", "day", "--format", "csv"
    )
    assert ran.returncode == 0, ran.stderr
    rows = list(csv.DictReader(io.StringIO(ran.stdout)))
    assert list(rows[0]) == ["measureType", "timeGranularity", "time", "turns", "failed", "rate"]
    turns = [r for r in rows if r["measureType"] == "turns"]
    failed = [r for r in rows if r["measureType"] == "failedTurns"]
    assert [int(r["turns"]) for r in turns] == [int(r["turns"]) for r in failed]
    assert sum(int(r["turns"]) for r in turns) == sum(
        1 for t in plan.turns if START <= t.start_ns < END
    )
    assert turns[0]["failed"] == ""  # a column turns does not have
    assert sum(int(r["failed"]) for r in failed) == sum(
        1 for t in plan.turns if START <= t.start_ns < END and t.failure
    )


def test_the_progress_bar_appears_after_the_threshold(planned: tuple[Path, Plan]) -> None:
    store, _ = planned
    ran = cli_process(
        "turns",
        "sessions",
        "intents",
        *window_args(store),
        "--granularity",
        "hour,day",
        "--progress-after",
        "0",
        "--format",
        "json",
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr.rstrip("\n").endswith("measures [" + "#" * 30 + "] 6/6")
    assert len(json.loads(ran.stdout)) == 6
    # stderr is a pipe here, as in a log file or cron's mail: a line each time the count
    # moves, never a carriage-return redraw (it wrote one every 0.2 s, count moved or not).
    assert "\r" not in ran.stderr
    counts = [int(line.rsplit(" ", 1)[1].split("/")[0]) for line in ran.stderr.splitlines()]
    assert counts == sorted(set(counts)) and counts[-1] == 6


def test_a_refused_request_is_one_line_and_status_2(planned: tuple[Path, Plan]) -> None:
    """The 400's message, not a traceback (a gap beyond 366 days overflowed the engine)."""
    ran = cli("sessions", *window_args(planned[0]), "--param", "gapSeconds=10000000000")
    assert ran.returncode == 2
    assert ran.stderr.splitlines() == [
        "bot-telemetry: error: measures[0].params.gapSeconds: expected a whole number from 1 "
        "to 31,622,400, found 10000000000.0"
    ]


def test_listing_the_measures() -> None:
    ran = cli()
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[0].split() == ["MEASURE", "PER", "VALUES"]
    listed = {line.split()[0]: line.split()[1:] for line in ran.stdout.splitlines()[1:24]}
    assert listed["dependencyCalls"] == ["dependency", "calls,", "failures,", "p50Ms,", "p95Ms"]
    assert len(listed) == 23
    assert ran.stdout.count("\n") >= 23


@pytest.fixture
def serving(planned: tuple[Path, Plan]) -> Iterator[CollectorThread]:
    with CollectorThread(ServerConfig(store=planned[0], port=0)) as running:
        yield running


def test_while_serve_holds_the_store_the_cli_asks_it(
    serving: CollectorThread, planned: tuple[Path, Plan]
) -> None:
    store, plan = planned
    args = ("messagesReceived", *window_args(store), "--granularity", "day", "--format", "json")
    through_discovery = cli_process(*args)
    assert through_discovery.returncode == 0, through_discovery.stderr
    through_url = cli_process(*args, "--url", serving.url)
    assert json.loads(through_url.stdout) == json.loads(through_discovery.stdout)
    response = json.loads(through_url.stdout)[0]["response"]
    assert same(response, EXPECTED["messagesReceived"](plan, Window(START, END, "day", {}, {})))

    bad = cli_process("feedback", *window_args(store), "--url", serving.url, "--locale", "de-DE")
    assert bad.returncode == 2
    assert "answered 400: context.locale: expected one of the dimensions feedback" in bad.stderr


def test_a_since_in_the_future_is_said_in_the_options_words(planned: tuple[Path, Plan]) -> None:
    """It said "measures[0]... endTime: expected a time after startTime, found 1796074102730"."""
    ran = cli("turns", "--store", str(planned[0]), "--since", "2200-01-01")
    assert ran.returncode == 2
    assert ran.stderr.splitlines() == [
        "bot-telemetry: error: the time window is empty: --since 2200-01-01 is after now "
        "(the end when --until is left out)"
    ]
