"""The ClickHouse engine over the exporter's tables, in chDB: parameters, values, errors, and
the table variants older exporters created."""

from __future__ import annotations

import pytest

from bot_telemetry.store import otel_schema
from bot_telemetry.store.clickhouse import ClickHouseError
from bot_telemetry.store.otel_rows import LOG_COLUMN_NAMES, attribute_text, timestamp
from tests.support.clickhouse import chdb_engine


def test_parameters_and_values_come_back_as_python_values() -> None:
    with chdb_engine("params") as engine:
        tricky = "it's a \\ back\tslash\nand 'quotes'"
        result = engine.raw(
            "SELECT {s:String} AS s, {n:Int64} AS n, {f:Float64} AS f, {b:Bool} AS b, "
            "{l:Array(String)} AS l, {z:Nullable(String)} AS z, "
            "map('k', 'v') AS m, [map('a', '1')] AS ms",
            {"s": tricky, "n": 2**62, "f": 0.25, "b": True, "l": ["a'b", "c\\d"], "z": None},
        )
        assert result.columns == ("s", "n", "f", "b", "l", "z", "m", "ms")
        assert result.rows == [
            (tricky, 2**62, 0.25, True, ["a'b", "c\\d"], None, '{"k":"v"}', ['{"a":"1"}'])
        ]


def test_a_database_without_the_exporter_tables_says_what_to_do() -> None:
    with chdb_engine("empty") as engine:
        engine.raw("CREATE DATABASE IF NOT EXISTS empty")
        with pytest.raises(
            ClickHouseError, match=r"no table otel_traces or otel_logs.*create_schema"
        ):
            engine.query("SELECT count(*) FROM spans")


def test_older_exporter_tables() -> None:
    """Duration Int64, no EventName column, metric times in seconds: still the same model."""
    with chdb_engine("older") as engine:
        for statement in otel_schema.statements(engine.tables):
            statement = statement.replace("`Duration` UInt64", "`Duration` Int64")
            statement = statement.replace("`EventName` String CODEC(ZSTD(1)),", "")
            statement = statement.replace(
                "`TimeUnix` DateTime64(9) CODEC(Delta, ZSTD(1))", "`TimeUnix` DateTime"
            ).replace("toUnixTimestamp64Nano(TimeUnix)", "TimeUnix")
            engine.raw(statement)
        engine.refresh()
        assert "EventName" not in engine.describe()["otel_logs"]
        start = 1_750_000_000_123_456_789
        engine.insert(
            "otel_traces",
            [
                {
                    "Timestamp": timestamp(start),
                    "TraceId": "a" * 32,
                    "SpanId": "b" * 16,
                    "SpanName": "bot.turn",
                    "SpanKind": "SPAN_KIND_INTERNAL",
                    "ServiceName": "bot",
                    "SpanAttributes": {"enduser.pseudo.id": "u1", "activity.locale": ""},
                    "Duration": 5_000,
                    "StatusCode": "STATUS_CODE_ERROR",
                }
            ],
        )
        log = {name: None for name in LOG_COLUMN_NAMES if name != "EventName"}
        log.update(
            Timestamp=timestamp(start + 1),
            TraceId="a" * 32,
            SpanId="b" * 16,
            ServiceName="bot",
            LogAttributes={"microsoft.custom_event.name": "BotMessageReceived", "fromId": "f1"},
        )
        engine.insert("otel_logs", [{k: v for k, v in log.items() if v is not None}])
        engine.insert(
            "otel_metrics_sum",
            [{"MetricName": "turns", "ServiceName": "bot", "TimeUnix": "1750000000", "Value": 3}],
        )
        assert engine.query(
            "SELECT start_ns, end_ns, failed, user_id, locale, span_id FROM turns"
        ).rows == [(start, start + 5_000, True, "u1", None, "b" * 16)]
        assert engine.query("SELECT name, user_id, time_ns FROM events").rows == [
            ("BotMessageReceived", "f1", start + 1)
        ]
        assert engine.query(
            "SELECT metric_name, time_ns, value, count FROM metric_points"
        ).rows == [("turns", 1_750_000_000 * 10**9, 3.0, None)]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", "x"),
        (True, "true"),
        (7, "7"),
        (3.0, "3"),
        (0.93, "0.93"),
        (1e21, "1000000000000000000000"),
        (1.5e-7, "0.00000015"),
        (["a", 1], '["a",1]'),
    ],
)
def test_attribute_values_read_as_the_exporter_writes_them(value: object, text: str) -> None:
    assert attribute_text(value) == text


def test_integer_division_and_try_cast_mean_what_they_mean_on_duckdb() -> None:
    """``//`` on nanosecond times is exact (a double would round 1.75e18 to 256 ns and put a
    time on a bucket's edge into the bucket before); TRY_CAST gives NULL for text that is
    not a number instead of failing the query."""
    hour = 3_600_000_000_000
    edge = (1_750_000_000_000_000_000 // hour + 7) * hour  # an hour's edge
    sql = """SELECT ($t - 1) // 3600000000000 AS before_edge, $t // 3600000000000 AS at_edge,
                    -7 // 2 AS negative, TRY_CAST($text AS DOUBLE) AS bad,
                    TRY_CAST($number AS DOUBLE) AS good"""
    values = {"t": edge, "text": "high", "number": "0.93"}
    with chdb_engine("division") as engine:
        engine.create_schema()
        answer = engine.query(sql, values).dicts()
    assert answer == [
        {
            "before_edge": edge // hour - 1,
            "at_edge": edge // hour,
            "negative": -3,
            "bad": None,
            "good": 0.93,
        }
    ]
