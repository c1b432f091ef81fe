// bot-telemetry web UI. Every value from telemetry reaches the page through textContent or
// an attribute set by the DOM API, never as markup; the app map SVG is escaped by the server
// and parsed as XML, never assigned to innerHTML.
"use strict";

const view = document.getElementById("view");
const status = document.getElementById("status");
const windowSelect = document.getElementById("window");

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function windowParams() {
  return { since: windowSelect.value };
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(body.error || `${path} answered ${response.status}`);
  return body;
}

function ms(value) {
  return `${Number(value).toFixed(value < 10 ? 2 : 1)} ms`;
}

function table(headings, rows, onRow) {
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr", { class: [row.failed ? "failed" : "", onRow ? "clickable" : ""].join(" ") },
      row.cells.map((cell, i) => el("td", { class: headings[i].num ? "num" : "" }, cell)));
    if (onRow) {
      tr.tabIndex = 0;
      tr.addEventListener("click", () => onRow(row));
      tr.addEventListener("keydown", (event) => { if (event.key === "Enter") onRow(row); });
    }
    body.append(tr);
  }
  if (!rows.length) {
    body.append(el("tr", {}, el("td", { class: "empty", colspan: headings.length },
      "Nothing in this time window.")));
  }
  return el("table", {}, el("thead", {}, el("tr", {},
    headings.map((h) => el("th", { class: h.num ? "num" : "" }, h.label)))), body);
}

function go(hash) {
  window.location.hash = hash;
}

function traceRows(traces) {
  return traces.map((t) => ({
    failed: t.errors > 0,
    trace: t.trace_id,
    cells: [t.start, `${t.root_service}: ${t.root_name}`, ms(t.duration_ms), t.spans, t.errors,
      t.conversation_id || "–", t.trace_id],
  }));
}

const TRACE_HEADINGS = [
  { label: "Start" }, { label: "Root" }, { label: "Duration", num: true },
  { label: "Spans", num: true }, { label: "Errors", num: true }, { label: "Conversation" },
  { label: "Trace" },
];

// ---- app map -------------------------------------------------------------------------

async function showAppMap() {
  const [svgResponse, map] = await Promise.all([
    fetch(`/api/appmap.svg${query(windowParams())}`),
    getJson(`/api/appmap${query(windowParams())}`),
  ]);
  if (!svgResponse.ok) throw new Error(`app map answered ${svgResponse.status}`);
  const parsed = new DOMParser().parseFromString(await svgResponse.text(), "image/svg+xml");
  const svg = document.importNode(parsed.documentElement, true);
  for (const node of svg.querySelectorAll("g.node")) {
    const open = () => go(`#/node/${encodeURIComponent(node.getAttribute("data-node"))}`);
    node.addEventListener("click", open);
    node.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
  }
  const edges = map.edges.map((e) => ({
    failed: e.failures > 0,
    cells: [e.source, e.target, e.calls, e.failures, ms(e.p50_ms), ms(e.p95_ms)],
  }));
  view.replaceChildren(
    el("h2", {}, "App map"),
    el("div", { class: "appmap-frame" }, svg),
    el("h3", {}, "Calls"),
    table([{ label: "From" }, { label: "To" }, { label: "Calls", num: true },
      { label: "Failures", num: true }, { label: "p50", num: true }, { label: "p95", num: true }],
    edges),
  );
}

async function showNode(name) {
  const details = await getJson(`/api/nodes/${encodeURIComponent(name)}${query(windowParams())}`);
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
    table(TRACE_HEADINGS, traceRows(details.traces), (row) => go(`#/trace/${row.trace}`)),
  );
}

// ---- transactions --------------------------------------------------------------------

