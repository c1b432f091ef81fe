"""The ``bot-telemetry`` command against a real ``serve`` subprocess fed by SDK exporters."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot_telemetry.web import discovery_path
from tests.collector.scenario import Sent, run_conversation
from tests.support.ports import free_port
from tests.support.processes import run_cli, run_cli_here, running


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    # In this process; the fixture runs appmap as a process of its own, beside serve and after.
    return run_cli_here(*args)


@dataclass
class Served:
    store: Path
    sent: Sent
    serve_output: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    store = tmp_path_factory.mktemp("cli") / "telemetry.duckdb"
    port = free_port()
    args = ["-m", "bot_telemetry.cli", "serve", "--store", str(store), "--port", str(port)]
    args += ["--grpc-port", "0"]
    with running(args, ready_url=f"http://127.0.0.1:{port}/api/health") as process:
        sent = run_conversation(f"http://127.0.0.1:{port}")
        # While serve holds the store, the CLI asks it over HTTP and gets the same answers.
        live = run_cli("appmap", "--store", str(store), "--format", "json", timeout=60)
        assert live.returncode == 0, live.stderr
        assert discovery_path(store).exists()
        exit_code = process.stop()
        assert exit_code == 0, process.output()
        output = process.output()
    assert not discovery_path(store).exists()
    stored = run_cli("appmap", "--store", str(store), "--format", "json", timeout=60)
    assert stored.returncode == 0, stored.stderr
    assert json.loads(live.stdout) == json.loads(stored.stdout)
    yield Served(store, sent, output)


def test_serve_prints_one_url_for_otlp_and_the_ui(served: Served) -> None:
    assert "collector on http://127.0.0.1:" in served.serve_output
    assert "/v1/traces" in served.serve_output and "web UI http://127.0.0.1:" in served.serve_output
    assert "OTLP/gRPC http://127.0.0.1:" in served.serve_output


def test_appmap_formats(served: Served) -> None:
    as_json = json.loads(cli("appmap", "--store", str(served.store), "--format", "json").stdout)
    assert set(as_json) == {"nodes", "edges"}
    assert {(e["source"], e["target"]) for e in as_json["edges"]} == {
        ("channel", "bot"),
        ("bot", "nlu"),
        ("bot", "qna"),
        ("bot", "azure.blob"),
        ("bot", "channel"),
    }
    text = cli("appmap", "--store", str(served.store)).stdout
    assert "bot -> nlu" in text
    mermaid = cli("appmap", "--store", str(served.store), "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart LR")
    svg = cli("appmap", "--store", str(served.store), "--format", "svg", "--since", "1h").stdout
    assert svg.startswith("<?xml") and 'data-node="nlu"' in svg


def test_events_trace_and_conversations(served: Served) -> None:
    store = str(served.store)
    lines = cli(
        "events", "--store", store, "--name", "QnAMessage", "--format", "jsonl", "--limit", "2"
    ).stdout.splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["QnAMessage", "QnAMessage"]
    table = cli("events", "--store", store).stdout.splitlines()
    assert table[0].split() == ["TIME", "SERVICE", "EVENT", "CONVERSATION", "TRACE"]
    assert len(table) == 1 + 11

    failed = served.sent.failed_traces[0]
    trace = cli("trace", failed, "--store", store)
    assert trace.returncode == 0
    # the bot's own status message is stored as it sent it; the nlu service's (not a bot set up
    # by configure()) is left out by serve's policy, its failure kept
    assert "[bot] POST /luis/predict (client)  ERROR: nlu answered 500" in trace.stdout
    assert "[nlu] POST /luis/predict handler (server)  ERROR" in trace.stdout
    assert "nlu crashed" not in trace.stdout and "[channel] POST /api/messages" in trace.stdout
    as_json = json.loads(cli("trace", failed.upper(), "--store", store, "--format", "json").stdout)
    assert as_json["trace_id"] == failed and len(as_json["spans"]) == 10

    listing = cli("conversations", "--store", store).stdout
    assert "conv-1" in listing and "directline" in listing
    transcript = cli("conversations", "conv-1", "--store", store).stdout
    assert "user: hi" in transcript and "intent: Greeting (score 0.93)" in transcript
    assert "failure: [bot] POST /luis/predict: nlu answered 500" in transcript
    assert "failure: [nlu] POST /luis/predict handler\n" in transcript
    assert "nlu crashed" not in transcript
    assert "bot: echo: hi" in transcript


@pytest.mark.parametrize(
    ("args", "message", "status"),
    [
        # the operation failed: 1
        (["appmap", "--store", "{missing}"], "no store at", 1),
        (["trace", "0123456789abcdef0123456789abcdef", "--store", "{store}"], "no trace", 1),
        (["conversations", "nobody", "--store", "{store}"], "no conversation 'nobody'", 1),
        (["appmap", "--url", "http://127.0.0.1:9"], "cannot reach the collector", 1),
        # bad input: 2 (docs/cli.md#exit-status)
        (["trace", "xyz", "--store", "{store}"], "is not a trace id", 2),
        (["serve", "--store", "{missing}", "--host", "0.0.0.0"], "--allow-remote", 2),
    ],
)
def test_errors_are_one_line_and_a_failing_exit(
    served: Served, tmp_path: Path, args: list[str], message: str, status: int
) -> None:
    filled = [a.format(store=served.store, missing=tmp_path / "none.duckdb") for a in args]
    result = cli(*filled)
    assert result.returncode == status
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("bot-telemetry: error: ") and message in result.stderr


def test_a_bad_time_is_a_usage_error_naming_the_option(served: Served) -> None:
    result = cli("events", "--store", str(served.store), "--since", "lately")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1] == (
        "bot-telemetry events: error: argument --since: 'lately' is neither a duration "
        "(30s, 15m, 2h, 7d, 1w, 1h30m, 90 minutes or PT1H30M) nor an ISO time "
        "(2026-01-02T10:00Z), from 1970-01-01 to 2262-04-11"
    )
