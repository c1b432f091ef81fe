"""Store layer: the DuckDB file behind ``bot-telemetry serve``, its single writer, and the rows
OTLP exports become."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy

if TYPE_CHECKING:
    from .database import Store, StoreBusy, StoreError
    from .location import DEFAULT_STORE

# Imported on first use: the command line imports .location (to parse --store) without DuckDB.
__getattr__ = lazy(
    __name__,
    {
        "DEFAULT_STORE": ".location",
        "Store": ".database",
        "StoreBusy": ".database",
        "StoreError": ".database",
    },
)

__all__ = ["DEFAULT_STORE", "Store", "StoreBusy", "StoreError"]
