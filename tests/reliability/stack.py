"""The sample's processes (and optionally ``bot-telemetry serve``) as real processes on free
loopback ports, and the measurements the reliability tests take of them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot_telemetry.store.database import Store
from sample_bot.processes import Child, Fleet
from tests.support.ports import free_port
from tests.support.processes import RunningProcess, running

SERVICES = ("nlu", "qna", "bot", "channel")


@dataclass
class Stack:
    fleet: Fleet
    urls: dict[str, str]
    children: dict[str, Child]

    def rss_bytes(self, name: str) -> int:
        """The process's resident set size, from /proc."""
        pid = self.children[name].process.pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS for {name} ({pid})")

    def log(self, name: str) -> str:
        return self.children[name].log.read_text(errors="replace")

    def flush(self, name: str) -> bool:
        request = urllib.request.Request(
            f"{self.urls[name]}/telemetry/flush", data=b"", method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return bool(json.loads(response.read())["flushed"])

    def stats(self, name: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.urls[name]}/stats", timeout=10) as response:
            found: dict[str, Any] = json.loads(response.read())
            return found

    def terminate(self, name: str, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit code (SIGKILL only if it does not stop in time)."""
        process = self.children[name].process
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            raise AssertionError(f"{name} did not stop within {timeout}s of SIGTERM") from None


def serve_args(port: int, store: Path) -> list[str]:
    return ["-m", "bot_telemetry.cli", "serve", "--port", str(port), "--store", str(store)]


@contextmanager
def sample_stack(
    log_dir: Path,
    env: Mapping[str, str],
    *,
    services: Sequence[str] = SERVICES,
    bot_args: Sequence[str] = (),
    service_args: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[Stack]:
    """Start the sample's services (nlu, qna, bot, channel) exporting as ``env`` says;
    ``service_args`` adds options per service (``{"nlu": ["--fail-every", "7"]}``)."""
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    commands = {
        "nlu": ["-m", "sample_bot.nlu"],
        "qna": ["-m", "sample_bot.qna"],
        "bot": [
            "-m",
            "sample_bot",
            "--nlu-url",
            urls["nlu"],
            "--qna-url",
            urls["qna"],
            "--channel-url",
            urls["channel"],
            *bot_args,
        ],
        "channel": ["-m", "sample_bot.channel", "--bot-url", f"{urls['bot']}/api/messages"],
    }
    fleet = Fleet(log_dir, {"BOT_TELEMETRY_PSEUDONYM_KEY": "reliability-tests", **env})
    try:
        children = {
            name: fleet.start(
                name,
                [*commands[name], *(service_args or {}).get(name, ()), "--port", str(ports[name])],
            )
            for name in services
        }
        for name, child in children.items():
            fleet.wait_ready(child, f"{urls[name]}/health", timeout=60)
        yield Stack(fleet, urls, children)
    finally:
        fleet.stop()


@dataclass
class Turn:
    conversation: str
    status: int
    bot_status: int
    replies: list[dict[str, Any]]
    trace_id: str


async def start_conversation(
    http: aiohttp.ClientSession, channel: str, user: str, name: str = "Ana"
) -> str:
    async with http.post(
        f"{channel}/driver/conversations", json={"userId": user, "userName": name}
    ) as response:
        assert response.status in (200, 201), await response.text()
        return str((await response.json())["conversationId"])


async def say(http: aiohttp.ClientSession, channel: str, conversation: str, text: str) -> Turn:
    async with http.post(
        f"{channel}/driver/conversations/{conversation}/messages", json={"text": text}
    ) as response:
        answer = await response.json()
        traceresponse = response.headers.get("traceresponse", "--")
        return Turn(
            conversation,
            response.status,
            int(answer.get("botStatus", 0)),
            list(answer.get("replies", [])),
            traceresponse.split("-")[1],
        )


async def drive(
    channel: str,
    conversations: int,
    turns: int,
    texts: Sequence[str],
    concurrency: int | None = None,
    user_prefix: str = "user",
) -> list[Turn]:
    """``conversations`` conversations of ``turns`` messages each, all at once (or at most
    ``concurrency`` at a time); every turn, answered or not."""
    limit = asyncio.Semaphore(concurrency or conversations)
    connector = aiohttp.TCPConnector(limit=concurrency or conversations)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one(index: int) -> list[Turn]:
            async with limit:
                conversation = await start_conversation(http, channel, f"{user_prefix}-{index}")
                return [
                    await say(http, channel, conversation, texts[(index + n) % len(texts)])
                    for n in range(turns)
                ]

        done = await asyncio.gather(*(one(index) for index in range(conversations)))
    return [turn for turns_of_one in done for turn in turns_of_one]


def exporting_to(url: str, **extra: str) -> dict[str, str]:
    """The environment that points every process's exporters at ``url``."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": url,
        **extra,
        "PATH": os.environ.get("PATH", ""),
        # The tests' temp folder (tests/conftest.py), so the demo's logs are not left in /tmp.
        "TMPDIR": tempfile.gettempdir(),
    }


@dataclass
class Collector:
    process: RunningProcess
    url: str


@contextmanager
def collector(store: Path, port: int | None = None) -> Iterator[Collector]:
    """``bot-telemetry serve`` as a real process on a (free) loopback port."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with running(serve_args(port, store), ready_url=f"{url}/api/health") as process:
        yield Collector(process, url)


Query = Callable[..., list[tuple[Any, ...]]]


@contextmanager
def reading(store: Path) -> Iterator[Query]:
    """``query(sql, parameters=())``: rows of queries over the store file, on one read-only
    connection (the collector must have stopped). Opening the file costs far more than a
    small query: a test that opened it per query (or per turn) spent seconds on it."""
    db = Store.open(store, read_only=True)
    try:
        with db.reader() as connection:

            def query(sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
                return [tuple(row) for row in connection.execute(sql, list(parameters)).fetchall()]

            yield query
    finally:
        db.close()


def stored(store: Path, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of a query over the store file (read-only: the collector must have stopped)."""
    with reading(store) as query:
        return query(sql, parameters)


@dataclass
class Load:
    """Conversations that keep talking until told to stop; every turn timed and kept."""

    channel: str
    conversations: int
    text: str = "when are you open?"
    turns: list[tuple[float, Turn]] = field(default_factory=list)  # (monotonic when answered)
    failures: int = 0
    _stop: asyncio.Event | None = None
    _progress: asyncio.Event | None = None

    def answered_before(self, instant: float) -> list[Turn]:
        return [
            turn
            for at, turn in self.turns
            if at < instant and (turn.status, turn.bot_status) == (200, 201) and turn.replies
        ]

    async def run(self, until: Callable[[Load], Awaitable[None]]) -> None:
        """Talk until ``until(self)`` returns, then stop."""
        self._stop, self._progress = asyncio.Event(), asyncio.Event()
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as http:

            async def talk(index: int) -> None:
                assert self._stop is not None and self._progress is not None
                try:
                    conversation = await start_conversation(http, self.channel, f"load-{index}")
                except (TimeoutError, aiohttp.ClientError, AssertionError):
                    self.failures += 1
                    return
                while not self._stop.is_set():
                    try:
                        turn = await say(http, self.channel, conversation, self.text)
                    except (TimeoutError, aiohttp.ClientError, ValueError):
                        self.failures += 1
                        await asyncio.sleep(0.05)  # the bot is gone: do not spin
                        continue
                    self.turns.append((time.monotonic(), turn))
                    self._progress.set()

            talkers = [asyncio.create_task(talk(index)) for index in range(self.conversations)]
            try:
                await until(self)
            finally:
                self._stop.set()
                await asyncio.gather(*talkers)

    def answered(self) -> int:
        return sum(1 for _, turn in self.turns if turn.replies)

    async def wait_answered(self, count: int) -> None:
        assert self._progress is not None, "call from within run()"
        while self.answered() < count:
            self._progress.clear()
            await self._progress.wait()
