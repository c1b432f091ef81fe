"""The store: one DuckDB file holding spans, span events, log records, metric points, resources.

    store = Store.open(".bot-telemetry/telemetry.duckdb")
    store.write(batch)          # one transaction; a retried batch is stored once
    with store.reader() as db:  # a connection of its own, for one thread
        db.execute("select count(*) from spans").fetchone()

Only one process may open the file for writing (DuckDB's file lock). ``bot-telemetry serve``
is that process; while it runs, the CLI asks it over HTTP instead (see ``remote``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ..contract import EVENT_NAME, PROMOTED_EVENT_PROPERTIES, PROMOTED_SPAN_ATTRIBUTES
from .jsontext import document_json

# Where a store is lives in .location, which the command line imports without DuckDB.
from .location import DEFAULT_STORE as DEFAULT_STORE
from .location import STORE_FILE_NAME as STORE_FILE_NAME
from .location import store_file as store_file
from .rows import (
    EVENT_COLUMNS,
    LOG_COLUMNS,
    POINT_COLUMNS,
    PROMOTED_TYPES,
    RESOURCE_COLUMNS,
    SEVERITY_NAMES,
    SPAN_COLUMNS,
    Batch,
)

#: 2: spans and logs keep the scope version; metric points keep kind, temporality,
#: histogram buckets, min and max, resource and scope. 3: promoted turn and event columns and
#: the trace key (``rows.PROMOTED_*``, ``rows.trace_key``), filled from the attributes of the
#: rows already stored. 4: spans keep their span and parent ids as integers too
#: (``rows.span_number``), the app map's join keys. 5: events keep their recognizer
#: (``recognizer``), so the intents measure splits recognizers without a join. Older files
#: are upgraded on open.
SCHEMA_VERSION = "5"

# Kinds and status codes keep their OTLP enum numbers.
KIND_INTERNAL, KIND_SERVER, KIND_CLIENT, KIND_PRODUCER, KIND_CONSUMER = 1, 2, 3, 4, 5
STATUS_ERROR = 2
KIND_NAMES = {
    0: "unspecified",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
}


def _promoted_ddl(promoted: Mapping[str, tuple[str, ...]]) -> str:
    return "".join(f", {name} {PROMOTED_TYPES.get(name, 'VARCHAR')}" for name in promoted)


_SPAN_PROMOTED = _promoted_ddl(PROMOTED_SPAN_ATTRIBUTES)
_LOG_PROMOTED = _promoted_ddl(PROMOTED_EVENT_PROPERTIES)
# A log record's attributes and body (JSON text) are compressed with zstd rather than DuckDB's
# choice: for client events it stored 302 bytes an event instead of 656 and cost the writer
# 9.4-10.6 µs of CPU an event instead of 13.1-13.3 (the default analyses every algorithm at
# each checkpoint), the event queries as fast. Spans keep the default: the app map at 1M spans
# took 58-60 ms with zstd against 48-50 (docs/collector.md#store). The ClickHouse tables use
# ZSTD for these columns too. A column's compression is set when its table is made: stores
# made before keep the default.
_JSON_TEXT = "VARCHAR USING COMPRESSION zstd"
# zstd for text needs a file in DuckDB 1.2's storage format or later: DuckDB 2 writes its own
# by default, 1.x writes 0.10's (where 1.2-1.4 would store the column uncompressed and 1.1
# refuses the clause), so there the column keeps DuckDB's choice.
_ZSTD_STORAGE = (1, 2)


def json_text_type(db: duckdb.DuckDBPyConnection) -> str:
    """The column type for JSON text in a store made through ``db``."""
    try:
        row = db.execute("SELECT current_setting('storage_compatibility_version')").fetchone()
    except duckdb.Error:
        return "VARCHAR"
    version = str(row[0]) if row else ""
    if version == "latest":
        return _JSON_TEXT
    found = re.fullmatch(r"v(\d+)\.(\d+)\.\d+\+?", version)
    if found and (int(found.group(1)), int(found.group(2))) >= _ZSTD_STORAGE:
        return _JSON_TEXT
    return "VARCHAR"


def _schema(json_text: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS resources (
    resource_id VARCHAR PRIMARY KEY, service_name VARCHAR NOT NULL, attributes VARCHAR);
CREATE TABLE IF NOT EXISTS spans (
    trace_id VARCHAR NOT NULL, span_id VARCHAR NOT NULL, parent_span_id VARCHAR,
    service_name VARCHAR NOT NULL, name VARCHAR NOT NULL, kind TINYINT NOT NULL,
    start_ns BIGINT NOT NULL, end_ns BIGINT NOT NULL, duration_ns BIGINT NOT NULL,
    status_code TINYINT NOT NULL, status_message VARCHAR, peer VARCHAR, conversation_id VARCHAR,
    attributes VARCHAR, links VARCHAR, resource_id VARCHAR, scope_name VARCHAR,
    scope_version VARCHAR, trace_key UBIGINT, span_number UBIGINT,
    parent_number UBIGINT{_SPAN_PROMOTED},
    PRIMARY KEY (trace_id, span_id));
CREATE TABLE IF NOT EXISTS span_events (
    trace_id VARCHAR NOT NULL, span_id VARCHAR NOT NULL, seq INTEGER NOT NULL,
    time_ns BIGINT NOT NULL, name VARCHAR NOT NULL, attributes VARCHAR,
    PRIMARY KEY (trace_id, span_id, seq));
CREATE TABLE IF NOT EXISTS logs (
    record_id VARCHAR PRIMARY KEY, time_ns BIGINT NOT NULL, trace_id VARCHAR, span_id VARCHAR,
    service_name VARCHAR NOT NULL, severity_number INTEGER, severity_text VARCHAR,
    body {json_text}, event_name VARCHAR, conversation_id VARCHAR, attributes {json_text},
    resource_id VARCHAR, scope_name VARCHAR, scope_version VARCHAR,
    trace_key UBIGINT{_LOG_PROMOTED});
CREATE TABLE IF NOT EXISTS metric_points (
    point_id VARCHAR PRIMARY KEY, metric_name VARCHAR NOT NULL, description VARCHAR,
    unit VARCHAR, kind VARCHAR, temporality INTEGER, monotonic BOOLEAN,
    service_name VARCHAR NOT NULL, start_ns BIGINT, time_ns BIGINT NOT NULL, value DOUBLE,
    count BIGINT, min DOUBLE, max DOUBLE, bounds DOUBLE[], bucket_counts BIGINT[],
    attributes VARCHAR, resource_id VARCHAR, scope_name VARCHAR);
"""


