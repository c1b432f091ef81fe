"""One span per thing: the Agents SDK's own spans and metrics against ours.

The SDK opens ~45 kinds of INTERNAL span (``agents.*``, scope ``microsoft_agents``) and
records 17 metrics. Its turn, storage and connector spans duplicate ours, so
``configure()`` switches its scope off by default (docs/agents.md says why not enrich):
these tests pin both settings and the facts behind the choice.
"""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest
from microsoft_agents.hosting.core import MemoryStorage, TurnContext, TurnState
from microsoft_agents.storage.blob import BlobStorage, BlobStorageConfig
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import configure, contract
from bot_telemetry.dependencies.agents import TelemetryStorage
from bot_telemetry.export.configure import AGENTS_SDK_SCOPE, Telemetry
from tests.agents.harness import RunningAgent, running_agent
from tests.support.azurite import Azurite


class Captured:
    def __init__(self, silenced: tuple[str, ...] | None) -> None:
        self.spans = InMemorySpanExporter()
        self.metrics = InMemoryMetricReader()
        options = {} if silenced is None else {"silenced_scopes": silenced}
        self.handle: Telemetry = configure(
            "bot",
            span_exporters=[self.spans],
            log_exporters=[InMemoryLogRecordExporter()],
            metric_readers=[self.metrics],
            **options,
        )

    def finished(self) -> list[ReadableSpan]:
        assert self.handle.force_flush(10_000)
        return list(self.spans.get_finished_spans())

    def metric_scopes(self) -> set[str]:
        data = self.metrics.get_metrics_data()
        return {
            scope.scope.name
            for resource in (data.resource_metrics if data else [])
            for scope in resource.scope_metrics
            if scope.metrics
        }


@pytest.fixture
def default() -> Iterator[Captured]:
    captured = Captured(None)
    yield captured
    captured.handle.shutdown()


@pytest.fixture
def sdk_kept() -> Iterator[Captured]:
    captured = Captured(())
    yield captured
    captured.handle.shutdown()


async def two_turns(agent: RunningAgent) -> None:
    async with aiohttp.ClientSession() as http:
        for text in ("hello", "boom"):
            assert await agent.send(http, agent.activity(text, "conv-1", user="user-1")) == 202


async def route(context: TurnContext, state: TurnState) -> None:
    if context.activity.text == "boom":
        raise RuntimeError("boom")
    await context.send_activity("hi")


def by_name(spans: list[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        found.setdefault(span.name, []).append(span)
    return found


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next((s for s in spans if s.context.span_id == span.parent.span_id), None)


async def test_by_default_the_sdks_spans_and_metrics_are_off_and_the_tree_stays_whole(
    default: Captured,
) -> None:
    async with running_agent(route, storage=TelemetryStorage(MemoryStorage())) as agent:
        await two_turns(agent)
    spans = default.finished()
    assert {s.instrumentation_scope.name for s in spans}.isdisjoint({AGENTS_SDK_SCOPE})
    assert not [s for s in spans if s.name.startswith("agents.")]
    assert AGENTS_SDK_SCOPE not in default.metric_scopes()
    # Every span's parent is exported, but the driver's request spans' (the roots).
    for span in spans:
        if span.parent is None:
            assert span.kind is SpanKind.CLIENT
            assert str((span.attributes or {})["url.full"]).startswith(agent.url)
        else:
            assert parent_of(span, spans) is not None, span.name
    hello, boom = sorted(by_name(spans)["bot.turn"], key=lambda s: s.start_time or 0)
    assert (hello.status.status_code, boom.status.status_code) == (
        StatusCode.UNSET,
        StatusCode.ERROR,
    )
    # Storage and the reply sat under the SDK's spans; they attach to the turn now.
    children = [s.name for s in spans if parent_of(s, spans) is hello]
    assert sorted(children) == ["POST", "Storage Read", "Storage Read", "Storage Read"]


async def test_kept_the_sdks_spans_wrap_ours_and_duplicate_the_turn(sdk_kept: Captured) -> None:
    async with running_agent(route, storage=TelemetryStorage(MemoryStorage())) as agent:
        await two_turns(agent)
    spans = sdk_kept.finished()
    named = by_name(spans)
    assert AGENTS_SDK_SCOPE in sdk_kept.metric_scopes()
    # Three spans per turn where one would do: the SDK's process and run around ours.
    for turn in named["bot.turn"]:
        process = parent_of(turn, spans)
        assert process is not None and process.name == "agents.adapter.process"
        run = [s for s in named["agents.app.run"] if parent_of(s, spans) is turn]
        assert len(run) == 1
    # A turn that failed and was handled: the SDK's turn span still says OK, ours ERROR.
    failed = next(t for t in named["bot.turn"] if t.status.status_code is StatusCode.ERROR)
    process = parent_of(failed, spans)
    assert process is not None and process.status.status_code is StatusCode.OK
    # The connector's span sits between the route and our HTTP span, which carries the
    # status, the peer and the traceparent the channel receives.
    reply = next(
        s
        for s in named["POST"]
        if parent_of(s, spans) is not None
        and (parent_of(s, spans).name == "agents.connector.reply_to_activity")
    )
    connector = parent_of(reply, spans)
    assert connector is not None and connector.name == "agents.connector.reply_to_activity"
    assert connector.kind is SpanKind.INTERNAL
    assert (reply.attributes or {})["http.response.status_code"] == 200
    # The SDK's attributes arrive only at span end and bypass the privacy policy.
    assert (process.attributes or {})[contract.ATTR_CONVERSATION_ID] == "conv-1"


async def test_blob_storage_is_one_span_per_operation_by_default(
    default: Captured, azurite: Azurite
) -> None:
    blob = BlobStorage(
        BlobStorageConfig(container_name="sdk-spans", connection_string=azurite.connection_string)
    )
    try:
        async with running_agent(route, storage=TelemetryStorage(blob)) as agent:
            await two_turns(agent)
    finally:
        await blob._close()
    spans = default.finished()
    reads = by_name(spans)["Storage Read"]
    assert len(reads) == 6  # conversation, user and sign-in state, each turn
    assert not [s for s in spans if s.name.startswith("agents.storage")]
    for read in reads:
        parent = parent_of(read, spans)
        assert parent is not None and parent.name == "bot.turn"
        assert (read.attributes or {})["db.system.name"] == "azure.blob"
        assert (read.attributes or {})["db.namespace"] == "sdk-spans"
        # The blob requests report under the storage span, not beside it.
        assert not [s for s in spans if parent_of(s, spans) is read]
