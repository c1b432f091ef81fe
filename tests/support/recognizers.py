"""A real botbuilder bot (CloudAdapter, real HTTP) that asks two recognizers on every message,
a CLU-like one and an LLM one, each wrapped in TelemetryRecognizer under its own name
(``clu``, ``llm``): its telemetry as OTLP export requests.

    "book": clu BookTable 0.9, llm BookTable 0.6      (said twice)
    "hi":   clu Greeting 0.8,  llm SmallTalk 0.7
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
from botbuilder.core import TurnContext
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bot_telemetry import TelemetryRecognizer
from bot_telemetry.store.database import Store
from tests.bot.harness import running_bot
from tests.support.bot_traffic import Traffic, load_duckdb
from tests.support.telemetry import CapturedTelemetry


class Answers:
    """A recognizer answering each text with its intent and score (LUIS's result shape)."""

    def __init__(self, answers: dict[str, tuple[str, float]]) -> None:
        self.answers = answers

    async def recognize(self, context: TurnContext) -> dict[str, Any]:
        intent, score = self.answers[context.activity.text]
        return {"intents": {intent: {"score": score}}, "entities": {}}


async def record_two_recognizers(telemetry: CapturedTelemetry) -> tuple[Traffic, int, int]:
    """The traffic, and the time before and after it (ns)."""
    clu = TelemetryRecognizer(
        Answers({"book": ("BookTable", 0.9), "hi": ("Greeting", 0.8)}), name="clu"
    )
    llm = TelemetryRecognizer(
        Answers({"book": ("BookTable", 0.6), "hi": ("SmallTalk", 0.7)}), name="llm"
    )

    async def logic(context: TurnContext) -> None:
        await clu.recognize(context)
        await llm.recognize(context)
        await context.send_activity("ok")

    start_ns = time.time_ns()
    async with running_bot(logic) as bot, aiohttp.ClientSession() as http:
        for text in ("book", "hi", "book"):
            async with http.post(bot.url, json=bot.activity(text, "conv-1")) as response:
                assert response.status in (200, 201)
    traffic = Traffic(requests=[encode_spans(telemetry.spans()), encode_logs(telemetry.logs())])
    return traffic, start_ns, time.time_ns()


def two_recognizers_store(telemetry: CapturedTelemetry, path: Path) -> tuple[int, int]:
    """The traffic in a DuckDB store at ``path`` (closed again); the time before and after it
    (ns). Recorded in a thread of its own: a caller may have an event loop running (the
    browser tests' Playwright)."""
    with ThreadPoolExecutor(1) as thread:
        recorded = thread.submit(asyncio.run, record_two_recognizers(telemetry))
        traffic, start_ns, end_ns = recorded.result(timeout=60)
    store = Store.open(path)
    try:
        load_duckdb(store, traffic)
    finally:
        store.close()
    return start_ns, end_ns
