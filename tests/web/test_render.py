"""The app map SVG with about twenty services: every edge label sits beside its own edge's
caller or callee, and covers no node and no other label."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from bot_telemetry.analytics.appmap import AppMap, Edge, Node
from bot_telemetry.analytics.conversations import Answer, Conversation, Turn
from bot_telemetry.web import render

SVG = "{http://www.w3.org/2000/svg}"


def twenty_services() -> AppMap:
    """A gateway fanning out to 18 services; every third calls both of two databases."""

    def node(name: str, kind: str = "service") -> Node:
        return Node(id=name, kind=kind, requests=10, failures=0)

    def edge(source: str, target: str, calls: int, failures: int = 0) -> Edge:
        return Edge(
            source=source, target=target, calls=calls, failures=failures, p50_ms=1.0, p95_ms=12.5
        )

    services = [f"svc{i:02d}" for i in range(18)]
    edges = [edge("channel", "gateway", 100), edge("gateway", "channel", 100)]
    edges += [edge("gateway", name, 10 + i, failures=i % 5) for i, name in enumerate(services)]
    for name in services[::3]:
        edges += [edge(name, "postgres", 5), edge(name, "redis", 7)]
    nodes = [node("channel"), node("gateway"), *map(node, services)]
    nodes += [node("postgres", "dependency"), node("redis", "dependency")]
    return AppMap(nodes=nodes, edges=edges)


def label_box(text: ElementTree.Element) -> tuple[float, float, float, float]:
    width = len(text.text or "") * render.LABEL_CHAR_WIDTH
    x, y = float(text.attrib["x"]), float(text.attrib["y"])
    left = {"end": x - width, "middle": x - width / 2, "start": x}[text.attrib["text-anchor"]]
    return left, y - render.LABEL_HEIGHT + 3, left + width, y + 3


def distance(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    dx = max(b[0] - a[2], a[0] - b[2], 0)
    dy = max(b[1] - a[3], a[1] - b[3], 0)
    return float((dx * dx + dy * dy) ** 0.5)


def test_each_label_is_beside_its_own_edge_and_covers_nothing() -> None:
    app_map = twenty_services()
    root = ElementTree.fromstring(render.as_svg(app_map))
    nodes = {}
    for group in root.iter(f"{SVG}g"):
        if "node" in group.attrib.get("class", "").split():
            rect = group.find(f"{SVG}rect")
            assert rect is not None
            x, y = float(rect.attrib["x"]), float(rect.attrib["y"])
            nodes[group.attrib["data-node"]] = (x, y, x + render.NODE_WIDTH, y + render.NODE_HEIGHT)
    labels = []
    for text in root.iter(f"{SVG}text"):
        if "edge-label" in text.attrib.get("class", "").split():
            assert re.match(r"\d+ calls", text.text or "")
            labels.append((text.attrib["data-source"], text.attrib["data-target"], label_box(text)))
    assert len(labels) == len(app_map["edges"])
    for index, (source, target, box) in enumerate(labels):
        for name, node_box in nodes.items():
            assert render._overlap(box, node_box) == 0, f"{source}->{target} covers {name}"
        for other_source, other_target, other in labels[index + 1 :]:
            assert render._overlap(box, other) == 0, (
                f"{source}->{target} and {other_source}->{other_target} overlap"
            )
        nearest = min(nodes, key=lambda name: distance(box, nodes[name]))
        if (source, target) != ("gateway", "channel"):  # the reply arcs under the nodes
            assert nearest in (source, target), f"{source}->{target} is beside {nearest}"


def test_a_client_only_service_shows_the_calls_it_sent_not_zero_requests() -> None:
    app_map = AppMap(
        nodes=[
            Node(id="webchat", kind="service", requests=0, failures=0),
            Node(id="channel", kind="service", requests=7, failures=1),
            Node(id="blob", kind="dependency", requests=4, failures=0),
        ],
        edges=[
            Edge(source="webchat", target="channel", calls=3, failures=0, p50_ms=2, p95_ms=5),
            Edge(source="webchat", target="channel", calls=2, failures=0, p50_ms=2, p95_ms=5),
            Edge(source="channel", target="blob", calls=4, failures=0, p50_ms=1, p95_ms=2),
        ],
    )
    root = ElementTree.fromstring(render.as_svg(app_map))
    figures = {
        group.attrib["data-node"]: "".join(
            text.text or "" for text in group.iter(f"{SVG}text") if text.get("class") == "figures"
        )
        for group in root.iter(f"{SVG}g")
        if "node" in group.attrib.get("class", "").split()
    }
    assert figures == {
        "webchat": "5 calls out",
        "channel": "7 requests, 1 failed",
        "blob": "4 calls",
    }
    assert "webchat<br/>5 calls out" in render.as_mermaid(app_map)


def curve_points(path: str) -> list[tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
    corners = list(zip(numbers[0::2], numbers[1::2], strict=True))
    return [render._bezier(corners, step / 100) for step in range(101)]


def test_no_label_of_the_demos_map_lies_across_its_own_edge() -> None:
    # The demo's shape: a browser, the channel, the bot fanning out to three callees below
    # one another (curves coming down into nlu and qna), and the reply arcing back.
    def edge(source: str, target: str, failures: int = 0) -> Edge:
        return Edge(
            source=source, target=target, calls=319, failures=failures, p50_ms=2.4, p95_ms=5.5
        )

    names = ["webchat", "channel", "bot", "MemoryStorage", "nlu", "qna"]
    app_map = AppMap(
        nodes=[Node(id=name, kind="service", requests=10, failures=0) for name in names],
        edges=[
            edge("webchat", "channel"),
            edge("channel", "bot"),
            edge("bot", "MemoryStorage"),
            edge("bot", "nlu", failures=24),
            edge("bot", "qna", failures=15),
            edge("bot", "channel"),
        ],
    )
    root = ElementTree.fromstring(render.as_svg(app_map))
    paths = {
        (group.attrib["data-source"], group.attrib["data-target"]): group.find(f"{SVG}path")
        for group in root.iter(f"{SVG}g")
        if "edge" in group.attrib.get("class", "").split()
    }
    texts = [t for t in root.iter(f"{SVG}text") if "edge-label" in t.attrib.get("class", "")]
    assert len(texts) == len(paths) == 6
    # Labels come after every line, so a line never runs over a label's text.
    order = list(root.iter())
    assert min(map(order.index, texts)) > max(map(order.index, paths.values()))
    crossed = []
    for text in texts:
        path = paths[text.attrib["data-source"], text.attrib["data-target"]]
        assert path is not None
        left, top, right, bottom = label_box(text)
        inside = [
            (x, y)
            for x, y in curve_points(path.attrib["d"])
            if left <= x <= right and top <= y <= bottom
        ]
        if inside:
            crossed.append(f"{text.attrib['data-source']}->{text.attrib['data-target']}")
    assert crossed == []


def test_the_text_transcript_says_a_q_and_a_miss_found_no_answer_as_the_ui_does() -> None:
    # `bot-telemetry conversations <id>`: a lookup with articleFound false found nothing; it is
    # not an answer that went unrecorded (the Conversations page says "no answer found").
    def turn(answers: list[Answer]) -> Turn:
        return Turn(
            trace_id="ab" * 16,
            start="2026-01-01T00:00:00.000Z",
            duration_ms=12.0,
            activity_id="a1",
            activity_type="message",
            channel_id="directline",
            text=None,
            replies=[None],
            intents=[],
            answers=answers,
            events=["QnAMessage"],
            dependencies=[],
            failures=[],
            client_events=[],
        )

    missed = Answer(answer=None, score=None, article_found=False)
    found = Answer(answer="Use the reset link.", score=0.875, article_found=True)
    unrecorded = Answer(answer=None, score=0.5, article_found=True)
    text = render.conversation_as_text(
        Conversation(
            conversation_id="conv-1",
            turns=[turn([missed]), turn([found]), turn([unrecorded])],
            client_events=[],
        )
    )
    answers = [line.strip() for line in text.splitlines() if line.strip().startswith("answer")]
    assert answers == [
        "answer: no answer found",
        "answer: Use the reset link. (score 0.88)",
        "answer: (not recorded) (score 0.50)",
    ]
