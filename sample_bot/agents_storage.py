"""The Agents SDK variant's state store: in memory, or Azure Blob Storage when configured.

microsoft-agents-storage-blob 1.9 writes each item with ``json.dumps`` and the SDK's
dialog state (``DialogState``, prompt options holding activities) is not JSON, so a
booking cannot be kept in Blob Storage as it is (upstream: microsoft/Agents-for-python
#262 reports the same for the sign-in state). ``JsonSafeStorage`` works around it the way
botbuilder-azure's own BlobStorage does: objects are flattened with jsonpickle on write
and restored on read. Like botbuilder-azure's, it restores Python objects from the store:
only for a store that only the bot writes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import jsonpickle
from microsoft_agents.hosting.core import MemoryStorage, Storage, StoreItem

from .settings import CONNECTION_STRING_ENV, CONTAINER_ENV

StoreItemT = TypeVar("StoreItemT", bound=StoreItem)


def make_agents_storage(instrument: Callable[[Storage], Storage] = lambda s: s) -> Storage:
    """``MemoryStorage``, or microsoft-agents-storage-blob's ``BlobStorage`` when
    ``AZURE_STORAGE_CONNECTION_STRING`` is set (container ``AZURE_STORAGE_CONTAINER``,
    default ``bot-state``), each passed to ``instrument``; Blob's then behind
    ``JsonSafeStorage`` (outside, so the telemetry wrapper still sees the store itself)."""
    connection_string = os.environ.get(CONNECTION_STRING_ENV, "").strip()
    if not connection_string:
        return instrument(MemoryStorage())
    try:
        from microsoft_agents.storage.blob import BlobStorage, BlobStorageConfig
    except ImportError as error:
        raise ValueError(
            f"{CONNECTION_STRING_ENV} is set but microsoft-agents-storage-blob is not "
            "installed: pip install 'bot-telemetry[agents]'"
        ) from error
    container = os.environ.get(CONTAINER_ENV, "").strip() or "bot-state"
    blob = BlobStorage(
        BlobStorageConfig(container_name=container, connection_string=connection_string)
    )
    return JsonSafeStorage(instrument(blob))


class _Flattened(StoreItem):
    """An item whose JSON is its original's, flattened by jsonpickle."""

    def __init__(self, item: StoreItem) -> None:
        self.item = item

    def store_item_to_json(self) -> Any:
        return jsonpickle.Pickler().flatten(self.item.store_item_to_json())

    @staticmethod
    def from_json_to_store_item(json_data: Any) -> StoreItem:
        raise TypeError("a flattened item is only written; reads restore through _restoring()")


def _restoring(target_cls: type[StoreItemT]) -> type[StoreItemT]:
    """A ``target_cls`` that restores what ``_Flattened`` wrote, then builds the item."""

    def from_json(json_data: Any) -> StoreItemT:
        return target_cls.from_json_to_store_item(jsonpickle.Unpickler().restore(json_data))

    restoring: type[StoreItemT] = type(
        f"Restored{target_cls.__name__}",
        (target_cls,),
        {"from_json_to_store_item": staticmethod(from_json)},
    )
    return restoring


class JsonSafeStorage(Storage):
    """Wraps a JSON store (``BlobStorage``) so that any state can be written to it."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    async def read(
        self, keys: list[str], *, target_cls: type[StoreItemT], **kwargs: Any
    ) -> dict[str, StoreItemT]:
        return await self.inner.read(keys, target_cls=_restoring(target_cls), **kwargs)

    async def write(self, changes: dict[str, StoreItem]) -> None:
        await self.inner.write({key: _Flattened(item) for key, item in changes.items()})

    async def delete(self, keys: list[str]) -> None:
        await self.inner.delete(keys)
