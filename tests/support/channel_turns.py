"""A real botbuilder bot (CloudAdapter, real HTTP) that gets what Web Chat and Teams send on
their own besides what users do: its telemetry as OTLP export requests, loaded into DuckDB and
ClickHouse (chDB).

Every ``conversationUpdate`` turn records a ``ProfileRead`` custom event under a dependency
call's span (a child of the turn span). What each user id does, in this order:

* ``web-visitor``: Web Chat opens a conversation (a ``conversationUpdate`` from them, the
  bot welcomes them) and they say nothing;
* ``team-owner``: adds the bot to a team (a Teams ``conversationUpdate`` from them, the bot
  says hello to the team) and Teams says the bot was installed (``installationUpdate``);
* ``leaver``: says "hi" (answered), then is typing, then opens the page again (a
  ``conversationUpdate``) and the conversation ends (``endOfConversation``);
* ``late-talker``: Web Chat opens their conversation, then (after ``middle_ns``) they say
  "hello";
* ``web-joiner``: Web Chat opens a conversation and the page sends its ``webchat/join``
  event (an ``event`` activity, as Web Chat's welcome samples do on connecting); they say
  nothing;
* ``reactor``: likes a reply in Teams (``messageReaction``);
* ``clicker``: presses a card's button in Teams (an ``invoke``, ``adaptiveCard/action``).

Their pages' client events (Sunbird, as the collector stores them), linked to a turn by its
trace alone (a ``Trace`` cdata item, no ``Span``), as the sample's page links them: a
``START`` in ``web-visitor``'s conversationUpdate turn (the page opened: its request to open
the conversation) and an ``INTERACT`` in ``late-talker``'s message turn (the send button);
and ``page-only``'s page, loaded before any turn and closed: its ``START``, ``IMPRESSION``,
``HEARTBEAT`` and ``END`` name no trace (the telemetry SDK's, on load and on leave).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

from bot_telemetry import contract
from bot_telemetry.contract import TURN_SPAN_NAME
from bot_telemetry.dependencies.call import Target, dependency_call
from bot_telemetry.signals.custom_events import track_custom_event
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from tests.bot.harness import RunningBot, running_bot
from tests.support.bot_traffic import Traffic, load_clickhouse, load_duckdb
from tests.support.clickhouse import chdb_engine
from tests.support.telemetry import CapturedTelemetry

#: The custom event every conversationUpdate turn records under a dependency call's span.
PROFILE_READ = "ProfileRead"

#: The users whose turns were their own doing, and those who only had the channel's.
ACTING = ("leaver", "late-talker", "reactor", "clicker")
NOT_ACTING = ("web-visitor", "team-owner", "web-joiner", "page-only")


@dataclass
class ChannelTraffic:
    engines: list[Engine]
    start_ns: int
    #: After late-talker's conversationUpdate, before their message.
    middle_ns: int
    end_ns: int


async def _logic(context: TurnContext) -> None:
    activity = context.activity
    if activity.type == ActivityTypes.message:
        await context.send_activity("hi there")
    elif activity.type == ActivityTypes.conversation_update:
        # An event under a child span of the turn, not on the turn span itself: the welcome
        # looks up a profile and records what it found. It is the channel's doing, as the
        # turn is (one trace per turn).
        async with dependency_call("Profile Read", Target("profiles"), component="Profile"):
            track_custom_event(PROFILE_READ)
        await context.send_activity("Welcome! Ask me to book a table.")
    elif activity.type == ActivityTypes.invoke:
        await context.send_activity(
            Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200))
        )


def _activity(bot: RunningBot, kind: str, user: str, conversation: str, **extra: Any) -> Any:
    return {
        "type": kind,
        "id": uuid.uuid4().hex,
        "channelId": extra.pop("channelId", "webchat"),
        "serviceUrl": bot.connector_url,
        "from": {"id": user},
        "recipient": {"id": "bot-1", "name": "Bot"},
        "conversation": {"id": conversation},
        **extra,
    }


async def _record() -> tuple[Traffic, int, int, int]:
    start_ns = time.time_ns()
    async with running_bot(_logic) as bot, aiohttp.ClientSession() as http:

        async def post(kind: str, user: str, conversation: str, **extra: Any) -> None:
            body = _activity(bot, kind, user, conversation, **extra)
            async with http.post(bot.url, json=body) as response:
                assert response.status in (200, 201), (kind, response.status)

        joined = [{"id": "bot-1"}]
        await post("conversationUpdate", "web-visitor", "conv-web", membersAdded=joined)
        team = {"team": {"id": "19:team@thread.tacv2"}, "eventType": "teamMemberAdded"}
        await post(
            "conversationUpdate",
            "team-owner",
            "19:team@thread.tacv2",
            channelId="msteams",
            membersAdded=joined,
            channelData=team,
        )
        await post("installationUpdate", "team-owner", "19:team@thread.tacv2", action="add")
        await post("message", "leaver", "conv-leaver", text="hi")
        await post("typing", "leaver", "conv-leaver")
        await post("conversationUpdate", "leaver", "conv-leaver", membersAdded=joined)
        await post("endOfConversation", "leaver", "conv-leaver")
        await post("conversationUpdate", "late-talker", "conv-late", membersAdded=joined)
        # A whole millisecond between the two turns (measures take their window in ms):
        # the clock passes the next one within a millisecond.
        middle_ns = (time.time_ns() // 1_000_000 + 1) * 1_000_000
        while time.time_ns() <= middle_ns:
            pass
        await post("message", "late-talker", "conv-late", text="hello")
        await post("conversationUpdate", "web-joiner", "conv-join", membersAdded=joined)
        await post("event", "web-joiner", "conv-join", name="webchat/join", value={})
        await post(
            "messageReaction",
            "reactor",
            "a:teams-reactor",
            channelId="msteams",
            reactionsAdded=[{"type": "like"}],
            replyToId="reply-1",
        )
        await post(
            "invoke",
            "clicker",
            "a:teams-clicker",
            channelId="msteams",
            name="adaptiveCard/action",
            value={"action": {"type": "Action.Execute", "verb": "book"}},
        )
    return Traffic(requests=[]), start_ns, middle_ns, time.time_ns()


#: ``returner``'s turns, in order, and how many minutes after the first each is stored (the
#: bot runs them at once; their telemetry is moved later, trace by trace): they say "hi",
#: Web Chat opens their page again 15 minutes later, they say "hi again" 25 minutes after
#: that; 32 minutes later the page opens again and 23 minutes after that they say "back".
#: Their sessions, by what they did: at 0 (with the page opened at 15: nearer than 40, never a
#: tie, which the turns' real durations would break either way), at 40, and at 95 (with the
#: page opened at 72).
RETURNER_TURNS = (
    ("message", 0),
    ("conversationUpdate", 15),
    ("message", 40),
    ("conversationUpdate", 72),
    ("message", 95),
)


async def _record_returner() -> tuple[Traffic, int, int, int]:
    start_ns = time.time_ns()
    async with running_bot(_logic) as bot, aiohttp.ClientSession() as http:
        for kind, _ in RETURNER_TURNS:
            extra: dict[str, Any] = {"text": "hi"} if kind == "message" else {}
            if kind == "conversationUpdate":
                extra["membersAdded"] = [{"id": "bot-1"}]
            body = _activity(bot, kind, "returner", "conv-returner", **extra)
            async with http.post(bot.url, json=body) as response:
                assert response.status in (200, 201), (kind, response.status)
    end_ns = time.time_ns() + RETURNER_TURNS[-1][1] * 60 * 10**9
    return Traffic(requests=[]), start_ns, start_ns, end_ns


#: The page's events: (event name, user, conversation, the activity type of the turn whose
#: trace they name, None for none: then at the first turn's start).
PAGE_EVENTS: tuple[tuple[str, str, str, str | None], ...] = (
    ("START", "web-visitor", "conv-web", "conversationUpdate"),
    ("INTERACT", "late-talker", "conv-late", "message"),
    ("START", "page-only", "conv-page", None),
    ("IMPRESSION", "page-only", "conv-page", None),
    ("HEARTBEAT", "page-only", "conv-page", None),
    ("END", "page-only", "conv-page", None),
)


def _page_events(telemetry: CapturedTelemetry) -> ExportLogsServiceRequest:
    """``PAGE_EVENTS`` as an OTLP request: the client events' rows, as the collector writes
    them (``receive/sunbird/rows.py``): the conversation, the pseudonymous user, the trace."""
    pseudonym = telemetry.handle.privacy.pseudonymize
    records = []
    turns = [s for s in telemetry.spans() if s.name == TURN_SPAN_NAME]
    first = min(s.start_time or 0 for s in turns)
    for name, user, conversation, activity_type in PAGE_EVENTS:
        time_ns, trace_id = first, b""
        if activity_type is not None:
            (turn,) = (
                s
                for s in turns
                if (s.attributes or {}).get(contract.CONVERSATION_ATTRIBUTES[0]) == conversation
                and (s.attributes or {}).get(contract.ATTR_ACTIVITY_TYPE) == activity_type
            )
            time_ns = turn.start_time or 0
            trace_id = turn.context.trace_id.to_bytes(16, "big")
        attributes = {
            contract.CONVERSATION_ID: conversation,
            contract.FROM_ID: pseudonym(user),
        }
        records.append(
            LogRecord(
                time_unix_nano=time_ns,
                observed_time_unix_nano=time_ns,
                event_name=name,
                trace_id=trace_id,
                attributes=[
                    KeyValue(key=key, value=AnyValue(string_value=value))
                    for key, value in attributes.items()
                ],
            )
        )
    scope = ScopeLogs(
        scope=InstrumentationScope(name=contract.CLIENT_EVENT_SCOPE), log_records=records
    )
    page = KeyValue(key="service.name", value=AnyValue(string_value="webchat-page"))
    resource = ResourceLogs(scope_logs=[scope])
    resource.resource.attributes.append(page)
    return ExportLogsServiceRequest(resource_logs=[resource])


def _moved(requests: list[Any], minutes: dict[bytes, int]) -> None:
    """Each span and log record of a trace in ``minutes`` moved that many minutes later."""
    for request in requests:
        for resource in getattr(request, "resource_spans", ()):
            for scope in resource.scope_spans:
                for span in scope.spans:
                    shift = minutes.get(span.trace_id, 0) * 60 * 10**9
                    span.start_time_unix_nano += shift
                    span.end_time_unix_nano += shift
                    for event in span.events:
                        event.time_unix_nano += shift
        for resource in getattr(request, "resource_logs", ()):
            for scope in resource.scope_logs:
                for record in scope.log_records:
                    shift = minutes.get(record.trace_id, 0) * 60 * 10**9
                    # A record's time may be unset (0): the observed time stands for it.
                    if record.time_unix_nano:
                        record.time_unix_nano += shift
                    record.observed_time_unix_nano += shift


@contextmanager
def channel_engines(
    telemetry: CapturedTelemetry, folder: Path, database: str, *, returner: bool = False
) -> Iterator[ChannelTraffic]:
    """The traffic loaded into DuckDB (a store in ``folder``) and ClickHouse (chDB,
    ``database``); with ``returner``, ``RETURNER_TURNS`` instead (``middle_ns`` is the
    start)."""
    record = _record_returner if returner else _record
    traffic, start_ns, middle_ns, end_ns = asyncio.run(record())
    traffic.requests = [encode_spans(telemetry.spans()), encode_logs(telemetry.logs())]
    if not returner:
        traffic.requests.append(_page_events(telemetry))
    if returner:
        turns = sorted(
            (s for s in telemetry.spans() if s.name == TURN_SPAN_NAME),
            key=lambda s: s.start_time or 0,
        )
        assert len(turns) == len(RETURNER_TURNS)
        _moved(
            traffic.requests,
            {
                turn.context.trace_id.to_bytes(16, "big"): minutes
                for turn, (_, minutes) in zip(turns, RETURNER_TURNS, strict=True)
            },
        )
    store = Store.open(folder / "store.duckdb")
    load_duckdb(store, traffic)
    try:
        with chdb_engine(database) as clickhouse:
            load_clickhouse(clickhouse, traffic)
            yield ChannelTraffic([DuckDBEngine(store), clickhouse], start_ns, middle_ns, end_ns)
    finally:
        store.close()
