from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot_telemetry import instrument_aiohttp_client
from tests.dependencies.services import Received, nlu_app, qna_maker_app
from tests.support.servers import serving


@dataclass
class Service:
    url: str
    received: Received


@pytest.fixture
def instrumented_client() -> None:
    """Outgoing aiohttp calls carry the trace (process-wide and idempotent, as in a bot)."""
    instrument_aiohttp_client()


@pytest.fixture
async def nlu(instrumented_client: None) -> AsyncIterator[Service]:
    received = Received()
    async with serving(nlu_app(received)) as base:
        yield Service(f"{base}/predict", received)


@pytest.fixture
async def qna_maker(instrumented_client: None) -> AsyncIterator[Service]:
    received = Received()
    async with serving(qna_maker_app(received)) as base:
        yield Service(base, received)
