// User flows: where conversations go from (or come from) an event, as a Sankey diagram drawn
// here: a column per step, a box per event (its height: the entities there), a band per edge.
"use strict";

(() => {
const {
  el, windowParams, postJson, svg, table, go, view, register, eventLine, parseEventLine,
  nothingFound, inPageWords, chartFrame, wholeNumber,
} = window.BotTelemetry;

// The form's label of a field the paths API names in a refusal; undefined for one only an
// edited address gives.
function labelOf(field) {
  if (/^(startEvent|endEvent)(\.|$)/.test(field)) return "Event";
  const listed = /^(groupings|exclude)\[(\d+)\]/.exec(field);
  if (listed) {
    return `${listed[1] === "groupings" ? "Group" : "Leave out"}, event ${Number(listed[2]) + 1}`;
  }
  return { stepLimit: "Steps", groupings: "Group", exclude: "Leave out",
    startTime: "Time window" }[field];
}

function requestIn(params) {
  const text = params.get("request");
  if (!text) return { startEvent: params.get("start") || null, groupings: ["LuisIntent.*"] };
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error("the paths request in the address is not JSON");
  }
}

function form(request) {
  const anchor = el("select", { name: "anchor" },
    [["start", "starting at"], ["end", "ending at"]].map(([value, label]) => el("option", {
      value, selected: (request.endEvent ? "end" : "start") === value ? "selected" : null }, label)));
  const event = el("input", { name: "event", size: 52,
    placeholder: "EVENT or EVENT:key=a|b, e.g. LuisIntent.BookTable",
    value: eventLine(request.endEvent || request.startEvent) });
  const steps = el("input", { name: "steps", size: 3, value: request.stepLimit || 5 });
  const groupings = el("input", { name: "groupings", size: 20,
    value: (request.groupings || []).join(" "), placeholder: "LuisIntent.*" });
  const exclude = el("input", { name: "exclude", size: 20,
    value: (request.exclude || []).join(" "), placeholder: "events to leave out" });
  const built = el("form", { class: "search", id: "paths-form" },
    el("label", {}, "Paths", anchor), el("label", {}, "Event", event),
    el("label", {}, "Steps", steps), el("label", {}, "Group", groupings),
    el("label", {}, "Leave out", exclude), el("button", { type: "submit" }, "Show paths"));
  built.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const chosen = parseEventLine(event.value);
    const words = (input) => input.value.split(/\s+/).filter(Boolean);
    // What the form does not show (a shared address's startTime, context, include) is kept.
    const next = { ...request,
      startEvent: anchor.value === "start" ? chosen : null,
      endEvent: anchor.value === "end" ? chosen : null,
      stepLimit: wholeNumber(steps.value, 5),
      groupings: words(groupings),
      exclude: words(exclude),
      countBy: request.countBy || "conversation",
    };
    go(`#/paths?${new URLSearchParams({ request: JSON.stringify(next) })}`);
  });
  return built;
}

