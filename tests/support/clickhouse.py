"""ClickHouse for tests, two ways, both the real engine (chDB, the ``clickhouse`` extra):

with chdb_engine("otel") as engine:       # in this process, a database of its own
    engine.create_schema()

with clickhouse_server(tmp_path) as server:  # ClickHouse's HTTP interface, own process
    engine = HTTPClickHouseEngine.open(ClickHouseLocation.parse(server.url("otel")))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot_telemetry.store.clickhouse import ChDBEngine
from bot_telemetry.store.clickhouse_relations import Tables
from tests.support.ports import free_port
from tests.support.processes import RunningProcess, running

#: The users the test server knows: name -> password.
USERS = {"default": "", "reader": "s3cret pass"}


@contextmanager
def chdb_engine(database: str) -> Iterator[ChDBEngine]:
    """An in-memory chDB engine on ``database`` (dropped afterwards); skips the test when
    the clickhouse extra is not installed."""
    pytest.importorskip("chdb", reason="the clickhouse extra is not installed")
    engine = ChDBEngine(tables=Tables(database=database))
    try:
        yield engine
    finally:
        engine.raw(f"DROP DATABASE IF EXISTS `{database}`")
        engine.close()


@dataclass
class ClickHouseServer:
    process: RunningProcess
    port: int

    def url(self, database: str = "otel", user: str = "reader") -> str:
        """A clickhouse:// URL for ``user`` (password included) on ``database``."""
        from urllib.parse import quote

        return f"clickhouse://{user}:{quote(USERS[user], safe='')}@127.0.0.1:{self.port}/{database}"


@contextmanager
def clickhouse_server(folder: Path, port: int | None = None) -> Iterator[ClickHouseServer]:
    """tests/support/clickhouse_server.py on ``port`` (default: a free one), its data in
    ``folder``."""
    pytest.importorskip("chdb", reason="the clickhouse extra is not installed")
    pytest.importorskip("clickhouse_connect", reason="the clickhouse extra is not installed")
    port = port or free_port()
    users = [f"--user={name}:{password}" for name, password in USERS.items()]
    args = ["-m", "tests.support.clickhouse_server", "--path", str(folder), "--port", str(port)]
    with running([*args, *users], ready_url=f"http://127.0.0.1:{port}/ping") as process:
        yield ClickHouseServer(process, port)
