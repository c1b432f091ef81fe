"""The CLI's output end: a reader that goes away (``| head -1``) ends the command quietly;
``--store`` takes the folder users pass. The closed pipe and Ctrl-C run the CLI as a process
of its own; the rest through ``main()`` in this process (``run_cli_here``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot_telemetry.cli import PIPE_CLOSED_STATUS, main
from bot_telemetry.store.database import Store
from bot_telemetry.store.rows import logs_batch
from tests.support.otlp_messages import T0, logs_request
from tests.support.processes import REPO, run_cli_here


@pytest.fixture(scope="module")
def store_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("events")
    store = Store.open(folder / "telemetry.duckdb")
    records = [
        {"time_unix_nano": T0 + i, "event_name": "Clicked", "attributes": {"n": i, "pad": "x" * 80}}
        for i in range(2000)
    ]
    store.write(logs_batch(logs_request(records)))
    store.close()
    return folder


@pytest.mark.parametrize("output", ["table", "jsonl"])
def test_a_closed_pipe_ends_quietly_with_status_141(store_folder: Path, output: str) -> None:
    command = [sys.executable, "-m", "bot_telemetry.cli", "events", "--store", str(store_folder)]
    command += ["--limit", "2000", "--format", output]
    with subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # what `| head -1` does after its line
        errors = process.stderr.read()
        status = process.wait(30)
    assert "Clicked" in first or first.startswith("TIME")
    assert errors == ""  # no "Broken pipe", no traceback
    if output == "jsonl":  # a line per write: a write after the close always fails
        assert status == PIPE_CLOSED_STATUS == 141
    else:  # one write of the whole table: the kernel may have taken it all before the close
        assert status in (0, PIPE_CLOSED_STATUS)


def test_in_a_shell_pipeline_head_gets_its_line(store_folder: Path) -> None:
    shell = subprocess.run(
        [
            "bash",
            "-c",
            f'"{sys.executable}" -m bot_telemetry.cli events --store "{store_folder}" '
            '--limit 2000 --format jsonl | head -1; echo "status ${PIPESTATUS[0]}"',
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.stderr == ""
    assert '"name": "Clicked"' in shell.stdout.splitlines()[0]
    assert shell.stdout.splitlines()[1] == "status 141"


def test_store_accepts_a_folder_or_the_file(store_folder: Path) -> None:
    for given in (str(store_folder), f"{store_folder}/", str(store_folder / "telemetry.duckdb")):
        result = run_cli_here("events", "--store", given, "--limit", "1")
        assert result.returncode == 0, result.stderr
        assert "Clicked" in result.stdout


@pytest.mark.parametrize("command", ["events", "conversations", "client-events"])
@pytest.mark.parametrize("limit", ["0", "-1"])
def test_a_limit_below_1_is_a_usage_error(
    store_folder: Path, tmp_path: Path, command: str, limit: str
) -> None:
    """The store answered --limit 0 or -1 with nothing ("none in this time window") and a
    running serve with one row: now both are refused before asking either."""
    from bot_telemetry.web import CollectorThread, ServerConfig

    with CollectorThread(ServerConfig(store=tmp_path / "served.duckdb", port=0)) as running:
        for where in (["--store", str(store_folder)], ["--url", running.url]):
            ran = run_cli_here(command, *where, f"--limit={limit}")
            assert ran.returncode == 2, (where, ran.stdout)
            assert ran.stdout == ""
            assert ran.stderr.splitlines()[-1] == (
                f"bot-telemetry {command}: error: argument --limit: expected at least 1, "
                f"got {limit}"
            )


def cli_output(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main([*args, "--since", "2000-01-01"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("command", "given", "named"),
    [
        (["appmap"], "table", "text"),
        (["conversations"], "table", "text"),
        (["metrics"], "table", "text"),
        (["events"], "text", "table"),
        (["client-events"], "text", "table"),
        (["measures", "turns", "--granularity", "month"], "text", "table"),
    ],
)
def test_text_and_table_are_one_format_everywhere(
    store_folder: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    given: str,
    named: str,
) -> None:
    # One habit for every command: the name a command does not print under is taken as the
    # one it does (it was "invalid choice"), and the output is the same.
    store = ["--store", str(store_folder)]
    first = cli_output(capsys, *command, *store, "--format", given)
    assert first.strip() and first == cli_output(capsys, *command, *store, "--format", named)


@pytest.mark.parametrize("command", ["events", "client-events"])
def test_events_as_one_json_array_or_a_document_a_line(
    store_folder: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    store = ["--store", str(store_folder)]
    array = json.loads(cli_output(capsys, command, *store, "--format", "json"))
    lines = cli_output(capsys, command, *store, "--format", "jsonl").splitlines()
    assert array == [json.loads(line) for line in lines]
    assert (len(array) == 50) == (command == "events")  # events' default --limit


def test_a_table_that_stopped_at_its_limit_says_so(store_folder: Path) -> None:
    """50 rows of 2,000 looked like all there was."""

    def events(*args: str) -> list[str]:
        ran = run_cli_here("events", "--store", str(store_folder), *args)
        assert ran.returncode == 0, ran.stderr
        return ran.stdout.splitlines()

    cut = events("--limit", "5")
    assert len(cut) == 1 + 5 + 1
    assert cut[-1] == "(the newest 5 events; there may be more: --limit, --since, --until)"
    whole = events("--limit", "2001")
    assert len(whole) == 1 + 2000 and whole[-1].split()[2] == "Clicked"  # all: no note
    assert events("--limit", "5", "--format", "jsonl")[-1].startswith("{")  # data only


def test_events_name_takes_a_pattern_as_a_funnels_steps_do(tmp_path: Path) -> None:
    """``events --name 'LuisIntent.*'`` said "--name is a whole name, not a pattern"; users
    wanted every LuisIntent event, as a funnel's step ``LuisIntent.*`` matches them."""
    store = Store.open(tmp_path / "telemetry.duckdb")
    names = ["LuisIntent.Greeting", "LuisIntent.None", "LuisIntentional", "QnAMessage"]
    records = [{"time_unix_nano": T0 + i, "event_name": name} for i, name in enumerate(names)]
    store.write(logs_batch(logs_request(records)))
    store.close()

    def listed(name: str) -> list[str]:
        ran = run_cli_here("events", "--store", str(tmp_path), "--name", name, "--format", "jsonl")
        assert ran.returncode == 0, ran.stderr
        return [json.loads(line)["name"] for line in ran.stdout.splitlines()]

    assert listed("LuisIntent.*") == ["LuisIntent.None", "LuisIntent.Greeting"]
    assert listed("LuisIntent*") == ["LuisIntentional", "LuisIntent.None", "LuisIntent.Greeting"]
    assert listed("*") == list(reversed(names))
    assert listed("LuisIntent.None") == ["LuisIntent.None"]
    assert listed("LuisIntent.") == []  # a whole name without its *
    # A * elsewhere is refused, as a funnel's step is, naming the option.
    ran = run_cli_here("events", "--store", str(tmp_path), "--name", "Luis*.None")
    assert ran.returncode == 2, ran.stdout
    assert ran.stderr.strip() == (
        "bot-telemetry: error: --name: a pattern may only end in * (LuisIntent.*), got 'Luis*.None'"
    )


def test_ctrl_c_while_the_command_line_is_read_ends_quietly_with_130(tmp_path: Path) -> None:
    """SIGINT (a real one, sent by the process to itself) while argparse reads --since: it
    was a traceback from argparse's innards. Raised in the main thread (raise_signal): sent
    to the process (os.kill), another thread could take it and, on a busy machine, the
    handler ran only after argparse had finished. Python's own SIGINT handler is put back
    first: a process started with SIGINT ignored (a background job's, as `make test &`
    starts pytest) inherits that, and Python then never raises KeyboardInterrupt."""
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from bot_telemetry.cli import common, main\n"
        "checked = common.instant_argument\n"
        "def interrupted(text):\n"
        "    signal.raise_signal(signal.SIGINT)\n"
        "    return checked(text)\n"
        "common.instant_argument = interrupted\n"
        f"sys.exit(main(['events', '--store', {str(tmp_path)!r}, '--since', '1h']))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert (ran.returncode, ran.stdout, ran.stderr) == (130, "", "")
