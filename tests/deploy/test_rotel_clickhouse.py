"""The production path: the sample bot -> rotel (a third-party collector) -> ClickHouse ->
``bot-telemetry --store clickhouse://...`` shows what the laptop path shows.

The sample bot's four processes play the same scripted conversations twice: once exporting
straight to ``bot-telemetry serve`` with its DuckDB store, once to rotel, whose ``clickhouse``
exporter writes the Collector exporter's tables over ClickHouse's HTTP interface (RowBinary,
LZ4-compressed blocks) into the test server (tests/support/clickhouse_server.py: the HTTP
interface over chDB). The app map and the events read from ClickHouse, by a ``serve
--read-only`` reader and by the CLI, must equal the DuckDB path's.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.store.otel_rows import attribute_text
from sample_bot.processes import Fleet
from tests.deploy.test_rotel_collector import (
    PER_RUN_PROPERTIES,
    cli,
    expected_edges,
    play_sample_bot,
    rotel_binary,
    start_collector,
)
from tests.support.clickhouse import USERS, ClickHouseServer, clickhouse_server
from tests.support.ports import free_port
from tests.support.processes import wait_until_ready

pytestmark = pytest.mark.timeout(120)


@contextmanager
def rotel_to_clickhouse(server: ClickHouseServer, workdir: Path) -> Iterator[str]:
    """rotel taking OTLP/HTTP on a free port and writing to the test server's ``otel``."""
    http_port, grpc_port = free_port(), free_port()
    log = workdir / "rotel-clickhouse.log"
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
                "clickhouse",
                "--clickhouse-exporter-endpoint",
                f"http://127.0.0.1:{server.port}",
                "--clickhouse-exporter-database",
                "otel",
                "--clickhouse-exporter-user",
                "reader",
                "--clickhouse-exporter-password",
                USERS["reader"],
                "--batch-timeout",
                "100ms",
                "--pid-file",
                str(workdir / "rotel-clickhouse.pid"),
                "--log-file",
                str(log),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_until_ready(url, process, log, timeout=15)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def app_map(*where: str) -> dict[str, Any]:
    found = json.loads(cli("appmap", "--format", "json", *where))
    return {
        "nodes": sorted((n["id"], n["kind"], n["requests"], n["failures"]) for n in found["nodes"]),
        "edges": sorted(
            (e["source"], e["target"], e["calls"], e["failures"]) for e in found["edges"]
        ),
    }


def as_text(value: Any) -> str:
    """An attribute value as text, numbers in one spelling: ClickHouse keeps text, and
    exporters spell a double differently (the Collector writes 1.0 as "1", rotel as "1.0")."""
    text = attribute_text(value)
    try:
        return repr(float(text))
    except ValueError:
        return text


def events(*where: str) -> Counter[str]:
    """Each event's service, name and properties (values as text: ClickHouse keeps text)."""
    output = cli("events", "--format", "jsonl", "--limit", "100000", *where)
    found: Counter[str] = Counter()
    for line in output.splitlines():
        event = json.loads(line)
        properties = {
            key: as_text(value)
            for key, value in event["properties"].items()
            if key not in PER_RUN_PROPERTIES
        }
        found[json.dumps([event["service"], event["name"], properties], sort_keys=True)] += 1
    return found


def test_rotel_into_clickhouse_shows_what_the_embedded_store_shows(tmp_path: Path) -> None:
    collectors = Fleet(tmp_path, {})
    with clickhouse_server(tmp_path / "clickhouse") as server:
        store = server.url("otel")
        # rotel creates no tables: the schema command does, as an operator would.
        assert cli("clickhouse-schema", "--store", store) == ""
        try:
            direct = start_collector(collectors, tmp_path / "direct.duckdb")
            port = free_port()
            serve = ["-m", "bot_telemetry.cli", "serve", "--store", store, "--read-only"]
            reader = collectors.start("reader", [*serve, "--port", str(port)])
            reader_url = f"http://127.0.0.1:{port}"
            collectors.wait_ready(reader, f"{reader_url}/api/health", timeout=30)
            with rotel_to_clickhouse(server, tmp_path) as rotel_url:
                direct_stats = play_sample_bot(tmp_path / "direct", direct)
                rotel_stats = play_sample_bot(tmp_path / "rotel", rotel_url)
                expected = expected_edges(direct_stats)
                assert expected == expected_edges(rotel_stats), "the two runs did different work"
                assert expected[("bot", "nlu")][1] > 0, "the script should hit an nlu failure"

                deadline = time.monotonic() + 30
                while True:
                    maps = app_map("--url", direct), app_map("--store", store)
                    lists = events("--url", direct), events("--store", store)
                    if (maps[0] == maps[1] and lists[0] == lists[1]) or (
                        time.monotonic() > deadline
                    ):
                        break
                    time.sleep(0.5)
            from_reader = app_map("--url", reader_url)
        finally:
            collectors.stop()

    direct_map, clickhouse_map = maps
    for edge, counts in expected.items():
        assert {(s, t): (c, f) for s, t, c, f in direct_map["edges"]}.get(edge) == counts, edge
    assert clickhouse_map == direct_map
    assert from_reader == direct_map
    only_direct, only_clickhouse = lists[0] - lists[1], lists[1] - lists[0]
    assert not only_direct and not only_clickhouse, (
        list(only_direct)[:3],
        list(only_clickhouse)[:3],
    )
    assert sum(lists[0].values()) > 0
