// Transactions: trace search, and one trace as a waterfall.
"use strict";

(() => {
const {
  el, query, windowParams, getJson, ms, table, go, traceRows, TRACE_HEADINGS, view, register,
  shownValue, shownCount, nothingFound, rovingFocus,
} = window.BotTelemetry;

const TRACE_LIMIT = 50;

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
  // The API names the outcome `failed` (only an edited address gives a bad one).
  const found = await getJson(`/api/traces${query({
    ...windowParams(), conversation: params.get("conversation"), event: params.get("event"),
    service: params.get("service"), failed: params.get("failed"), limit: TRACE_LIMIT,
  })}`).catch((error) => {
    throw new Error(String(error.message).replace(/^failed must be /, "Outcome: must be "));
  });
  view.replaceChildren(el("h2", {}, "Transactions"), form,
    shownCount(found.length, TRACE_LIMIT, "traces"),
    table(TRACE_HEADINGS, traceRows(found), null,
      nothingFound(["conversation", "event", "service", "failed"].some((name) => params.get(name))
        ? "No trace matches this search" : "No traces")));
}

// "1 error", "2 errors": the trace summary said "1 errors".
function count(n, what) {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

function attributesTable(attributes, cls) {
  const rows = Object.entries(attributes || {}).map(([key, value]) =>
    el("tr", {}, el("td", {}, key), el("td", {}, shownValue(value))));
  return el("table", { class: cls || "" }, el("tbody", {}, rows));
}

function linkList(links) {
  return el("ul", { class: "links" }, links.map((link) => el("li", {},
    link.stored
      ? el("a", { href: `#/trace/${link.trace_id}`, "data-trace": link.trace_id },
        `trace ${link.trace_id}`)
      : el("span", { class: "unstored", title: "this trace is not in the store" },
        `trace ${link.trace_id} (not stored)`),
    ` · span ${link.span_id}`,
    Object.keys(link.attributes || {}).length ? attributesTable(link.attributes) : null)));
}

function spanDetails(span, resources) {
  const resource = resources.find((r) => r.resource_id === span.resource_id);
  const scope = span.scope
    ? `${span.scope.name || "(unnamed)"}${span.scope.version ? ` ${span.scope.version}` : ""}`
    : null;
  return el("div", { class: "details", id: "span-details" },
    el("h3", {}, `${span.service}: ${span.name}`),
    el("p", {}, `${span.kind} · ${ms(span.duration_ms)} · status ${span.status}`,
      span.status_message ? ` – ${span.status_message}` : ""),
    attributesTable({ span_id: span.span_id, parent_span_id: span.parent_span_id || "",
      ...span.attributes }, "span-attributes"),
    span.links.length ? el("h3", {}, "Links") : null,
    span.links.length ? linkList(span.links) : null,
    span.events.length ? el("h3", {}, "Span events") : null,
    span.events.map((e) => el("div", {}, el("strong", {}, `${e.name} +${ms(e.offset_ms)}`),
      attributesTable(e.attributes))),
    scope ? el("p", { class: "scope" }, "Instrumentation scope: ", scope) : null,
    resource ? el("h3", {}, "Resource") : null,
    resource ? attributesTable(resource.attributes, "resource-attributes") : null);
}

async function showTrace(traceId) {
  if (!traceId) {
    view.replaceChildren(el("p", { class: "error" }, "No trace id in the address: ",
      el("a", { href: "#/traces" }, "search the transactions"), "."));
    return;
  }
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
    // Beside the bar: after it when there is room, else before it; a bar with room on
    // neither side (the root span, from start to end) has it inside, at its right end:
    // before it, it sat in the name column, over the span's name.
    if (end < 82) time.style.left = `calc(${end}% + 4px)`;
    else if (start >= 25) time.style.right = `calc(${100 - start}% + 4px)`;
    else {
      time.classList.add("inside");
      time.style.right = `calc(${100 - end}% + 4px)`;
    }
    const label = el("div", { class: "span-label", title: span.name },
      el("span", { class: "service" }, span.service), span.name);
    label.style.paddingLeft = `${8 + span.depth * 16}px`;
    // A button that opens the span's details, named by its service, name, duration and
    // status; the waterfall is one Tab stop (see below).
    const row = el("div", {
      class: `span-row${span.status === "error" ? " error" : ""}`, "data-span": span.span_id,
      role: "button", "aria-pressed": "false",
      "aria-label": `${span.service}: ${span.name}, ${ms(span.duration_ms)}`
        + `${span.status === "error" ? ", failed" : ""}`,
    }, label, el("div", { class: "span-track" }, bar, time));
    const open = () => {
      for (const other of view.querySelectorAll(".span-row.selected")) {
        other.classList.remove("selected");
        other.setAttribute("aria-pressed", "false");
      }
      row.classList.add("selected");
      row.setAttribute("aria-pressed", "true");
      detailSlot.replaceChildren(spanDetails(span, trace.resources || []));
      // Into sight when it opened below the screen's edge (a phone, a long trace): the click
      // or Enter seemed to do nothing. "nearest": no jump when it is in sight already.
      detailSlot.scrollIntoView({ block: "nearest" });
    };
    row.addEventListener("click", open);
    // A button takes Space as well as Enter (Space alone scrolled the page).
    row.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      open();
    });
    return row;
  });
  // One Tab stop for the waterfall: the arrow keys, Home and End move between its spans. A
  // stop per span put a trace's 40 spans between the summary and the events under them.
  const last = rows.length - 1;
  rovingFocus(rows, (key, i) => ({ ArrowDown: Math.min(i + 1, last), ArrowUp: Math.max(i - 1, 0),
    Home: 0, End: last })[key], () => {}, () => {});
  const logs = trace.logs.map((log) => ({
    cells: [`+${ms(log.offset_ms)}`, log.service, log.event_name || log.severity || "log",
      shownValue(log.event_name ? Object.entries(log.attributes)
        .filter(([key]) => key !== "microsoft.custom_event.name" && key !== "event.name")
        .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
        .join("  ") : (log.body || ""))],
  }));
  const resources = (trace.resources || []).map((resource) => el("div", { class: "resource" },
    el("strong", {}, resource.service), attributesTable(resource.attributes)));
  view.replaceChildren(
    el("h2", {}, `Trace ${trace.trace_id}`),
    el("p", {}, `${trace.start} · ${ms(trace.duration_ms)} · ${count(trace.spans.length, "span")} · `,
      el("span", { class: trace.errors ? "error" : "" }, count(trace.errors, "error")),
      ` · ${trace.services.join(", ")}`,
      // A turn's trace: its transcript is a click away (the id alone was a copy and paste).
      trace.conversation_id ? " · " : null,
      trace.conversation_id ? el("a", { class: "conversation-link",
        href: `#/conversation/${encodeURIComponent(trace.conversation_id)}` },
      `conversation ${trace.conversation_id}`) : null),
    el("div", { class: "waterfall", role: "group",
      "aria-label": `${count(trace.spans.length, "span")}: arrow keys move between them, `
        + "Enter opens one" }, rows),
    detailSlot,
    el("h3", {}, "Events and log records"),
    table([{ label: "At", num: true }, { label: "Service" }, { label: "Event" }, { label: "Properties" }], logs),
    el("h3", {}, "Resources"),
    el("div", { class: "resources" }, resources),
  );
}

register("traces", { nav: "Transactions", order: 20, show: (_, params) => showTraces(params) });
register("trace", { section: "traces", window: false, show: (traceId) => showTrace(traceId) });
})();
