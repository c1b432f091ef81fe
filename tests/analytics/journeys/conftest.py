"""Generated event streams in both engines, for the journey tests."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from bot_telemetry.store.engine import Engine
from tests.support.journeys import Stream, journey_engines

#: Event names of the random stream: steps, look-alikes for patterns, an exclusion, noise.
NAMES = ("A", "B", "C", "Luis.x", "Luis.y", "X", "O")
GAPS = (0, 1, 5, 30, 120, 600, 1500, 2400)


def random_stream(seed: int = 17, conversations: int = 80) -> Stream:
    """Conversations of 3 to 12 events with gaps from none (a tie) to 40 minutes; four
    conversations per user, some overlapping in time."""
    rng = random.Random(seed)
    stream = Stream()
    for c in range(conversations):
        conversation = f"r{c:03d}"
        user = f"u{c % (conversations // 4):02d}"
        at = rng.randrange(0, 6 * 3600 * 10**6) / 1e6
        previous = None
        for _ in range(rng.randint(3, 12)):
            gap = rng.choice(GAPS)
            choices = [n for n in NAMES if not (gap == 0 and n == previous)]
            name = rng.choice(choices)
            at += gap
            stream.event(
                conversation,
                at,
                name,
                user=user,
                channel=rng.choice(("web", "teams")),
                k=rng.choice(("1", "2")),
            )
            previous = name
    return stream


@pytest.fixture(scope="package")
def random_engines(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stream, Engine, Engine]]:
    stream = random_stream()
    with journey_engines(stream, tmp_path_factory.mktemp("journeys"), "journeys_random") as (
        duckdb,
        clickhouse,
    ):
        yield stream, duckdb, clickhouse
