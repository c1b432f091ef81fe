"""A state store as a dependency: a span per read, write and delete, for any runtime.

``StorageTelemetry`` is what botbuilder's ``TelemetryStorage`` (``storage.py``) and the
Agents SDK's (``agents.py``) share: the app-map node a store is named after and
the call each operation is timed as. Each wrapper only forwards its runtime's signatures.

    storage = TelemetryStorage(BlobStorage(settings))
    conversation_state = ConversationState(storage)

Each call is a ``Storage Read`` / ``Storage Write`` / ``Storage Delete`` CLIENT span with
the number of keys (``bot.storage.key_count``; reads add ``bot.storage.found_count``) and
never the keys themselves, which carry user and conversation ids. The store is the
app-map node, named after what it is:

- ``MemoryStorage``: ``peer.service`` MemoryStorage, ``db.system.name`` memory.
- ``BlobStorage`` (botbuilder-azure's or microsoft-agents-storage-blob's): the storage
  account (``devstoreaccount1`` on Azurite), ``azure.blob``, ``db.namespace`` the
  container, server the blob endpoint.
- ``CosmosDbPartitionedStorage``: the Cosmos DB account (first label of its host),
  ``azure.cosmosdb``, ``db.namespace`` the database, ``db.collection.name`` the container.
- anything else: its class name, and the class name in lower case as ``db.system.name``.

Any of these can be given instead (``name``, ``db_system``, ``namespace``, ``endpoint``).
The trace activity goes to the turn marked by ``turn_context_scope``, since the Storage
API is not handed one.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any, Final

from .._deprecated import renamed
from .._private import blob_container_client
from ..privacy import PrivacyPolicy
from .call import RESULT_OK, DependencyCall, Target, dependency_call
from .events import string
from .trace_activities import TraceActivities

COMPONENT: Final = "Storage"
ATTR_OPERATION: Final = "db.operation.name"
ATTR_KEY_COUNT: Final = "bot.storage.key_count"
ATTR_FOUND_COUNT: Final = "bot.storage.found_count"
ATTR_COLLECTION: Final = "db.collection.name"


class StorageTelemetry:
    """Wraps ``storage``; each runtime's subclass is that runtime's ``Storage`` too."""

    _wraps = "a Storage"

    def __init__(
        self,
        storage: Any,
        *,
        name: str | None = None,
        db_system: str | None = None,
        namespace: str | None = None,
        endpoint: str | None = None,
        trace_activities: TraceActivities | str | None = None,
        privacy: PrivacyPolicy | None = None,
        policy: PrivacyPolicy | None = None,
    ) -> None:
        privacy = renamed(type(self).__name__, "policy", "privacy", policy, privacy)
        operations = ("read", "write", "delete")
        missing = [op for op in operations if not callable(getattr(storage, op, None))]
        if missing:
            raise TypeError(
                f"{type(self).__name__} wraps {self._wraps}; {type(storage).__name__} has no "
                f"{', '.join(missing)}"
            )
        self.inner = storage
        target = storage_target(storage)
        if endpoint:
            located = Target.for_url(target.name, endpoint)
            target = replace(
                target, server_address=located.server_address, server_port=located.server_port
            )
        self.target = replace(
            target,
            name=name or target.name,
            db_system=db_system or target.db_system,
            db_namespace=namespace or target.db_namespace,
        )
        self._collection = _collection_of(storage)
        self._trace_activities = TraceActivities.resolve(trace_activities)
        self._privacy = privacy

    def _call(self, operation: str, keys: Any) -> AbstractAsyncContextManager[DependencyCall]:
        # A plain function, not a nested context manager: each layer cost a few µs per call.
        attributes: dict[str, str | int] = {ATTR_OPERATION: operation.lower()}
        if keys is not None and hasattr(keys, "__len__"):
            attributes[ATTR_KEY_COUNT] = len(keys)
        if self._collection:
            attributes[ATTR_COLLECTION] = self._collection
        return dependency_call(
            f"{COMPONENT} {operation}",
            self.target,
            component=COMPONENT,
            attributes=attributes,
            trace_activities=self._trace_activities,
            privacy=self._privacy,
        )


def succeeded(call: DependencyCall, found: object = None) -> None:
    """Record a successful call; ``found``: what a read returned."""
    if isinstance(found, Mapping):
        call.set_attribute(ATTR_FOUND_COUNT, len(found))
    # One storage operation may be many requests (a blob per key, a container check); no
    # single HTTP status speaks for it, so a success is just OK.
    call.set_result_code(RESULT_OK)


def storage_target(storage: Any) -> Target:
    """The app-map node for a store (see the table in this module's docstring)."""
    kind = type(storage).__name__
    container = blob_container_client(storage) if kind == "BlobStorage" else None
    if container is not None:
        return Target.for_url(
            string(getattr(container, "account_name", None)) or kind,
            string(getattr(container, "url", None)),
            db_system="azure.blob",
            db_namespace=string(getattr(container, "container_name", None)),
        )
    config = getattr(storage, "config", None)
    cosmos_endpoint = string(getattr(config, "cosmos_db_endpoint", None))
    if cosmos_endpoint:
        account = Target.for_url(kind, cosmos_endpoint)
        return Target(
            (account.server_address or kind).split(".")[0],
            account.server_address,
            account.server_port,
            "azure.cosmosdb",
            string(getattr(config, "database_id", None)),
        )
    if kind == "MemoryStorage":
        return Target(kind, db_system="memory")
    return Target(kind, db_system=kind.lower())


def _collection_of(storage: Any) -> str | None:
    return string(getattr(getattr(storage, "config", None), "container_id", None))
