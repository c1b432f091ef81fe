"""App map renderings: text, JSON, Mermaid and SVG (escaping and left-to-right layout)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

from bot_telemetry.analytics.appmap import AppMap, Edge, Node
from bot_telemetry.web.render import (
    as_json,
    as_mermaid,
    as_standalone_svg,
    as_svg,
    as_text,
    layout,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&'


def demo_map() -> AppMap:
    def edge(source: str, target: str, failures: int = 0) -> Edge:
        return Edge(
            source=source, target=target, calls=4, failures=failures, p50_ms=12.5, p95_ms=40.0
        )

    return AppMap(
        nodes=[
            # build_app_map's order: the service starting the most traces first
            Node(id="channel", kind="service", requests=4, failures=0),
            Node(id="bot", kind="service", requests=4, failures=0),
            Node(id="nlu", kind="service", requests=4, failures=1),
            Node(id=HOSTILE, kind="dependency", requests=4, failures=0),
        ],
        edges=[
            edge("channel", "bot"),
            edge("bot", "nlu", 1),
            edge("bot", HOSTILE),
            edge("bot", "channel"),
        ],
    )


def test_layout_reads_left_to_right_from_the_channel() -> None:
    placed = layout(demo_map())
    assert placed["channel"].column == 0
    assert placed["bot"].column == 1
    assert placed["nlu"].column == placed[HOSTILE].column == 2
    assert placed["channel"].x < placed["bot"].x < placed["nlu"].x


def test_svg_escapes_telemetry_values_and_marks_failures() -> None:
    document = ElementTree.fromstring(as_svg(demo_map()))
    assert document.find(f".//{SVG}script") is None
    nodes = {
        g.get("data-node"): g
        for g in document.iter(f"{SVG}g")
        if "node" in (g.get("class") or "").split()
    }
    assert set(nodes) == {"bot", "channel", "nlu", HOSTILE}
    names = {
        t.text for g in nodes.values() for t in g.iter(f"{SVG}text") if t.get("class") == "name"
    }
    assert HOSTILE[:21] + "…" in names  # long names are shortened on the node ...
    title = nodes[HOSTILE].find(f"{SVG}title")
    assert title is not None and (title.text or "").startswith(HOSTILE)  # ... not in its title
    assert "failed" in (nodes["nlu"].get("class") or "")
    assert "failed" not in (nodes["bot"].get("class") or "")
    failed_edges = [g for g in document.iter(f"{SVG}g") if g.get("class") == "edge failed"]
    assert [(g.get("data-source"), g.get("data-target")) for g in failed_edges] == [("bot", "nlu")]
    standalone = ElementTree.fromstring(as_standalone_svg(demo_map()).split("\n", 1)[1])
    assert standalone.find(f"{SVG}style") is not None


def test_text_json_and_mermaid() -> None:
    app_map = demo_map()
    text = as_text(app_map)
    assert "channel -> bot" in text and "calls      4" in text
    assert json.loads(as_json(app_map)) == app_map
    mermaid = as_mermaid(app_map)
    assert mermaid.startswith("flowchart LR\n")
    assert "<script>" not in mermaid and "#lt;script#gt;" in mermaid
    assert '|"4 calls, 1 failed, p50 12 ms, p95 40 ms"|' in mermaid
    assert "stroke:#d13438" in mermaid


def test_text_says_what_a_client_only_node_sent() -> None:
    """The web chat page calls the channel and is called by nothing: 'requests 0' (what make
    demo and 'bot-telemetry appmap' printed) read as its telemetry missing; the SVG and
    Mermaid already said 'calls out'."""
    app_map = demo_map()
    app_map["nodes"].append(Node(id="webchat", kind="service", requests=0, failures=0))
    app_map["edges"].append(
        Edge(source="webchat", target="channel", calls=7, failures=0, p50_ms=1.0, p95_ms=2.0)
    )
    text = as_text(app_map)
    nodes = text.split("nodes:\n", 1)[1].split("edges:", 1)[0].splitlines()
    [webchat] = [line for line in nodes if line.startswith("  webchat ")]
    [channel] = [line for line in nodes if line.startswith("  channel ")]
    assert "calls out     7" in webchat and "requests" not in webchat
    assert "requests      4" in channel
    assert webchat.index("failures") == channel.index("failures")  # the columns still line up


def test_an_empty_map_still_renders() -> None:
    empty = AppMap(nodes=[], edges=[])
    assert "no telemetry" in as_text(empty)
    assert "No telemetry" in as_svg(empty)
