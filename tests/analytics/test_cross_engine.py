"""Every query gives the same answer on DuckDB (the store) and ClickHouse (the exporter's
tables, in chDB), over the same telemetry (tests/support/bot_traffic.py).

To add a query: call it on both engines below and compare; it must also be non-trivial on
this data (assert something about the answer itself, so equal-but-empty cannot pass).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot_telemetry.analytics import appmap
from bot_telemetry.analytics.query import Query
from bot_telemetry.analytics.window import TimeWindow
from bot_telemetry.store.engine import Engine
from bot_telemetry.store.model import RELATIONS
from bot_telemetry.store.otel_rows import attribute_text
from tests.analytics.conftest import Engines
from tests.support.bot_traffic import MS, T0


def both(engines: Engines, legacy: bool = False) -> tuple[Engine, Engine]:
    return engines.duckdb, engines.clickhouse_legacy if legacy else engines.clickhouse


@pytest.fixture(params=["chdb", "http"])
def pair(engines: Engines, request: pytest.FixtureRequest) -> tuple[Engine, Engine]:
    """DuckDB and a ClickHouse engine: chDB in this process, or the HTTP client on the test
    server (the same data in both)."""
    other = engines.clickhouse if request.param == "chdb" else engines.clickhouse_http
    return engines.duckdb, other


@pytest.mark.parametrize("legacy", [False, True], ids=["current-spellings", "old-spellings"])
def test_app_map(engines: Engines, legacy: bool) -> None:
    duckdb, clickhouse = both(engines, legacy)
    expected = appmap.build_app_map(duckdb)
    assert appmap.build_app_map(clickhouse) == expected
    edges = {(e["source"], e["target"]): (e["calls"], e["failures"]) for e in expected["edges"]}
    turns = len(engines.traffic.turn_traces)
    # a request whose turn failed failed, though the bot answered it (on_turn_error)
    failed_turns = len(engines.traffic.failed_turn_traces)
    assert failed_turns > 0
    assert edges[("channel", "bot")] == (turns, failed_turns)
    bot = next(n for n in expected["nodes"] if n["id"] == "bot")
    assert (bot["requests"], bot["failures"]) == (turns, failed_turns)
    assert edges[("bot", "nlu")][1] > 0
    assert edges[("bot", "azure.blob")] == (turns, 0)
    assert {n["id"] for n in expected["nodes"]} == {"channel", "bot", "nlu", "qna", "azure.blob"}


def test_app_map_of_a_window(engines: Engines, pair: tuple[Engine, Engine]) -> None:
    # The first five turns only (one second apart).
    window = TimeWindow(T0, T0 + 5 * 1000 * MS)
    duckdb, clickhouse = pair
    expected = appmap.build_app_map(duckdb, window)
    assert appmap.build_app_map(clickhouse, window) == expected
    assert next(e for e in expected["edges"] if e["source"] == "channel")["calls"] == 5


@pytest.mark.parametrize("node", ["bot", "nlu", "azure.blob", "nowhere"])
def test_node_details(engines: Engines, node: str, pair: tuple[Engine, Engine]) -> None:
    duckdb, clickhouse = pair
    operations = appmap.node_operations(duckdb, node)
    assert appmap.node_operations(clickhouse, node) == operations
    trace_ids = appmap.node_trace_ids(duckdb, node, limit=5)
    assert appmap.node_trace_ids(clickhouse, node, limit=5) == trace_ids
    assert (len(operations) > 0) == (node != "nowhere")


# The example over `events` in docs/analytics-model.md: users and events per event name.
EVENTS_BY_NAME = Query(
    "example.events_by_name",
    """SELECT name, count(*) AS events, count(DISTINCT user_id) AS users,
              count(DISTINCT conversation_id) AS conversations,
              min(time_ns) AS first_ns, any_value(service_version) AS version
       FROM events WHERE time_ns >= $start AND time_ns < $end
       GROUP BY name ORDER BY events DESC, name""",
)


def test_events_by_name(engines: Engines, pair: tuple[Engine, Engine]) -> None:
    duckdb, clickhouse = pair
    expected = EVENTS_BY_NAME.run(duckdb, start=0, end=2**63 - 1).dicts()
    assert EVENTS_BY_NAME.run(clickhouse, start=0, end=2**63 - 1).dicts() == expected
    by_name = {row["name"]: row for row in expected}
    turns = len(engines.traffic.turn_traces)
    assert by_name["BotMessageReceived"]["events"] == turns
    assert by_name["BotMessageReceived"]["users"] == 3
    assert by_name["BotMessageReceived"]["version"] == "1.4.2"
    assert by_name["INTERACT"]["users"] == 3  # client events: the actor's fromId
    assert by_name["WaterfallStart"]["conversations"] == len(engines.traffic.conversations)


def as_text(value: object) -> object:
    """Attribute maps (JSON text) with every value as text, as ClickHouse stores them; an
    empty list as NULL (ClickHouse arrays cannot be NULL)."""
    if isinstance(value, str) and value.startswith("{"):
        return {key: attribute_text(item) for key, item in json.loads(value).items()}
    if value == []:
        return None
    return value


@pytest.mark.parametrize("relation", sorted(RELATIONS))
def test_every_relation_has_the_same_rows(
    engines: Engines, relation: str, pair: tuple[Engine, Engine]
) -> None:
    columns = [c.name for c in RELATIONS[relation].columns if not c.per_engine]
    sql = f"SELECT {', '.join(columns)} FROM {relation}"
    duckdb, clickhouse = pair
    left = sorted((tuple(as_text(v) for v in row) for row in duckdb.query(sql)), key=repr)
    right = sorted((tuple(as_text(v) for v in row) for row in clickhouse.query(sql)), key=repr)
    assert len(left) > 0
    assert left == right


def test_recent_events(engines: Engines, pair: tuple[Engine, Engine]) -> None:
    from bot_telemetry.analytics.events import list_events

    duckdb, clickhouse = pair
    for name in (None, "QnAMessage", "INTERACT", "LuisIntent.*", "*"):
        expected = list_events(duckdb, name=name, limit=30)
        found = list_events(clickhouse, name=name, limit=30)
        assert texts(found) == texts(expected)
        assert len(expected) > 0
    # A pattern is a prefix of the name, on both engines alike.
    luis = list_events(clickhouse, name="LuisIntent.*", limit=100_000)
    every = list_events(clickhouse, limit=100_000)
    assert luis == [e for e in every if e["name"].startswith("LuisIntent.")]
    assert {e["name"] for e in luis} == {"LuisIntent.Book"} and len(every) > len(luis)


def test_traces(engines: Engines, pair: tuple[Engine, Engine]) -> None:
    from bot_telemetry.analytics import traces

    duckdb, clickhouse = pair
    for query in (
        traces.TraceQuery(),
        traces.TraceQuery(failed=True),
        traces.TraceQuery(failed=False, limit=3),
        traces.TraceQuery(conversation_id="conv-1"),
        traces.TraceQuery(event_name="WaterfallStart", service="nlu"),
    ):
        expected = traces.search_traces(duckdb, query)
        assert traces.search_traces(clickhouse, query) == expected, query
        assert expected
        # Read from the latest nanosecond back (every stretch the search may stop at),
        # then as one window: the same traces.
        for engine in pair:
            assert traces.search_traces(engine, query, step_ns=1) == expected, query
            assert traces.search_traces(engine, query, step_ns=2**63) == expected, query


def test_conversations(engines: Engines, pair: tuple[Engine, Engine]) -> None:
    from bot_telemetry.analytics import conversations

    duckdb, clickhouse = pair
    expected = conversations.list_conversations(duckdb)
    assert conversations.list_conversations(clickhouse) == expected
    assert len(expected) == len(engines.traffic.conversations)
    for engine in pair:
        for limit in (1, 2, 100):
            whole = conversations.list_conversations(engine, limit=limit, step_ns=2**63)
            assert whole == expected[:limit]
            assert conversations.list_conversations(engine, limit=limit, step_ns=1) == whole
    one = conversations.get_conversation(duckdb, "conv-2")
    assert conversations.get_conversation(clickhouse, "conv-2") == one
    assert one is not None and one["client_events"] and one["turns"][0]["client_events"]


def test_client_events(engines: Engines, pair: tuple[Engine, Engine]) -> None:
    from bot_telemetry.analytics import client_events

    duckdb, clickhouse = pair
    for eid, conversation in ((None, None), ("INTERACT", "conv-1"), ("START", None)):
        expected = client_events.list_client_events(duckdb, eid=eid, conversation_id=conversation)
        found = client_events.list_client_events(clickhouse, eid=eid, conversation_id=conversation)
        assert texts(found) == texts(expected)
        assert expected
    assert client_events.counts(clickhouse) == client_events.counts(duckdb)
    assert client_events.counts(duckdb)["stored"]["START"] == len(engines.traffic.conversations)


@pytest.mark.parametrize("relation", sorted(RELATIONS))
def test_select_star_gives_the_model_columns_in_order(
    engines: Engines, relation: str, pair: tuple[Engine, Engine]
) -> None:
    for engine in pair:
        found = engine.query(f"SELECT * FROM {relation} LIMIT 1")
        assert found.columns == RELATIONS[relation].column_names


# GROUPING SETS: a column a row does not group by is NULL on both engines (ClickHouse's own
# default would be 0 or '').
EVENTS_BY_NAME_AND_CHANNEL = Query(
    "example.events_by_name_and_channel",
    """SELECT name, channel_id, count(*) AS events FROM events
       GROUP BY GROUPING SETS ((name, channel_id), (name), ())
       ORDER BY name NULLS FIRST, channel_id NULLS FIRST, events""",
)


def test_grouping_sets(engines: Engines) -> None:
    duckdb, clickhouse = both(engines)
    expected = EVENTS_BY_NAME_AND_CHANNEL.run(duckdb).rows
    assert EVENTS_BY_NAME_AND_CHANNEL.run(clickhouse).rows == expected
    # The grand total first, then per name its total before its channels.
    assert expected[0][:2] == (None, None)
    assert expected[0][2] == duckdb.query("SELECT count(*) AS n FROM events").scalar() > 0
    received = [r for r in expected if r[0] == "BotMessageReceived"]
    assert received[0][1] is None and received[0][2] == sum(r[2] for r in received[1:])
    assert {r[1] for r in received[1:]} == {"directline", "msteams"}


def texts(value: object) -> object:
    """``value`` with every attribute map's values as text (as ClickHouse keeps them)."""
    if isinstance(value, dict):
        return {
            key: {k: attribute_text(v) for k, v in item.items()}
            if key in ("attributes", "properties") and isinstance(item, dict)
            else texts(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [texts(item) for item in value]
    return value


def test_trace_detail(engines: Engines, pair: tuple[Engine, Engine]) -> None:
    from bot_telemetry.analytics import traces

    duckdb, clickhouse = pair
    for trace_id in engines.traffic.turn_traces[:3] + engines.traffic.turn_traces[-2:]:
        expected = traces.get_trace(duckdb, trace_id)
        assert expected is not None
        assert texts(traces.get_trace(clickhouse, trace_id)) == texts(expected)
        assert len(expected["spans"]) >= 10 and expected["logs"]
    assert traces.get_trace(clickhouse, "0" * 31 + "1") is None


def test_metrics(engines: Engines, pair: tuple[Engine, Engine]) -> None:
    from bot_telemetry.analytics import metrics

    duckdb, clickhouse = pair
    expected = metrics.list_metrics(duckdb)
    assert metrics.list_metrics(clickhouse) == expected
    assert {m["name"]: m["kind"] for m in expected} == {
        "bot.turns": "sum",
        "bot.turn.duration": "histogram",
    }
    for name in ("bot.turns", "bot.turn.duration"):
        found = metrics.get_metric(duckdb, name)
        assert found is not None and found["series"]
        assert texts(metrics.get_metric(clickhouse, name)) == texts(found)
    duration = metrics.get_metric(duckdb, "bot.turn.duration")
    assert duration is not None
    distribution = duration["series"][0]["distribution"]
    assert distribution is not None and distribution["count"] > 0
    assert metrics.get_metric(clickhouse, "no.such.metric") is None
    # A window that starts later reads each cumulative series' last point before it.
    later = TimeWindow(1, 2**63 - 1)
    found = metrics.get_metric(duckdb, "bot.turn.duration", later)
    assert texts(metrics.get_metric(clickhouse, "bot.turn.duration", later)) == texts(found)


def test_stored_history_walk(engines: Engines, pair: tuple[Engine, Engine]) -> None:
    """The PostHog backfill's resumable walk: page by page, every event once, in time order,
    with the turn's identity; cursors are each engine's own ids."""
    from bot_telemetry.analytics.events import stored_events_page

    def walk(engine: Engine) -> tuple[int | None, list[Any]]:
        window = TimeWindow()
        first = stored_events_page(engine, window, None, 7, count=True)
        seen, page, after = [], first, None
        while page["events"]:
            seen.extend(page["events"])
            last = page["events"][-1]
            after = (last["time_ns"], last["record_id"])
            page = stored_events_page(engine, window, after, 7)
        ids = [event["record_id"] for event in seen]
        assert len(ids) == len(set(ids)), "an event came twice"
        times = [event["time_ns"] for event in seen]
        assert times == sorted(times)
        shown = [{**event, "record_id": None} for event in seen]
        return first["remaining"], sorted(texts(shown), key=repr)

    duckdb, clickhouse = pair
    expected = walk(duckdb)
    assert walk(clickhouse) == expected
    remaining, events = expected
    assert remaining == len(events) > 50
    received = [event for event in events if event["name"] == "BotMessageReceived"]
    assert received[0]["turn"]["enduser.pseudo.id"].startswith("user-")
    assert received[0]["service_version"] == "1.4.2"