# From schema 1: the columns version 2 added, and what can be recovered for old rows.
# Version 1 kept a number point's value and a histogram's sum and count only, so old points
# read as gauges and summaries; records named by ``event.name`` become events; records
# with a severity number only get its name.
_UPGRADE_FROM_1 = (
    "ALTER TABLE spans ADD COLUMN scope_version VARCHAR",
    "ALTER TABLE logs ADD COLUMN scope_version VARCHAR",
    *(
        f"ALTER TABLE metric_points ADD COLUMN {column}"
        for column in (
            "description VARCHAR",
            "kind VARCHAR",
            "temporality INTEGER",
            "monotonic BOOLEAN",
            "start_ns BIGINT",
            "min DOUBLE",
            "max DOUBLE",
            "bounds DOUBLE[]",
            "bucket_counts BIGINT[]",
            "resource_id VARCHAR",
            "scope_name VARCHAR",
        )
    ),
    "UPDATE metric_points SET kind = CASE WHEN count IS NULL THEN 'gauge' ELSE 'summary' END",
    f"""UPDATE logs SET event_name = json_extract_string(attributes, '$."{EVENT_NAME}"')
        WHERE event_name IS NULL
          AND json_extract_string(attributes, '$."{EVENT_NAME}"') <> ''""",
    "UPDATE logs SET severity_text = names.name FROM (VALUES "
    + ", ".join(f"({number}, '{name}')" for number, name in SEVERITY_NAMES.items())
    + ") AS names(number, name) "
    "WHERE logs.severity_text IS NULL AND logs.severity_number = names.number",
)


