from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.azurite import azurite
from tests.support.browser import browser
from tests.support.telemetry import CapturedTelemetry, capture

__all__ = ["azurite", "browser"]  # one Azurite for the session; Chromium per module

# The longest files (`pytest --durations=0`, summed per file): first, so that with two
# workers taking a file at a time (`make test`) none of them starts last and runs alone.
LONGEST_FIRST = (
    "tests/benchmarks/test_turn_overhead.py",
    "tests/cli/test_clickhouse.py",
    "tests/reliability/test_shutdown.py",
    "tests/reliability/test_soak.py",
    "tests/reliability/test_faults.py",
    "tests/reliability/test_privacy.py",
    "tests/web/test_journeys_ui.py",
    "tests/collector/test_cli.py",
    "tests/reliability/test_ui.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every file keeps its tests together and in order


@pytest.fixture
def telemetry() -> Iterator[CapturedTelemetry]:
    """The real OpenTelemetry SDK for service ``bot``, exporting to memory."""
    captured = capture("bot")
    yield captured
    captured.handle.shutdown()
