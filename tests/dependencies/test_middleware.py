"""TimedMiddleware around real botbuilder middleware in TestAdapter's pipeline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from botbuilder.core import (
    AutoSaveStateMiddleware,
    ConversationState,
    MemoryStorage,
    Middleware,
    TurnContext,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import TelemetryStorage, TimedMiddleware
from tests.dependencies.turns import bot_adapter, dependency_traces
from tests.support.telemetry import CapturedTelemetry

PAUSE = 0.05  # seconds; only ever used as a lower bound


class Pausing(Middleware):  # type: ignore[misc]
    """Spends ``before`` seconds of its own before letting the turn continue."""

    def __init__(self, before: float = 0.0, call_next: bool = True) -> None:
        self.before = before
        self.call_next = call_next

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[Any]]) -> None:
        await asyncio.sleep(self.before)
        if self.call_next:
            await logic()


class Refusing(Middleware):  # type: ignore[misc]
    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[Any]]) -> None:
        raise PermissionError("tenant not allowed")


def replying(pause: float = 0.0) -> Callable[[TurnContext], Awaitable[None]]:
    async def logic(turn_context: TurnContext) -> None:
        await asyncio.sleep(pause)
        await turn_context.send_activity("hello")

    return logic


def times(span: ReadableSpan) -> tuple[float, float, float]:
    attributes = span.attributes or {}
    assert span.end_time is not None and span.start_time is not None
    total_ms = (span.end_time - span.start_time) / 1e6
    return (
        float(attributes["bot.middleware.self_time_ms"]),  # type: ignore[arg-type]
        float(attributes["bot.middleware.downstream_time_ms"]),  # type: ignore[arg-type]
        total_ms,
    )


async def test_time_in_the_rest_of_the_pipeline_is_downstream_time(
    telemetry: CapturedTelemetry,
) -> None:
    adapter = bot_adapter(replying(pause=PAUSE))
    adapter.use(TimedMiddleware(Pausing(), name="Gate"))
    await adapter.receive_activity("hi")

    span = telemetry.span_named("Middleware Gate")
    assert span.kind is SpanKind.INTERNAL
    attributes = span.attributes or {}
    assert attributes["peer.service"] == "Gate"
    assert attributes["bot.middleware.called_next"] is True
    own, downstream, total = times(span)
    assert downstream >= PAUSE * 1000, "the bot's pause is downstream"
    assert 0 <= own and own + downstream <= total
    assert [a.text for a in adapter.activity_buffer if a.type == "message"] == ["hello"]


async def test_time_the_middleware_spends_itself_is_self_time(
    telemetry: CapturedTelemetry,
) -> None:
    adapter = bot_adapter(replying())
    adapter.use(TimedMiddleware(Pausing(before=PAUSE)))
    await adapter.receive_activity("hi")

    span = telemetry.span_named("Middleware Pausing")  # named after its class by default
    own, downstream, total = times(span)
    assert own >= PAUSE * 1000, "its own pause is self time"
    assert 0 <= downstream and own + downstream <= total


async def test_a_middleware_that_ends_the_turn_never_calls_next(
    telemetry: CapturedTelemetry,
) -> None:
    adapter = bot_adapter(replying())
    adapter.use(TimedMiddleware(Pausing(call_next=False), name="Gate"))
    await adapter.receive_activity("hi")

    attributes = telemetry.span_named("Middleware Gate").attributes or {}
    assert attributes["bot.middleware.called_next"] is False
    assert attributes["bot.middleware.downstream_time_ms"] == 0
    assert [a.type for a in adapter.activity_buffer] == ["trace"], "the bot never ran"


async def test_a_failing_middleware_fails_its_span_and_the_turn(
    telemetry: CapturedTelemetry,
) -> None:
    adapter = bot_adapter(replying())
    adapter.use(TimedMiddleware(Refusing(), name="TenantFilter"))
    with pytest.raises(PermissionError, match="tenant not allowed"):
        await adapter.receive_activity("hi")
    span = telemetry.span_named("Middleware TenantFilter")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["bot.dependency.result_code"] == "PermissionError"
    [trace_activity] = dependency_traces(adapter)
    assert trace_activity.name == "Middleware"
    assert trace_activity.value["success"] is False


async def test_botbuilders_auto_save_middleware_shows_its_storage_write_as_its_own_work(
    telemetry: CapturedTelemetry,
) -> None:
    state = ConversationState(TelemetryStorage(MemoryStorage()))
    turns = state.create_property("turns")

    async def logic(turn_context: TurnContext) -> None:
        await turns.set(turn_context, await turns.get(turn_context, lambda: 0) + 1)
        await turn_context.send_activity("noted")

    adapter = bot_adapter(logic)
    adapter.use(TimedMiddleware(AutoSaveStateMiddleware([state])))
    await adapter.receive_activity("hi")

    spans = {s.name: s for s in telemetry.spans()}
    middleware = spans["Middleware AutoSaveStateMiddleware"]
    write = spans["Storage Write"]
    # The bot's reads and the middleware's write all run inside the middleware's span...
    for name in ("Storage Read", "Storage Write"):
        parent = spans[name].parent
        assert parent is not None and parent.span_id == middleware.context.span_id
    # ...and the write happens after the rest of the pipeline returned: self time.
    own, _, _ = times(middleware)
    assert write.end_time is not None and write.start_time is not None
    assert own >= (write.end_time - write.start_time) / 1e6
    # The storage calls found the turn through the middleware, so they are traced too.
    labels = [a.label for a in dependency_traces(adapter)]
    assert labels[-2:] == ["Storage Write", "Middleware AutoSaveStateMiddleware"]
    assert "Storage Read" in labels


def test_something_that_is_not_middleware_is_refused() -> None:
    with pytest.raises(TypeError, match=r"wraps a botbuilder Middleware.*got function"):
        TimedMiddleware(replying())  # type: ignore[arg-type]