def span_number_sql(column: str) -> str:
    """SQL for ``rows.span_number``: a span id's 16 hex digits as an integer."""
    return f"CAST('0x' || {column} AS UBIGINT)"


def trace_key_sql(column: str) -> str:
    """SQL for ``rows.trace_key``: the trace id's first 16 hex digits as an integer."""
    return f"CAST('0x' || substr({column}, 1, 16) AS UBIGINT)"


def promoted_sql(column: str, keys: tuple[str, ...], attributes: str = "attributes") -> str:
    """SQL computing a promoted column from a JSON attributes column, as ingest does."""
    found = ", ".join(
        f"""nullif(json_extract_string({attributes}, '$."{key}"'), '')""" for key in keys
    )
    text = f"coalesce({found})" if len(keys) > 1 else found
    kind = PROMOTED_TYPES.get(column)
    if kind == "DOUBLE":
        return f"TRY_CAST({text} AS DOUBLE)"
    if kind == "BOOLEAN":
        return f"CASE lower({text}) WHEN 'true' THEN true WHEN 'false' THEN false END"
    return text


# Promoted event columns added after schema 3, each by its own upgrade step below.
_LOG_PROMOTED_LATER = ("recognizer",)

# From schema 2: the promoted columns of schema 3 and the trace key, filled from the rows'
# attributes and trace ids (what ingest fills for new rows).
_UPGRADE_FROM_2 = tuple(
    statement
    for table, promoted in (
        ("spans", PROMOTED_SPAN_ATTRIBUTES),
        (
            "logs",
            {
                name: keys
                for name, keys in PROMOTED_EVENT_PROPERTIES.items()
                if name not in _LOG_PROMOTED_LATER
            },
        ),
    )
    for statement in (
        f"ALTER TABLE {table} ADD COLUMN trace_key UBIGINT",
        *(
            f"ALTER TABLE {table} ADD COLUMN {name} {PROMOTED_TYPES.get(name, 'VARCHAR')}"
            for name in promoted
        ),
        f"UPDATE {table} SET trace_key = {trace_key_sql('trace_id')}, "
        + ", ".join(f"{name} = {promoted_sql(name, keys)}" for name, keys in promoted.items()),
    )
)

# From schema 3: the span and parent ids as integers (what ingest fills for new rows).
_UPGRADE_FROM_3 = (
    "ALTER TABLE spans ADD COLUMN span_number UBIGINT",
    "ALTER TABLE spans ADD COLUMN parent_number UBIGINT",
    f"UPDATE spans SET span_number = {span_number_sql('span_id')}, "
    f"parent_number = {span_number_sql('parent_span_id')}",
)

# From schema 4: a recognizer result's recognizer. Rows recorded before the property existed
# take the application id (botbuilder-ai's LuisResult), else the dependency they were
# recorded on (TelemetryRecognizer's span: its peer is the recognizer's name). Only the
# results are read: a recognizer's name is nothing other events have.
_UPGRADE_FROM_4 = (
    "ALTER TABLE logs ADD COLUMN recognizer VARCHAR",
    "UPDATE logs SET recognizer = coalesce("
    f"{promoted_sql('recognizer', PROMOTED_EVENT_PROPERTIES['recognizer'])}, "
    "(SELECT any_value(s.peer) FROM spans s "
    "WHERE s.span_id = logs.span_id AND s.trace_id = logs.trace_id)) "
    "WHERE intent IS NOT NULL",
)

# (table, its columns, the Batch field holding its rows)
_TABLES = (
    ("resources", RESOURCE_COLUMNS, "resources"),
    ("spans", SPAN_COLUMNS, "spans"),
    ("span_events", EVENT_COLUMNS, "events"),
    ("logs", LOG_COLUMNS, "logs"),
    ("metric_points", POINT_COLUMNS, "points"),
)


class StoreError(Exception):
    """The store cannot be opened or used; the message says what to do."""


class StoreBusy(StoreError):
    """Another process (normally ``bot-telemetry serve``) holds the store's write lock.
    ``held`` says only that (the CLI goes on to find the server itself); the message also
    says what to do."""

    def __init__(self, held: str, what_to_do: str):
        super().__init__(f"{held}: {what_to_do}")
        self.held = held


