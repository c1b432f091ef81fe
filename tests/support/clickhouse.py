"""ClickHouse for tests: chDB, the real engine in this process (the ``clickhouse`` extra).

with chdb_engine("otel") as engine:   # a database of its own in the process's chDB
    engine.create_schema()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot_telemetry.store.clickhouse import ChDBEngine
from bot_telemetry.store.clickhouse_relations import Tables


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
