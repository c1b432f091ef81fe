"""What the CLI takes and how it ends: a time ago written ``-5m`` after a space, and one exit
status rule (2: the command as given cannot run; 1: the operation failed)."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import pytest

from bot_telemetry.cli import build_parser
from bot_telemetry.cli.common import TIME_TYPES, attach_dashed_values, instant_argument
from tests.support.journeys import booking_store
from tests.support.ports import free_port
from tests.support.processes import run_cli, run_cli_here

END = "2026-11-10T00:00:00Z"


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return booking_store(tmp_path_factory.mktemp("cli-arguments") / "store.duckdb")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    # In this process; the collector test runs events, paths and trace as processes of their own.
    return run_cli_here(*args)


@pytest.mark.parametrize(
    "command",
    [
        ["events", "--format", "json"],
        ["conversations", "--format", "json"],
        ["funnel", "LuisIntent.BookTable", "WaterfallComplete", "--format", "json"],
    ],
)
def test_a_time_ago_with_a_minus_after_a_space_is_the_time_ago(
    store_file: Path, command: list[str]
) -> None:
    """``--since -5m`` said "argument --since: expected one argument"; and ``--since=-5m``
    that '-5m' was neither a duration nor an ISO time."""
    # --until an ISO time: the funnel's answer says its range, computed from now
    store = ["--store", str(store_file), "--until", END]
    plain = cli(*command, *store, "--since", "3000d")
    assert plain.returncode == 0, plain.stderr
    assert "cancelled" in plain.stdout or "LuisIntent.BookTable" in plain.stdout
    for args in (["--since", "-3000d"], ["--since=-3000d"]):
        dashed = cli(*command, *store, *args)
        assert dashed.returncode == 0, dashed.stderr
        assert answer(dashed.stdout) == answer(plain.stdout)


def answer(text: str) -> object:
    """The JSON answer but a funnel's range, whose start is computed from now."""
    found = json.loads(text)
    return found["steps"] if isinstance(found, dict) else found


def test_until_takes_it_too(store_file: Path) -> None:
    plain = cli("events", "--store", str(store_file), "--since", "3000d", "--until", "1m")
    dashed = cli("events", "--store", str(store_file), "--since", "-3000d", "--until", "-1m")
    assert dashed.returncode == 0, dashed.stderr
    assert dashed.stdout == plain.stdout and "LuisIntent.BookTable" in plain.stdout


def _time_options(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], str, object]]:
    """(the words naming the command, an option, its type) of every option taking a time."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _time_options(sub, (*path, name))
        elif action.type in TIME_TYPES:
            found.append((path, action.option_strings[-1], action.type))
    return found


def test_every_time_or_duration_option_takes_a_dashed_value_after_a_space() -> None:
    parser, _ = build_parser()
    options = _time_options(parser)
    names = {option for _, option, _ in options}
    # the store's window, the funnel's window, serve's durations, the ClickHouse TTL
    assert {"--since", "--until", "--window", "--retention", "--ttl"} <= names
    assert {"--client-dedup-window", "--client-linger", "--exhaust-link-expiry"} <= names
    for path, option, kind in options:
        joined = attach_dashed_values([*path, option, "-5m"])
        assert joined == [*path, f"{option}=-5m"], (path, option)
        if kind is instant_argument:
            assert instant_argument("-5m") == "5m"
    # only after such an option: a measure's name, a step, "--" and what follows stay
    words = ["funnel", "-5m", "--window", "30m", "--", "--since", "-5m"]
    assert attach_dashed_values(words) == words


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["funnel", "A", "B", "--window", "-30m"], "is a length of time, not a time ago"),
        (["serve", "--client-linger", "-1s", "--port", "0"], "argument --client-linger"),
        (["events", "--since", "-5x"], "argument --since: '-5x' is neither a duration"),
    ],
)
def test_a_dashed_value_an_option_cannot_take_says_why(
    store_file: Path, args: list[str], says: str
) -> None:
    ran = cli(*args, "--store", str(store_file))
    assert ran.returncode == 2
    assert says in ran.stderr.splitlines()[-1], ran.stderr
    assert "expected one argument" not in ran.stderr


VALID_TRACE = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("args", "status"),
    [
        # bad input, whichever layer finds it: 2, as argparse's own usage errors
        (["trace", "not-a-trace-id"], 2),
        (["funnel", "A:b"], 2),
        (["funnel", "A", "--exclude", "X:one:2"], 2),
        (["funnel"], 2),  # no steps: the analytics refuse the request
        (["events", "--since", "1m", "--until", "2m"], 2),
        (["measures", "activeUsers", "--param", "minScore"], 2),
        (["measures", "nosuchmeasure", "--since", "3000d"], 2),
        (["serve", "--retention", "0d", "--port", "0"], 2),
        (["events", "--limit", "0"], 2),
        # the operation failed: 1
        (["trace", VALID_TRACE], 1),
        (["metrics", "no.such.metric"], 1),
        (["conversations", "no-such-conversation"], 1),
    ],
)
def test_one_exit_status_rule(store_file: Path, args: list[str], status: int) -> None:
    ran = cli(*args, "--store", str(store_file))
    assert ran.returncode == status, ran.stderr
    assert ran.stdout == ""
    assert ran.stderr.splitlines()[-1].startswith("bot-telemetry"), ran.stderr
    assert "Traceback" not in ran.stderr


def test_a_collector_down_is_a_failure_and_a_request_it_refuses_bad_input(
    store_file: Path,
) -> None:
    down = run_cli("events", "--url", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 1, down.stderr
    assert down.stderr.startswith("bot-telemetry: error: cannot reach the collector at ")
    from bot_telemetry.web import CollectorThread, ServerConfig

    with CollectorThread(ServerConfig(store=store_file, port=0)) as running:
        refused = run_cli("paths", "--url", running.url, "--steps", "50")
        assert refused.returncode == 2, refused.stderr
        assert "answered 400: stepLimit" in refused.stderr
        missing = run_cli("trace", VALID_TRACE, "--url", running.url)
        assert missing.returncode == 1, missing.stderr


def test_a_request_file_that_cannot_be_read_names_the_option(
    store_file: Path, tmp_path: Path
) -> None:
    """It said "[Errno 2] No such file or directory: '...'", exit status 1."""
    missing = tmp_path / "funnel.json"
    ran = cli("funnel", "--store", str(store_file), "--request", str(missing))
    assert (ran.returncode, ran.stdout) == (2, "")
    assert ran.stderr == f"bot-telemetry: error: --request {missing}: No such file or directory\n"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        # the API's "steps: expected a list of 1 to 20 steps, got none" said no way to name them
        ([], "funnel: name its steps (bot-telemetry funnel LuisIntent.BookTable"),
        # the steps were ignored without a word, and the dialogs listed
        (["A", "B", "--dialogs"], "funnel: STEP and --dialogs do not go together"),
        (["--dialogs", "--dialog", "booking"], "funnel: --dialogs and --dialog do not go"),
    ],
)
def test_a_funnel_is_its_steps_or_a_dialogs(store_file: Path, args: list[str], says: str) -> None:
    ran = cli("funnel", "--store", str(store_file), *args)
    assert (ran.returncode, ran.stdout) == (2, "")
    assert ran.stderr.startswith(f"bot-telemetry: error: {says}"), ran.stderr
