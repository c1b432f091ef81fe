from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.azurite import azurite
from tests.support.browser import browser
from tests.support.telemetry import CapturedTelemetry, capture

__all__ = ["azurite", "browser"]  # one Azurite for the session; Chromium per module


@pytest.fixture
def telemetry() -> Iterator[CapturedTelemetry]:
    """The real OpenTelemetry SDK for service ``bot``, exporting to memory."""
    captured = capture("bot")
    yield captured
    captured.handle.shutdown()
