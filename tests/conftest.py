from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.telemetry import CapturedTelemetry, capture


@pytest.fixture
def telemetry() -> Iterator[CapturedTelemetry]:
    """The real OpenTelemetry SDK for service ``bot``, exporting to memory."""
    captured = capture("bot")
    yield captured
    captured.handle.shutdown()
