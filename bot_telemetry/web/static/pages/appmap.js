// The app map, and one node's operations and traces.
"use strict";

(() => {
const {
  el, query, windowParams, getJson, ms, table, go, traceRows, TRACE_HEADINGS, view, register,
  shownCount, answerOf, nothingFound,
} = window.BotTelemetry;

const NODE_HINT = "Point at a node, or Tab to it, for its whole name and figures; a click "
  + "or Enter opens its operations and traces.";

// What render.py's _NOT_XML replaces: characters XML 1.0 cannot hold.
const NOT_XML = /[^\t\n\r\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

// /api/nodes/{node} answers a node's latest 20 traces.
const NODE_TRACES = 20;

async function showAppMap() {
  const [svgResponse, map] = await Promise.all([
    answerOf(`/api/appmap.svg${query(windowParams())}`),
    getJson(`/api/appmap${query(windowParams())}`),
  ]);
  if (!svgResponse.ok) throw new Error(`app map answered ${svgResponse.status}`);
  const parsed = new DOMParser().parseFromString(await svgResponse.text(), "image/svg+xml");
  const svg = document.importNode(parsed.documentElement, true);
  // On the page the map is a group of links, not one picture: as an img (the role the file
  // keeps for the CLI) its nodes were hidden from a screen reader, and a long name, cut at 22
  // characters, was whole only in a hover title. A node focused or pointed at says its name
  // and figures in a line under the map.
  // The SVG holds U+FFFD where a name has a character XML cannot (a control character from
  // an OTLP client); a node opens by its real name, which the JSON keeps.
  const realName = new Map(map.nodes.map((n) => [n.id.replace(NOT_XML, "\ufffd"), n.id]));
  svg.setAttribute("role", "group");
  svg.setAttribute("aria-label", "App map: a link per node");
  const tip = el("p", { class: "chart-tip appmap-tip", "aria-live": "off" }, NODE_HINT);
  for (const node of svg.querySelectorAll("g.node")) {
    const said = node.querySelector("title")?.textContent || node.getAttribute("data-node");
    node.setAttribute("role", "link");
    node.setAttribute("aria-label", said);
    const show = () => { tip.textContent = said; };
    const hide = () => {
      const focused = svg.contains(document.activeElement) ? document.activeElement : null;
      tip.textContent = focused?.getAttribute("aria-label") || NODE_HINT;
    };
    node.addEventListener("focus", show);
    node.addEventListener("mouseenter", show);
    node.addEventListener("blur", () => { tip.textContent = NODE_HINT; });
    node.addEventListener("mouseleave", hide);
    const shownName = node.getAttribute("data-node");
    const open = () => go(`#/node/${encodeURIComponent(realName.get(shownName) ?? shownName)}`);
    node.addEventListener("click", open);
    node.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
  }
  const edges = map.edges.map((e) => ({
    failed: e.failures > 0,
    cells: [e.source, e.target, e.calls, e.failures, ms(e.p50_ms), ms(e.p95_ms)],
  }));
  // An empty map (the first page a new collector shows) says how telemetry gets here; the
  // SVG's own line said "No telemetry in this time window." with "everything" chosen too.
  const empty = map.nodes.length ? null : el("p", { class: "empty" }, nothingFound("No telemetry"),
    windowParams().since ? null : ` A bot that calls bot_telemetry.configure() sends here with `
      + `OTEL_EXPORTER_OTLP_ENDPOINT=${window.location.origin}.`);
  view.replaceChildren(...[
    el("h2", {}, "App map"),
    el("div", { class: "appmap-frame" }, empty || svg),
    empty ? null : tip,
    el("h3", {}, "Calls"),
    table([{ label: "From" }, { label: "To" }, { label: "Calls", num: true },
      { label: "Failures", num: true }, { label: "p50", num: true }, { label: "p95", num: true }],
    edges),
  ].filter(Boolean));
}

async function showNode(name) {
  const details = await getJson(`/api/nodes/${encodeURIComponent(name)}${query(windowParams())}`);
  if (!details || (!details.operations.length && !details.traces.length)) {
    view.replaceChildren(
      el("p", {}, el("a", { href: "#/appmap" }, "← App map")),
      el("p", { class: "error" }, `No node ${name} in this time window.`));
    return;
  }
  const operations = details.operations.map((o) => ({
    failed: o.failures > 0,
    cells: [o.service, o.name, o.kind, o.calls, o.failures, ms(o.p50_ms), ms(o.p95_ms)],
  }));
  view.replaceChildren(
    el("p", {}, el("a", { href: "#/appmap" }, "← App map")),
    el("h2", {}, `Node ${name}`),
    el("h3", {}, "Operations"),
    table([{ label: "Service" }, { label: "Operation" }, { label: "Kind" },
      { label: "Calls", num: true }, { label: "Failures", num: true }, { label: "p50", num: true },
      { label: "p95", num: true }], operations),
    el("h3", {}, "Recent traces"),
    shownCount(details.traces.length, NODE_TRACES, "traces"),
    table(TRACE_HEADINGS, traceRows(details.traces)),
  );
}

register("appmap", { nav: "App map", order: 10, show: () => showAppMap() });
register("node", { section: "appmap", show: (name) => showNode(name) });
})();
