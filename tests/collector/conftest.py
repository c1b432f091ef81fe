from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.collector.scenario import Sent, run_conversation


@dataclass
class Populated:
    collector: CollectorThread
    sent: Sent

    @property
    def url(self) -> str:
        return self.collector.url


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorThread]:
    """An empty collector on a free port, in this process, with its own store."""
    with CollectorThread(ServerConfig(store=tmp_path / "store.duckdb", port=0)) as running:
        yield running


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    """A collector that received the scenario's conversation through real OTLP exports."""
    store = tmp_path_factory.mktemp("populated") / "store.duckdb"
    with CollectorThread(ServerConfig(store=store, port=0)) as running:
        yield Populated(running, run_conversation(running.url))
