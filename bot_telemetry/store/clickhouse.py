"""ClickHouse engines: the logical model over the OpenTelemetry Collector's tables.

    engine = ChDBEngine()                        # in-process ClickHouse (tests, benchmarks)
    engine.create_schema()                       # the exporter's tables (store.otel_schema)
    engine.query("SELECT count(*) FROM spans").scalar()

    engine = open_engine(parse_store("clickhouse://user:pw@host:8123/otel"))  # store.location

Both need the ``clickhouse`` extra (``pip install 'bot-telemetry[clickhouse]'``): chDB for the
in-process engine, clickhouse-connect for a server over HTTP. Queries compile to ClickHouse SQL
(``compiler``); values come back as the DuckD engine gives them (maps as JSON text).
"""

from __future__ import annotations

import json
import re
import threading
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from . import otel_schema
from .clickhouse_relations import METRIC_KINDS, Columns, Tables, definitions
from .compiler import Compiled, Definition
from .engine import Engine, EngineError, EngineUnavailable, Result
from .location import PASSWORD_VARIABLE, ClickHouseLocation

#: The tables every reader needs; metric tables are optional (rotel writes none).
REQUIRED = ("traces", "logs")


class ClickHouseError(EngineError):
    """The ClickHouse database cannot be used as it is; the message says what to fix."""


class ClickHouseUnreachable(ClickHouseError):
    """No ClickHouse answered at the address: it may be down, not the address wrong (the CLI
    exits 1 for it, as for any server down, and 2 for a database that is not usable)."""


def parameter_type(value: Any) -> str:
    """ClickHouse's type for a parameter value."""
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        # A trace_key (an id's first 8 bytes) is past Int64 half the time.
        return "UInt64" if value >= 2**63 else "Int64"
    if isinstance(value, float):
        return "Float64"
    if value is None:
        return "Nullable(String)"
    if isinstance(value, list | tuple):
        kinds = {parameter_type(item) for item in value} or {"String"}
        if len(kinds) != 1:
            raise EngineError(f"a list parameter must hold one type of value, not {kinds}")
        return f"Array({kinds.pop()})"
    if isinstance(value, str):
        return "String"
    raise EngineError(f"no ClickHouse type for a parameter of type {type(value).__name__}")


def _map_text(value: Any) -> str:
    return json.dumps(dict(value), ensure_ascii=False, separators=(",", ":"))


