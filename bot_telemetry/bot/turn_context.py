"""Deprecated: moved to ``bot_telemetry.signals``."""

from .._deprecated import moved

__getattr__ = moved("bot_telemetry.bot.turn_context", "bot_telemetry.signals")
