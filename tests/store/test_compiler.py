"""The compiler: relations put in place, macros, parameters, the ClickHouse rewrites."""

from __future__ import annotations

import pytest

from bot_telemetry.store import duckdb_relations
from bot_telemetry.store.compiler import QueryError, compile_query


def definitions(seen: list[frozenset[str] | None]) -> dict[str, object]:
    def spans(mentioned: frozenset[str] | None) -> str:
        seen.append(mentioned)
        return "SELECT 1 AS trace_id"

    return {"spans": spans}


def test_a_relation_becomes_its_definition_under_its_alias() -> None:
    seen: list[frozenset[str] | None] = []
    compiled = compile_query(
        "SELECT s.trace_id FROM spans s WHERE s.kind = 2", "duckdb", definitions(seen)
    )
    assert compiled.sql == "SELECT s.trace_id FROM (SELECT 1 AS trace_id) AS s WHERE s.kind = 2"
    assert seen == [frozenset({"trace_id", "kind"})]


def test_star_asks_for_every_column_and_count_star_does_not() -> None:
    seen: list[frozenset[str] | None] = []
    compile_query("SELECT count(*) FROM spans", "duckdb", definitions(seen))
    compile_query("SELECT * FROM spans", "duckdb", definitions(seen))
    assert seen == [frozenset(), None]


def test_star_over_a_cte_or_subquery_asks_only_for_what_they_select() -> None:
    seen: list[frozenset[str] | None] = []
    compile_query(
        "WITH s AS (SELECT trace_id FROM spans) SELECT * FROM (SELECT *, 1 AS one FROM s) t",
        "duckdb",
        definitions(seen),
    )
    compile_query(
        "WITH s AS (SELECT * FROM spans) SELECT x.* FROM s x", "duckdb", definitions(seen)
    )
    assert seen == [frozenset({"trace_id"}), None]


def test_a_cte_of_the_same_name_is_not_replaced() -> None:
    compiled = compile_query(
        "WITH spans AS (SELECT 2 AS x) SELECT x FROM spans", "duckdb", definitions([])
    )
    assert "SELECT 1" not in compiled.sql


def test_attr_on_each_engine() -> None:
    sql = "SELECT attr(attributes, 'activity.channel_id') AS channel FROM logs"
    duck = compile_query(sql, "duckdb", {}).sql
    house = compile_query(sql, "clickhouse", {}).sql
    assert "NULLIF(JSON_EXTRACT_STRING(attributes, '$.\"activity.channel_id\"'), '')" in duck
    assert "nullIf(attributes['activity.channel_id'], '')" in house
    with pytest.raises(QueryError, match="literal key"):
        compile_query("SELECT attr(attributes, name) FROM logs", "duckdb", {})


def test_attrs_reads_many_keys_at_once_on_each_engine() -> None:
    sql = "SELECT attrs(attributes, 'a.b', 'c')[2] AS second FROM logs"
    duck = compile_query(sql, "duckdb", {}).sql
    house = compile_query(sql, "clickhouse", {}).sql
    assert "JSON_EXTRACT_STRING(attributes, ['$.\"a.b\"', '$.\"c\"'])[2]" in duck
    assert "[attributes['a.b'], attributes['c']][2]" in house
    for wrong in ("attrs(attributes)", "attrs(attributes, name)", "attrs(attributes, '')"):
        with pytest.raises(QueryError, match="attrs"):
            compile_query(f"SELECT {wrong} FROM logs", "duckdb", {})


def test_parameters() -> None:
    sql = "SELECT trace_id FROM spans WHERE start_ns >= $start AND name = $name LIMIT $start"
    duck = compile_query(sql, "duckdb", {})
    assert duck.parameters == ("start", "name")
    assert "$start" in duck.sql
    house = compile_query(sql, "clickhouse", {}, {"start": "Int64", "name": "String"})
    assert "{start:Int64}" in house.sql and "{name:String}" in house.sql
    with pytest.raises(QueryError, match=r"\$name"):
        compile_query(sql, "clickhouse", {}, {"start": "Int64"})
    with pytest.raises(QueryError, match="use \\$name"):
        compile_query("SELECT ? AS x", "duckdb", {})
    with pytest.raises(QueryError, match="use \\$name"):
        compile_query("SELECT $1 AS x", "clickhouse", {})


def test_an_alias_may_not_shadow_a_column() -> None:
    with pytest.raises(QueryError, match="'start_ns' is also a column"):
        compile_query(
            "SELECT min(start_ns) AS start_ns FROM spans", "duckdb", duckdb_relations.DEFINITIONS
        )
    compile_query("SELECT trace_id AS trace_id FROM spans", "duckdb", {})


def test_clickhouse_rewrites() -> None:
    house = compile_query(
        """SELECT quantile_cont(d, 0.95) AS p, list(DISTINCT s ORDER BY s) AS l,
                  first(n ORDER BY k, j) AS f, bool_or(b) AS o FROM t""",
        "clickhouse",
        {},
    ).sql
    assert "quantileExactInclusive(0.95)(d)" in house
    assert "groupUniqArray(tuple(tuple(s), s))" in house
    assert "argMin(n, tuple(k, j))" in house
    assert "(max(toUInt8(b)) = 1)" in house
    assert house.endswith(
        "SETTINGS join_use_nulls = 1, aggregate_functions_null_for_empty = 1, "
        "group_by_use_nulls = 1"
    )


def test_a_bad_query_says_so() -> None:
    with pytest.raises(QueryError, match="cannot parse"):
        compile_query("SELEC 1 FROM", "duckdb", {})


def test_a_null_parameter_folds_its_optional_filter_away() -> None:
    sql = """SELECT trace_id FROM spans
             WHERE start_ns >= $start AND ($service IS NULL OR service_name = $service)
             GROUP BY trace_id HAVING $failed IS NULL OR bool_or(status_code = 2) = $failed"""
    unused = compile_query(sql, "duckdb", {}, null_parameters=frozenset({"service", "failed"}))
    assert unused.sql == "SELECT trace_id FROM spans WHERE start_ns >= $start GROUP BY trace_id"
    assert unused.parameters == ("start",)
    used = compile_query(sql, "duckdb", {}, null_parameters=frozenset({"failed"}))
    assert "service_name = $service" in used.sql and "HAVING" not in used.sql
    assert set(used.parameters) == {"start", "service"}
