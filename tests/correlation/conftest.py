"""Fixtures shared by the correlation tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import propagate
from opentelemetry.propagators.textmap import TextMapPropagator


class BrokenPropagator(TextMapPropagator):
    """A propagator that fails, as a misconfigured third-party one might."""

    def extract(self, carrier: object, context: object = None, getter: object = None) -> object:  # type: ignore[override]
        raise RuntimeError("broken extract")

    def inject(self, carrier: object, context: object = None, setter: object = None) -> None:  # type: ignore[override]
        raise RuntimeError("broken inject")

    @property
    def fields(self) -> set[str]:
        return set()


@pytest.fixture
def broken_propagator() -> Iterator[None]:
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(BrokenPropagator())
    yield
    propagate.set_global_textmap(previous)


@pytest.fixture(autouse=True)
def restore_peer_services() -> Iterator[None]:
    """Peer names are process-wide; keep one test's names out of every other test."""
    from bot_telemetry.correlation import outgoing

    saved = dict(outgoing._peer_services)
    yield
    outgoing._peer_services.clear()
    outgoing._peer_services.update(saved)
