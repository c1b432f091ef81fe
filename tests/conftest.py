from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.azurite import azurite
from tests.support.telemetry import CapturedTelemetry, capture

__all__ = ["azurite"]  # a session fixture: one Azurite for every test that needs it


@pytest.fixture
def telemetry() -> Iterator[CapturedTelemetry]:
    """The real OpenTelemetry SDK for service ``bot``, exporting to memory."""
    captured = capture("bot")
    yield captured
    captured.handle.shutdown()
