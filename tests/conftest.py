from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from tests.support.azurite import azurite
from tests.support.browser import browser
from tests.support.telemetry import CapturedTelemetry, capture

__all__ = ["azurite", "browser"]  # one Azurite for the session; Chromium per module

# The longest files (`pytest --durations=0`, summed per file, the ones above ~8 s): first,
# so that with two workers taking a file at a time (`make test`) none of them starts last and
# runs alone. The rest follow in collection order, each a few seconds at most.
LONGEST_FIRST = (
    "tests/web/test_ui_narrow_keyboard.py",
    "tests/reliability/test_soak.py",
    "tests/reliability/test_shutdown.py",
    "tests/reliability/test_faults.py",
    "tests/benchmarks/test_turn_overhead.py",
    "tests/web/test_journeys_ui.py",
    "tests/analytics/journeys/test_funnel_cases.py",
    "tests/sample_bot/test_demo.py",
    "tests/reliability/test_privacy.py",
    "tests/web/test_ui_fixes.py",
    "tests/export/test_batching.py",
    "tests/analytics/journeys/test_funnel.py",
    "tests/export/test_azure_monitor.py",
    "tests/reliability/test_ui.py",
    "tests/cli/test_clickhouse.py",
    "tests/analytics/test_measures.py",
    "tests/web/test_ui_fixes_journeys.py",
    "tests/web/test_posthog.py",
    "tests/deploy/test_rotel_collector.py",
    "tests/sample_bot/test_demo_measures.py",
    "tests/analytics/test_cross_engine.py",
    "tests/cli/test_serve_operator.py",
    "tests/sample_bot/test_runtimes.py",
    "tests/receive/test_hostile_exports.py",
    "tests/store/test_clickhouse_ingest.py",
    "tests/store/test_jsontext.py",
    "tests/deploy/test_rotel_clickhouse.py",
    "tests/sample_bot/test_webchat.py",
    "tests/analytics/journeys/test_booking_week.py",
    "tests/benchmarks/test_measures.py",
)


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist's --dist loadfile queues files by their number of tests (most first)
    # unless told not to, which undid LONGEST_FIRST: the one-test files (the soak, the
    # demo's runs, rotel) went last, and a worker ran them alone at the end.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every file keeps its tests together and in order


@pytest.fixture(scope="session", autouse=True)
def temp_under_basetemp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Temp files made by the tests and by the processes they start (the demo's
    bot-telemetry-demo-* log folders, running()'s proc-*.log) go under pytest's basetemp,
    which pytest prunes (it keeps the last 3 runs), not in /tmp, where a folder a demo run
    piled up. Processes inherit TMPDIR; a test that builds a process's environment from
    nothing passes it on (tests/reliability/stack.exporting_to)."""
    folder = str(tmp_path_factory.mktemp("tmp"))
    previous, previous_env = tempfile.tempdir, os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = tempfile.tempdir = folder
    yield folder
    tempfile.tempdir = previous
    if previous_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = previous_env


@pytest.fixture
def telemetry() -> Iterator[CapturedTelemetry]:
    """The real OpenTelemetry SDK for service ``bot``, exporting to memory."""
    captured = capture("bot")
    yield captured
    captured.handle.shutdown()
