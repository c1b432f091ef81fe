"""``bot-telemetry clickhouse-schema``: print, or create in ClickHouse, the tables the
OpenTelemetry Collector's clickhouse exporter uses (docs/deploy.md).

    bot-telemetry clickhouse-schema                   # print the DDL (database otel)
    bot-telemetry clickhouse-schema --store clickhouse://admin:pw@ch:8123/otel --ttl 30d
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from ..analytics.window import parse_duration
from .common import PROG, Handler, described, duration_argument, store_argument


def register(commands: Any) -> dict[str, Handler]:
    parser = commands.add_parser(
        "clickhouse-schema",
        help="print, or create in ClickHouse, the tables the Collector's clickhouse exporter uses",
        **described(__doc__),
    )
    parser.add_argument(
        "--store",
        type=store_argument,
        help="create them in this database (clickhouse://user:password@host:8123/otel); "
        "without it the statements are printed",
    )
    parser.add_argument(
        "--ttl",
        type=duration_argument,
        help="drop rows older than this (e.g. 30d); default keep all",
    )
    parser.add_argument(
        "--engine",
        default="MergeTree()",
        help="table engine, e.g. \"ReplicatedMergeTree('/clickhouse/tables/{shard}/{table}', "
        "'{replica}')\" (default MergeTree())",
    )
    return {"clickhouse-schema": _schema}


def _schema(options: argparse.Namespace) -> int:
    from ..store import otel_schema
    from ..store.clickhouse import ClickHouseError, HTTPClickHouseEngine
    from ..store.clickhouse_relations import Tables
    from ..store.location import ClickHouseLocation

    ttl_seconds = math.ceil(parse_duration(options.ttl)) if options.ttl else 0
    location = options.store
    if location is None:
        for statement in otel_schema.statements(
            Tables(), engine=options.engine, ttl_seconds=ttl_seconds
        ):
            sys.stdout.write(statement + ";\n\n")
        return 0
    if not isinstance(location, ClickHouseLocation):
        raise ClickHouseError("--store must be a clickhouse:// URL here")
    engine = HTTPClickHouseEngine.open(
        location, create_schema=True, ttl_seconds=ttl_seconds, table_engine=options.engine
    )
    try:
        changes = engine.ttl_changes(ttl_seconds) if ttl_seconds else []
    finally:
        engine.close()
    print(f"{PROG}: the exporter's tables are in {location}", file=sys.stderr)
    if not changes:
        return 0
    # Not altered here: a shorter TTL drops data at once and ClickHouse rewrites every part
    # for a new one, which the person running this should choose to do (and when).
    kept = ", ".join(f"{table} ({ttl or 'no TTL'})" for table, ttl, _ in changes)
    print(
        f"{PROG}: tables that existed keep the TTL they were made with, not --ttl "
        f"{options.ttl}: {kept}; run the statements printed on stdout to change it "
        "(ALTER TABLE ... MODIFY TTL; an earlier version made --ttl 36h one day and "
        "--ttl 12h none)",
        file=sys.stderr,
    )
    for _, _, alter in changes:
        sys.stdout.write(alter + ";\n")
    return 1
