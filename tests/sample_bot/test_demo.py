"""``bot-telemetry demo``: real processes, then the app map and events read back by the CLI."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry import PrivacyPolicy
from sample_bot import demo
from sample_bot.processes import port_in_use
from sample_bot.scripts import script_for
from tests.support.ports import free_port
from tests.support.processes import REPO, run_cli_here

NAMES = ("collector", "nlu", "qna", "bot", "channel")
PSEUDONYM_KEY = "demo-test-pseudonym-key"


def _module(
    module: str, *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    # The demo's store read back in this process (tests/cli runs each command as a process).
    return run_cli_here(*args)


def _demo(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return _module("sample_bot.demo", *args, timeout=timeout, env=env)


def _port_options(ports: dict[str, int]) -> list[str]:
    return [option for name in NAMES for option in (f"--{name}-port", str(ports[name]))]


def test_twenty_conversations_make_the_app_map_and_events(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    store, summary_file = tmp_path / "demo.duckdb", tmp_path / "summary.json"
    ports = {name: free_port() for name in NAMES}
    ran = _demo(
        "--conversations",
        "20",
        "--exit",
        "--store",
        str(store),
        "--summary",
        str(summary_file),
        *_port_options(ports),
        timeout=90,
        env={"BOT_TELEMETRY_PSEUDONYM_KEY": PSEUDONYM_KEY},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # The collector stopped with the demo: it says how to open the UI on the store again.
    assert f"bot-telemetry serve --store {store}" in ran.stdout
    assert "channel -> bot" in ran.stdout  # the app map, printed
    assert "20/20" in ran.stderr  # the progress bar's end
    # Its services' logs are kept (it says where), in the tests' temp folder (tests/conftest.py),
    # which pytest prunes: each run's bot-telemetry-demo-* folder was left in /tmp.
    logs = Path(re.findall(r"\(logs in (\S+)\)", ran.stdout)[-1])
    assert (logs / "bot.log").is_file()
    assert logs.is_relative_to(tmp_path_factory.getbasetemp())

    summary: dict[str, Any] = json.loads(summary_file.read_text())
    nlu, qna = summary["services"]["nlu"], summary["services"]["qna"]
    assert summary["conversations"] == 20
    assert nlu["failures"] > 0 and qna["failures"] > 0  # the knob made them fail now and then

    app_map = json.loads(_cli("appmap", "--store", str(store), "--format", "json").stdout)
    edges = {(e["source"], e["target"]): e for e in app_map["edges"]}
    assert edges[("channel", "bot")]["calls"] == summary["activities_sent"]
    assert edges[("bot", "channel")]["calls"] == summary["replies_received"]
    # Every message is recognised; the nlu service's own count must agree with the traces.
    assert edges[("bot", "nlu")]["calls"] == nlu["requests"] == summary["messages_sent"]
    assert edges[("bot", "nlu")]["failures"] == nlu["failures"]
    assert (edges[("bot", "qna")]["calls"], edges[("bot", "qna")]["failures"]) == (
        qna["requests"],
        qna["failures"],
    )
    assert edges[("bot", "MemoryStorage")]["calls"] >= summary["activities_sent"]
    kinds = {node["id"]: node["kind"] for node in app_map["nodes"]}
    assert kinds == {
        "bot": "service",
        "channel": "service",
        "nlu": "service",
        "qna": "service",
        "MemoryStorage": "dependency",
    }

    listed = _cli("events", "--store", str(store), "--limit", "100000", "--format", "jsonl")
    names = Counter(json.loads(line)["name"] for line in listed.stdout.splitlines())
    assert names["BotMessageReceived"] == summary["activities_sent"]
    assert names["BotMessageSend"] == summary["replies_received"]
    luis = sum(n for name, n in names.items() if name.startswith("LuisIntent."))
    assert luis == nlu["requests"] - nlu["failures"]
    assert names["QnAMessage"] == qna["requests"] - qna["failures"]
    for waterfall in ("WaterfallStart", "WaterfallStep", "WaterfallComplete", "WaterfallCancel"):
        assert names[waterfall] > 0, names
    assert names["WaterfallStart"] > names["WaterfallComplete"] + names["WaterfallCancel"]
    assert names["PromptAnswered"] > 0 and names["ConsentChanged"] > 0

    # The demo asked serve for today's response exhaust: answers only of those who said yes.
    assert "Data exhaust (every answered prompt" in ran.stdout
    (exported,) = (store.parent / "exhaust" / "files").rglob("*.csv")
    with exported.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == names["PromptAnswered"]
    policy = PrivacyPolicy(pseudonymization_key=PSEUDONYM_KEY)
    users = {index: policy.pseudonymize(f"user-{index:04d}") for index in range(20)}
    said_yes = {
        users[index] for index in users if _consent_answer(script_for(index).messages) == "yes"
    }
    said_no = {
        users[index] for index in users if _consent_answer(script_for(index).messages) == "no"
    }
    assert said_yes and said_no
    kept = {row["Device ID"] for row in rows if row["Question Response"]}
    assert kept == said_yes
    assert said_no <= {row["Device ID"] for row in rows}  # they answered; nothing kept
    assert not any(f"user-{index:04d}" in exported.read_text() for index in users)


def _consent_answer(messages: tuple[str, ...]) -> str | None:
    """What a script says to the consent question: the message after its first booking."""
    for index, message in enumerate(messages[:-1]):
        if any(word in message for word in ("book a table", "reservation", "reserve")):
            return messages[index + 1]
    return None


def test_a_port_in_use_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {name: free_port() for name in NAMES} | {"bot": port}
        code = demo.main(["--conversations", "1", "--exit", *_port_options(ports)])
    assert code == 2
    assert f"port {port} (--bot-port) is already in use" in capsys.readouterr().err


def test_runs_until_ctrl_c_then_stops_what_it_started(tmp_path: Path) -> None:
    ports = {name: free_port() for name in NAMES}
    log = tmp_path / "demo.log"
    # A folder of its own, as make demo's .bot-telemetry/ on a fresh clone: the demo made it
    # before serve could, under the umask (0755), so the store was readable by every user.
    store = tmp_path / "fresh" / "demo.duckdb"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sample_bot.demo",
                "--conversations",
                "2",
                "--store",
                str(store),
                *_port_options(ports),
            ],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
            # As after make demo on a fresh clone: the venv it runs in is not on PATH.
            env={**os.environ, "PATH": os.defpath},
        )
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C stops everything" not in log.read_text() and process.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert process.poll() is None, log.read_text()  # still running, serving the Emulator
        assert f"UI: http://127.0.0.1:{ports['collector']}/" in log.read_text()
        assert oct(store.parent.stat().st_mode & 0o777) == oct(0o700)
        for name in NAMES:
            assert port_in_use(ports[name]), name
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert [name for name in NAMES if port_in_use(ports[name])] == []
    # Its last words say where what it collected is: the UI's address it printed is gone. The
    # command is one this shell can run, not a bare bot-telemetry that is not on its PATH.
    command = Path(sys.executable).parent / "bot-telemetry"
    if command.is_relative_to(REPO):
        command = command.relative_to(REPO)
    last = log.read_text().rstrip().splitlines()[-1]
    assert last.startswith(
        f"The store is {store}: `{command} serve --store {store}` opens the UI on it again"
    ), log.read_text()


def test_the_demo_run_again_on_its_store_exports_every_answer_of_the_day(tmp_path: Path) -> None:
    """A second run on the same store the same day (the demo of an earlier version, then this
    one) was handed the first run's job (one tag, so one request id a day) and its file: the
    link said 'every answered prompt' and held the first run's answers only."""
    store = tmp_path / "demo.duckdb"
    for _ in range(2):
        ports = {name: free_port() for name in NAMES}
        ran = _demo(
            "--conversations", "4", "--exit", "--store", str(store), *_port_options(ports),
            timeout=90,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout + ran.stderr
    lines = ran.stdout.splitlines()
    at = next(index for index, line in enumerate(lines) if line.startswith("Data exhaust"))
    link = lines[at]
    path = link.split("/dataset/v1/download/", 1)[1].split("?", 1)[0]
    exported = store.parent / "exhaust" / "files" / path
    listed = _cli("events", "--store", str(store), "--limit", "100000", "--format", "jsonl")
    answered = sum(
        json.loads(line)["name"] == "PromptAnswered" for line in listed.stdout.splitlines()
    )
    with exported.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert answered > 0
    assert len(rows) == answered, (len(rows), answered)
    # Once the link has expired, the line after it says how to find the job again: the tag
    # is this run's own, so no one could guess it to list its jobs.
    tag = lines[at + 1].split("tag ", 1)[1].split()[0]
    listed_jobs = json.loads(_cli("exhaust", "list", tag, "--store", str(store)).stdout)
    request_id = path.split("/")[1]
    assert [job["requestId"] for job in listed_jobs["result"]["jobs"]] == [request_id]
