"""Deprecated: moved to ``bot_telemetry.contract``."""

from .._deprecated import moved

__getattr__ = moved("bot_telemetry.bot.contract", "bot_telemetry.contract")
