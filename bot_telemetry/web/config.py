"""What ``bot-telemetry serve`` is told: where the store is, where to listen, who may ask."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..privacy import PrivacyPolicy, current_policy
from ..receive.export import DEFAULT_MAX_BODY
from ..receive.otlp import DEFAULT_GRPC_PORT
from ..store.database import DEFAULT_STORE, store_file
from ..store.location import ClickHouseLocation
from ..store.writer import DEFER_SECONDS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
#: The receipt journal's file beside a DuckDB store: ``telemetry.duckdb.client-journal``.
JOURNAL_SUFFIX = ".client-journal"


class ConfigError(ValueError):
    """The server settings are unsafe or inconsistent."""


@dataclass(frozen=True)
class ServerConfig:
    """``grpc_port``: OTLP/gRPC on this port of the same host (0 picks one); None, the
    default here, serves no gRPC, so tests and notebooks never claim 4317 by surprise
    (``bot-telemetry serve`` passes ``DEFAULT_GRPC_PORT``). ``grpc_optional``: when that
    port is taken, serve without gRPC and log why, instead of failing to start."""

    #: The DuckDB store file, or a ClickHouse database (the Collector exporter's tables).
    store: Path | ClickHouseLocation = DEFAULT_STORE
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    grpc_port: int | None = None
    grpc_optional: bool = False
    allow_remote: bool = False
    #: Out of the repr, as a ClickHouse password: a config in a log or a traceback.
    token: str | None = field(default=None, repr=False)
    max_body: int = DEFAULT_MAX_BODY
    retention_seconds: float = 0
    #: Origins of pages allowed to send telemetry from a browser (CORS on /v1/*); "*": any.
    cors_origins: tuple[str, ...] = ()
    #: How long a client event's mid (and a bundle) is remembered to drop repeats.
    client_dedup_seconds: float = 3600.0
    #: The receipt journal of client bundles (``receive/journal.py``): True keeps it beside a
    #: DuckDB store (``<store>.client-journal``; ClickHouse has none unless given a path),
    #: False answers each bundle only once its rows are committed.
    client_journal: Path | bool = True
    #: How long client rows answered from the journal may wait to share a commit.
    client_linger_seconds: float = DEFER_SECONDS
    #: Serve the UI and API only, no receivers (ClickHouse filled by a Collector: a stateless
    #: reader, run as many as needed).
    read_only: bool = False
    #: ClickHouse: create the exporter's tables when missing (TTL from retention_seconds).
    create_schema: bool = False
    #: Data exhausts: their folder (jobs, files; default ``exhaust/`` next to the store), when
    #: the runner runs (``now``, ``daily@HH:MM``, ``off``) and how long download links last.
    exhaust_dir: Path | None = None
    exhaust_schedule: str = "now"
    exhaust_expiry_seconds: float = 30 * 60
    #: Where people reach this serve (``https://telemetry.example.com``) when that is not
    #: the address it is asked on (behind a reverse proxy): download links point there.
    public_url: str | None = None
    #: Requests a second each client address may make to the receivers (``/v1/*``) and to
    #: the reads (``/api/*`` but health, ``/analytics/*``, ``/dataset/*``), with bursts of
    #: 20 s of it (``web/ratelimit.py``); 0, the default here, is no limit, so tests and
    #: notebooks are never refused by surprise (``bot-telemetry serve`` passes 250 and 20).
    ingest_rate_limit: float = 0.0
    query_rate_limit: float = 0.0
    #: The privacy policy for telemetry that did not pass a bot's (other services' OTLP,
    #: client events): ``bot-telemetry serve --privacy FILE``. None, the default, is the
    #: process's own (``configure(privacy=...)``), read at each export.
    privacy: PrivacyPolicy | None = None
    #: The file ``privacy`` was read from (``--privacy FILE``): named in the backfill command
    #: the PostHog outage lines give, so that history goes out under the same policy.
    privacy_file: Path | None = None

    def __post_init__(self) -> None:
        # A folder means the store file inside it, here as everywhere.
        if not isinstance(self.store, ClickHouseLocation):
            object.__setattr__(self, "store", store_file(self.store))

    def policy(self) -> PrivacyPolicy:
        """The policy the receivers apply (``privacy``, else the process's current one)."""
        return self.privacy if self.privacy is not None else current_policy()

    def journal_path(self) -> Path | None:
        """Where the receipt journal is, or None when there is none."""
        if isinstance(self.client_journal, Path):
            return self.client_journal
        if self.client_journal and not isinstance(self.store, ClickHouseLocation):
            return self.store.with_name(self.store.name + JOURNAL_SUFFIX)
        return None

    def check(self) -> None:
        """Refuse ports outside 0-65535, a body limit under one byte, --privacy when
        read-only, --create-schema on a DuckDB store, a retention on a ClickHouse store that
        would change nothing, a public URL that is not scheme://host[:port], and a
        non-loopback bind unless it is explicit and protected by a token."""
        for option, port in (("--port", self.port), ("--grpc-port", self.grpc_port)):
            if port is not None and not 0 <= port <= 65535:
                raise ConfigError(f"{option} {port} is not a TCP port (0-65535; 0 picks one)")
        for option, rate in (
            ("--ingest-rate-limit", self.ingest_rate_limit),
            ("--query-rate-limit", self.query_rate_limit),
        ):
            if not rate >= 0 or rate == float("inf"):
                raise ConfigError(
                    f"{option} {rate:g} is not a rate: give requests a second per client "
                    "address, more than 0, or 0 for no limit"
                )
        if self.max_body < 1:
            raise ConfigError(
                "--max-body-mb must be more than 0: with no room for a body every export "
                "would be refused (413)"
            )
        if self.read_only and self.privacy is not None:
            raise ConfigError(
                "--privacy applies to the telemetry serve receives, and a --read-only serve "
                "receives none (what it reads was stored under the policy of whoever stored "
                "it): leave it out"
            )
        if self.create_schema and not isinstance(self.store, ClickHouseLocation):
            raise ConfigError(
                "--create-schema applies to a ClickHouse store (--store clickhouse://...); "
                "a DuckDB store creates its own tables: leave it out"
            )
        if (
            isinstance(self.store, ClickHouseLocation)
            and self.retention_seconds > 0
            and not self.create_schema
        ):
            raise ConfigError(
                "--retention on a ClickHouse store is the TTL of the tables --create-schema "
                "creates; without --create-schema it would drop nothing (the tables' own TTL, "
                "the exporter's ttl, decides)"
            )
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
            ):
                raise ConfigError(
                    f"--public-url {self.public_url!r} is not scheme://host[:port]: give the "
                    "address people open, e.g. https://telemetry.example.com (serve answers "
                    "at the root of it, not under a path)"
                )
        if not is_loopback(self.host):
            if not self.allow_remote:
                raise ConfigError(
                    f"refusing to listen on {self.host}: telemetry may hold personal data; "
                    "pass --allow-remote and --token to accept connections from other hosts"
                )
            if not self.token or len(self.token) < 16:
                raise ConfigError(
                    f"listening on {self.host} needs --token (16 characters or more) "
                    "that every client must send"
                )


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


__all__ = [
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LOOPBACK_NAMES",
    "ConfigError",
    "ServerConfig",
    "is_loopback",
]
