"""TelemetryStorage around MemoryStorage, and around botbuilder-azure's BlobStorage talking to
a real Azure Blob endpoint (Azurite) on loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.storage.blob.aio import BlobServiceClient
from botbuilder.azure import (
    BlobStorage,
    BlobStorageSettings,
    CosmosDbPartitionedConfig,
    CosmosDbPartitionedStorage,
)
from botbuilder.core import ConversationState, MemoryStorage, StoreItem, TurnContext
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import TelemetryStorage
from bot_telemetry.signals.turn_context import turn_context_scope
from tests.dependencies.turns import bot_adapter, dependency_traces
from tests.support.azurite import AZURITE_ACCOUNT, Azurite
from tests.support.telemetry import CapturedTelemetry


def storage_spans(telemetry: CapturedTelemetry) -> list[ReadableSpan]:
    return [s for s in telemetry.spans() if s.name.startswith("Storage ")]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


# --- MemoryStorage ----------------------------------------------------------------------


async def test_state_in_a_turn_reads_and_writes_through_spans_and_trace_activities(
    telemetry: CapturedTelemetry,
) -> None:
    state = ConversationState(TelemetryStorage(MemoryStorage()))
    counter = state.create_property("count")

    async def logic(turn_context: TurnContext) -> None:
        with turn_context_scope(turn_context):  # what the turn middleware does
            count = await counter.get(turn_context, lambda: 0)
            await counter.set(turn_context, count + 1)
            await state.save_changes(turn_context)
        await turn_context.send_activity(f"count {count + 1}")

    adapter = bot_adapter(logic)
    await adapter.receive_activity("one")
    await adapter.receive_activity("two")
    assert [a.text for a in adapter.activity_buffer if a.type == "message"] == [
        "count 1",
        "count 2",
    ]

    spans = storage_spans(telemetry)
    # botbuilder's BotState reads again while its cached state is still empty (turn one).
    expected = ["Storage Read", "Storage Read", "Storage Write", "Storage Read", "Storage Write"]
    assert [s.name for s in spans] == expected
    for span in spans:
        assert span.kind is SpanKind.CLIENT
        assert attributes(span)["peer.service"] == "MemoryStorage"
        assert attributes(span)["service.peer.name"] == "MemoryStorage"
        assert attributes(span)["db.system.name"] == "memory"
        assert attributes(span)["bot.storage.key_count"] == 1
        assert attributes(span)["bot.dependency.result_code"] == "OK"
        assert span.status.status_code is StatusCode.UNSET
    found = [attributes(s).get("bot.storage.found_count") for s in spans]
    assert found == [0, 0, None, 1, None]
    assert [attributes(s)["db.operation.name"] for s in spans[1:3]] == ["read", "write"]
    assert [a.label for a in dependency_traces(adapter)] == expected
    assert not any("conversation-7" in str(v) for s in spans for v in attributes(s).values()), (
        "keys carry conversation and user ids: only their count is recorded"
    )


async def test_without_a_turn_there_is_no_trace_activity_but_a_span(
    telemetry: CapturedTelemetry,
) -> None:
    storage = TelemetryStorage(MemoryStorage())
    await storage.write({"k": {"v": 1}})
    assert await storage.read(["k", "other"]) == {"k": {"v": 1}}
    await storage.delete(["k"])
    spans = storage_spans(telemetry)
    assert [s.name for s in spans] == ["Storage Write", "Storage Read", "Storage Delete"]
    assert [attributes(s)["bot.storage.key_count"] for s in spans] == [1, 2, 1]
    assert attributes(spans[1])["bot.storage.found_count"] == 1


async def test_a_memory_etag_conflict_fails_the_write_span(telemetry: CapturedTelemetry) -> None:
    storage = TelemetryStorage(MemoryStorage())
    await storage.write({"k": StoreItem(v=1, e_tag="*")})
    await storage.write({"k": StoreItem(v=2, e_tag="*")})
    with pytest.raises(KeyError, match="Etag conflict"):
        await storage.write({"k": StoreItem(v=3, e_tag="0")})  # the first version's etag
    failed = storage_spans(telemetry)[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert attributes(failed)["bot.dependency.result_code"] == "KeyError"
    assert attributes(failed)["error.type"] == "KeyError"


async def test_botbuilders_own_argument_errors_pass_through(telemetry: CapturedTelemetry) -> None:
    storage = TelemetryStorage(MemoryStorage())
    with pytest.raises(Exception, match="Changes are required"):
        await storage.write(None)  # type: ignore[arg-type]
    [span] = storage_spans(telemetry)
    assert "bot.storage.key_count" not in attributes(span)
    assert span.status.status_code is StatusCode.ERROR


def test_names_can_be_given(telemetry: CapturedTelemetry) -> None:
    storage = TelemetryStorage(
        MemoryStorage(),
        name="session-cache",
        db_system="redis",
        namespace="0",
        endpoint="redis://cache.internal:6380",
    )
    assert storage.target.attributes() == {
        "peer.service": "session-cache",
        "service.peer.name": "session-cache",
        "server.address": "cache.internal",
        "server.port": 6380,
        "db.system.name": "redis",
        "db.namespace": "0",
    }


def test_cosmos_db_is_named_after_its_account() -> None:
    # Constructing it does not connect; the names come from its configuration.
    cosmos = CosmosDbPartitionedStorage(
        CosmosDbPartitionedConfig(
            cosmos_db_endpoint="https://contoso-bot.documents.azure.com:443/",
            auth_key="a2V5",
            database_id="bot-db",
            container_id="bot-state",
        )
    )
    target = TelemetryStorage(cosmos).target
    assert (target.name, target.db_system, target.db_namespace) == (
        "contoso-bot",
        "azure.cosmosdb",
        "bot-db",
    )
    assert (target.server_address, target.server_port) == ("contoso-bot.documents.azure.com", 443)


def test_something_that_is_not_a_storage_is_refused() -> None:
    with pytest.raises(TypeError, match="no read, write, delete"):
        TelemetryStorage({"k": "v"})  # type: ignore[arg-type]


# --- BlobStorage on Azurite -------------------------------------------------------------


@pytest.fixture
async def blobs(
    azurite: Azurite, instrumented_client: None
) -> AsyncIterator[tuple[TelemetryStorage, BlobServiceClient, str]]:
    container = f"state-{uuid.uuid4().hex[:12]}"
    storage = TelemetryStorage(
        BlobStorage(BlobStorageSettings(container, connection_string=azurite.connection_string))
    )
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        yield storage, service, container
    # BlobStorage has no close(), and its container client shares the transport of a
    # service client it does not keep: close that transport, or each test leaks a session.
    container_client = storage.inner._BlobStorage__container_client
    await container_client._pipeline._transport._transport.close()


async def test_blob_reads_writes_and_deletes_are_spans_on_the_account(
    telemetry: CapturedTelemetry,
    azurite: Azurite,
    blobs: tuple[TelemetryStorage, BlobServiceClient, str],
) -> None:
    storage, service, container = blobs
    await storage.write({"conv/1": {"turns": 1}, "user/1": {"name": "kept out of spans"}})
    read = await storage.read(["conv/1", "user/1", "never-written"])
    await storage.delete(["user/1", "never-written"])
    after = await storage.read(["conv/1", "user/1"])

    assert read["conv/1"]["turns"] == 1 and "never-written" not in read
    assert set(after) == {"conv/1"}
    spans = storage_spans(telemetry)
    assert [s.name for s in spans] == [
        "Storage Write",
        "Storage Read",
        "Storage Delete",
        "Storage Read",
    ]
    assert [attributes(s)["bot.storage.key_count"] for s in spans] == [2, 3, 2, 2]
    assert [attributes(s).get("bot.storage.found_count") for s in spans] == [None, 2, None, 1]
    for span in spans:
        found = attributes(span)
        assert span.kind is SpanKind.CLIENT
        assert found["peer.service"] == found["service.peer.name"] == AZURITE_ACCOUNT
        assert found["db.system.name"] == "azure.blob"
        assert found["db.namespace"] == container
        assert found["server.address"] == "127.0.0.1"
        assert found["server.port"] == azurite.port
        assert found["bot.dependency.result_code"] == "OK"
        # Blobs that are not there answer 404 and BlobStorage shrugs: still a success.
        assert span.status.status_code is not StatusCode.ERROR
    assert not [
        s
        for s in telemetry.spans()
        if s.kind is SpanKind.CLIENT and not s.name.startswith("Storage ")
    ], "blob requests report under the span"
    names = [b.name async for b in service.get_container_client(container).list_blobs()]
    assert names == ["conv/1"], "the wrapper changed nothing about what is stored"


async def test_a_blob_etag_conflict_fails_the_write_with_412(
    telemetry: CapturedTelemetry, blobs: tuple[TelemetryStorage, BlobServiceClient, str]
) -> None:
    storage, _, _ = blobs
    await storage.write({"conv/1": StoreItem(turns=1)})
    first = (await storage.read(["conv/1"]))["conv/1"]
    first.turns = 2
    await storage.write({"conv/1": first})  # the blob's etag changes
    first.turns = 3
    with pytest.raises(HttpResponseError) as caught:
        await storage.write({"conv/1": first})  # still carries the old etag
    assert caught.value.status_code == 412
    # azure-storage-blob reports a failed If-Match upload as ResourceExistsError.
    assert type(caught.value) is ResourceExistsError

    failed = storage_spans(telemetry)[-1]
    assert failed.name == "Storage Write"
    assert failed.status.status_code is StatusCode.ERROR
    assert attributes(failed)["bot.dependency.result_code"] == "412"
    assert attributes(failed)["error.type"] == "azure.core.exceptions.ResourceExistsError"
    assert [e.name for e in failed.events] == ["exception"]
    assert (await storage.read(["conv/1"]))["conv/1"].turns == 2, "the conflict wrote nothing"


async def test_a_missing_container_is_created_then_fails_writes_when_it_goes(
    telemetry: CapturedTelemetry, blobs: tuple[TelemetryStorage, BlobServiceClient, str]
) -> None:
    storage, service, container = blobs
    # A container that does not exist yet: BlobStorage creates it on first use.
    await storage.write({"conv/1": {"turns": 1}})
    assert await service.get_container_client(container).get_container_properties()
    # Deleted under a running bot: reads find nothing, writes fail with 404.
    await service.delete_container(container)
    assert await storage.read(["conv/1"]) == {}
    with pytest.raises(ResourceNotFoundError) as caught:
        await storage.write({"conv/1": {"turns": 2}})
    assert caught.value.error_code == "ContainerNotFound"

    created, read, failed = storage_spans(telemetry)
    assert created.status.status_code is not StatusCode.ERROR
    assert attributes(read)["bot.storage.found_count"] == 0
    assert read.status.status_code is not StatusCode.ERROR
    assert failed.status.status_code is StatusCode.ERROR
    assert attributes(failed)["bot.dependency.result_code"] == "404"
    # the default policy: the type, not azure-core's message (it names the blob: a state key)
    assert failed.status.description == "ResourceNotFoundError"
