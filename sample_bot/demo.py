"""``bot-telemetry demo``: the sample bot, its services and the collector, talking.

Starts the collector and UI (``bot-telemetry serve``), ``nlu``, ``qna``, ``bot`` and
``channel`` as processes, drives scripted conversations through the channel, prints the
app map and the UI's address, and runs until Ctrl-C; then stops everything it started.

    bot-telemetry demo                              # until Ctrl-C
    bot-telemetry demo --conversations 20 --exit    # for scripts: map, then exit 0
    python -m sample_bot.demo --runtime agents      # the bot on the Microsoft 365 Agents SDK
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from bot_telemetry.analytics.appmap import AppMap
from bot_telemetry.analytics.window import TimeWindow
from bot_telemetry.cli.access import ServerSource
from bot_telemetry.privacy.vault import VAULT_KEYS_ENV, new_key
from bot_telemetry.store.database import DEFAULT_STORE
from bot_telemetry.web.render import as_text

from .channel.directline import WEBCHAT_DIR
from .driver import ChannelDriver, DriverError
from .processes import Fleet, StartupError, port_in_use
from .scripts import script_for
from .settings import RUNTIMES

DEFAULT_PORTS = {"collector": 4318, "nlu": 5101, "qna": 5102, "bot": 3978, "channel": 5103}


@dataclass
class Summary:
    """What the demo did, counted on both sides: what it sent and what the services served."""

    conversations: int = 0
    activities_sent: int = 0
    messages_sent: int = 0
    replies_received: int = 0
    services: dict[str, Any] = field(default_factory=dict)
    #: Which script each conversation played, by conversation id.
    scripts: dict[str, str] = field(default_factory=dict)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sample_bot.demo",
        description="Run the sample bot, its services and the collector; drive conversations.",
    )
    parser.add_argument(
        "--conversations",
        type=int,
        default=24,
        metavar="N",
        help="scripted conversations to drive (default 24)",
    )
    parser.add_argument(
        "--exit",
        action="store_true",
        help="exit after printing the app map instead of running until Ctrl-C",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="botbuilder",
        help="what the bot runs on: botbuilder-python (default) or the Microsoft 365 Agents SDK",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_STORE,
        help=f"the collector's store file (default {DEFAULT_STORE})",
    )
    for name, port in DEFAULT_PORTS.items():
        parser.add_argument(f"--{name}-port", type=int, default=port, help=f"default {port}")
    parser.add_argument(
        "--nlu-fail-every",
        type=int,
        default=13,
        metavar="N",
        help="nlu fails one request in N (0: never; default 13)",
    )
    parser.add_argument(
        "--qna-fail-every",
        type=int,
        default=5,
        metavar="N",
        help="qna fails one request in N (0: never; default 5)",
    )
    parser.add_argument(
        "--summary", type=Path, help="also write what was driven and served as JSON to this file"
    )
    args = parser.parse_args(argv)
    if args.conversations < 0:
        parser.error("--conversations must not be negative")
    ports = [getattr(args, f"{name}_port") for name in DEFAULT_PORTS]
    if len(set(ports)) != len(ports):
        parser.error(f"the five ports must differ: {ports}")
    for value in ports:
        if not 1 <= value <= 65535:
            parser.error(f"{value} is not a TCP port")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    busy = [
        f"port {getattr(args, f'{name}_port')} (--{name}-port) is already in use"
        for name in DEFAULT_PORTS
        if port_in_use(getattr(args, f"{name}_port"))
    ]
    if busy:
        print(
            "demo: " + "; ".join(busy) + ". Stop what uses it or pick another port.",
            file=sys.stderr,
        )
        return 2
    # Its user's only, as serve makes it: serve keeps the mode of a folder that exists, and
    # the store, client journal and exhausts in it hold people's messages and ids.
    args.store.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="bot-telemetry-demo-"))
    collector_url = f"http://127.0.0.1:{args.collector_port}"
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector_url,
        # One key for all processes, so pseudonymous ids match across them.
        "BOT_TELEMETRY_PSEUDONYM_KEY": os.environ.get("BOT_TELEMETRY_PSEUDONYM_KEY")
        or secrets.token_hex(16),
        # The identity vault: the bot encrypts consenting users' ids, serve's private
        # exhaust decrypts them.
        VAULT_KEYS_ENV: os.environ.get(VAULT_KEYS_ENV) or f"demo:{new_key()}",
    }
    fleet = Fleet(log_dir, env)
    # SIGINT too: a shell that starts the demo in the background leaves SIGINT ignored.
    previous = {
        signum: signal.signal(signum, _raise_interrupt)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        started = time.time_ns()
        _start_all(fleet, args)
        summary = asyncio.run(_drive(args, _progress(sys.stderr, args.conversations)))
        summary.services = {
            name: _get_json(f"{_url(args, name)}/stats")
            for name in ("nlu", "qna", "bot", "channel")
        }
        app_map = _collected_app_map(args, collector_url, summary, started)
        print(as_text(app_map))
        _print_summary(summary)
        print(_exhaust_line(collector_url, args.store))
        if args.summary:
            args.summary.write_text(json.dumps(asdict(summary), indent=2))
        if args.exit:
            print(_store_line(args, log_dir))
        else:
            print(f"UI: {collector_url}/   (logs in {log_dir})")
            print(_webchat_line(args))
            print(
                f"The bot is at {_url(args, 'bot')}/api/messages (Bot Framework Emulator). "
                "Ctrl-C stops everything."
            )
            threading.Event().wait()
        return 0
    except KeyboardInterrupt:
        print("\nstopping...", file=sys.stderr)
        fleet.stop()
        # The UI's address just went away: say where what was collected is, as --exit does.
        if args.store.exists():
            print(_store_line(args, log_dir), flush=True)
        return 0
    except (StartupError, DriverError) as error:
        print(f"demo: {error}\n(logs in {log_dir})", file=sys.stderr)
        return 1
    finally:
        fleet.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _store_line(args: argparse.Namespace, log_dir: Path) -> str:
    return (
        f"The store is {args.store}: `{_cli_command()} serve --store {args.store}` opens the "
        f"UI on it again, and the demo run again adds to it.   (logs in {log_dir})"
    )


def _cli_command() -> str:
    """``bot-telemetry`` as this shell can run it: make demo runs .venv/bin/python, and a fresh
    clone's .venv is not on PATH, so a bare name would be 'command not found'."""
    beside = Path(sys.executable).parent / "bot-telemetry"
    on_path = shutil.which("bot-telemetry")
    if not beside.is_file() or (on_path and Path(on_path).resolve() == beside.resolve()):
        return "bot-telemetry"
    try:
        return str(beside.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(beside)


def _webchat_line(args: argparse.Namespace) -> str:
    if not (WEBCHAT_DIR / "dist" / "webchat.js").is_file():
        return "Web chat: not built (needs Node.js and npm): run `bash scripts/build-webchat`"
    return f"Web chat: {_url(args, 'channel')}/webchat/   (talk to the bot in your browser)"


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _url(args: argparse.Namespace, name: str) -> str:
    return f"http://127.0.0.1:{getattr(args, f'{name}_port')}"


def _start_all(fleet: Fleet, args: argparse.Namespace) -> None:
    collector = fleet.start(
        "collector",
        [
            "-m",
            "bot_telemetry.cli",
            "serve",
            "--port",
            str(args.collector_port),
            "--store",
            str(args.store),
            # The web chat page (on the channel) sends its traces and events from the browser.
            "--cors-origin",
            _url(args, "channel"),
            "--cors-origin",
            f"http://localhost:{args.channel_port}",
        ],
    )
    fleet.wait_ready(collector, f"{_url(args, 'collector')}/api/health")
    # Stopped in the reverse order: the bot before the channel, so the turns in flight when
    # Ctrl-C comes still deliver their replies (to a stopped channel each was refused and
    # retried by botbuilder's connector, ~10 s) and their calls to nlu and qna.
    services = [
        ("nlu", ["-m", "sample_bot.nlu", "--fail-every", str(args.nlu_fail_every)]),
        ("qna", ["-m", "sample_bot.qna", "--fail-every", str(args.qna_fail_every)]),
        ("channel", ["-m", "sample_bot.channel", "--bot-url", f"{_url(args, 'bot')}/api/messages"]),
        (
            "bot",
            [
                "-m",
                "sample_bot",
                "--runtime",
                args.runtime,
                "--nlu-url",
                _url(args, "nlu"),
                "--qna-url",
                _url(args, "qna"),
                "--channel-url",
                _url(args, "channel"),
            ],
        ),
    ]
    # Start them all, then wait: they import their SDKs in parallel.
    children = [
        (fleet.start(name, [*command, "--port", str(getattr(args, f"{name}_port"))]), name)
        for name, command in services
    ]
    for child, name in children:
        fleet.wait_ready(child, f"{_url(args, name)}/health")


async def _drive(args: argparse.Namespace, progress: Any) -> Summary:
    summary = Summary()
    async with ChannelDriver(_url(args, "channel")) as channel:
        for index in range(args.conversations):
            script = script_for(index)
            conversation = await channel.start(f"user-{index:04d}", script.user_name)
            summary.scripts[conversation] = script.name
            summary.activities_sent += 1
            for text in script.messages:
                replies = await channel.say(conversation, text)
                summary.activities_sent += 1
                summary.messages_sent += 1
                summary.replies_received += len(replies)
            summary.conversations += 1
            progress(index + 1)
    # Welcome messages answer conversationUpdate: count everything the channel recorded.
    channel_stats = _get_json(f"{_url(args, 'channel')}/stats")
    summary.replies_received = sum(
        entry["requests"]
        for route, entry in channel_stats["byRoute"].items()
        if route.startswith("POST /v3/conversations")
    )
    return summary


def _progress(stream: TextIO, total: int) -> Any:
    width = 30
    interactive = stream.isatty()

    def show(done: int) -> None:
        if not interactive and done not in (total, total // 2):
            return
        filled = width * done // max(total, 1)
        bar = "#" * filled + "." * (width - filled)
        end = "\n" if done == total or not interactive else ""
        stream.write(f"\rconversations [{bar}] {done}/{total}{end}")
        stream.flush()

    if total == 0:
        stream.write("conversations: none asked for\n")
    return show


def _collected_app_map(
    args: argparse.Namespace, collector_url: str, summary: Summary, started_ns: int
) -> AppMap:
    """Flush every service, then wait until the collector has the channel->bot calls."""
    for name in ("channel", "bot", "qna", "nlu"):
        _post(f"{_url(args, name)}/telemetry/flush")
    source = ServerSource(collector_url)
    window = TimeWindow(start_ns=started_ns)
    deadline = time.monotonic() + 15
    while True:
        app_map = source.app_map(window)
        calls = {(e["source"], e["target"]): e["calls"] for e in app_map["edges"]}
        if (
            calls.get(("channel", "bot"), 0) >= summary.activities_sent
            or time.monotonic() > deadline
        ):
            return app_map
        time.sleep(0.2)


def _exhaust_line(collector_url: str, store: Path) -> str:
    """Ask serve for today's response exhaust (UCI's API), say where it is and how to find it
    again once its link has expired (the tag is this run's, so no one could guess it)."""
    now = time.gmtime()
    today = time.strftime("%Y-%m-%d", now)
    # A tag of this run's: one tag gives one request id a day, so a run on a store an earlier
    # run (of this or another version) used that day got that run's job and file back.
    tag = time.strftime("demo-%H%M%S", now)
    request = {
        "dataset": "uci-response-exhaust",
        "tag": tag,
        "requestedBy": "demo",
        "requestedChannel": "demo",
        "datasetConfig": {
            "type": "uci-response-exhaust",
            "conversationId": "bot",
            "startDate": today,
            "endDate": today,
        },
    }
    try:
        submitted = _post_json(f"{collector_url}/dataset/v1/request/submit", {"request": request})
        request_id = submitted["result"]["requestId"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            read = _get_json(
                f"{collector_url}/dataset/v1/request/read/{tag}?requestId={request_id}"
            )["result"]
            if read["status"] in ("SUCCESS", "FAILED"):
                break
            time.sleep(0.2)
    except (OSError, ValueError, KeyError) as error:
        return f"Data exhaust: could not be made ({error})"
    if read["status"] != "SUCCESS":
        return f"Data exhaust: {read['status']} {read.get('statusMessage', '')}"
    return (
        "Data exhaust (every answered prompt; answers only of users who consented), link "
        f"valid 30 minutes: {read['downloadUrls'][0]}\n"
        f"  fresh links later: tag {tag} on the UI's Exhausts page, or "
        f"`{_cli_command()} exhaust list {tag} --store {store}`"
    )


def _print_summary(summary: Summary) -> None:
    nlu, qna = summary.services.get("nlu", {}), summary.services.get("qna", {})
    print(
        f"drove {summary.conversations} conversations: {summary.activities_sent} activities to "
        f"the bot, {summary.replies_received} replies back; nlu served {nlu.get('requests')} "
        f"({nlu.get('failures')} failed on purpose), qna {qna.get('requests')} "
        f"({qna.get('failures')} failed on purpose)"
    )


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _post_json(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _post(url: str) -> Any:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


if __name__ == "__main__":
    sys.exit(main())
