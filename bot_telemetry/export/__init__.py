"""Export layer: OpenTelemetry SDK providers and exporters (the only layer touching the SDK)."""

from .configuration import EMBEDDED_ENDPOINT, Telemetry, configure, current, current_privacy, meter

__all__ = ["EMBEDDED_ENDPOINT", "Telemetry", "configure", "current", "current_privacy", "meter"]
