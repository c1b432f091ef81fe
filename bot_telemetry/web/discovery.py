"""The file a running server leaves next to its store, so the CLI can find it."""

from __future__ import annotations

from pathlib import Path


def discovery_path(store: Path) -> Path:
    """Where a running server says where it listens, for the CLI to find it."""
    return store.with_name(store.name + ".serve.json")
