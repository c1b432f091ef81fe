"""SIGTERM under load to a service, to the bot, and to the demo: each flushes what it has
queued before it exits, so every turn answered before the signal is in the store.

The services' export delay is ten minutes here: nothing leaves a process on its own during
the test, so what the store holds was flushed on the way out."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sample_bot.processes import port_in_use
from tests.reliability.backend import ACCEPT, HANG, Backend
from tests.reliability.stack import (
    Load,
    collector,
    drive,
    exporting_to,
    sample_stack,
    stored,
)
from tests.support.ports import free_port
from tests.support.processes import REPO
from tests.support.waiting import wait_for


def turn_traces(store: Path, service: str) -> set[str]:
    rows = stored(
        store,
        "SELECT DISTINCT trace_id FROM spans WHERE service_name = ? "
        "AND (name = 'bot.turn' OR kind = 2)",
        [service],
    )
    return {row[0] for row in rows}


def received_traces(store: Path) -> set[str]:
    rows = stored(store, "SELECT trace_id FROM logs WHERE event_name = 'BotMessageReceived'")
    return {row[0] for row in rows}


def test_sigterm_to_a_service_then_the_bot_under_load(tmp_path: Path) -> None:
    store = tmp_path / "telemetry.duckdb"
    signalled: dict[str, float] = {}
    exit_codes: dict[str, int] = {}
    with collector(store) as serve:
        env = exporting_to(serve.url, OTEL_BSP_SCHEDULE_DELAY="600000")
        with sample_stack(tmp_path, env) as stack:

            async def signal_when_busy(load: Load) -> None:
                for name, after in (("nlu", 60), ("bot", 150)):
                    await load.wait_answered(after)
                    signalled[name] = time.monotonic()
                    exit_codes[name] = await asyncio.to_thread(stack.terminate, name)
                await asyncio.sleep(0.3)  # the load keeps knocking on the stopped bot

            load = Load(stack.urls["channel"], conversations=16)
            asyncio.run(load.run(signal_when_busy))
    # serve has stopped (SIGTERM): the store file is ours to read.
    assert exit_codes == {"nlu": 0, "bot": 0}
    refused = [turn for at, turn in load.turns if at > signalled["bot"] and not turn.replies]
    assert refused or load.failures, "the load did not reach the stopped bot"

    before_nlu = load.answered_before(signalled["nlu"])
    before_bot = load.answered_before(signalled["bot"])
    assert len(before_nlu) >= 60 and len(before_bot) >= 150
    bot_turns, nlu_requests = turn_traces(store, "bot"), turn_traces(store, "nlu")
    missing = [t.trace_id for t in before_bot if t.trace_id not in bot_turns]
    assert not missing, f"{len(missing)} answered turns not in the store"
    received = received_traces(store)  # once: it opens the store file
    assert not [t.trace_id for t in before_bot if t.trace_id not in received]
    # Each turn answered before nlu's signal had asked nlu, and nlu flushed its side too.
    assert not [t.trace_id for t in before_nlu if t.trace_id not in nlu_requests]
    print(
        f"\nanswered before SIGTERM: nlu {len(before_nlu)}, bot {len(before_bot)}; "
        f"turns in the store {len(bot_turns)}; nlu requests in the store {len(nlu_requests)}"
    )


def test_sigterm_to_the_demo_under_load(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("collector", "nlu", "qna", "bot", "channel")}
    store = tmp_path / "telemetry.duckdb"
    command = [
        sys.executable,
        "-m",
        "sample_bot.demo",
        "--conversations",
        "1000",
        "--store",
        str(store),
        *[arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))],
    ]
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**exporting_to(""), "OTEL_BSP_SCHEDULE_DELAY": "600000", "PYTHONUNBUFFERED": "1"},
    )
    channel = f"http://127.0.0.1:{ports['channel']}"

    def messages_answered() -> int:
        try:
            with urllib.request.urlopen(f"{channel}/stats", timeout=5) as response:
                routes = json.loads(response.read())["byRoute"]
        except OSError:
            return 0
        return int(
            routes.get("POST /driver/conversations/{conversation_id}/messages", {}).get(
                "requests", 0
            )
        )

    try:
        wait_for(lambda: messages_answered() >= 40, timeout=60, what="the demo driving turns")
        answered = messages_answered()  # at least this many were answered before the signal
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
        log.close()
    output = (tmp_path / "demo.log").read_text()
    assert "stopping" in output, output
    assert not [name for name, port in ports.items() if port_in_use(port)], "a process is left"
    # The bot stops before the channel, so the replies of the turns in flight reach it: with
    # the channel stopped first, each was refused and retried (~10 s of a Ctrl-C).
    logs = Path(re.findall(r"\(logs in (\S+)\)", output)[-1])
    refused = [line for line in (logs / "bot.log").read_text().splitlines() if "refused" in line]
    assert not refused, refused[:3]

    message_turns = stored(
        store,
        "SELECT count(*) FROM spans WHERE service_name = 'bot' "
        "AND name = 'bot.turn' AND attributes LIKE "
        '\'%"activity.type":"message"%\'',
    )[0][0]
    received = stored(
        store,
        "SELECT count(*) FROM logs WHERE event_name = 'BotMessageReceived' "
        'AND attributes LIKE \'%"activityType":"message"%\'',
    )[0][0]
    driven = stored(
        store,
        "SELECT count(*) FROM spans WHERE service_name = 'channel' AND name "
        "= 'POST /driver/conversations/{conversation_id}/messages'",
    )[0][0]
    assert message_turns >= answered and received >= answered and driven >= answered
    print(
        f"\ndemo: {answered} messages answered before SIGTERM; stored: {message_turns} "
        f"message turns, {received} BotMessageReceived, {driven} driven by the channel"
    )


def test_sigterm_with_the_backend_hanging_exits_within_two_export_timeouts(
    tmp_path: Path,
) -> None:
    """A container gets a grace period (30 s by default in Kubernetes) between SIGTERM and
    SIGKILL. With the backend hanging, the bot waits out at most two export timeouts: the
    export in flight (spans and logs side by side) and the last metrics export; what is
    queued behind a failing export is not tried again but counted as dropped."""
    export_timeout = 3
    backend = Backend(hang_seconds=120)
    env = exporting_to(backend.url, OTEL_EXPORTER_OTLP_TIMEOUT=str(export_timeout))
    try:
        with sample_stack(tmp_path, env) as stack:
            backend.set_mode(HANG)
            # 300 turns: several batches per signal are queued behind the hung one.
            turns = asyncio.run(drive(stack.urls["channel"], 20, 15, ["when are you open?"]))
            assert all(turn.replies for turn in turns)
            wait_for(lambda: backend.requests[HANG] > 0, timeout=10, what="a hung export")
            signalled = time.monotonic()
            assert stack.terminate("bot", timeout=60) == 0
            took = time.monotonic() - signalled
            log = stack.log("bot")
            backend.set_mode(ACCEPT)  # the other services stop without waiting
    finally:
        backend.close()
    # Two timeouts, and three seconds for the process itself to stop.
    assert took < 2 * export_timeout + 3, f"the bot took {took:.1f}s to exit"
    assert log.count("is failing") == 1, log[-2000:]
    print(
        f"\nSIGTERM with the backend hanging: exited after {took:.1f}s "
        f"(export timeout {export_timeout}s)"
    )
