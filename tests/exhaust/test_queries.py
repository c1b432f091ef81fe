"""The exhausts on both engines: the survey's telemetry in the DuckDB store (through its
ingest path) and in the Collector exporter's ClickHouse tables (chDB), the same rows from
both, the same files byte for byte, and the answer known from what was driven."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot_telemetry.exhaust.destinations import LinkSigner, LocalFolder
from bot_telemetry.exhaust.jobs import JobStore
from bot_telemetry.exhaust.queries import RESPONSES, USERS
from bot_telemetry.exhaust.requests import parse_submit
from bot_telemetry.exhaust.runner import Runner
from bot_telemetry.privacy import IdentityVault
from bot_telemetry.store.clickhouse import ChDBEngine
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from bot_telemetry.store.otel_rows import table_rows
from bot_telemetry.store.rows import logs_batch
from tests.exhaust.test_api import body
from tests.exhaust.traffic import ANSWERS, BOT, VAULT_KEYS, Driven, drive
from tests.exhaust.traffic import RESPONSES as SENT
from tests.exhaust.traffic import USERS as PEOPLE
from tests.support.clickhouse import chdb_engine

WHOLE = {"bot": BOT, "start": 0, "end": 2**62}


@dataclass
class Both:
    duckdb: DuckDBEngine
    clickhouse: ChDBEngine
    driven: Driven


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    driven = asyncio.run(drive(IdentityVault.parse(VAULT_KEYS)))
    store = Store.open(tmp_path_factory.mktemp("exhaust-engines") / "store.duckdb")
    for request in driven.requests:
        store.write(logs_batch(request))
    with chdb_engine("otel_exhaust") as clickhouse:
        clickhouse.create_schema()
        for request in driven.requests:
            for table, (_, rows) in table_rows(request, clickhouse.tables).items():
                clickhouse.insert(table, rows)
        yield Both(DuckDBEngine(store), clickhouse, driven)
    store.close()


def test_responses_are_the_same_on_both_engines(both: Both) -> None:
    expected = RESPONSES.run(both.duckdb, **WHOLE).dicts()
    assert RESPONSES.run(both.clickhouse, **WHOLE).dicts() == expected
    assert len(expected) == len(PEOPLE) * len(ANSWERS)
    consenting = Driven.pseudonym(PEOPLE["consenting"])
    answered = [row["response"] for row in expected if row["device_id"] == consenting]
    assert answered == list(SENT)
    assert {row["response"] for row in expected if row["device_id"] != consenting} == {None}


def test_users_are_the_same_on_both_engines(both: Both) -> None:
    expected = USERS.run(both.duckdb, **WHOLE).dicts()
    assert USERS.run(both.clickhouse, **WHOLE).dicts() == expected
    decisions = {row["device_id"]: row["decision"] for row in expected}
    assert decisions == {
        Driven.pseudonym(PEOPLE["consenting"]): "granted",
        Driven.pseudonym(PEOPLE["silent"]): None,
        Driven.pseudonym(PEOPLE["withdrawn"]): "withdrawn",
    }
    tokens = [row["token"] for row in expected if row["token"]]
    assert len(tokens) == 1 and tokens[0].startswith("v1:k1:")


def test_streamed_batches_hold_every_row_on_both_engines(both: Both) -> None:
    for engine in (both.duckdb, both.clickhouse):
        batches = list(engine.stream(RESPONSES.sql, WHOLE, batch_rows=5))
        assert [len(batch) for batch in batches][:2] == [5, 5]
        rows = [row for batch in batches for row in batch.rows]
        assert rows == RESPONSES.run(engine, **WHOLE).rows


@pytest.mark.parametrize("dataset", ["uci-response-exhaust", "uci-private-exhaust"])
def test_the_runner_writes_the_same_file_from_either_engine(
    both: Both, tmp_path: Path, dataset: str
) -> None:
    written = []
    for engine in (both.duckdb, both.clickhouse):
        written.append(_run(engine, tmp_path / engine.dialect, dataset))
    assert written[0] == written[1]
    assert written[0].count(b"\n") == 1 + (
        len(PEOPLE) * len(ANSWERS) if dataset.endswith("response-exhaust") else len(PEOPLE)
    )


def _run(engine: Engine, folder: Path, dataset: str) -> bytes:
    jobs = JobStore(folder / "jobs.sqlite3")
    # Compared unzipped: the private file's ZIP has a random salt; its rows are the point.
    parsed = replace(parse_submit(body(dataset)), encryption_key=None)
    jobs.submit(parsed, parsed.request_id(dt.date.today()))
    files = LocalFolder(folder / "files", LinkSigner(b"k" * 32))
    runner = Runner(engine, jobs, files, IdentityVault.parse(VAULT_KEYS), folder / "tmp")
    (done,) = runner.run_pending()
    assert done.status == "SUCCESS", done.status_message
    (name,) = done.files
    path = files.path(name)
    assert path is not None and name.endswith(".csv")
    return path.read_bytes()
