"""A real botbuilder bot (CloudAdapter, real HTTP) that answers two users, then writes to
them and to a third user unasked, as a reminder job does (``adapter.continue_conversation``):
its telemetry as OTLP export requests, for loading into any engine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
from botbuilder.core import TurnContext
from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationReference
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from tests.bot.harness import running_bot
from tests.support.bot_traffic import Traffic, load_clickhouse, load_duckdb
from tests.support.clickhouse import chdb_engine
from tests.support.telemetry import CapturedTelemetry


async def record_proactive_traffic(telemetry: CapturedTelemetry) -> tuple[Traffic, int, int]:
    """The traffic, and the time before and after it (ns). Users ``user-1`` and ``user-2``
    say "remind me" in ``conv-user-1`` / ``conv-user-2`` (answered "noted"); then every
    conversation, ``conv-user-3`` too, gets "Your table is booked for 8 pm"."""
    references: dict[str, ConversationReference] = {}

    async def logic(context: TurnContext) -> None:
        reference = TurnContext.get_conversation_reference(context.activity)
        references[reference.user.id] = reference
        await context.send_activity("noted")

    async def remind(context: TurnContext) -> None:
        await context.send_activity("Your table is booked for 8 pm")

    start_ns = time.time_ns()
    async with running_bot(logic) as bot:
        async with aiohttp.ClientSession() as http:
            for user in ("user-1", "user-2"):
                body = bot.activity("remind me", f"conv-{user}", user=user)
                async with http.post(bot.url, json=body) as response:
                    assert response.status in (200, 201)
        # A user the bot only writes to (a reference kept from long ago, or imported).
        references["user-3"] = ConversationReference(
            channel_id="directline",
            service_url=bot.connector_url,
            conversation=ConversationAccount(id="conv-user-3"),
            user=ChannelAccount(id="user-3"),
            bot=ChannelAccount(id="bot-1", name="Bot"),
        )
        for reference in references.values():
            await bot.adapter.continue_conversation(reference, remind, "")
    assert len(bot.connector.requests) == 5
    traffic = Traffic(requests=[encode_spans(telemetry.spans()), encode_logs(telemetry.logs())])
    return traffic, start_ns, time.time_ns()


@contextmanager
def proactive_engines(
    telemetry: CapturedTelemetry, folder: Path, database: str, *, notifying: bool = False
) -> Iterator[tuple[list[Engine], int, int]]:
    """The proactive traffic (with ``notifying``, ``record_notifying_traffic``'s) loaded into
    DuckDB (a store in ``folder``) and ClickHouse (chDB, ``database``): both engines, and the
    time before and after it (ns)."""
    record = record_notifying_traffic if notifying else record_proactive_traffic
    traffic, start_ns, end_ns = asyncio.run(record(telemetry))
    store = Store.open(folder / "store.duckdb")
    load_duckdb(store, traffic)
    try:
        with chdb_engine(database) as clickhouse:
            load_clickhouse(clickhouse, traffic)
            yield [DuckDBEngine(store), clickhouse], start_ns, end_ns
    finally:
        store.close()


async def record_notifying_traffic(telemetry: CapturedTelemetry) -> tuple[Traffic, int, int]:
    """A bot that, in ``user-1``'s turn ("talk to a person"), writes to an agent unasked
    (``continue_conversation`` inside the turn, as a handoff bot notifies its agents): the
    agent's proactive turn is a child of the user's, in the user's trace. The traffic, and
    the time before and after it (ns)."""
    agent = ConversationReference(
        channel_id="directline",
        conversation=ConversationAccount(id="conv-agent"),
        user=ChannelAccount(id="agent-1"),
        bot=ChannelAccount(id="bot-1", name="Bot"),
    )

    async def notify(context: TurnContext) -> None:
        await context.send_activity("A user asks for a person")

    async def logic(context: TurnContext) -> None:
        agent.service_url = context.activity.service_url
        await context.adapter.continue_conversation(agent, notify, "")
        await context.send_activity("An agent will be with you")

    start_ns = time.time_ns()
    async with running_bot(logic) as bot, aiohttp.ClientSession() as http:
        body = bot.activity("talk to a person", "conv-user-1", user="user-1")
        async with http.post(bot.url, json=body) as response:
            assert response.status in (200, 201)
    traffic = Traffic(requests=[encode_spans(telemetry.spans()), encode_logs(telemetry.logs())])
    return traffic, start_ns, time.time_ns()
