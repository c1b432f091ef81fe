"""A real third-party collector between the sample bot and ``bot-telemetry serve`` changes nothing.

The sample bot's four processes (channel, bot, nlu, qna) play the same scripted
conversations twice: once exporting straight to one ``bot-telemetry serve`` (the laptop
topology), once to rotel, an OTLP collector shipped as a binary on PyPI, which batches,
re-encodes (gzip) and forwards to a second ``bot-telemetry serve`` (the production
topology, with a collector in the middle). The two app maps and event lists, read with the
CLI, must be the same, and must match what the services themselves counted.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sample_bot.driver import ChannelDriver
from sample_bot.processes import Fleet
from sample_bot.scripts import script_for
from tests.support.ports import free_port
from tests.support.processes import run_cli_here, wait_until_ready

CONVERSATIONS = 4
#: nlu answers 503 to every 4th request, so the maps also carry failed dependency calls.
NLU_FAIL_EVERY = 4
#: The same key in both runs, so pseudonymous ids (enduser.pseudo.id, ...) are comparable.
PSEUDONYM_KEY = "0123456789abcdef0123456789abcdef"
#: Event properties that differ between two runs of the same script by design (new ids; the
#: session id is the conversation id's pseudonym).
PER_RUN_PROPERTIES = frozenset(
    {"activityId", "conversationId", "correlationId", "replyActivityId", "InstanceId", "session.id"}
    # how long the user took to answer a prompt; the vault's ciphertext (a fresh nonce each time)
    | {"questionDurationMs", "encryptedUserId"}
)

pytestmark = pytest.mark.timeout(90)


def rotel_binary() -> Path:
    if sys.platform == "win32":
        pytest.skip("rotel ships no Windows binary")
    spec = importlib.util.find_spec("rotel")
    assert spec is not None and spec.origin, "rotel is in the dev extra: pip install -e '.[dev]'"
    binary = Path(spec.origin).parent / "rotel-agent"
    assert binary.is_file(), f"the rotel wheel has no collector binary at {binary}"
    return binary


@contextmanager
def rotel(forward_to: str, workdir: Path) -> Iterator[str]:
    """rotel listening for OTLP/HTTP on a free port, exporting OTLP/HTTP to ``forward_to``."""
    http_port, grpc_port = free_port(), free_port()
    log = workdir / "rotel.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(rotel_binary()),
                "start",
                "--otlp-http-endpoint",
                f"127.0.0.1:{http_port}",
                "--otlp-grpc-endpoint",
                f"127.0.0.1:{grpc_port}",
                "--exporter",
                "otlp",
                "--otlp-exporter-protocol",
                "http",
                "--otlp-exporter-endpoint",
                forward_to,
                "--batch-timeout",
                "100ms",
                "--pid-file",
                str(workdir / "rotel.pid"),
                "--log-file",
                str(log),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{http_port}"
    try:
        # Any answer below 500 (rotel says 404 to GET /) means it is listening.
        wait_until_ready(url, process, log, timeout=15)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def start_collector(fleet: Fleet, store: Path) -> str:
    port = free_port()
    child = fleet.start(
        f"serve-{store.stem}",
        ["-m", "bot_telemetry.cli", "serve", "--port", str(port), "--store", str(store)],
    )
    url = f"http://127.0.0.1:{port}"
    fleet.wait_ready(child, f"{url}/api/health", timeout=30)
    return url


def play_sample_bot(workdir: Path, otlp_endpoint: str) -> dict[str, Any]:
    """Run channel, bot, nlu and qna exporting to ``otlp_endpoint``; drive the scripts;
    stop them (which flushes their telemetry); what each service counted."""
    workdir.mkdir()
    fleet = Fleet(
        workdir,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
            "BOT_TELEMETRY_PSEUDONYM_KEY": PSEUDONYM_KEY,
        },
    )
    ports = {name: free_port() for name in ("nlu", "qna", "bot", "channel")}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    commands = {
        "nlu": ["-m", "sample_bot.nlu", "--fail-every", str(NLU_FAIL_EVERY)],
        "qna": ["-m", "sample_bot.qna"],
        "bot": [
            "-m",
            "sample_bot",
            "--nlu-url",
            url["nlu"],
            "--qna-url",
            url["qna"],
            "--channel-url",
            url["channel"],
        ],
        "channel": ["-m", "sample_bot.channel", "--bot-url", f"{url['bot']}/api/messages"],
    }
    try:
        children = {
            name: fleet.start(name, [*command, "--port", str(ports[name])])
            for name, command in commands.items()
        }
        for name, child in children.items():
            fleet.wait_ready(child, f"{url[name]}/health", timeout=45)
        asyncio.run(drive(url["channel"]))
        return {name: get_json(f"{url[name]}/stats") for name in commands}
    finally:
        fleet.stop()


async def drive(channel_url: str) -> None:
    async with ChannelDriver(channel_url) as channel:
        for index in range(CONVERSATIONS):
            script = script_for(index)
            conversation = await channel.start(f"user-{index:04d}", script.user_name)
            for text in script.messages:
                await channel.say(conversation, text)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def cli(*arguments: str) -> str:
    # In this process: polled until both sides agree, four readouts a round (tests/cli runs
    # each command as a process of its own).
    result = run_cli_here(*arguments)
    assert result.returncode == 0, result.stderr
    return result.stdout


def app_map(collector: str) -> dict[str, Any]:
    """``bot-telemetry appmap --format json`` without the latencies, which differ per run."""
    found = json.loads(cli("appmap", "--format", "json", "--url", collector))
    return {
        "nodes": sorted((n["id"], n["kind"], n["requests"], n["failures"]) for n in found["nodes"]),
        "edges": sorted(
            (e["source"], e["target"], e["calls"], e["failures"]) for e in found["edges"]
        ),
    }


def events(collector: str) -> Counter[str]:
    """``bot-telemetry events --format jsonl``: each event's service, name and properties,
    without the ids a second run gives new values."""
    output = cli("events", "--format", "jsonl", "--limit", "100000", "--url", collector)
    found: Counter[str] = Counter()
    for line in output.splitlines():
        event = json.loads(line)
        properties = {
            key: value
            for key, value in event["properties"].items()
            if key not in PER_RUN_PROPERTIES
        }
        found[json.dumps([event["service"], event["name"], properties], sort_keys=True)] += 1
    return found


def served(stats: dict[str, Any], prefix: str) -> tuple[int, int]:
    """(requests, failures) a service counted on its routes starting with ``prefix``."""
    routes = [entry for route, entry in stats["byRoute"].items() if route.startswith(prefix)]
    return sum(r["requests"] for r in routes), sum(r["failures"] for r in routes)


def received(found: Counter[str]) -> int:
    return sum(n for key, n in found.items() if json.loads(key)[1] == "BotMessageReceived")


def expected_edges(stats: dict[str, dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
    """Calls and failures per edge, as the callees counted them."""
    return {
        ("channel", "bot"): served(stats["bot"], "POST /api/messages"),
        ("bot", "channel"): served(stats["channel"], "POST /v3/conversations"),
        ("bot", "nlu"): served(stats["nlu"], "GET /luis/"),
        ("bot", "qna"): served(stats["qna"], "POST /qnamaker/"),
    }


def test_rotel_between_the_sample_bot_and_the_collector_changes_nothing(tmp_path: Path) -> None:
    collectors = Fleet(tmp_path, {})
    try:
        direct = start_collector(collectors, tmp_path / "direct.duckdb")
        behind_rotel = start_collector(collectors, tmp_path / "via-rotel.duckdb")
        with rotel(behind_rotel, tmp_path) as rotel_url:
            direct_stats = play_sample_bot(tmp_path / "direct", direct)
            rotel_stats = play_sample_bot(tmp_path / "rotel", rotel_url)
            expected = expected_edges(direct_stats)
            activities = expected[("channel", "bot")][0]
            assert expected == expected_edges(rotel_stats), "the two runs did different work"
            assert expected[("bot", "nlu")][1] > 0, "the script should hit an nlu failure"

            deadline = time.monotonic() + 30
            while True:
                maps = app_map(direct), app_map(behind_rotel)
                lists = events(direct), events(behind_rotel)
                edges = {(s, t): (calls, failures) for s, t, calls, failures in maps[1]["edges"]}
                complete = all(edges.get(edge) == counts for edge, counts in expected.items())
                complete = complete and received(lists[1]) == activities
                if (complete and maps[0] == maps[1] and lists[0] == lists[1]) or (
                    time.monotonic() > deadline
                ):
                    break
                time.sleep(0.5)
    finally:
        collectors.stop()

    direct_map, rotel_map = maps
    direct_events, rotel_events = lists
    for edge, counts in expected.items():
        assert {(s, t): (c, f) for s, t, c, f in direct_map["edges"]}.get(edge) == counts, edge
    assert rotel_map == direct_map
    assert rotel_events == direct_events
    # One BotMessageReceived per activity the bot was sent, on both paths.
    assert received(direct_events) == activities
    names = Counter(json.loads(key)[1] for key in rotel_events.elements())
    assert names["BotMessageReceived"] > 0 and names["BotMessageSend"] > 0, names
    assert any(name.startswith("LuisIntent.") for name in names), names
    assert names["QnAMessage"] > 0, names
