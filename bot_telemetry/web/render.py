"""What the CLI prints and the UI draws: the app map as text, Mermaid or SVG (the SVG is what
the web UI shows), a trace as a span tree, a conversation as a transcript, tables.

The layout reads left to right: nodes nobody calls (the channel) in the first column, every
other node one column right of its furthest caller, calls that go back (a reply to the
channel) drawn as arcs under the nodes. An edge's label goes just beside its arrowhead, on
the side its curve does not come from; when that spot is taken (several callers of one
node) or the label would cover a node, above or below the line just after the caller, else
at the first point along its own curve where it covers nothing, so with many services each
label stays beside the edge it belongs to. Among those spots, one that no line crosses wins,
and labels are drawn after every line, so a line that must cross one runs under its white
halo. Every value from telemetry is XML-escaped, and a character XML cannot hold (a control
character) is drawn as U+FFFD.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from ..analytics.appmap import AppMap, Edge, Node
from ..analytics.conversations import Conversation, Turn
from ..analytics.traces import TraceDetail

NODE_WIDTH, NODE_HEIGHT = 170, 58
COLUMN_GAP, ROW_GAP, MARGIN = 200, 44, 30
# Edge labels: 11px text, about this wide per character (system sans-serif), and the points
# along a curve to try when both ends are taken (0 is the caller, 1 the callee).
LABEL_CHAR_WIDTH, LABEL_HEIGHT = 6.4, 14
LABEL_POSITIONS = (0.5, 0.35, 0.65, 0.2, 0.8)

Box = tuple[float, float, float, float]  # left, top, right, bottom
Corners = tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]  # a cubic
# Characters XML 1.0 cannot hold even escaped: one in a service or peer name (an OTLP client
# may send any) made the whole SVG not well-formed, and the UI's app map a parser error.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _overlap(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _bezier(points: Sequence[tuple[float, float]], t: float) -> tuple[float, float]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    u = 1 - t
    return (
        u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
        u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3,
    )


class _Points:
    """Points of the drawn lines in a grid of cells, so a box counts only those near it."""

    CELL = 64.0

    def __init__(self, points: Sequence[tuple[float, float]] = ()):
        self._cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
        for x, y in points:
            self._cells.setdefault((int(x // self.CELL), int(y // self.CELL)), []).append((x, y))

    def inside(self, box: Box) -> int:
        left, top, right, bottom = box
        found = 0
        for cx in range(int(left // self.CELL), int(right // self.CELL) + 1):
            for cy in range(int(top // self.CELL), int(bottom // self.CELL) + 1):
                for x, y in self._cells.get((cx, cy), ()):
                    found += left <= x <= right and top <= y <= bottom
        return found


def _place_label(
    curve: Sequence[tuple[float, float]], text: str, taken: list[Box], lines: _Points | None = None
) -> tuple[float, float, str]:
    """Where a label goes (x, baseline y, text-anchor): the candidate that covers the fewest
    taken boxes (nodes and labels placed before), then the fewest points of the edges'
    lines; its box is added to ``taken``."""
    width = len(text) * LABEL_CHAR_WIDTH
    (x1, y1), (x2, y2) = curve[0], curve[-1]
    # Beside the arrowhead, on the side the curve does not come from (a curve coming down
    # into its callee runs through the space above the arrowhead), then above or below the
    # line where it leaves the caller, then the arrowhead's other side: each beside one end
    # of this very edge.
    above, below = (x2 - 8, y2 - 7, "end"), (x2 - 8, y2 + 16, "end")
    first, last = (below, above) if y1 < y2 else (above, below)
    candidates = [first, (x1 + 8, y1 - 7, "start"), (x1 + 8, y1 + 16, "start"), last]
    for t in LABEL_POSITIONS:
        x, y = _bezier(curve, t)
        candidates.append((x, y - 4, "middle"))
    # Covering a node or a label is worst; then leaving both ends of its own edge (along the
    # curve); then lying across a line.
    best: tuple[tuple[float, bool, int], Box, tuple[float, float, str]] | None = None
    for x, y, anchor in candidates:
        left = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
        box = (left, y - LABEL_HEIGHT + 3, left + width, y + 3)
        worse = sum(_overlap(box, other) for other in taken), anchor == "middle"
        if best is not None and worse > best[0][:2]:
            continue  # no need to count the lines it crosses
        covered = (*worse, lines.inside(box) if lines is not None else 0)
        if best is None or covered < best[0]:
            best = (covered, box, (x, y, anchor))
        if covered == (0, False, 0):
            break
    assert best is not None
    taken.append(best[1])
    return best[2]


def as_json(app_map: AppMap) -> str:
    return json.dumps(app_map, indent=2)


def as_text(app_map: AppMap) -> str:
    lines = ["nodes:"]
    width = max([len(node["id"]) for node in app_map["nodes"]] + [4])
    calls_out = _calls_out(app_map)
    for node in app_map["nodes"]:
        sent = calls_out.get(node["id"], 0)
        # A client only (the web chat page) is called by nothing: say what it sent, as the
        # SVG does; "requests 0" read as its telemetry missing.
        if node["kind"] == "service" and not node["requests"] and sent:
            figure = f"calls out {sent:>5}"
        else:
            figure = f"requests {node['requests']:>6}"
        lines.append(
            f"  {node['id']:<{width}}  {node['kind']:<10}  {figure}  failures {node['failures']:>5}"
        )
    lines.append("edges:")
    pair_width = max([len(e["source"]) + len(e["target"]) + 4 for e in app_map["edges"]] + [4])
    for edge in app_map["edges"]:
        pair = f"{edge['source']} -> {edge['target']}"
        lines.append(
            f"  {pair:<{pair_width}}  calls {edge['calls']:>6}  failures {edge['failures']:>5}"
            f"  p50 {edge['p50_ms']:>9.1f} ms  p95 {edge['p95_ms']:>9.1f} ms"
        )
    if not app_map["nodes"]:
        lines.append("  (no telemetry in this time window)")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    # Mermaid labels are quoted; quotes and markup become entity codes it understands.
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def as_mermaid(app_map: AppMap) -> str:
    ids = {node["id"]: f"n{index}" for index, node in enumerate(app_map["nodes"])}
    lines = ["flowchart LR"]
    calls_out = _calls_out(app_map)
    for node in app_map["nodes"]:
        figures = _node_figures(node, calls_out)
        label = _mermaid_text(f"{node['id']}\n{figures}").replace("\n", "<br/>")
        opening, closing = ('["', '"]') if node["kind"] == "service" else ('[("', '")]')
        lines.append(f"  {ids[node['id']]}{opening}{label}{closing}")
    for edge in app_map["edges"]:
        label = _mermaid_text(_edge_figures(edge))
        lines.append(f'  {ids[edge["source"]]} -->|"{label}"| {ids[edge["target"]]}')
    for node in app_map["nodes"]:
        if node["failures"]:
            lines.append(f"  style {ids[node['id']]} stroke:#d13438,stroke-width:3px")
    return "\n".join(lines) + "\n"


def _calls_out(app_map: AppMap) -> dict[str, int]:
    out: dict[str, int] = {}
    for edge in app_map["edges"]:
        out[edge["source"]] = out.get(edge["source"], 0) + edge["calls"]
    return out


def _node_figures(node: Node, calls_out: dict[str, int]) -> str:
    failed = f", {node['failures']} failed" if node["failures"] else ""
    if node["kind"] != "service":
        return f"{node['requests']} calls{failed}"
    sent = calls_out.get(node["id"], 0)
    if not node["requests"] and sent:
        # A client only (a browser page, a script): nothing calls it; "0 requests" would
        # read as telemetry missing, so say what it sent.
        return f"{sent} calls out{failed}"
    return f"{node['requests']} requests{failed}"


def _duration(milliseconds: float) -> str:
    digits = 2 if milliseconds < 1 else 1 if milliseconds < 10 else 0
    return f"{milliseconds:.{digits}f} ms"


def _edge_figures(edge: Edge) -> str:
    failed = f", {edge['failures']} failed" if edge["failures"] else ""
    return (
        f"{edge['calls']} calls{failed}, p50 {_duration(edge['p50_ms'])}, "
        f"p95 {_duration(edge['p95_ms'])}"
    )


@dataclass(frozen=True)
class Placed:
    x: int
    y: int
    column: int


def layout(app_map: AppMap) -> dict[str, Placed]:
    """Columns by longest call path from the nodes nobody calls; rows by caller order."""
    names = [node["id"] for node in app_map["nodes"]]
    outgoing: dict[str, list[str]] = {name: [] for name in names}
    incoming: dict[str, int] = dict.fromkeys(names, 0)
    for edge in app_map["edges"]:
        if edge["source"] in outgoing and edge["target"] in incoming:
            outgoing[edge["source"]].append(edge["target"])
            incoming[edge["target"]] += 1
    # Depth-first from the roots marks the edges that close a cycle (a reply back to the
    # channel); columns come from the remaining, acyclic edges. When every node is called
    # (channel -> bot -> channel), the walk starts from the first node: build_app_map puts
    # the service that starts the most traces first.
    roots = [name for name in names if incoming[name] == 0]
    order: list[str] = []
    state: dict[str, int] = {}
    forward: dict[str, list[str]] = {name: [] for name in names}
    for start in roots + names:
        if start in state:
            continue
        stack = [(start, iter(sorted(outgoing[start])))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                order.append(node)
                stack.pop()
            elif child not in state:
                forward[node].append(child)
                state[child] = 1
                stack.append((child, iter(sorted(outgoing[child]))))
            elif state[child] == 2:
                forward[node].append(child)
    column = dict.fromkeys(names, 0)
    for node in reversed(order):  # reverse post-order is a topological order of ``forward``
        for child in forward[node]:
            column[child] = max(column[child], column[node] + 1)
    rows: dict[int, list[str]] = {}
    for node in reversed(order):
        rows.setdefault(column[node], []).append(node)
    placed: dict[str, Placed] = {}
    for index in sorted(rows):
        members = rows[index]
        if index:

            def barycentre(name: str) -> float:
                callers = [placed[c].y for c in names if name in forward[c] and c in placed]
                return sum(callers) / len(callers) if callers else 0.0

            members.sort(key=lambda name: (barycentre(name), name))
        for row, name in enumerate(members):
            placed[name] = Placed(
                x=MARGIN + index * (NODE_WIDTH + COLUMN_GAP),
                y=MARGIN + row * (NODE_HEIGHT + ROW_GAP),
                column=index,
            )
    return placed


def _text(value: str) -> str:
    """``value`` as XML character data: escaped, and U+FFFD for what XML cannot hold."""
    return escape(_NOT_XML.sub("\ufffd", value))


def _attr(value: str) -> str:
    """``value`` as a quoted XML attribute value, as ``_text``."""
    return quoteattr(_NOT_XML.sub("\ufffd", value))


def as_svg(app_map: AppMap) -> str:
    """A standalone SVG document; nodes carry ``data-node`` for the web UI to open."""
    placed = layout(app_map)
    nodes = {node["id"]: node for node in app_map["nodes"]}
    width = max([p.x + NODE_WIDTH for p in placed.values()] + [300]) + MARGIN
    bottom = max([p.y + NODE_HEIGHT for p in placed.values()] + [60])
    back_edges = sum(
        1
        for e in app_map["edges"]
        if e["source"] in placed
        and e["target"] in placed
        and placed[e["target"]].column <= placed[e["source"]].column
    )
    height = bottom + MARGIN + (40 + 26 * back_edges if back_edges else 0)
    width += 40  # room for labels of edges into the last column
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="appmap" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
        "<title>App map</title>",
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#605e5c"/></marker>'
        '<marker id="arrow-failed" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#d13438"/></marker></defs>',
    ]
    if not app_map["nodes"]:
        parts.append('<text x="30" y="40" class="empty">No telemetry in this time window.</text>')
    back_index = 0
    # Node boxes, with a little margin: no label may cover a node.
    taken: list[Box] = [
        (p.x - 4, p.y - 4, p.x + NODE_WIDTH + 4, p.y + NODE_HEIGHT + 4) for p in placed.values()
    ]
    curves: list[tuple[Edge, Corners, bool]] = []
    for edge in app_map["edges"]:
        source, target = placed.get(edge["source"]), placed.get(edge["target"])
        if source is None or target is None:
            continue
        if target.column > source.column:
            x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT // 2
            x2, y2 = target.x, target.y + NODE_HEIGHT // 2
            bend = (x2 - x1) // 2
            curves.append((edge, ((x1, y1), (x1 + bend, y1), (x2 - bend, y2), (x2, y2)), True))
        else:
            back_index += 1
            x1, y1 = source.x + NODE_WIDTH // 2, source.y + NODE_HEIGHT
            x2, y2 = target.x + NODE_WIDTH // 2, target.y + NODE_HEIGHT
            low = bottom + 20 + 26 * back_index
            curves.append((edge, ((x1, y1), (x1, low), (x2, low), (x2, y2)), False))
    # Every line as points a few pixels apart: a label should lie across none of them.
    lines = _Points([_bezier(corners, step / 40) for _, corners, _ in curves for step in range(41)])
    labels: list[str] = []
    for edge, corners, forward in curves:
        failed = edge["failures"] > 0
        (x1, y1), (a, b), (c, d), (x2, y2) = corners
        path = f"M {x1} {y1} C {a} {b}, {c} {d}, {x2} {y2}"
        if forward:
            at_x, at_y, anchor = _place_label(corners, _edge_label(edge), taken, lines)
            label_x, label_y = round(at_x), round(at_y)
        else:
            low = b
            # A cubic with both control points at ``low`` bottoms out three quarters down.
            label_x = (x1 + x2) // 2
            label_y, anchor = y1 + (low - y1) * 3 // 4 + 14, "middle"
            half = len(_edge_label(edge)) * LABEL_CHAR_WIDTH / 2
            taken.append((label_x - half, label_y - LABEL_HEIGHT + 3, label_x + half, label_y + 3))
        marker = "arrow-failed" if failed else "arrow"
        classes = " failed" if failed else ""
        ends = f"data-source={_attr(edge['source'])} data-target={_attr(edge['target'])}"
        parts.append(
            f'<g class="edge{classes}" {ends}>'
            f"<title>{_text(edge['source'])} → {_text(edge['target'])}: "
            f"{_text(_edge_figures(edge))}</title>"
            f'<path d="{path}" fill="none" marker-end="url(#{marker})"/></g>'
        )
        labels.append(
            f'<text class="edge-label{classes}" {ends} x="{label_x}" y="{label_y}" '
            f'text-anchor="{anchor}">{_text(_edge_label(edge))}</text>'
        )
    # After every line, so that a line crossing a label (sometimes unavoidable) runs under
    # its white halo instead of over its text.
    parts.append(f'<g class="edge-labels">{"".join(labels)}</g>')
    calls_out = _calls_out(app_map)
    for name, place in placed.items():
        node = nodes[name]
        figures = _node_figures(node, calls_out)
        classes = f"node {node['kind']}" + (" failed" if node["failures"] else "")
        shown = name if len(name) <= 22 else name[:21] + "…"
        parts.append(
            f"<g class={_attr(classes)} data-node={_attr(name)} "
            f'data-kind={_attr(node["kind"])} tabindex="0">'
            f"<title>{_text(name)} ({_text(node['kind'])}): {_text(figures)}"
            "</title>"
            f'<rect x="{place.x}" y="{place.y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" '
            'rx="10"/>'
            f'<text x="{place.x + NODE_WIDTH // 2}" y="{place.y + 24}" text-anchor="middle" '
            f'class="name">{_text(shown)}</text>'
            f'<text x="{place.x + NODE_WIDTH // 2}" y="{place.y + 44}" text-anchor="middle" '
            f'class="figures">{_text(figures)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts) + "\n"


def _edge_label(edge: Edge) -> str:
    failed = f" · {edge['failures']} failed" if edge["failures"] else ""
    return f"{edge['calls']} calls · p95 {_duration(edge['p95_ms'])}{failed}"


# Standalone SVG output (CLI --format svg) carries its own styles; the web UI styles inline SVG.
APPMAP_CSS = """
.appmap { font-family: system-ui, sans-serif; background: #fff; }
.appmap .node rect { fill: #eff6fc; stroke: #0078d4; stroke-width: 2; }
.appmap .node.dependency rect { fill: #f3f2f1; stroke: #605e5c; stroke-dasharray: 5 3; }
.appmap .node.failed rect { stroke: #d13438; stroke-width: 3; }
.appmap .node .name { font-size: 14px; font-weight: 600; fill: #201f1e; }
.appmap .node .figures { font-size: 12px; fill: #484644; }
.appmap .edge path { stroke: #605e5c; stroke-width: 1.6; }
.appmap .edge.failed path { stroke: #d13438; stroke-width: 2.4; }
.appmap .edge-label { font-size: 11px; fill: #323130; paint-order: stroke; stroke: #fff;
                      stroke-width: 3px; stroke-linejoin: round; }
.appmap .edge-label.failed { fill: #a4262c; font-weight: 600; }
"""
SVG_STYLE = f"<style>{APPMAP_CSS}</style>"


def as_standalone_svg(app_map: AppMap) -> str:
    svg = as_svg(app_map)
    head, _, rest = svg.partition("<title>")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{head}{SVG_STYLE}<title>{rest}'


def trace_as_text(found: TraceDetail) -> str:
    """One trace as an indented span tree, then its log records."""
    lines = [
        f"trace {found['trace_id']}  {found['start']}  {found['duration_ms']:.1f} ms  "
        f"{len(found['spans'])} spans  {found['errors']} errors  "
        f"services: {', '.join(found['services'])}"
    ]
    for span in found["spans"]:
        indent = "  " * span["depth"]
        mark = ""
        if span["status"] == "error":
            mark = "  ERROR" + (f": {span['status_message']}" if span["status_message"] else "")
        lines.append(
            f"{span['offset_ms']:>9.1f} ms {span['duration_ms']:>9.1f} ms  {indent}"
            f"[{span['service']}] {span['name']} ({span['kind']}){mark}"
        )
        for event in span["events"]:
            lines.append(f"{'':>24}  {indent}  · {event['name']} at +{event['offset_ms']:.1f} ms")
    if found["logs"]:
        lines.append("log records:")
        for log in found["logs"]:
            label = log["event_name"] or log["severity"] or "log"
            body = f" {log['body']}" if log["body"] and log["body"] != log["event_name"] else ""
            lines.append(f"{log['offset_ms']:>9.1f} ms  [{log['service']}] {label}{body}")
    return "\n".join(lines) + "\n"


def conversation_as_text(found: Conversation) -> str:
    """One conversation as a transcript: what the user said, what the bot understood,
    answered and called, and what failed."""
    lines = [f"conversation {found['conversation_id']}: {len(found['turns'])} turns"]
    outside = found.get("client_events", [])
    for number, turn in enumerate(found["turns"], 1):
        for note in outside:
            if note["before_turn"] == number - 1:
                lines.append(f"\n  page: {note['label']}  ({note['time']})")
        text = turn["text"]
        if text is None:
            kind = turn["activity_type"]
            text = f"({kind} activity)" if kind and kind != "message" else "(text not recorded)"
        lines.append(
            f"\n#{number} {turn['start']}  "
            f"{'proactive' if turn.get('proactive') else _activity(turn)}  "
            f"{turn['duration_ms']:.1f} ms  trace {turn['trace_id']}"
        )
        # The page's events in the turn's trace, by time: what the page did to start the turn
        # (a click on send, a suggested action) is read before what the user said.
        page_before = [n for n in turn.get("client_events", []) if n["time"] <= turn["start"]]
        page_after = [n for n in turn.get("client_events", []) if n["time"] > turn["start"]]
        for note in page_before:
            lines.append(f"  page: {note['label']}")
        if turn.get("proactive"):
            # Nobody said anything: the bot wrote unasked (continue_conversation).
            lines.append("  proactive: the bot wrote unasked")
        else:
            lines.append(f"  user: {text}")
        for intent in turn["intents"]:
            lines.append(f"  intent: {intent['intent']} ({_score(intent['score'])})")
        for answer in turn["answers"]:
            if answer["article_found"] is False and answer["answer"] is None:
                # The lookup found nothing: not an answer that went unrecorded (as the UI).
                lines.append("  answer: no answer found")
                continue
            shown = answer["answer"] if answer["answer"] is not None else "(not recorded)"
            lines.append(f"  answer: {shown} ({_score(answer['score'])})")
        changes = turn.get("reply_changes") or []
        for index, reply in enumerate(turn["replies"]):
            change = changes[index] if index < len(changes) else None
            later = f"  ({change} later)" if change else ""
            lines.append(f"  bot: {reply if reply is not None else '(text not recorded)'}{later}")
        for dependency in turn["dependencies"]:
            failed = "  FAILED" if dependency["failed"] else ""
            lines.append(
                f"  call: {dependency['source']} -> {dependency['target']} "
                f"{dependency['name']} {dependency['duration_ms']:.1f} ms{failed}"
            )
        for failure in turn["failures"]:
            lines.append(
                f"  failure: [{failure['service']}] {failure['name']}"
                + (f": {failure['message']}" if failure["message"] else "")
            )
        for note in page_after:
            lines.append(f"  page: {note['label']}")
    for note in outside:
        if note["before_turn"] >= len(found["turns"]):
            lines.append(f"\n  page: {note['label']}  ({note['time']})")
    return "\n".join(lines) + "\n"


def _activity(turn: Turn) -> str:
    """What started the turn: its activity type, and what an invoke or event named."""
    name = turn.get("activity_name")
    return f"{turn['activity_type'] or '?'}{f' {name}' if name else ''}"


def _score(score: float | None) -> str:
    return "score ?" if score is None else f"score {score:.2f}"


def as_table(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns; a line saying so when there are no rows."""
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headings)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        lines.append("(none in this time window)")
    return "\n".join(lines) + "\n"