@dataclass(frozen=True)
class Refused:
    """A row the store refused while it took the rest of the batch: which of the batch's
    ``spans``, ``logs`` or ``points`` (its index there) and why."""

    rows: str
    index: int
    reason: str


@dataclass(frozen=True)
class Written:
    spans: int
    logs: int
    points: int
    #: Rows refused one by one (ClickHouse's ``clickhouse_ingest``); DuckDB takes all or none.
    refused: tuple[Refused, ...] = ()


def _declared_types(db: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return dict(
        db.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
            [table],
        ).fetchall()
    )


def _insert_sql(
    declared: Mapping[str, str], table: str, columns: tuple[str, ...], verb: str
) -> str:
    # The rows arrive as one JSON document of column lists, {"name": [v1, v2, ...], ...}:
    # one VARCHAR parameter binds in microseconds, where a Python list per column made DuckDB
    # convert and plan every value as a constant (about half the write time). The strict
    # parse fails on a value out of its column's range, as the list parameters did.
    shape = json.dumps({name: [_json_shape(declared[name])] for name in columns})
    selected = ", ".join(f"unnest(rows.{name})" for name in columns)
    return (
        f"{verb} INTO {table} ({', '.join(columns)}) SELECT {selected} "
        f"FROM (SELECT from_json_strict($1, '{shape}') AS rows)"
    )


def _filled(
    values: Mapping[str, list[Any]], columns: tuple[str, ...], rows: int
) -> tuple[str, ...]:
    # The columns holding a value in some row: an insert names only those (the others are
    # NULL by default), since a client event fills 13 of the log table's 26 columns and
    # DuckDB parses, unnests and checks every column it is given. list.count is one C loop.
    filled = []
    for name in columns:
        column = values.get(name)
        if column and column.count(None) != rows:
            filled.append(name)
    return tuple(filled)


#: About how much JSON text (attributes and bodies) one insert takes; a table's rows holding
#: more are inserted in even pieces, in the same transaction. A 10,000-row group of client
#: events as one 15 MB document held the GIL ~12 ms while orjson wrote it (~3.4 ms a piece),
#: and with DuckDB's copies of it a 20,000-row commit grew the process by 189 MB (79 MB in
#: pieces; docs/client-telemetry.md#speed). Not by rows: an insert statement has a fixed
#: cost (~1 ms), so a group of small spans stays one insert.
INSERT_PIECE_BYTES = 4 * 1024 * 1024
_TEXT_COLUMNS = ("attributes", "body")

#: Insert statements kept, by table, columns and verb; a few shapes come in practice, and
#: the bound keeps a stream of odd ones from growing it.
MAX_INSERT_STATEMENTS = 256


def _json_shape(data_type: str) -> Any:
    # from_json_strict describes a list column as a JSON list of its element type.
    if data_type.endswith("[]"):
        return [_json_shape(data_type[:-2])]
    return data_type


# The columns that hold floats (or lists of them): NaN and ±Infinity are looked for there.
_FLOAT_COLUMNS = (
    "value",
    "min",
    "max",
    "bounds",
    *(name for name, kind in PROMOTED_TYPES.items() if kind == "DOUBLE"),
)


