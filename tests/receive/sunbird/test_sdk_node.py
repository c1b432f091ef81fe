"""The real Sunbird telemetry SDK in Node sends to ``POST /v1/telemetry``: every event its API
makes is valid and stored, with the SDK's own headers and ids."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

from bot_telemetry.privacy import PrivacyPolicy
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.tools import node, node_modules

HERE = Path(__file__).parent


def test_the_sdk_in_node_sends_every_eid_it_makes(tmp_path: Path) -> None:
    sdk = node_modules("@project-sunbird/telemetry-sdk")
    with CollectorThread(ServerConfig(store=tmp_path / "s.duckdb", port=0)) as running:
        ran = subprocess.run(
            [node(), str(HERE / "sdk_node.cjs"), str(sdk), running.url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        with urllib.request.urlopen(f"{running.url}/api/client-events?limit=100") as answer:
            stored = json.loads(answer.read())
        with urllib.request.urlopen(f"{running.url}/api/client-events/stats") as answer:
            stats = json.loads(answer.read())
    eids = sorted(event["eid"] for event in stored)
    assert eids == sorted(
        [
            "START",
            "IMPRESSION",
            "INTERACT",
            "FEEDBACK",
            "LOG",
            "ERROR",
            "INTERRUPT",
            "SEARCH",
            "SHARE",
            "AUDIT",
            "METRICS",
            "END",
        ]
    ), stats
    assert stats["failed"] == 0
    by_eid = {event["eid"]: event for event in stored}
    start = by_eid["START"]["properties"]
    assert start["sunbird.edata.uaspec.agent"] == "Node"
    assert start["sunbird.context.pdata.id"] == "node-client"
    assert start["sunbird.actor.id"] == PrivacyPolicy().pseudonymize("node-user")
    assert all(event["conversation_id"] == "conv-node" for event in stored)
    assert by_eid["FEEDBACK"]["properties"]["sunbird.edata.rating"] == 4
    # The SDK's sid is "": the collector gives the events one server-side session.
    assert {event["session_id"] for event in stored} == {stored[0]["session_id"]}
    assert stored[0]["session_id"].startswith("srv-")
