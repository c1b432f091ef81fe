"""The logical model: both engines define every relation with its columns in order, and
docs/analytics-model.md lists every column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot_telemetry.store import clickhouse_relations, duckdb_relations
from bot_telemetry.store.model import RELATIONS
from bot_telemetry.store.otel_schema import LOG_COLUMNS, TRACE_COLUMNS

DOC = Path(__file__).resolve().parents[2] / "docs" / "analytics-model.md"


def test_every_relation_is_defined_on_both_engines() -> None:
    columns = {
        "otel_traces": {name: kind for name, kind, _ in TRACE_COLUMNS},
        "otel_logs": {name: kind for name, kind, _ in LOG_COLUMNS},
    }
    clickhouse = clickhouse_relations.definitions(clickhouse_relations.Tables(), columns)
    assert set(duckdb_relations.DEFINITIONS) == set(RELATIONS) == set(clickhouse)


@pytest.mark.parametrize("relation", sorted(RELATIONS))
def test_the_docs_list_every_column(relation: str) -> None:
    text = DOC.read_text()
    section = text.split(f"### `{relation}`", 1)[1].split("###", 1)[0]
    for column in RELATIONS[relation].columns:
        assert f"| `{column.name}` | {column.type} |" in section, column.name
