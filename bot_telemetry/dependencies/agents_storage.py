"""``TelemetryStorage`` for the Microsoft 365 Agents SDK: its ``Storage`` with a span per
read, write and delete.

    from bot_telemetry.agents import TelemetryStorage
    storage = TelemetryStorage(BlobStorage(BlobStorageConfig("state", connection_string)))
    app = AgentApplication[TurnState](storage=storage, connection_manager=connections)

The same spans, attributes, app-map node and trace activities as botbuilder's wrapper
(``stores.py``); only the signature differs: the Agents SDK's ``read`` takes the item
class as a keyword (``read(keys, *, target_cls)``), forwarded as given. The SDK's own
``agents.storage.*`` spans (``BlobStorage`` only) are switched off by ``configure()``, so
each operation is one span in the trace (see docs/agents.md).
"""

from __future__ import annotations

from typing import Any, TypeVar

from microsoft_agents.hosting.core import Storage, StoreItem

from .stores import StorageTelemetry, succeeded

__all__ = ["TelemetryStorage"]

StoreItemT = TypeVar("StoreItemT", bound=StoreItem)


class TelemetryStorage(StorageTelemetry, Storage):
    """Wraps ``storage`` and is itself an Agents SDK ``Storage``; results pass through as is."""

    _wraps = "an Agents SDK Storage"

    async def read(
        self, keys: list[str], *, target_cls: type[StoreItemT], **kwargs: Any
    ) -> dict[str, StoreItemT]:
        async with self._call("Read", keys) as call:
            items: dict[str, StoreItemT] = await self.inner.read(
                keys, target_cls=target_cls, **kwargs
            )
            succeeded(call, items)
        return items

    async def write(self, changes: dict[str, StoreItem]) -> None:
        async with self._call("Write", changes) as call:
            await self.inner.write(changes)
            succeeded(call)

    async def delete(self, keys: list[str]) -> None:
        async with self._call("Delete", keys) as call:
            await self.inner.delete(keys)
            succeeded(call)
