"""Store layer: the DuckDB file behind ``bot-telemetry serve``, its single writer, and the rows
OTLP exports become."""

from .database import DEFAULT_STORE, Store, StoreBusy, StoreError

__all__ = ["DEFAULT_STORE", "Store", "StoreBusy", "StoreError"]