def plain(value: Any) -> Any:
    """A value from ClickHouse as the DuckDB engine gives it: maps as JSON text."""
    if isinstance(value, dict):
        return _map_text(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(plain(item) for item in value)
    return value


class ClickHouseEngine(Engine):
    """What both ClickHouse engines share: the relations over the exporter's tables, read
    from the server's own description of them."""

    dialect = "clickhouse"

    def __init__(self, tables: Tables | None = None):
        super().__init__()
        self.tables = tables or Tables()
        self._definitions: dict[str, Definition] | None = None
        self._definitions_lock = threading.Lock()

    @abstractmethod
    def raw(self, sql: str, values: Mapping[str, Any] | None = None) -> Result:
        """Run ClickHouse SQL (``{name:Type}`` parameters) as it is."""

    @abstractmethod
    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert rows (``store.otel_rows``: maps as dicts, times as ``DateTime64`` text)
        into a table of the exporter's database; returns the rows written."""

    def execute(self, compiled: Compiled, values: dict[str, Any]) -> Result:
        return self.raw(compiled.sql, values)

    def parameter_types(self, values: Mapping[str, Any]) -> dict[str, str]:
        return {name: parameter_type(value) for name, value in values.items()}

    def describe(self) -> dict[str, dict[str, str]]:
        """The exporter's tables in the database and their columns' types."""
        found: dict[str, dict[str, str]] = {}
        for table, name, type_name in self.raw(
            "SELECT table, name, type FROM system.columns WHERE database = {database:String} "
            "ORDER BY table, position",
            {"database": self.tables.database},
        ):
            found.setdefault(table, {})[name] = type_name
        return found

    def definitions(self) -> Mapping[str, Definition]:
        with self._definitions_lock:
            if self._definitions is None:
                columns = self.describe()
                self._check(columns)
                self._definitions = definitions(self.tables, columns)
            return self._definitions

    def _check(self, columns: Columns) -> None:
        missing = [
            getattr(self.tables, kind)
            for kind in REQUIRED
            if getattr(self.tables, kind) not in columns
        ]
        if missing:
            raise ClickHouseError(
                f"the ClickHouse database {self.tables.database!r} at {self.description} has "
                f"no table {' or '.join(missing)}: point the OpenTelemetry Collector's "
                "clickhouse exporter at it with create_schema: true, or create them with "
                "`bot-telemetry clickhouse-schema`"
            )

    def refresh(self) -> None:
        """Read the tables' description again (after creating or altering them)."""
        with self._definitions_lock:
            self._definitions = None
        with self._lock:
            self._compiled.clear()

    def create_schema(self, *, ttl_seconds: int = 0, table_engine: str = "MergeTree()") -> None:
        """Create the exporter's database and tables (as its ``create_schema`` would)."""
        statements = otel_schema.statements(
            self.tables, engine=table_engine, ttl_seconds=ttl_seconds
        )
        for statement in statements:
            self.raw(statement)
        self.refresh()

    def ttl_changes(self, ttl_seconds: int) -> list[tuple[str, str, str]]:
        """The exporter's tables whose TTL is not ``ttl_seconds``': (table, its TTL or '',
        the ALTER TABLE giving it this one). Tables that exist keep theirs through
        ``create_schema``."""
        existing = {
            name: (str(engine), str(engine_full))
            for name, engine, engine_full in self.raw(
                "SELECT name, engine, engine_full FROM system.tables "
                "WHERE database = {database:String}",
                {"database": self.tables.database},
            )
        }
        return otel_schema.ttl_changes(self.tables, ttl_seconds, existing)

    def metric_tables(self) -> list[str]:
        return [self.tables.metrics(kind) for kind in METRIC_KINDS]


def _connection_error(error: Exception, location: ClickHouseLocation) -> ClickHouseError:
    text = str(error)
    where = f"{location.host}:{location.port}"
    code = re.search(r"[Cc]ode:? (\d+)", text)
    if code and code.group(1) in ("516", "192", "193", "194"):
        return ClickHouseError(
            f"ClickHouse at {where} refused user {location.username!r}: wrong user name or "
            f"password (give them in the URL, or the password in ${PASSWORD_VARIABLE})"
        )
    if code:
        return ClickHouseError(f"ClickHouse at {where} answered with an error: {_first_line(text)}")
    return ClickHouseUnreachable(
        f"cannot reach ClickHouse at {where}"
        + (" over HTTPS" if location.secure else "")
        + f": {_reason(text)} (is the server running, and is the host and HTTP port right?)"
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else "no details"


def _reason(text: str) -> str:
    for marker in ("Connection refused", "Name or service not known", "timed out", "No route"):
        if marker.lower() in text.lower():
            return marker.lower()
    return _first_line(text)


def _escaped(value: Any) -> str:
    """A parameter value in ClickHouse's escaped text format (what ``param_x`` carries)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    if isinstance(value, list | tuple):
        return "[" + ",".join(_quoted(item) for item in value) + "]"
    raise EngineError(f"no ClickHouse text for a parameter of type {type(value).__name__}")


def _quoted(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return _escaped(value)


class ChDBEngine(ClickHouseEngine):
    """ClickHouse in this process (chDB): the real engine, used by tests and benchmarks.

    chDB allows one data directory per process; ``path`` None keeps the data in a
    temporary directory removed on ``close()``.
    """

    def __init__(self, path: str | None = None, tables: Tables | None = None):
        super().__init__(tables)
        try:
            from chdb import session
        except ImportError as error:
            raise ClickHouseError(
                "chDB is not installed: pip install 'bot-telemetry[clickhouse]'"
            ) from error
        self.path = path
        self._session = session.Session(path) if path else session.Session()  # type: ignore[no-untyped-call]
        self._session_lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"chdb:{self.path or '(temporary)'}"

    def raw(self, sql: str, values: Mapping[str, Any] | None = None) -> Result:
        params = {name: _escaped(value) for name, value in (values or {}).items()}
        try:
            # One query at a time on a session (chDB serialises them anyway).
            with self._session_lock:
                table = self._session.query(  # type: ignore[no-untyped-call]
                    sql, "ArrowTable", params=params or None
                )
        except Exception as error:  # chDB raises its own RuntimeError subclass
            raise EngineError(str(error).strip()) from error
        if table is None or not hasattr(table, "column_names"):
            return Result((), [])
        columns = tuple(table.column_names)
        values_by_column = [
            _from_arrow(table.column(index).to_pylist(), table.schema.field(index).type)
            for index in range(len(columns))
        ]
        return Result(columns, list(zip(*values_by_column, strict=True)))

    def execute_stream(
        self, compiled: Compiled, values: dict[str, Any], batch_rows: int
    ) -> Iterator[Result]:
        params = {name: _escaped(value) for name, value in values.items()}
        # The session is held while the caller reads: chDB runs one query at a time anyway.
        with self._session_lock:
            try:
                found = self._session.send_query(compiled.sql, "Arrow", params=params or None)
                reader = found.record_batch(rows_per_batch=batch_rows)
            except Exception as error:
                raise EngineError(str(error).strip()) from error
            try:
                for whole in reader:
                    columns = tuple(whole.schema.names)
                    # chDB's blocks follow ClickHouse's, whatever rows_per_batch says.
                    for offset in range(0, whole.num_rows, batch_rows):
                        batch = whole.slice(offset, batch_rows)
                        values_by_column = [
                            _from_arrow(
                                batch.column(index).to_pylist(), batch.schema.field(index).type
                            )
                            for index in range(len(columns))
                        ]
                        yield Result(columns, list(zip(*values_by_column, strict=True)))
            except EngineError:
                raise
            except Exception as error:
                raise EngineError(str(error).strip()) from error
            finally:
                found.close()  # type: ignore[no-untyped-call]

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        columns = list(rows[0])
        lines = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
        statement = (
            f"INSERT INTO {self.tables.qualified(table)} "
            f"({', '.join(f'`{column}`' for column in columns)})"
        )
        try:
            with self._session_lock, self._session.send_insert(statement, "JSONEachRow") as sink:
                sink.append(lines.encode())
                sink.finish()
        except Exception as error:
            raise EngineError(str(error).strip()) from error
        return len(rows)

    def close(self) -> None:
        with self._session_lock:
            self._session.close()  # type: ignore[no-untyped-call]


def _from_arrow(values: list[Any], arrow_type: Any) -> list[Any]:
    """Arrow's Python values as the DuckDB engine gives them: a map (which Arrow gives as
    a list of pairs) as JSON text."""
    import pyarrow as pa

    if pa.types.is_map(arrow_type):
        return [None if value is None else _map_text(value) for value in values]
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        if not _has_maps(arrow_type.value_type):
            return values
        return [
            None if value is None else _from_arrow(value, arrow_type.value_type) for value in values
        ]
    return values


def _has_maps(arrow_type: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_map(arrow_type):
        return True
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _has_maps(arrow_type.value_type)
    return False


class HTTPClickHouseEngine(ClickHouseEngine):
    """A ClickHouse server over its HTTP interface, with clickhouse-connect.

    No session is kept (``autogenerate_session_id`` off), so threads may query at once.
    """

    def __init__(self, client: Any, url: str, tables: Tables | None = None):
        super().__init__(tables)
        self._client = client
        self.url = url

    @classmethod
    def open(
        cls,
        location: ClickHouseLocation,
        *,
        create_schema: bool = False,
        ttl_seconds: int = 0,
        table_engine: str = "MergeTree()",
        timeout: float = 30.0,
    ) -> HTTPClickHouseEngine:
        """Connect and check that the exporter's tables are there (or create them, with
        ``create_schema``); a ClickHouseError says, in one line, what to fix (an unreachable
        server, wrong credentials, a missing database or tables)."""
        try:
            import clickhouse_connect
        except ImportError as error:
            raise ClickHouseError(
                "clickhouse-connect is not installed: pip install 'bot-telemetry[clickhouse]'"
            ) from error
        where = f"{location.host}:{location.port}"
        try:
            client = clickhouse_connect.get_client(
                host=location.host,
                port=location.port,
                username=location.username,
                password=location.password,
                secure=location.secure,
                connect_timeout=timeout,
                send_receive_timeout=timeout,
                autogenerate_session_id=False,
            )
        except Exception as error:
            raise _connection_error(error, location) from error
        engine = cls(client, str(location), location.tables)
        if create_schema:
            try:
                engine.create_schema(ttl_seconds=ttl_seconds, table_engine=table_engine)
            except EngineError as error:
                engine.close()
                raise ClickHouseError(
                    f"cannot create the exporter's tables in {location}: {_first_line(str(error))}"
                ) from error
        database = location.tables.database
        exists = engine.raw(
            "SELECT count() FROM system.databases WHERE name = {database:String}",
            {"database": database},
        ).scalar()
        if not exists:
            engine.close()
            raise ClickHouseError(
                f"ClickHouse at {where} has no database {database!r}: name the exporter's "
                "database in the URL (clickhouse://user:password@host:8123/DATABASE), or create "
                "it with the Collector's clickhouse exporter (create_schema: true) or "
                "`bot-telemetry clickhouse-schema --store URL`"
            )
        try:
            engine.definitions()
        except ClickHouseError:
            engine.close()
            raise
        return engine

    @property
    def description(self) -> str:
        return self.url

    def raw(self, sql: str, values: Mapping[str, Any] | None = None) -> Result:
        try:
            result = self._client.query(sql, parameters=dict(values or {}))
        except Exception as error:  # clickhouse-connect's own exception classes
            raise _engine_error(error) from error
        columns = tuple(result.column_names)
        return Result(columns, [tuple(plain(value) for value in row) for row in result.result_rows])

    def execute_stream(
        self, compiled: Compiled, values: dict[str, Any], batch_rows: int
    ) -> Iterator[Result]:
        try:
            stream = self._client.query_row_block_stream(
                compiled.sql, parameters=values, settings={"max_block_size": batch_rows}
            )
            with stream:
                columns = tuple(stream.source.column_names)
                for block in stream:
                    yield Result(columns, [tuple(plain(value) for value in row) for row in block])
        except EngineError:
            raise
        except Exception as error:  # clickhouse-connect's own exception classes
            raise _engine_error(error) from error

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        columns = list(rows[0])
        block = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode()
        try:
            self._client.raw_insert(
                self.tables.qualified(table),
                column_names=[f"`{column}`" for column in columns],
                insert_block=block,
                fmt="JSONEachRow",
            )
        except Exception as error:
            raise _engine_error(error) from error
        return len(rows)

    def close(self) -> None:
        self._client.close()


def _engine_error(error: Exception) -> EngineError:
    """clickhouse-connect's error as ours: its OperationalError is the server not reached
    (refused, timed out), which a later try may not meet; the rest are the server's answers."""
    from clickhouse_connect.driver.exceptions import OperationalError

    kind = EngineUnavailable if isinstance(error, OperationalError) else EngineError
    return kind(str(error).strip())
