"""Every sample process as a real process: one trace from channel to bot to nlu and qna and
back to the channel, read from a running collector after the services were stopped (so it
also shows that each process flushes its telemetry on SIGTERM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tests.support.ports import free_port
from tests.support.processes import REPO, run_cli_here, running


def _post(url: str, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read()), response.headers.get("traceresponse", "")


def _trace(store: Path, trace_id: str) -> dict[str, Any] | None:
    # In this process (polled; tests/cli/test_clickhouse runs trace as a process of its own).
    done = run_cli_here("trace", trace_id, "--store", str(store), "--format", "json")
    if done.returncode != 0:
        return None
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_one_trace_across_the_processes(tmp_path: Path) -> None:
    store = tmp_path / "telemetry.duckdb"
    ports = {name: free_port() for name in ("collector", "nlu", "qna", "bot", "channel")}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    # Nothing leaves a process on its own within the test: what arrives was flushed at exit.
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": url["collector"], "OTEL_BSP_SCHEDULE_DELAY": "600000"}
    with running(
        [
            "-m",
            "bot_telemetry.cli",
            "serve",
            "--port",
            str(ports["collector"]),
            "--store",
            str(store),
        ],
        ready_url=f"{url['collector']}/api/health",
    ):
        with ExitStack() as services:
            stopped = []
            for name, args in (
                ("nlu", ["-m", "sample_bot.nlu"]),
                ("qna", ["-m", "sample_bot.qna"]),
                (
                    "bot",
                    [
                        "-m",
                        "sample_bot",
                        "--nlu-url",
                        url["nlu"],
                        "--qna-url",
                        url["qna"],
                        "--channel-url",
                        url["channel"],
                    ],
                ),
                (
                    "channel",
                    ["-m", "sample_bot.channel", "--bot-url", f"{url['bot']}/api/messages"],
                ),
            ):
                process = services.enter_context(
                    running(
                        [*args, "--port", str(ports[name])],
                        ready_url=f"{url[name]}/health",
                        env=env,
                    )
                )
                stopped.append(process)
            started, _ = _post(f"{url['channel']}/driver/conversations", {"userName": "Ana"})
            answer, traceresponse = _post(
                f"{url['channel']}/driver/conversations/{started['conversationId']}/messages",
                {"text": "when are you open?"},
            )
            assert answer["replies"][0]["text"].startswith("We are open")
        assert [process.process.returncode for process in stopped] == [0, 0, 0, 0]

        trace_id = traceresponse.split("-")[1]
        deadline = time.monotonic() + 20
        trace = _trace(store, trace_id)
        while (trace is None or len(trace["services"]) < 4) and time.monotonic() < deadline:
            time.sleep(0.2)
            trace = _trace(store, trace_id)

    assert trace is not None, "the trace never reached the collector"
    assert trace["services"] == ["bot", "channel", "nlu", "qna"]
    spans = {span["span_id"]: span for span in trace["spans"]}

    def parent(span: dict[str, Any]) -> dict[str, Any]:
        return spans[span["parent_span_id"]]

    def one(service: str, name: str) -> dict[str, Any]:
        [found] = [s for s in spans.values() if (s["service"], s["name"]) == (service, name)]
        return found

    bot_request = one("bot", "POST /api/messages")
    assert (parent(bot_request)["service"], parent(bot_request)["kind"]) == ("channel", "client")
    for service, route, caller in (
        ("nlu", "GET /luis/prediction/v3.0/apps/{app_id}/slots/{slot}/predict", "Recognizer Query"),
        ("qna", "POST /qnamaker/knowledgebases/{kb_id}/generateAnswer", "QnA Query"),
        ("channel", "POST /v3/conversations/{conversation_id}/activities/{activity_id}", "POST"),
    ):
        served = one(service, route)
        assert served["kind"] == "server"
        assert (parent(served)["service"], parent(served)["name"], parent(served)["kind"]) == (
            "bot",
            caller,
            "client",
        )
    names = {event["name"] for span in spans.values() for event in span["events"]}
    assert {"BotMessageReceived", "LuisIntent.Faq", "QnAMessage", "BotMessageSend"} <= names


def test_a_bad_telemetry_variable_is_one_line_and_exit_status_2() -> None:
    """configure()'s ValueError was a traceback from every process of a Compose project."""
    done = subprocess.run(
        [sys.executable, "-m", "sample_bot.nlu", "--port", str(free_port())],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": "otel-collector:4318"},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "nlu: OTEL_EXPORTER_OTLP_ENDPOINT='otel-collector:4318' is not an http(s) URL such as "
        "http://otel-collector:4318\n"
    )
