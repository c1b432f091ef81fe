"""Where the telemetry is: a DuckDB store file, or a ClickHouse database.

    parse_store(".bot-telemetry/telemetry.duckdb")            # Path
    parse_store("clickhouse://reader:pw@ch.local:8123/otel")   # ClickHouseLocation

A ClickHouse URL is ``clickhouse://[user[:password]@]host[:port][/database][?options]``
(``clickhouses://`` for HTTPS). The port defaults to 8123 (8443 with TLS), the user to
``default``, the database to ``otel`` (the Collector exporter's default). A password left out
of the URL is read from ``BOT_TELEMETRY_CLICKHOUSE_PASSWORD``, so it need not be on a command
line. Options name the exporter's tables when they are not its defaults:
``traces_table``, ``logs_table``, ``metrics_table_prefix``.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

# Nothing here imports DuckDB or sqlglot: the command line parses --store with it before
# it knows whether the command reads a store at all.
if TYPE_CHECKING:
    from .engine import Engine

DEFAULT_STORE = Path(".bot-telemetry") / "telemetry.duckdb"
#: The file name a store folder holds (``--store DIR`` means ``DIR/telemetry.duckdb``).
STORE_FILE_NAME = DEFAULT_STORE.name
PASSWORD_VARIABLE = "BOT_TELEMETRY_CLICKHOUSE_PASSWORD"
SCHEMES = ("clickhouse", "clickhouses")
_TABLE_OPTIONS = {
    "traces_table": "traces",
    "logs_table": "logs",
    "metrics_table_prefix": "metrics_prefix",
}


@dataclass(frozen=True)
class Tables:
    """Where the exporter writes: its ``database``, ``traces_table_name``,
    ``logs_table_name`` and the prefix of its metrics tables (the Collector's defaults)."""

    database: str = "otel"
    traces: str = "otel_traces"
    logs: str = "otel_logs"
    metrics_prefix: str = "otel_metrics"

    def metrics(self, kind: str) -> str:
        return f"{self.metrics_prefix}_{kind}"

    def qualified(self, table: str) -> str:
        return f"`{self.database}`.`{table}`"


@dataclass(frozen=True)
class ClickHouseLocation:
    host: str
    port: int = 8123
    username: str = "default"
    password: str = field(default="", repr=False)
    secure: bool = False
    tables: Tables = field(default_factory=Tables)

    @classmethod
    def parse(cls, url: str) -> ClickHouseLocation:
        """The location a ``clickhouse://`` URL names; ValueError saying what is wrong."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ValueError(f"{url!r} is not a clickhouse:// URL")
        if not parts.hostname:
            raise ValueError(
                "a ClickHouse URL needs a host: clickhouse://user:password@host:8123/database"
            )
        try:
            port = parts.port
        except ValueError as error:
            raise ValueError(f"the port in {parts.netloc!r} is not a number") from error
        secure = parts.scheme == "clickhouses"
        database = urllib.parse.unquote(parts.path.strip("/")) or Tables().database
        options = dict(urllib.parse.parse_qsl(parts.query))
        unknown = sorted(set(options) - set(_TABLE_OPTIONS))
        if unknown:
            known = ", ".join(_TABLE_OPTIONS)
            raise ValueError(f"unknown ClickHouse URL option(s) {unknown}; known: {known}")
        tables = Tables(
            database=database,
            **{_TABLE_OPTIONS[name]: value for name, value in options.items()},
        )
        password = parts.password
        return cls(
            host=parts.hostname,
            port=port or (8443 if secure else 8123),
            username=urllib.parse.unquote(parts.username or "default"),
            password=urllib.parse.unquote(password)
            if password is not None
            else os.environ.get(PASSWORD_VARIABLE, ""),
            secure=secure,
            tables=tables,
        )

    def __str__(self) -> str:
        """The URL without its password, for messages."""
        scheme = "clickhouses" if self.secure else "clickhouse"
        return f"{scheme}://{self.username}@{self.host}:{self.port}/{self.tables.database}"


def is_clickhouse(text: str) -> bool:
    return text.split("://", 1)[0] in SCHEMES and "://" in text


def parse_store(text: str | Path) -> Path | ClickHouseLocation:
    """``--store``'s value: a ClickHouse URL, else a store file (a folder means the
    ``telemetry.duckdb`` in it)."""
    if isinstance(text, str) and is_clickhouse(text):
        return ClickHouseLocation.parse(text)
    return store_file(text)


def store_file(path: str | Path) -> Path:
    """The store file ``path`` names: a folder (existing, or written with a trailing slash)
    means the store file inside it."""
    text = str(path)
    resolved = Path(path)
    if resolved.is_dir() or text.endswith(("/", "\\")):
        return resolved / STORE_FILE_NAME
    return resolved


def open_engine(location: Path | ClickHouseLocation) -> Engine:
    """A reading engine on ``location``: the store file opened read-only, or ClickHouse
    (checked: reachable, credentials accepted, the exporter's tables there)."""
    if isinstance(location, ClickHouseLocation):
        from .clickhouse import HTTPClickHouseEngine

        return HTTPClickHouseEngine.open(location)
    from .database import Store
    from .engine import DuckDBEngine

    return DuckDBEngine(Store.open(location, read_only=True), owns_store=True)
