"""``bot-telemetry funnel | paths | retention``: on a store file, and through a running serve
(the store is then locked, so the CLI asks serve's API); JSON, CSV and the table."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.cli.journeys import parse_step
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.journeys import booking_store
from tests.support.processes import run_cli, run_cli_here

END = "2026-11-10T00:00:00Z"


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return booking_store(tmp_path_factory.mktemp("cli-journeys") / "store.duckdb")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    # In this process; test_through_a_running_serve runs each command as its own process.
    return run_cli_here(*args)


def funnel_args(store: Path, *extra: str) -> list[str]:
    return [
        "funnel",
        "--store",
        str(store),
        "--until",
        END,
        "LuisIntent.BookTable",
        "WaterfallStep:StepName=ask_size|confirm",
        "WaterfallComplete:DialogId=booking",
        "--window",
        "30m",
        *extra,
    ]


def test_a_funnel_as_json_csv_and_a_table(store_file: Path) -> None:
    ran = cli(*funnel_args(store_file, "--format", "json"))
    assert ran.returncode == 0, ran.stderr
    result: dict[str, Any] = json.loads(ran.stdout)
    assert [s["count"] for s in result["steps"]] == [5, 2, 1]
    assert result["steps"][1]["dropOffCauses"]["botError"] == 1

    rows = list(csv.reader(io.StringIO(cli(*funnel_args(store_file, "--format", "csv")).stdout)))
    assert rows[0][:3] == ["group", "step", "count"]
    assert [row[2] for row in rows[1:]] == ["5", "2", "1"]
    assert rows[0][-7:] == list(result["steps"][0]["dropOffCauses"])

    table = cli(*funnel_args(store_file)).stdout
    assert "LuisIntent.BookTable" in table
    stopped = table[table.index("STOPPED AFTER") :].splitlines()
    assert any(line.split()[-3:-1] == ["botError", "failed"] for line in stopped), table


def test_a_dialogs_funnel_by_name(store_file: Path) -> None:
    listed = cli("funnel", "--store", str(store_file), "--until", END, "--dialogs")
    assert listed.returncode == 0, listed.stderr
    assert "booking" in listed.stdout and "ask_day > ask_size > confirm" in listed.stdout
    ran = cli(
        "funnel",
        "--store",
        str(store_file),
        "--until",
        END,
        "--dialog",
        "booking",
        "--format",
        "json",
    )
    assert [s["count"] for s in json.loads(ran.stdout)["steps"]] == [5, 5, 2, 1, 1]
    unknown = cli("funnel", "--store", str(store_file), "--until", END, "--dialog", "nope")
    assert unknown.returncode == 1 and "no dialog 'nope'" in unknown.stderr


def test_paths_and_retention(store_file: Path) -> None:
    flows = cli(
        "paths",
        "--store",
        str(store_file),
        "--until",
        END,
        "--start",
        "LuisIntent.BookTable",
        "--group",
        "LuisIntent.*",
        "--format",
        "csv",
    )
    assert flows.returncode == 0, flows.stderr
    rows = list(csv.DictReader(io.StringIO(flows.stdout)))
    first = next(r for r in rows if r["kind"] == "node" and r["step"] == "1")
    assert (first["event"], first["count"]) == ("LuisIntent.*", "5")
    kept = cli(
        "retention",
        "--store",
        str(store_file),
        "--since",
        "2026-11-02T00:00:00Z",
        "--until",
        END,
        "--period",
        "day",
        "--intervals",
        "2",
        "--format",
        "json",
    )
    cohorts = json.loads(kept.stdout)["cohorts"]
    assert [c["size"] for c in cohorts] == [2, 0]


def test_bad_input_is_one_line_and_status_2(store_file: Path) -> None:
    ran = cli("funnel", "--store", str(store_file), "A", "--window", "soon")
    assert ran.returncode == 2
    assert ran.stderr.strip().splitlines()[-1] == (
        "bot-telemetry funnel: error: argument --window: 'soon' is not a duration like 30s, "
        "15m, 2h, 7d, 1w, 1h30m, 90 minutes or PT1H30M"
    )
    assert cli("funnel", "--store", str(store_file)).returncode == 2  # no steps
    bad = cli("funnel", "--store", str(store_file), "A", "--exclude", "X:one:2")
    assert "expected EVENT:FROM:TO" in bad.stderr
    # A traceback (OverflowError: date value out of range), and a message naming "toStep".
    late = ["--since", "9999-12-31", "--until", "9999-12-31T12:00Z", "--period", "day"]
    ran = cli("retention", *late, "--store", str(store_file))
    assert ran.returncode == 2
    assert ran.stderr.splitlines()[-1] == (
        "bot-telemetry retention: error: argument --since: '9999-12-31' is neither a duration "
        "(30s, 15m, 2h, 7d, 1w, 1h30m, 90 minutes or PT1H30M) nor an ISO time "
        "(2026-01-02T10:00Z), from 1970-01-01 to 2262-04-11"
    )
    ran = cli("funnel", "A", "B", "--exclude", "X:0:5", "--store", str(store_file))
    assert ran.returncode == 2
    assert ran.stderr.splitlines() == [
        "bot-telemetry: error: exclusions[0].toStep: expected a whole number from 0 to 1, got 5"
    ]


@pytest.mark.parametrize("command", ["funnel", "paths", "retention"])
def test_a_window_error_is_said_in_the_options_words(store_file: Path, command: str) -> None:
    steps = ["A", "B"] if command == "funnel" else []
    for window, line in (
        (
            ["--since", "2h", "--until", "3h"],
            "the time window is empty: --until must be after --since",
        ),
        (
            ["--since", "2200-01-01"],
            "the time window is empty: --since 2200-01-01 is after now (the end when --until is "
            "left out)",
        ),
    ):
        ran = cli(command, *steps, *window, "--store", str(store_file))
        assert ran.returncode == 2
        assert ran.stderr.splitlines() == [f"bot-telemetry: error: {line}"], ran.stderr


def test_through_a_running_serve(store_file: Path, tmp_path: Path) -> None:
    with CollectorThread(ServerConfig(store=store_file, port=0)) as running:
        # serve holds the store: the CLI (a process of its own, as a user runs it) finds it
        # and asks its API instead.
        ran = run_cli(*funnel_args(store_file, "--format", "json"))
        assert ran.returncode == 0, ran.stderr
        assert [s["count"] for s in json.loads(ran.stdout)["steps"]] == [5, 2, 1]
        by_url = run_cli("retention", "--url", running.url, "--period", "week", "--format", "json")
        assert json.loads(by_url.stdout)["period"] == "week"
        refused = run_cli("paths", "--url", running.url, "--steps", "50")
        # refused by serve's 400 as by the analytics in process: bad input either way
        assert refused.returncode == 2 and "stepLimit" in refused.stderr


def test_the_step_syntax() -> None:
    assert parse_step("LuisIntent.*") == "LuisIntent.*"
    assert parse_step("WaterfallStep:StepName=a|b,DialogId=booking") == {
        "event": "WaterfallStep",
        "where": {"StepName": ["a", "b"], "DialogId": "booking"},
    }


def test_a_strict_funnel_across_turns_says_why_in_the_table(store_file: Path) -> None:
    """The booking's recognized intent and its completion are in different turns: strict, no
    conversation gets from one to the other, and the table says why under it (JSON too)."""
    steps = ["LuisIntent.BookTable", "WaterfallComplete:DialogId=booking"]
    args = ["funnel", "--store", str(store_file), "--until", END, *steps, "--window", "30m"]
    table = cli(*args, "--order", "strict").stdout
    notes = table[table.index("note: ") :]
    assert notes.startswith("note: No conversation went from 'LuisIntent.BookTable' to"), table
    assert "order ordered" in " ".join(notes.split()), table
    result = json.loads(cli(*args, "--order", "strict", "--format", "json").stdout)
    assert [s["count"] for s in result["steps"]] == [5, 0]
    assert len(result["notes"]) == 1
    assert "note: " not in cli(*args).stdout  # ordered: 1 completed, nothing to say