def _piece_rows(values: Mapping[str, list[Any]], rows: int) -> int:
    # Rows an insert takes: all of them, or even pieces of about INSERT_PIECE_BYTES of text.
    text = 0
    for name in _TEXT_COLUMNS:
        column = values.get(name)
        if column:
            text += sum(len(cell) for cell in column if type(cell) is str)
    pieces = 1 + text // INSERT_PIECE_BYTES
    return -(-rows // pieces)


def _document(values: dict[str, list[Any]]) -> str:
    return document_json(values, _FLOAT_COLUMNS)


class Store:
    """One DuckDB database file. ``write`` is for one writer thread; readers use ``reader()``."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path, read_only: bool):
        self._connection = connection
        self.path = path
        self.read_only = read_only
        self._writer: duckdb.DuckDBPyConnection | None = None
        self._declared: dict[str, dict[str, str]] = {}
        self._statements: dict[tuple[str, tuple[str, ...], bool], str] = {}

    @classmethod
    def open(cls, path: str | Path = DEFAULT_STORE, *, read_only: bool = False) -> Store:
        """Open (creating it unless ``read_only``) the store at ``path`` (a file, or a folder
        holding ``telemetry.duckdb``). A store written by an older version is upgraded first."""
        path = store_file(path)
        if read_only and not path.exists():
            raise StoreError(
                f"no store at {path}: start `bot-telemetry serve --store {path}` and send "
                "it telemetry first"
            )
        if not read_only:
            # A folder it creates (.bot-telemetry/) is its user's only: it will hold people's
            # messages and ids (the store, the client journal, the data exhausts), readable
            # by every user of the machine under the usual umask. One that exists keeps its mode.
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            connection = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" in str(error).lower():
                holder = re.search(r"PID (\d+)", str(error))
                by = f" by process {holder.group(1)}" if holder else ""
                raise StoreBusy(
                    f"the store {path} is in use{by}",
                    (
                        "the `bot-telemetry serve` holding it answers the same questions over "
                        "HTTP (its URL: POST /analytics/query, /analytics/funnel, ...: the "
                        "bodies the Python functions take), or stop it to open the file"
                    )
                    if read_only
                    else "stop that process, or use another store",
                ) from error
            raise StoreError(f"cannot open the store {path}: {error}") from error
        except duckdb.ConnectionException as error:
            if "different configuration" not in str(error):
                raise StoreError(f"cannot open the store {path}: {error}") from error
            # DuckDB keeps one database per file in a process, opened one way: a notebook
            # that runs a CollectorThread (writing) and then opens the file to read, or the
            # other way round.
            if read_only:
                raise StoreError(
                    f"cannot open the store {path} to read: it is open for writing in this "
                    "process (a CollectorThread or serve started here): ask that server over "
                    "HTTP (POST /analytics/query, /analytics/funnel, ...: the bodies the Python "
                    "functions take), or stop it first"
                ) from error
            raise StoreError(
                f"cannot open the store {path} to write: it is open for reading in this "
                "process (an engine from open_engine()): close that first"
            ) from error
        except duckdb.Error as error:
            raise StoreError(f"cannot open the store {path}: {error}") from error
        store = cls(connection, path, read_only)
        try:
            if not read_only:
                # Not a DuckDB file of someone else's: our tables would be added to it, and
                # its own of the same names (spans, logs) would fail every write and read.
                foreign = store._foreign_tables()
                if foreign:
                    raise StoreError(
                        f"{path} is not a bot-telemetry store: it holds other tables "
                        f"({', '.join(foreign[:5])}); give --store another file"
                    )
                connection.execute(_schema(json_text_type(connection)))
                store._upgrade()
                store._prepare_writes()
                return store
            if not store._has_schema():
                raise StoreError(f"{path} is not a bot-telemetry store")
            if store._version() < int(SCHEMA_VERSION):
                # Upgraded by a short writing open: readers need the current columns.
                connection.close()
                cls.open(path).close()
                return cls.open(path, read_only=True)
            store._check_version()
        except BaseException:
            connection.close()
            raise
        return store

    def _foreign_tables(self) -> list[str]:
        """The tables of a file that has some but no schema version of ours."""
        tables = [
            row[0]
            for row in self._connection.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = current_database() ORDER BY table_name"
            ).fetchall()
        ]
        if not tables or ("meta" in tables and self._version()):
            return []
        return tables

    def _version(self) -> int:
        found = self._connection.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchone()
        return int(found[0]) if found else 0

    def _check_version(self) -> None:
        if self._version() > int(SCHEMA_VERSION):
            raise StoreError(
                f"the store {self.path} was written by a newer bot-telemetry (schema "
                f"{self._version()}, this one knows {SCHEMA_VERSION}): upgrade bot-telemetry"
            )

    def _upgrade(self) -> None:
        db = self._connection
        version = self._version()
        if version == 0:  # a new file: _schema made the current tables
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
            return
        self._check_version()
        if version < int(SCHEMA_VERSION):
            # DuckDB draws a progress bar on stdout for a long UPDATE: serve's output is a log.
            db.execute("SET enable_progress_bar = false")
            steps = (
                *(_UPGRADE_FROM_1 if version == 1 else ()),
                *(_UPGRADE_FROM_2 if version <= 2 else ()),
                *(_UPGRADE_FROM_3 if version <= 3 else ()),
                *_UPGRADE_FROM_4,
            )
            db.execute("BEGIN TRANSACTION")
            try:
                for statement in steps:
                    db.execute(statement)
                db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'", [SCHEMA_VERSION]
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _prepare_writes(self) -> None:
        # A connection of its own for inserts, without the optimizer: an insert of rows
        # unnested from one parameter has nothing to optimise, and the optimizer would fold
        # the whole document into a constant and gather statistics over it for each batch.
        # The setting is this connection's only; readers keep theirs.
        self._writer = self._connection.cursor()
        self._writer.execute("PRAGMA disable_optimizer")
        self._declared = {
            table: _declared_types(self._connection, table) for table, _, _ in _TABLES
        }
        self._statements = {}

    def _statement(self, table: str, columns: tuple[str, ...], skipping: bool) -> str:
        key = (table, columns, skipping)
        sql = self._statements.get(key)
        if sql is None:
            if len(self._statements) >= MAX_INSERT_STATEMENTS:
                self._statements.clear()
            # Every export repeats its resources, so they always skip; other rows are new
            # unless an export is retried, and a plain insert checks them against the primary
            # key's index, where OR IGNORE joins them with every stored key (a scan that
            # grows with the store).
            verb = "INSERT OR IGNORE" if skipping or table == "resources" else "INSERT"
            sql = self._statements[key] = _insert_sql(self._declared[table], table, columns, verb)
        return sql

    def _has_schema(self) -> bool:
        found = self._connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'spans'"
        ).fetchone()
        return bool(found and found[0])

    def write(self, batch: Batch) -> Written:
        """Store a batch in one transaction; rows already stored are skipped."""
        if self.read_only or self._writer is None:
            raise StoreError(f"the store {self.path} was opened read-only")
        try:
            self._insert(self._writer, batch, skipping=False)
        except duckdb.ConstraintException:
            # A retried export (or a row sent twice): write it again, skipping stored rows.
            self._insert(self._writer, batch, skipping=True)
        return Written(batch.span_count, batch.log_count, batch.point_count)

    def _insert(self, db: duckdb.DuckDBPyConnection, batch: Batch, *, skipping: bool) -> None:
        db.execute("BEGIN TRANSACTION")
        try:
            for table, columns, field in _TABLES:
                values: dict[str, list[Any]] = getattr(batch, field)
                rows = len(values.get(columns[0]) or ())
                if rows:
                    filled = _filled(values, columns, rows)
                    statement = self._statement(table, filled, skipping)
                    size = _piece_rows(values, rows)
                    for start in range(0, rows, size):
                        # A plain dict: orjson writes plain dicts only (rows.Columns is not).
                        piece = {name: values[name][start : start + size] for name in filled}
                        db.execute(statement, [_document(piece)])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def delete_older_than(self, cutoff_ns: int) -> int:
        """Retention: drop telemetry that started before ``cutoff_ns``; returns spans dropped."""
        db = self._connection
        db.execute("BEGIN TRANSACTION")
        try:
            row = db.execute(
                "DELETE FROM spans WHERE start_ns < ? RETURNING 1", [cutoff_ns]
            ).fetchall()
            db.execute("DELETE FROM span_events WHERE time_ns < ?", [cutoff_ns])
            db.execute("DELETE FROM logs WHERE time_ns < ?", [cutoff_ns])
            db.execute("DELETE FROM metric_points WHERE time_ns < ?", [cutoff_ns])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(row)

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for the calling thread; DuckDB gives it a consistent snapshot."""
        cursor = self._connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def counts(self) -> dict[str, int]:
        with self.reader() as db:
            result: dict[str, int] = {}
            for table, _, _ in _TABLES:
                row = db.execute(f"SELECT count(*) FROM {table}").fetchone()
                result[table] = int(row[0]) if row else 0
            return result

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._connection.close()


def rows_as_dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The last query's rows as dicts keyed by column name."""
    names = [column[0] for column in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
