"""Engines: where the logical model's queries run.

    engine = DuckDBEngine(Store.open(path, read_only=True))
    result = engine.query("SELECT count(*) AS spans FROM spans WHERE start_ns >= $start",
                          {"start": 0})
    result.scalar()          # 1234
    result.dicts()           # [{"spans": 1234}]

Every engine takes the same SQL (DuckDB SQL over the relations of ``store.model``, with
``$name`` parameters and our macros; see ``compiler``) and returns the same Python values:
``int`` for integers and nanosecond times, ``float``, ``str``, ``bool``, ``None``, lists;
attribute maps selected whole come back as JSON text. Engines are safe to share between
threads. ``DuckDBEngine`` is the embedded store; ``store.clickhouse`` has the ClickHouse ones.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import duckdb

from . import duckdb_relations
from .compiler import Compiled, Definition, Dialect, QueryError, bound, compile_query
from .database import Store

#: Rows per batch of ``Engine.stream``.
BATCH_ROWS = 10_000


class EngineError(Exception):
    """A query failed in the engine (the message is the engine's own)."""


class EngineUnavailable(EngineError):
    """The engine could not be reached (a refused connection, a timeout, a server
    restarting): the same request may succeed later, so receivers answer 503."""


@dataclass(frozen=True)
class Result:
    """A query's rows, as tuples in the order of ``columns``."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Any:
        """The first column of the first row (None when there is no row)."""
        return self.rows[0][0] if self.rows else None


class Engine(ABC):
    """Runs logical queries on one database. Subclasses say how to execute compiled SQL."""

    dialect: ClassVar[Dialect]

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, tuple[tuple[str, str], ...], frozenset[str]], Compiled] = {}
        self._lock = threading.Lock()

    @property
    @abstractmethod
    def description(self) -> str:
        """Where the data is, for messages (never a password)."""

    @abstractmethod
    def definitions(self) -> Mapping[str, Definition]:
        """This engine's definition of each logical relation."""

    def parameter_types(self, values: Mapping[str, Any]) -> dict[str, str]:
        """The engine's type for each parameter value (ClickHouse needs them in the SQL)."""
        return {}

    def compile(self, sql: str, values: Mapping[str, Any] | None = None) -> Compiled:
        """``sql`` in this engine's dialect; compiled once per query, parameter types and
        set of NULL parameters (those are inlined: optional filters cost nothing)."""
        values = values or {}
        nulls = frozenset(name for name, value in values.items() if value is None)
        types = self.parameter_types(
            {name: value for name, value in values.items() if value is not None}
        )
        key = (sql, tuple(sorted(types.items())), nulls)
        with self._lock:
            found = self._compiled.get(key)
        if found is None:
            found = compile_query(sql, self.dialect, self.definitions(), types, nulls)
            with self._lock:
                self._compiled[key] = found
        return found

    def query(self, sql: str, values: Mapping[str, Any] | None = None) -> Result:
        """Run ``sql`` with ``$name`` parameters taken from ``values``."""
        compiled = self.compile(sql, values)
        return self.execute(compiled, bound(compiled, values or {}))

    @abstractmethod
    def execute(self, compiled: Compiled, values: dict[str, Any]) -> Result:
        """Run SQL this engine's compiler produced."""

    def stream(
        self, sql: str, values: Mapping[str, Any] | None = None, *, batch_rows: int = BATCH_ROWS
    ) -> Iterator[Result]:
        """Run ``sql`` and yield its rows a batch at a time, so a large answer (an export of
        millions of rows) is never all in memory. Close the iterator to stop early."""
        compiled = self.compile(sql, values)
        return self.execute_stream(compiled, bound(compiled, values or {}), batch_rows)

    def execute_stream(
        self, compiled: Compiled, values: dict[str, Any], batch_rows: int
    ) -> Iterator[Result]:
        """Batches of a compiled query's rows. This default runs it whole and cuts the answer;
        engines that can stream from the database override it."""
        result = self.execute(compiled, values)
        for start in range(0, len(result.rows), batch_rows):
            yield Result(result.columns, result.rows[start : start + batch_rows])

    @abstractmethod
    def close(self) -> None:
        """Release the connection (the engine is unusable afterwards)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class DuckDBEngine(Engine):
    """The embedded store. Each query runs on a cursor of its own, so threads may share it."""

    dialect = "duckdb"

    def __init__(self, store: Store, *, owns_store: bool = False):
        super().__init__()
        self.store = store
        self._owns_store = owns_store

    @property
    def description(self) -> str:
        return str(self.store.path)

    def definitions(self) -> Mapping[str, Definition]:
        return duckdb_relations.DEFINITIONS

    def execute(self, compiled: Compiled, values: dict[str, Any]) -> Result:
        with self.store.reader() as cursor:
            try:
                cursor.execute(compiled.sql, values)
                rows = cursor.fetchall()
            except duckdb.Error as error:
                raise EngineError(str(error)) from error
            columns = tuple(column[0] for column in cursor.description or [])
        return Result(columns, rows)

    def execute_stream(
        self, compiled: Compiled, values: dict[str, Any], batch_rows: int
    ) -> Iterator[Result]:
        with self.store.reader() as cursor:
            try:
                cursor.execute(compiled.sql, values)
                columns = tuple(column[0] for column in cursor.description or [])
                while rows := cursor.fetchmany(batch_rows):
                    yield Result(columns, rows)
            except duckdb.Error as error:
                raise EngineError(str(error)) from error

    def close(self) -> None:
        if self._owns_store:
            self.store.close()


__all__ = ["DuckDBEngine", "Engine", "EngineError", "QueryError", "Result"]
