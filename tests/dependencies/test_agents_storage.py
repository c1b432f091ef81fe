"""The Agents SDK's TelemetryStorage around its MemoryStorage, and around
microsoft-agents-storage-blob's BlobStorage talking to a real Azure Blob endpoint (Azurite)
on loopback: the same spans as botbuilder's wrapper (tests/dependencies/test_storage.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from azure.storage.blob.aio import BlobServiceClient
from microsoft_agents.hosting.core import MemoryStorage, StoreItem, TurnContext, TurnState
from microsoft_agents.storage.blob import BlobStorage, BlobStorageConfig
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry.dependencies.agents import TelemetryStorage
from tests.agents.harness import running_agent
from tests.support.azurite import AZURITE_ACCOUNT, Azurite
from tests.support.telemetry import CapturedTelemetry


class Counter(StoreItem):
    """A store item of the SDK's kind: JSON in, JSON out."""

    def __init__(self, turns: int = 0, note: str = "") -> None:
        self.turns, self.note = turns, note

    def store_item_to_json(self) -> dict[str, Any]:
        return {"turns": self.turns, "note": self.note}

    @staticmethod
    def from_json_to_store_item(json_data: dict[str, Any]) -> Counter:
        return Counter(json_data["turns"], json_data.get("note", ""))


def storage_spans(telemetry: CapturedTelemetry) -> list[ReadableSpan]:
    return [s for s in telemetry.spans() if s.name.startswith("Storage ")]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_memory_reads_writes_and_deletes_pass_through_as_spans(
    telemetry: CapturedTelemetry,
) -> None:
    storage = TelemetryStorage(MemoryStorage())
    await storage.write({"conv/1": Counter(1), "user/1": Counter(2, "kept out of spans")})
    read = await storage.read(["conv/1", "user/1", "never-written"], target_cls=Counter)
    await storage.delete(["user/1"])
    after = await storage.read(["conv/1", "user/1"], target_cls=Counter)

    assert {key: item.turns for key, item in read.items()} == {"conv/1": 1, "user/1": 2}
    assert isinstance(read["conv/1"], Counter), "target_cls is forwarded"
    assert set(after) == {"conv/1"}
    spans = storage_spans(telemetry)
    assert [s.name for s in spans] == [
        "Storage Write",
        "Storage Read",
        "Storage Delete",
        "Storage Read",
    ]
    assert [attributes(s)["bot.storage.key_count"] for s in spans] == [2, 3, 1, 2]
    assert [attributes(s).get("bot.storage.found_count") for s in spans] == [None, 2, None, 1]
    for span in spans:
        assert span.kind is SpanKind.CLIENT
        found = attributes(span)
        assert found["peer.service"] == found["service.peer.name"] == "MemoryStorage"
        assert found["db.system.name"] == "memory"
        assert found["bot.dependency.result_code"] == "OK"
        assert found["bot.dependency.component"] == "Storage"
        assert not any("conv/1" in str(v) or "user/1" in str(v) for v in found.values())


async def test_the_sdks_own_argument_errors_pass_through(telemetry: CapturedTelemetry) -> None:
    storage = TelemetryStorage(MemoryStorage())
    with pytest.raises(ValueError, match="Keys are required"):
        await storage.read([], target_cls=Counter)
    [span] = storage_spans(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["bot.dependency.result_code"] == "ValueError"


def test_something_that_is_not_a_storage_is_refused() -> None:
    with pytest.raises(TypeError, match="wraps an Agents SDK Storage; dict has no read"):
        TelemetryStorage({"k": "v"})  # type: ignore[arg-type]


async def test_an_agent_turn_loads_and_saves_its_state_through_the_wrapper(
    telemetry: CapturedTelemetry,
) -> None:
    async def count(context: TurnContext, state: TurnState) -> None:
        turns = state.conversation.create_property("turns")
        seen = await turns.get(context, lambda: 0)
        await turns.set(context, seen + 1)
        await context.send_activity(f"turn {seen + 1}")

    async with running_agent(count, storage=TelemetryStorage(MemoryStorage())) as agent:
        async with aiohttp.ClientSession() as http:
            for _ in range(2):
                assert await agent.send(http, agent.activity("hi", "conv-s")) == 202
    assert [r["activity"]["text"] for r in agent.replies()] == ["turn 1", "turn 2"]
    turns = [s for s in telemetry.spans() if s.name == "bot.turn"]
    names = [s.name for s in storage_spans(telemetry)]
    # conversation, user and the sign-in state read, the conversation written, each turn
    assert names == ["Storage Read"] * 3 + ["Storage Write"] + ["Storage Read"] * 3 + [
        "Storage Write"
    ]
    for span in storage_spans(telemetry):
        assert span.parent is not None
        assert span.parent.span_id in {t.context.span_id for t in turns}


# --- BlobStorage on Azurite -------------------------------------------------------------


@pytest.fixture
async def blobs(
    azurite: Azurite, instrumented_client: None
) -> AsyncIterator[tuple[TelemetryStorage, BlobServiceClient, str]]:
    container = f"state-{uuid.uuid4().hex[:12]}"
    blob = BlobStorage(
        BlobStorageConfig(container_name=container, connection_string=azurite.connection_string)
    )
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        yield TelemetryStorage(blob), service, container
    await blob._close()


async def test_blob_reads_writes_and_deletes_are_spans_on_the_account(
    telemetry: CapturedTelemetry,
    azurite: Azurite,
    blobs: tuple[TelemetryStorage, BlobServiceClient, str],
) -> None:
    storage, service, container = blobs
    await storage.write({"conv/1": Counter(1), "user/1": Counter(2, "kept out of spans")})
    read = await storage.read(["conv/1", "user/1", "never-written"], target_cls=Counter)
    await storage.delete(["user/1", "never-written"])
    after = await storage.read(["conv/1", "user/1"], target_cls=Counter)

    assert read["conv/1"].turns == 1 and "never-written" not in read
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
    ], "blob requests report under the storage span"
    names = [b.name async for b in service.get_container_client(container).list_blobs()]
    assert names == ["conv/1"], "the wrapper changed nothing about what is stored"


async def test_a_blob_that_cannot_be_serialized_fails_the_write_span(
    telemetry: CapturedTelemetry, blobs: tuple[TelemetryStorage, BlobServiceClient, str]
) -> None:
    # What the SDK's BlobStorage does with dialog state (microsoft/Agents-for-python#262).
    storage, _, _ = blobs
    with pytest.raises(TypeError, match="not JSON serializable"):
        await storage.write({"conv/1": Counter(1, note=object())})  # type: ignore[arg-type]
    [failed] = storage_spans(telemetry)
    assert failed.status.status_code is StatusCode.ERROR
    assert attributes(failed)["error.type"] == "TypeError"
