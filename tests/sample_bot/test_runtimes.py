"""The sample on botbuilder and on the Microsoft 365 Agents SDK leaves telemetry of the same
shape: the demo (real processes, the real collector and store) runs the same scripted
conversations on each runtime, and what was stored is compared.

Same: the bot's span tree (every root-to-leaf path of span names and kinds in the bot
process), each span's attribute keys, every event name with its count and its property
keys, the app map's nodes and edges and the calls on every edge but storage. Not the same,
by design of the runtimes (docs/agents.md): how often state is read and written (an
``AgentApplication`` loads conversation, user and sign-in state on every turn), and the
connector route a welcome goes to.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot_telemetry.store.database import Store, rows_as_dicts
from sample_bot.scripts import SCRIPTS
from sample_bot.settings import RUNTIMES
from tests.support.ports import free_port
from tests.support.processes import REPO, run_cli_here

NAMES = ("collector", "nlu", "qna", "bot", "channel")
SPAN_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT"}


@dataclass
class Shape:
    paths: set[tuple[str, ...]]
    span_keys: dict[str, set[str]]
    events: Counter[str]
    event_keys: dict[str, set[str]]
    scopes: set[str]
    app_map: dict[str, Any]


def _run_demo(runtime: str, store: Path) -> None:
    ports = [option for name in NAMES for option in (f"--{name}-port", str(free_port()))]
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "sample_bot.demo",
            "--runtime",
            runtime,
            # Each script once, no failures on purpose: both runs do exactly the same.
            "--conversations",
            str(len(SCRIPTS)),
            "--nlu-fail-every",
            "0",
            "--qna-fail-every",
            "0",
            "--exit",
            "--store",
            str(store),
            *ports,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr


def _shape(path: Path) -> Shape:
    store = Store.open(path, read_only=True)
    try:
        with store.reader() as db:
            db.execute(
                "SELECT trace_id, span_id, parent_span_id, name, kind, scope_name, attributes "
                "FROM spans WHERE service_name = 'bot'"
            )
            spans = rows_as_dicts(db)
            db.execute(
                "SELECT event_name, attributes FROM logs "
                "WHERE service_name = 'bot' AND event_name IS NOT NULL"
            )
            records = rows_as_dicts(db)
    finally:
        store.close()
    by_id = {(s["trace_id"], s["span_id"]): s for s in spans}
    paths: set[tuple[str, ...]] = set()
    span_keys: dict[str, set[str]] = defaultdict(set)
    for span in spans:
        chain, node = [], span
        while node is not None:
            chain.append(f"{node['name']} [{SPAN_KINDS[node['kind']]}]")
            node = by_id.get((node["trace_id"], node["parent_span_id"]))
        paths.add(tuple(reversed(chain)))
        span_keys[span["name"]] |= set(json.loads(span["attributes"] or "{}"))
    events: Counter[str] = Counter()
    event_keys: dict[str, set[str]] = defaultdict(set)
    for record in records:
        events[record["event_name"]] += 1
        event_keys[record["event_name"]] |= set(json.loads(record["attributes"] or "{}"))
    # In this process: the demo ran as processes; tests/collector runs appmap as one.
    mapped = run_cli_here("appmap", "--store", str(path), "--format", "json")
    assert mapped.returncode == 0, mapped.stderr
    app_map = json.loads(mapped.stdout)
    scopes = {str(s["scope_name"]) for s in spans}
    return Shape(paths, dict(span_keys), events, dict(event_keys), scopes, app_map)


def test_both_runtimes_store_telemetry_of_the_same_shape(tmp_path: Path) -> None:
    shapes = {}
    for runtime in RUNTIMES:
        store = tmp_path / f"{runtime}.duckdb"
        _run_demo(runtime, store)
        shapes[runtime] = _shape(store)
    botbuilder, agents = shapes["botbuilder"], shapes["agents"]

    # The runtimes really ran: each turn span comes from its runtime's middleware, and the
    # Agents SDK's own spans (scope microsoft_agents) are not in the trace.
    assert "bot_telemetry.bot" in botbuilder.scopes - agents.scopes
    assert "bot_telemetry.agents" in agents.scopes - botbuilder.scopes
    assert "microsoft_agents" not in agents.scopes
    assert not any(name.startswith("agents.") for name in agents.span_keys)

    # The span tree: the same paths from the request to every leaf.
    assert agents.paths == botbuilder.paths
    under_turn = ("POST /api/messages [SERVER]", "bot.turn [INTERNAL]")
    timed = (*under_turn, "Middleware NormalizeText [INTERNAL]")
    for leaf in ("Storage Read", "Storage Write", "Recognizer Query", "QnA Query", "POST"):
        assert (*timed, f"{leaf} [CLIENT]") in agents.paths, leaf
    assert agents.span_keys == botbuilder.span_keys

    # The events: the same names, as many of each, with the same property keys.
    assert agents.events == botbuilder.events
    assert agents.events["WaterfallComplete"] > 0 and agents.events["QnAMessage"] > 0
    assert agents.event_keys == botbuilder.event_keys

    # The app map: the same nodes and edges, the same calls between services.
    def edges(app_map: dict[str, Any]) -> dict[tuple[str, str], int]:
        return {(e["source"], e["target"]): e["calls"] for e in app_map["edges"]}

    def nodes(app_map: dict[str, Any]) -> dict[str, str]:
        return {n["id"]: n["kind"] for n in app_map["nodes"]}

    assert nodes(agents.app_map) == nodes(botbuilder.app_map)
    ours, theirs = edges(agents.app_map), edges(botbuilder.app_map)
    assert set(ours) == set(theirs)
    storage = ("bot", "MemoryStorage")
    assert {k: v for k, v in ours.items() if k != storage} == {
        k: v for k, v in theirs.items() if k != storage
    }
    assert ours[storage] > 0 and theirs[storage] > 0
