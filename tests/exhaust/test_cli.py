"""``bot-telemetry exhaust`` as a shell or cron would run it, and a runner killed midway:
no partial file is left to serve, and the next run finishes the job."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.exhaust import BOT, load_duckdb
from bot_telemetry.cli import main
from bot_telemetry.store.database import Store
from tests.support.processes import REPO, run_cli_here

ROWS = 60_000


def cli(*arguments: str) -> Any:
    # In this process (run_cli_here): the runner killed midway is the process of its own
    # here, and the vault key's test runs the command as one.
    done = run_cli_here("exhaust", *arguments)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exhaust-cli") / "telemetry.duckdb"
    opened = Store.open(path)
    load_duckdb(opened, ROWS)  # answers from 2025-06-15 on, a millisecond apart
    opened.close()
    return path


def test_a_runner_killed_midway_leaves_no_file_and_the_next_run_finishes(store: Path) -> None:
    where = ["--store", str(store)]
    submitted = cli(
        "submit",
        *where,
        "--dataset",
        "uci-response-exhaust",
        "--tag",
        "cron-tag",
        "--requested-by",
        "ops",
        "--channel",
        "ORG_9",
        "--bot",
        BOT,
        "--start",
        "2025-06-14",
        "--end",
        "2025-06-20",
    )
    assert submitted["responseCode"] == "OK"
    request_id = submitted["result"]["requestId"]
    listed = cli("list", "cron-tag", *where)
    assert [job["requestId"] for job in listed["result"]["jobs"]] == [request_id]

    folder = store.parent / "exhaust"
    runner = subprocess.Popen(
        [sys.executable, "-m", "bot_telemetry.cli", "exhaust", "run", *where],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    partial: list[Path] = []
    while time.monotonic() < deadline and runner.poll() is None:
        partial = [p for p in (folder / "tmp").glob(f"{request_id}.*/*.csv") if p.stat().st_size]
        if partial:
            break
        time.sleep(0.01)
    assert partial, "the runner finished before it could be stopped midway"
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(30)

    status = cli("status", "cron-tag", request_id, *where)["result"]
    assert (status["status"], status["attempts"], status["downloadUrls"]) == ("PROCESSING", 1, [])
    assert not list((folder / "files").rglob("*.csv")), "a partial file was put in place"

    ran = cli("run", *where)
    assert ran["ran"] == [{"requestId": request_id, "status": "SUCCESS", "statusMessage": ""}]
    status = cli("status", "cron-tag", request_id, *where)["result"]
    assert (status["status"], status["attempts"]) == ("SUCCESS", 2)
    (file,) = (folder / "files").rglob("*.csv")
    with file.open(newline="") as opened:
        assert sum(1 for _ in csv.reader(opened)) == ROWS + 1
    assert not list((folder / "tmp").glob(f"{request_id}.*")), "the dead attempt's work is left"


def test_a_new_vault_key_is_printed() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot_telemetry.cli", "exhaust", "vault-key"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    import base64

    assert len(base64.b64decode(done.stdout.strip())) == 32


@pytest.mark.parametrize("action", ["submit", "status", "list", "audit"])
def test_a_store_no_serve_uses_is_refused_and_nothing_is_made_there(
    action: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A mistyped --store: a job submitted there would wait for a runner that never comes,
    # and status or list would say the tag has no job.
    typo = tmp_path / "telemtry.duckdb"
    arguments = {
        "submit": [
            *("--dataset", "uci-response-exhaust", "--tag", "t", "--requested-by", "me"),
            *("--channel", "C", "--bot", BOT, "--start", "2025-06-14", "--end", "2025-06-20"),
        ],
        "status": ["t", "REQUEST"],
        "list": ["t"],
        "audit": [],
    }[action]
    assert main(["exhaust", action, "--store", str(typo), *arguments]) == 1
    error = capsys.readouterr().err
    assert f"no store at {typo} and no exhaust folder at {tmp_path / 'exhaust'}" in error
    assert "--store" in error and "--exhaust-dir" in error
    assert list(tmp_path.iterdir()) == []
