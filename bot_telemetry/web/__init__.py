"""Web layer: ``bot-telemetry serve``, the receiver, the UI and its JSON API on one port.

from bot_telemetry.web import CollectorThread, ServerConfig

with CollectorThread(ServerConfig(store=path, port=0)) as collector:
    print(collector.url)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy

if TYPE_CHECKING:
    from .app import create_app
    from .config import ConfigError, ServerConfig, is_loopback
    from .discovery import discovery_path
    from .lifecycle import CollectorThread, Running, serve, start

# Imported on first use: the command line reads discovery_path and ConfigError without
# starting a server, and the server's modules import aiohttp and every layer below.
_LAZY = {
    "create_app": ".app",
    "ConfigError": ".config",
    "ServerConfig": ".config",
    "is_loopback": ".config",
    "discovery_path": ".discovery",
    "CollectorThread": ".lifecycle",
    "Running": ".lifecycle",
    "serve": ".lifecycle",
    "start": ".lifecycle",
}


__getattr__ = lazy(__name__, _LAZY)


__all__ = [
    "CollectorThread",
    "ConfigError",
    "Running",
    "ServerConfig",
    "create_app",
    "discovery_path",
    "is_loopback",
    "serve",
    "start",
]
