"""The cross-engine fixture: the same telemetry in the DuckDB store and in ClickHouse."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bot_telemetry.store.clickhouse import ChDBEngine, HTTPClickHouseEngine
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine
from bot_telemetry.store.location import ClickHouseLocation
from tests.support.bot_traffic import Traffic, generate, load_clickhouse, load_duckdb
from tests.support.clickhouse import chdb_engine, clickhouse_server


@dataclass
class Engines:
    traffic: Traffic
    duckdb: DuckDBEngine
    clickhouse: ChDBEngine
    #: The same data written with the exporter's older value spellings.
    clickhouse_legacy: ChDBEngine
    #: The same data through ClickHouse's HTTP interface (clickhouse-connect), another process.
    clickhouse_http: HTTPClickHouseEngine


@pytest.fixture(scope="session")
def traffic() -> Traffic:
    return generate()


@pytest.fixture(scope="session")
def engines(traffic: Traffic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    store = Store.open(tmp_path_factory.mktemp("cross-engine") / "store.duckdb")
    load_duckdb(store, traffic)
    folder = tmp_path_factory.mktemp("clickhouse-server")
    with (
        chdb_engine("otel") as current,
        chdb_engine("otel_legacy") as legacy,
        clickhouse_server(folder) as server,
    ):
        load_clickhouse(current, traffic)
        load_clickhouse(legacy, traffic, legacy=True)
        http = HTTPClickHouseEngine.open(
            ClickHouseLocation.parse(server.url("otel")), create_schema=True
        )
        load_clickhouse(http, traffic)
        yield Engines(traffic, DuckDBEngine(store), current, legacy, http)
        http.close()
    store.close()
