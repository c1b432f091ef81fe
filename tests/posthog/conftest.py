from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.posthog import PostHogServer


@pytest.fixture
def posthog_server() -> Iterator[PostHogServer]:
    """A local server speaking PostHog's capture protocol, on a free loopback port."""
    server = PostHogServer()
    yield server
    server.close()
