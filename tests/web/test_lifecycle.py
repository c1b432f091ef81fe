"""``serve``'s process-wide settings: the cyclic GC's young threshold while it runs, and
everything put back once it stops."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from pathlib import Path

from bot_telemetry.web.config import ServerConfig
from bot_telemetry.web.lifecycle import YOUNG_COLLECTION_THRESHOLD, Running, serve


def test_serve_collects_young_objects_less_often_and_puts_the_gc_back(tmp_path: Path) -> None:
    before = gc.get_threshold()
    seen: list[tuple[tuple[int, ...], int]] = []

    def ready(running: Running) -> None:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        # serve stops on SIGTERM, as the CLI's process does.
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)

    asyncio.run(serve(ServerConfig(store=tmp_path / "store.duckdb", port=0), ready))

    assert len(seen) == 1
    threshold, frozen = seen[0]
    assert threshold == (YOUNG_COLLECTION_THRESHOLD, *before[1:])
    assert YOUNG_COLLECTION_THRESHOLD > before[0]
    assert frozen > 0  # what the server holds once started is not walked again
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
