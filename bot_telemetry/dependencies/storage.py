"""``TelemetryStorage``: any botbuilder ``Storage`` with a span per read, write and delete.

    storage = TelemetryStorage(BlobStorage(settings))
    conversation_state = ConversationState(storage)

What each span carries and how a store is named: ``stores.py``. The Agents SDK's
``Storage`` (``read(keys, *, target_cls)``) has its own wrapper, in ``agents.py``.
"""

from __future__ import annotations

from botbuilder.core import Storage

from .stores import StorageTelemetry, storage_target, succeeded

__all__ = ["TelemetryStorage", "storage_target"]


class TelemetryStorage(StorageTelemetry, Storage):  # type: ignore[misc]
    """Wraps ``storage`` and is itself a botbuilder ``Storage``; results pass through as is."""

    _wraps = "a botbuilder Storage"

    async def read(self, keys: list[str]) -> dict[str, object]:
        async with self._call("Read", keys) as call:
            items: dict[str, object] = await self.inner.read(keys)
            succeeded(call, items)
        return items

    async def write(self, changes: dict[str, object]) -> None:
        async with self._call("Write", changes) as call:
            await self.inner.write(changes)
            succeeded(call)

    async def delete(self, keys: list[str]) -> None:
        async with self._call("Delete", keys) as call:
            await self.inner.delete(keys)
            succeeded(call)
