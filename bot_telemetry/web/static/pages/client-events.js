// Client events: what web pages and apps sent (Sunbird v3), and the failed set with reasons.
"use strict";

(() => {
const { el, query, windowParams, getJson, table, go, view, register, shownCount, shownValue } =
  window.BotTelemetry;

const EVENT_LIMIT = 100;
// An event as sent is cut here, marked, with a button to show it whole.
const EVENT_SHOWN = 300;

async function showClientEvents(arg, params) {
  const failed = params.get("failed") === "true";
  const eid = params.get("eid") || "";
  const stats = await getJson(`/api/client-events/stats${query(windowParams())}`);
  // The failed set is not kept by event (/api/client-events?failed=true takes no eid): with
  // it ticked the Event select is disabled and says so, rather than showing a filter it ignores.
  const eidSelect = el("select", { name: "eid" },
    el("option", { value: "" }, "any"),
    Object.keys(stats.stored).map((name) =>
      el("option", { value: name, selected: name === eid }, `${name} (${stats.stored[name]})`)));
  const failedBox = el("input", { type: "checkbox", name: "failed", checked: failed });
  const eidNote = el("span", { class: "eid-note" });
  const showFailed = () => {
    eidSelect.disabled = failedBox.checked;
    eidNote.textContent = failedBox.checked ? " (not for the failed set: it lists every event)" : "";
  };
  failedBox.addEventListener("change", showFailed);
  showFailed();
  const filters = el("form", { class: "search" },
    el("label", {}, "Event ", eidSelect, eidNote),
    el("label", {}, failedBox, ` failed set (${stats.failed})`),
    el("button", { type: "submit" }, "Show"));
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    go(`#/client-events${query({ eid: eidSelect.value, failed: failedBox.checked ? "true" : "" })}`);
  });
  const received = stats.receiver
    ? el("p", { class: "meta" }, `Since this server started: ${stats.receiver.received} received, `
      + `${stats.receiver.stored} stored, ${stats.receiver.duplicates} duplicates, `
      + `${stats.receiver.failed} failed.`)
    : null;
  let listing;
  let count;
  if (failed) {
    const found = await getJson(`/api/client-events${query({ ...windowParams(), failed: "true", limit: EVENT_LIMIT })}`);
    count = shownCount(found.length, EVENT_LIMIT, "failed events");
    // Why each failed first, after the event it is about: on a phone the columns after the
    // third are off-screen, and Field and Expected were the fourth and fifth.
    listing = table([{ label: "Eid" }, { label: "Field" }, { label: "Expected" },
      { label: "Received" }, { label: "Service" }, { label: "Event as sent" }],
    found.map((f) => ({ failed: true, cells: [f.eid || "–", f.field || "–", f.expected || "–",
      f.received, f.service, el("code", {}, shownValue(JSON.stringify(f.event), EVENT_SHOWN))] })));
  } else {
    const found = await getJson(`/api/client-events${query({ ...windowParams(), eid, limit: EVENT_LIMIT })}`);
    count = shownCount(found.length, EVENT_LIMIT, "events");
    listing = table([{ label: "Time" }, { label: "Service" }, { label: "Event" },
      { label: "Conversation" }, { label: "Trace" }],
    // An event with neither a trace nor a conversation opens nothing (it led back here).
    found.map((e) => ({
      href: e.trace_id ? `#/trace/${e.trace_id}`
        : e.conversation_id ? `#/conversation/${encodeURIComponent(e.conversation_id)}` : null,
      cells: [e.time, e.service, e.label, e.conversation_id || "–", e.trace_id || "–"] })));
  }
  view.replaceChildren(...[el("h2", {}, failed ? "Client events: failed set" : "Client events"),
    filters, received, count, listing].filter(Boolean));
}

register("client-events", { nav: "Client events", order: 40, show: showClientEvents });
})();
