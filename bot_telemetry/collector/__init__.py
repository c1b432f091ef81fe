"""Deprecated: the collector side is now ``store``, ``receive``, ``analytics``, ``web`` and
``cli``; ``bot_telemetry.collector.server`` is ``bot_telemetry.web``."""