// Columns of boxes, stacked by count; bands from a box's right side to the next step's box,
// as wide as the entities they carry.
function sankey(result) {
  const steps = Math.max(...result.nodes.map((n) => n.step), 1);
  const width = Math.max(720, steps * 190 + 80);
  const boxWidth = 14;
  const gap = 12;
  const columns = new Map();
  for (const node of result.nodes) {
    if (!columns.has(node.step)) columns.set(node.step, []);
    columns.get(node.step).push(node);
  }
  const tallest = Math.max(...[...columns.values()].map((nodes) =>
    nodes.reduce((sum, n) => sum + n.count, 0)), 1);
  const most = Math.max(...[...columns.values()].map((nodes) => nodes.length), 1);
  const height = Math.max(260, most * 34 + 40);
  const scale = (height - 40 - gap * (most - 1)) / tallest;
  const placed = new Map();
  const columnWidth = (width - 240) / Math.max(steps - 1, 1);
  for (const [step, nodes] of columns) {
    let y = 20;
    nodes.sort((a, b) => b.count - a.count || a.event.localeCompare(b.event));
    for (const node of nodes) {
      const h = Math.max(node.count * scale, 2);
      placed.set(node.id, { node, x: 10 + (step - 1) * columnWidth, y, h, out: 0, in: 0 });
      y += h + gap;
    }
  }
  const root = svg("svg", { class: "sankey", width, height, viewBox: `0 0 ${width} ${height}`,
    role: "img", "aria-label": "user flows" });
  const bands = svg("g", { class: "links" });
  const boxes = svg("g", { class: "nodes" });
  const edges = [...result.edges].sort((a, b) => b.count - a.count);
  for (const edge of edges) {
    const from = placed.get(edge.source);
    const to = placed.get(edge.target);
    if (!from || !to) continue;
    const thickness = Math.max(edge.count * scale, 1);
    const y0 = from.y + from.out + thickness / 2;
    const y1 = to.y + to.in + thickness / 2;
    from.out += thickness;
    to.in += thickness;
    const x0 = from.x + boxWidth;
    const x1 = to.x;
    const middle = (x0 + x1) / 2;
    bands.append(svg("path", { class: "link", d: `M${x0},${y0} C${middle},${y0} ${middle},${y1} ${x1},${y1}`,
      "stroke-width": thickness, "data-source": edge.source, "data-target": edge.target },
    svg("title", { text: `${from.node.event} → ${to.node.event}: ${edge.count}` })));
  }
  for (const { node, x, y, h } of placed.values()) {
    boxes.append(svg("g", { class: "node", "data-node": node.id },
      svg("title", { text: `step ${node.step}: ${node.event}\n${node.count} here, ` +
        `${node.dropOff} did nothing after` }),
      svg("rect", { x, y, width: boxWidth, height: h }),
      node.dropOff ? svg("rect", { class: "ended", x, y: y + h - Math.max(node.dropOff * scale, 1),
        width: boxWidth, height: Math.max(node.dropOff * scale, 1) }) : null,
      svg("text", { x: x + boxWidth + 4, y: y + Math.min(h / 2, 14) + 4, text: `${node.event} (${node.count})` })));
  }
  root.append(bands, boxes);
  return root;
}

async function showPaths(params) {
  const request = requestIn(params);
  const startTime = windowParams().since || request.startTime || null;
  const result = await postJson("/analytics/paths", { ...request, startTime })
    .catch((error) => error);
  if (result instanceof Error) {
    // A bad input (a 400): the form keeps what was typed, the message goes under it.
    view.replaceChildren(el("h2", {}, "User flows"), form(request),
      el("p", { class: "error" }, inPageWords(result.message, labelOf)));
    return;
  }
  const nodes = new Map(result.nodes.map((n) => [n.id, n]));
  const nodeName = (id) => (nodes.has(id) ? `${nodes.get(id).event} (step ${nodes.get(id).step})` : id);
  view.replaceChildren(
    el("h2", {}, "User flows"),
    form(request),
    el("p", { class: "funnel-summary" }, `${result.entities} ${result.countBy}s` +
      (result.startEvent ? ` from ${result.startEvent}` : "") +
      (result.endEvent ? ` into ${result.endEvent}` : "") +
      (result.otherEdges ? ` · ${result.otherEdges} smaller edges left out` : "")),
    result.nodes.length ? chartFrame(sankey(result))
      : el("p", { class: "empty" }, nothingFound("No path")),
    el("h3", {}, "Steps"),
    table([{ label: "Step", num: true }, { label: "Event" }, { label: "Count", num: true },
      { label: "Did nothing after", num: true }],
    result.nodes.map((n) => ({ cells: [n.step, n.event, n.count, n.dropOff] }))),
    el("h3", {}, "Edges"),
    // Each end as its event and step, as the Steps table says them: the node ids
    // ("2_LuisIntent.*") are the API's keys, not words a reader knows.
    table([{ label: "From" }, { label: "To" }, { label: "Count", num: true }],
      result.edges.map((e) => ({ cells: [nodeName(e.source), nodeName(e.target), e.count] }))),
  );
}

register("paths", { nav: "User flows", order: 45, show: (_, params) => showPaths(params) });
})();