async function showTraces(params) {
  const field = (label, name, value, placeholder) => el("label", {}, label,
    el("input", { name, value: value || "", placeholder }));
  const failed = el("select", { name: "failed" },
    [["", "any"], ["true", "failed only"], ["false", "successful only"]].map(([value, label]) =>
      el("option", { value, selected: params.get("failed") === value ? "selected" : null }, label)));
  const form = el("form", { class: "search", id: "trace-search" },
    field("Conversation id", "conversation", params.get("conversation"), "conversation id"),
    field("Event name", "event", params.get("event"), "e.g. QnAMessage"),
    field("Service", "service", params.get("service"), "e.g. bot"),
    el("label", {}, "Outcome", failed),
    el("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    go(`#/traces${query(Object.fromEntries(data.entries()))}`);
  });
  const found = await getJson(`/api/traces${query({
    ...windowParams(), conversation: params.get("conversation"), event: params.get("event"),
    service: params.get("service"), failed: params.get("failed"),
  })}`);
  view.replaceChildren(el("h2", {}, "Transactions"), form,
    table(TRACE_HEADINGS, traceRows(found), (row) => go(`#/trace/${row.trace}`)));
}

function attributesTable(attributes) {
  const rows = Object.entries(attributes || {}).map(([key, value]) =>
    el("tr", {}, el("td", {}, key),
      el("td", {}, typeof value === "string" ? value : JSON.stringify(value))));
  return el("table", {}, el("tbody", {}, rows));
}

function spanDetails(span) {
  return el("div", { class: "details", id: "span-details" },
    el("h3", {}, `${span.service}: ${span.name}`),
    el("p", {}, `${span.kind} · ${ms(span.duration_ms)} · status ${span.status}`,
      span.status_message ? ` – ${span.status_message}` : ""),
    attributesTable({ span_id: span.span_id, parent_span_id: span.parent_span_id || "",
      ...span.attributes }),
    span.events.length ? el("h3", {}, "Span events") : null,
    span.events.map((e) => el("div", {}, el("strong", {}, `${e.name} +${ms(e.offset_ms)}`),
      attributesTable(e.attributes))));
}

async function showTrace(traceId) {
  const trace = await getJson(`/api/traces/${encodeURIComponent(traceId)}`);
  if (!trace) {
    view.replaceChildren(el("p", { class: "error" }, `No trace ${traceId} in the store.`));
    return;
  }
  const total = Math.max(trace.duration_ms, 0.001);
  const detailSlot = el("div");
  const rows = trace.spans.map((span) => {
    const bar = el("div", { class: "span-bar" });
    bar.style.left = `${(span.offset_ms / total) * 100}%`;
    bar.style.width = `${Math.max((span.duration_ms / total) * 100, 0.3)}%`;
    const time = el("span", { class: "span-time" }, ms(span.duration_ms));
    const start = (span.offset_ms / total) * 100;
    const end = start + (span.duration_ms / total) * 100;
    // Beside the bar: after it when there is room, else before it.
    if (end < 82) time.style.left = `calc(${end}% + 4px)`;
    else time.style.right = `calc(${100 - start}% + 4px)`;
    const label = el("div", { class: "span-label", title: span.name },
      el("span", { class: "service" }, span.service), span.name);
    label.style.paddingLeft = `${8 + span.depth * 16}px`;
    const row = el("div", {
      class: `span-row${span.status === "error" ? " error" : ""}`, "data-span": span.span_id,
      tabindex: 0,
    }, label, el("div", { class: "span-track" }, bar, time));
    const open = () => {
      for (const other of view.querySelectorAll(".span-row.selected")) other.classList.remove("selected");
      row.classList.add("selected");
      detailSlot.replaceChildren(spanDetails(span));
    };
    row.addEventListener("click", open);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
    return row;
  });
  const logs = trace.logs.map((log) => ({
    cells: [`+${ms(log.offset_ms)}`, log.service, log.event_name || log.severity || "log",
      log.event_name ? Object.entries(log.attributes)
        .filter(([key]) => key !== "microsoft.custom_event.name")
        .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
        .join("  ") : (log.body || "")],
  }));
  view.replaceChildren(
    el("h2", {}, `Trace ${trace.trace_id}`),
    el("p", {}, `${trace.start} · ${ms(trace.duration_ms)} · ${trace.spans.length} spans · `,
      el("span", { class: trace.errors ? "error" : "" }, `${trace.errors} errors`),
      ` · ${trace.services.join(", ")}`),
    el("div", { class: "waterfall" }, rows),
    detailSlot,
    el("h3", {}, "Events and log records"),
    table([{ label: "At" }, { label: "Service" }, { label: "Event" }, { label: "Properties" }], logs),
  );
}

