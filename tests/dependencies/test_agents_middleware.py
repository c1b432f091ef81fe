"""The Agents SDK's TimedMiddleware in its real pipeline (as tests/dependencies/test_middleware.py
on botbuilder): the rest of the pipeline is called with the turn context."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from microsoft_agents.hosting.core import MemoryStorage, TurnContext, TurnState
from microsoft_agents.hosting.core.storage import FileTranscriptStore, TranscriptLoggerMiddleware
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from bot_telemetry.agents import TelemetryMiddleware
from bot_telemetry.dependencies.agents import TelemetryStorage, TimedMiddleware
from tests.agents.harness import RunningAgent, running_agent
from tests.support.telemetry import CapturedTelemetry

PAUSE = 0.05  # seconds; only ever used as a lower bound


class Pausing:
    """An Agents SDK middleware (its Middleware is a protocol) that spends ``before``
    seconds of its own, then lets the turn go on, passing the context as the SDK does."""

    def __init__(self, before: float = 0.0, call_next: bool = True) -> None:
        self.before, self.call_next = before, call_next

    async def on_turn(
        self, context: TurnContext, logic: Callable[[TurnContext], Awaitable[Any]]
    ) -> None:
        await asyncio.sleep(self.before)
        if self.call_next:
            await logic(context)


class Refusing:
    async def on_turn(
        self, context: TurnContext, logic: Callable[[TurnContext], Awaitable[Any]]
    ) -> None:
        raise PermissionError("tenant not allowed")


def both(timed: TimedMiddleware) -> list[Any]:
    """Our turn middleware, then the timed one: as an agent registers them."""
    return [TelemetryMiddleware(), timed]


async def slow_reply(context: TurnContext, state: TurnState) -> None:
    await asyncio.sleep(PAUSE)
    await context.send_activity("hello")


async def one_turn(agent: RunningAgent) -> None:
    async with aiohttp.ClientSession() as http:
        assert await agent.send(http, agent.activity("hi", "conv-m")) == 202


def times(span: ReadableSpan) -> tuple[float, float, float]:
    attributes = span.attributes or {}
    assert span.end_time is not None and span.start_time is not None
    return (
        float(attributes["bot.middleware.self_time_ms"]),  # type: ignore[arg-type]
        float(attributes["bot.middleware.downstream_time_ms"]),  # type: ignore[arg-type]
        (span.end_time - span.start_time) / 1e6,
    )


async def test_time_in_the_rest_of_the_pipeline_is_downstream_time(
    telemetry: CapturedTelemetry,
) -> None:
    async with running_agent(slow_reply, both(TimedMiddleware(Pausing(), name="Gate"))) as agent:
        await one_turn(agent)
    assert [r["activity"]["text"] for r in agent.replies()] == ["hello"]
    span = telemetry.span_named("Middleware Gate")
    assert (span.attributes or {})["bot.middleware.called_next"] is True
    assert (span.attributes or {})["peer.service"] == "Gate"
    own, downstream, total = times(span)
    assert downstream >= PAUSE * 1000, "the route's pause is downstream"
    assert 0 <= own and own + downstream <= total
    turn = telemetry.span_named("bot.turn")
    assert span.parent is not None and span.parent.span_id == turn.context.span_id


async def test_time_the_middleware_spends_itself_is_self_time(
    telemetry: CapturedTelemetry,
) -> None:
    async with running_agent(middleware=both(TimedMiddleware(Pausing(before=PAUSE)))) as agent:
        await one_turn(agent)
    own, downstream, total = times(telemetry.span_named("Middleware Pausing"))
    assert own >= PAUSE * 1000, "its own pause is self time"
    assert 0 <= downstream and own + downstream <= total


async def test_a_middleware_that_ends_the_turn_never_calls_next(
    telemetry: CapturedTelemetry,
) -> None:
    timed = TimedMiddleware(Pausing(call_next=False), name="Gate")
    async with running_agent(middleware=both(timed)) as agent:
        await one_turn(agent)
    attributes = telemetry.span_named("Middleware Gate").attributes or {}
    assert attributes["bot.middleware.called_next"] is False
    assert attributes["bot.middleware.downstream_time_ms"] == 0
    assert agent.replies() == [], "the agent never ran"


async def test_a_failing_middleware_fails_its_span_and_the_turn(
    telemetry: CapturedTelemetry,
) -> None:
    timed = TimedMiddleware(Refusing(), name="TenantFilter")
    async with running_agent(middleware=both(timed)) as agent:
        await one_turn(agent)
    assert [type(e) for e in agent.turn_errors] == [PermissionError]
    span = telemetry.span_named("Middleware TenantFilter")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["bot.dependency.result_code"] == "PermissionError"
    assert telemetry.span_named("bot.turn").status.status_code is StatusCode.ERROR


async def test_the_sdks_own_transcript_logger_timed_with_its_store(
    telemetry: CapturedTelemetry, tmp_path: Path
) -> None:
    store = FileTranscriptStore(tmp_path)
    timed = TimedMiddleware(TranscriptLoggerMiddleware(store), name="Transcript")
    storage = TelemetryStorage(MemoryStorage())
    async with running_agent(middleware=both(timed), storage=storage) as agent:
        await one_turn(agent)
    assert [r["activity"]["text"] for r in agent.replies()] == ["you said hi"]
    span = telemetry.span_named("Middleware Transcript")
    assert (span.attributes or {})["bot.middleware.called_next"] is True
    reads = [s for s in telemetry.spans() if s.name == "Storage Read"]
    assert reads and all(
        r.parent is not None and r.parent.span_id == span.context.span_id for r in reads
    ), "the whole application runs inside the transcript middleware"
    (transcript,) = await asyncio.to_thread(lambda: list(tmp_path.rglob("*.transcript")))
    assert "you said hi" in await asyncio.to_thread(transcript.read_text)


def test_something_that_is_not_middleware_is_refused() -> None:
    with pytest.raises(TypeError, match=r"wraps an Agents SDK middleware.*got function"):
        TimedMiddleware(slow_reply)  # type: ignore[arg-type]
