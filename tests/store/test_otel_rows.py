"""Times as the exporter's tables take them, through the real engine (chDB)."""

from __future__ import annotations

import pytest

from bot_telemetry.store.otel_rows import timestamp
from tests.support.clickhouse import chdb_engine

NANOSECONDS = [
    0,  # a gauge's point: no start time
    1,
    5_000_000_000,
    12_000_000_007,
    999_999_999_999_999_999,
    1_796_057_523_088_123_456,
]


@pytest.mark.parametrize("nanoseconds", NANOSECONDS)
def test_a_timestamp_reads_back_to_the_nanosecond(nanoseconds: int) -> None:
    with chdb_engine("timestamps") as engine:
        engine.raw("CREATE DATABASE IF NOT EXISTS timestamps")
        engine.raw("CREATE TABLE timestamps.t (x DateTime64(9)) ENGINE = Memory")
        assert engine.insert("t", [{"x": timestamp(nanoseconds)}]) == 1
        assert engine.raw("SELECT toUnixTimestamp64Nano(x) FROM timestamps.t").rows == [
            (nanoseconds,)
        ]