// ---- conversations -------------------------------------------------------------------

async function showConversations() {
  const found = await getJson(`/api/conversations${query(windowParams())}`);
  const rows = found.map((c) => ({
    failed: c.failed_turns > 0,
    id: c.conversation_id,
    cells: [c.conversation_id, c.channel_id || "–", c.turns, c.failed_turns, c.first, c.last],
  }));
  view.replaceChildren(el("h2", {}, "Conversations"),
    table([{ label: "Conversation" }, { label: "Channel" }, { label: "Turns", num: true },
      { label: "Failed turns", num: true }, { label: "First" }, { label: "Last" }], rows,
    (row) => go(`#/conversation/${encodeURIComponent(row.id)}`)));
}

function turnCard(turn, number) {
  const failed = turn.failures.length > 0;
  const said = (cls, text) => el("div", { class: cls },
    text === null || text === undefined ? el("span", { class: "norecord" }, "(text not recorded)") : text);
  return el("section", { class: `turn${failed ? " failed" : ""}`, "data-trace": turn.trace_id },
    el("div", { class: "meta" }, `#${number} · ${turn.start} · ${turn.activity_type || "?"} · `,
      ms(turn.duration_ms), " · ", el("a", { href: `#/trace/${turn.trace_id}` }, "trace")),
    turn.text === null && turn.activity_type && turn.activity_type !== "message"
      ? el("div", { class: "user" }, el("span", { class: "norecord" }, `(${turn.activity_type} activity)`))
      : said("user", turn.text),
    el("div", {},
      turn.intents.map((i) => el("span", { class: "chip intent" },
        `intent ${i.intent}${i.score === null ? "" : ` (${i.score.toFixed(2)})`}`)),
      turn.answers.map((a) => el("span", { class: "chip answer" },
        `answer ${a.answer === null ? "(not recorded)" : a.answer}${a.score === null ? "" : ` (${a.score.toFixed(2)})`}`)),
      turn.failures.map((f) => el("span", { class: "chip failure" },
        `${f.service}: ${f.name}${f.message ? ` – ${f.message}` : ""}`))),
    turn.replies.map((reply) => said("bot", reply)),
    el("ul", { class: "deps" }, turn.dependencies.map((d) => el("li", { class: d.failed ? "failed" : "" },
      `${d.source} → ${d.target}: ${d.name} ${ms(d.duration_ms)}${d.failed ? " (failed)" : ""}`))));
}

async function showConversation(conversationId) {
  const conversation = await getJson(`/api/conversations/${encodeURIComponent(conversationId)}`);
  if (!conversation) {
    view.replaceChildren(el("p", { class: "error" }, `No conversation ${conversationId} in the store.`));
    return;
  }
  view.replaceChildren(
    el("p", {}, el("a", { href: "#/conversations" }, "← Conversations")),
    el("h2", {}, `Conversation ${conversation.conversation_id}`),
    ...conversation.turns.map((turn, index) => turnCard(turn, index + 1)));
}

// ---- routing -------------------------------------------------------------------------

async function route() {
  const hash = window.location.hash || "#/appmap";
  const [path, search] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  const params = new URLSearchParams(search || "");
  const section = { node: "appmap", trace: "traces", conversation: "conversations" }[parts[0]] || parts[0];
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === section);
  }
  status.textContent = "loading…";
  try {
    const arg = parts[1] === undefined ? undefined : decodeURIComponent(parts[1]);
    if (parts[0] === "node") await showNode(arg);
    else if (parts[0] === "traces") await showTraces(params);
    else if (parts[0] === "trace") await showTrace(arg);
    else if (parts[0] === "conversations") await showConversations();
    else if (parts[0] === "conversation") await showConversation(arg);
    else await showAppMap();
    status.textContent = "";
    document.body.dataset.ready = hash;
  } catch (error) {
    view.replaceChildren(el("p", { class: "error" }, String(error.message || error)));
    status.textContent = "";
    document.body.dataset.ready = hash;
  }
}

windowSelect.addEventListener("change", route);
window.addEventListener("hashchange", route);
route();
