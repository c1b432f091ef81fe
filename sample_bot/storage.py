"""The bot's state store: in memory on a laptop, Azure Blob Storage when configured."""

from __future__ import annotations

import os

from botbuilder.core import MemoryStorage, Storage

from .settings import CONNECTION_STRING_ENV, CONTAINER_ENV

__all__ = ["CONNECTION_STRING_ENV", "CONTAINER_ENV", "make_storage"]


def make_storage() -> Storage:
    """``MemoryStorage``, or botbuilder-azure's ``BlobStorage`` when
    ``AZURE_STORAGE_CONNECTION_STRING`` is set (container ``AZURE_STORAGE_CONTAINER``,
    default ``bot-state``). ``TelemetryStorage`` names the app-map node after either."""
    connection_string = os.environ.get(CONNECTION_STRING_ENV, "").strip()
    if not connection_string:
        return MemoryStorage()
    try:
        from botbuilder.azure import BlobStorage, BlobStorageSettings
    except ImportError as error:
        raise ValueError(
            f"{CONNECTION_STRING_ENV} is set but botbuilder-azure is not installed: "
            "pip install 'bot-telemetry[azure]'"
        ) from error
    container = os.environ.get(CONTAINER_ENV, "").strip() or "bot-state"
    return BlobStorage(
        BlobStorageSettings(container_name=container, connection_string=connection_string)
    )
