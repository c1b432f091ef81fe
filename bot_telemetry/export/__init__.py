"""Export layer: OpenTelemetry SDK providers and exporters (the only layer touching the SDK)."""

from __future__ import annotations

import warnings

from opentelemetry import metrics

from ..privacy import PrivacyPolicy, current_policy
from .configure import Telemetry, configure, current
from .destinations import EMBEDDED_ENDPOINT

__all__ = ["EMBEDDED_ENDPOINT", "Telemetry", "configure", "current"]


def current_privacy() -> PrivacyPolicy:
    """Deprecated: ``bot_telemetry.privacy.current_policy()``."""
    warnings.warn(
        "bot_telemetry.export.current_privacy() is deprecated; use "
        "bot_telemetry.privacy.current_policy()",
        DeprecationWarning,
        stacklevel=2,
    )
    return current_policy()


def meter(name: str) -> metrics.Meter:
    """Deprecated: ``opentelemetry.metrics.get_meter(name)`` follows every ``configure()``."""
    warnings.warn(
        "bot_telemetry.export.meter() is deprecated; use opentelemetry.metrics.get_meter(), "
        "which follows every configure() call",
        DeprecationWarning,
        stacklevel=2,
    )
    return metrics.get_meter(name)
