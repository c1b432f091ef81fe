"""What ``bot-telemetry serve`` is told: where the store is, where to listen, who may ask."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ..receive import otlp_http
from ..store.database import DEFAULT_STORE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class ConfigError(ValueError):
    """The server settings are unsafe or inconsistent."""


@dataclass(frozen=True)
class ServerConfig:
    store: Path = DEFAULT_STORE
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow_remote: bool = False
    token: str | None = None
    max_body: int = otlp_http.DEFAULT_MAX_BODY
    retention_seconds: float = 0
    #: Origins of pages allowed to send telemetry from a browser (CORS on /v1/*); "*": any.
    cors_origins: tuple[str, ...] = ()
    #: How long a client event's mid (and a bundle) is remembered to drop repeats.
    client_dedup_seconds: float = 3600.0
    #: Data exhausts: their folder (jobs, files; default ``exhaust/`` next to the store), when
    #: the runner runs (``now``, ``daily@HH:MM``, ``off``) and how long download links last.
    exhaust_dir: Path | None = None
    exhaust_schedule: str = "now"
    exhaust_expiry_seconds: float = 30 * 60

    def check(self) -> None:
        """Refuse a non-loopback bind unless it is explicit and protected by a token."""
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
