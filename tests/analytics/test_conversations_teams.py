"""A Teams conversation whose bot edits and takes back its replies (update_activity,
delete_activity, a turn later, as Teams bots do), on DuckDB and ClickHouse (chDB): each
reply shows in place, in the turn that sent it, as it now reads and whether it was updated
or deleted; the transcript (``bot-telemetry conversations ID``) says so too. An invoke's
answer (``invokeResponse``) is not shown as a reply."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema.teams import TaskModuleRequest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bot_telemetry import PrivacyPolicy
from bot_telemetry.analytics.conversations import get_conversation
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from bot_telemetry.web.render import conversation_as_text
from tests.bot.harness import running_bot
from tests.bot.test_teams import PERSONAL_CHAT, teams_activity
from tests.support.bot_traffic import Traffic, load_clickhouse, load_duckdb
from tests.support.clickhouse import chdb_engine
from tests.support.telemetry import CapturedTelemetry, capture


class ReportBot(TeamsActivityHandler):  # type: ignore[misc]
    """ "report" gets a progress line and a draft; "finish" turns the first into the result
    and takes the draft back."""

    def __init__(self) -> None:
        self.sent: dict[str, str] = {}

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        if (turn_context.activity.text or "").endswith("report"):
            progress = await turn_context.send_activity("Working on it")
            draft = await turn_context.send_activity("Draft figures")
            self.sent = {"progress": progress.id, "draft": draft.id}
            return
        result = MessageFactory.text("Report ready")
        result.id = self.sent["progress"]
        await turn_context.update_activity(result)
        await turn_context.delete_activity(self.sent["draft"])
        await turn_context.send_activity("Done")

    async def on_teams_task_module_submit(
        self, turn_context: TurnContext, task_module_request: TaskModuleRequest
    ) -> None:
        return None  # answered 200, nothing said in the chat


async def record_teams_traffic(telemetry: CapturedTelemetry) -> Traffic:
    bot_logic = ReportBot()
    async with running_bot(bot_logic.on_turn) as bot:
        async with aiohttp.ClientSession() as http:
            for said in ("report", "finish"):
                body = teams_activity(bot, "message", text=f"<at>HelpBot</at> {said}")
                async with http.post(bot.url, json=body) as response:
                    assert response.status in (200, 201)
            submit = teams_activity(bot, "invoke", name="task/submit", value={"data": {}})
            async with http.post(bot.url, json=submit) as response:
                assert response.status == 200
    return Traffic(requests=[encode_spans(telemetry.spans()), encode_logs(telemetry.logs())])


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[list[Engine]]:
    # Text recorded, so the transcript shows which reply is which.
    telemetry = capture("bot", PrivacyPolicy(log_personal_information=True))
    try:
        traffic = asyncio.run(record_teams_traffic(telemetry))
    finally:
        telemetry.handle.shutdown()
    store = Store.open(tmp_path / "store.duckdb")
    load_duckdb(store, traffic)
    with chdb_engine("teams_conversations") as clickhouse:
        load_clickhouse(clickhouse, traffic)
        yield [DuckDBEngine(store), clickhouse]
    store.close()


def test_updated_and_deleted_replies_are_shown_in_place(engines: list[Engine]) -> None:
    for engine in engines:
        found = get_conversation(engine, PERSONAL_CHAT["id"])
        assert found is not None, engine.dialect
        turns = found["turns"]
        assert [(t["replies"], t["reply_changes"]) for t in turns] == [
            (["Report ready", "Draft figures"], ["updated", "deleted"]),
            (["Done"], [None]),
            # The invoke's answer (an invokeResponse BotMessageSend) is no line of the chat.
            ([], []),
        ], engine.dialect
        assert turns[2]["events"] == ["BotMessageReceived", "BotMessageSend"]
        assert [t["activity_name"] for t in turns] == [None, None, "task/submit"]
        assert turns[1]["events"][-3:] == [
            "BotMessageUpdate",
            "BotMessageDelete",
            "BotMessageSend",
        ]
        first, second, invoked = conversation_as_text(found).split("\n#")[1:]
        assert "  invoke task/submit  " in invoked.splitlines()[0]
        assert "user: (invoke activity)" in invoked
        assert "bot: Report ready  (updated later)" in first
        assert "bot: Draft figures  (deleted later)" in first
        assert "bot: Done\n" in second + "\n"
