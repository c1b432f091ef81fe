"""tokenUsage over a real botbuilder bot's telemetry (CloudAdapter over real HTTP) whose turns
call a model with ``llm_event_hooks()`` (the local OpenAI-protocol service of
tests/dependencies/language_services.py): a chat completion, a streamed one asking for its
usage, an embedding, and one refused (429); the same answer on DuckDB and ClickHouse (chDB)."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import httpx
from botbuilder.core import TurnContext
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bot_telemetry import llm_event_hooks
from bot_telemetry.analytics import query
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from tests.bot.harness import running_bot
from tests.dependencies.language_services import LLM_KEY, Received, language_app
from tests.support.bot_traffic import Traffic, load_clickhouse, load_duckdb
from tests.support.clickhouse import chdb_engine
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry


async def model_calls(client: httpx.AsyncClient, text: str) -> None:
    messages = [{"role": "user", "content": text}]
    chat = {"model": "gpt-4o-mini", "messages": messages}
    await client.post("/v1/chat/completions", json=chat)  # a 429 for "throttle"
    if "throttle" in text:
        return
    streamed = {**chat, "stream": True, "stream_options": {"include_usage": True}}
    async with client.stream("POST", "/v1/chat/completions", json=streamed) as response:
        async for _ in response.aiter_bytes():
            pass
    await client.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": text})


def usage(engine: Engine, start_ns: int, end_ns: int) -> dict[str, tuple[Any, ...]]:
    (result,) = query(
        engine,
        start_time=start_ns // 1_000_000,
        end_time=end_ns // 1_000_000 + 1000,
        measures=[{"measureType": "tokenUsage", "timeGranularity": ["week"]}],
    )
    found: dict[str, tuple[Any, ...]] = {}
    for row in result.response:
        if row["calls"]:
            calls, given, taken = found.get(row["model"], (0, 0, 0))
            found[row["model"]] = (
                calls + row["calls"],
                given + row["inputTokens"],
                taken + row["outputTokens"],
            )
    return found


async def test_token_usage_of_a_bots_model_calls(
    telemetry: CapturedTelemetry, tmp_path: Any
) -> None:
    received = Received()
    start_ns = time.time_ns()
    async with (
        serving(language_app(received)) as base,
        httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {LLM_KEY}"},
            event_hooks=llm_event_hooks(name="LLM"),
        ) as client,
    ):

        async def logic(context: TurnContext) -> None:
            await model_calls(client, context.activity.text)
            await context.send_activity("ok")

        async with running_bot(logic) as bot, aiohttp.ClientSession() as http:
            for text in ("book a table", "hi", "throttle me"):
                async with http.post(bot.url, json=bot.activity(text, "conv-1")) as response:
                    assert response.status in (200, 201)
    end_ns = time.time_ns()
    traffic = Traffic(requests=[encode_spans(telemetry.spans()), encode_logs(telemetry.logs())])
    store = Store.open(tmp_path / "store.duckdb")
    try:
        load_duckdb(store, traffic)
        with chdb_engine("tokens") as clickhouse:
            load_clickhouse(clickhouse, traffic)
            for engine in (DuckDBEngine(store), clickhouse):
                assert usage(engine, start_ns, end_ns) == {
                    # 2 answered chats and 2 streamed ones (12 in, 6 out each), 1 refused
                    "gpt-4o-mini": (5, 48, 24),
                    "text-embedding-3-small": (2, 18, 0),
                }, engine.dialect
    finally:
        store.close()
