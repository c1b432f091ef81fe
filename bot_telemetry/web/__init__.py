"""Web layer: ``bot-telemetry serve``, the receiver, the UI and its JSON API on one port.

from bot_telemetry.web import CollectorThread, ServerConfig

with CollectorThread(ServerConfig(store=path, port=0)) as collector:
    print(collector.url)
"""

from .app import create_app
from .config import ConfigError, ServerConfig, is_loopback
from .discovery import discovery_path
from .lifecycle import CollectorThread, Running, serve, start

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
