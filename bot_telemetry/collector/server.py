"""Deprecated: moved to ``bot_telemetry.web``."""

from .._deprecated import moved

__getattr__ = moved("bot_telemetry.collector.server", "bot_telemetry.web")
