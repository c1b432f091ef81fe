// bot-telemetry web UI: the helpers every page uses, the page registry and the router.
// Each page is a file in static/pages/ that calls BotTelemetry.register(...); the server adds
// a script tag per file. Every value from telemetry reaches the page through textContent or
// an attribute set by the DOM API, never as markup; the app map SVG is escaped by the server
// and parsed as XML, never assigned to innerHTML.
"use strict";

const view = document.getElementById("view");
const status = document.getElementById("status");
const announce = document.getElementById("announce");
const windowSelect = document.getElementById("window");
const windowNote = document.getElementById("window-note");

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

// fetch(), with a refused or dropped connection said in words: the page showed the browser's
// "Failed to fetch" when the collector had stopped.
async function answerOf(path, options) {
  try {
    return await fetch(path, options);
  } catch (error) {
    throw new Error("The collector did not answer: is bot-telemetry serve still running? "
      + "Start it again, then reload the page.");
  }
}

async function getJson(path) {
  const response = await answerOf(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (response.status === 404) return null;
  if (!response.ok) {
    throw new Error(sinceSaid(path, body.error) || `${path} answered ${response.status}`);
  }
  return body;
}

// A `since` the API cannot read comes from the header's time window (only an edited address
// gives one: `window=banana`); the API's message names no field, so the page names the label.
function sinceSaid(path, message) {
  const since = new URL(path, window.location.href).searchParams.get("since");
  return message && since && message.startsWith(`'${since}' is neither`)
    ? `Time window: ${message}` : message;
}

// POST a JSON body; the answer's JSON, or an Error with the server's message (a 400 names
// the field).
async function postJson(path, payload) {
  const response = await answerOf(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(payload),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${path} answered ${response.status}`);
  return body;
}

// An API's refusal in the words of the page that sent it. The API names its fields
// ("steps[1]: …", "endTime: expected a time after startTime", "request.datasetConfig.endDate:
// …"); the page knows them by its labels. `labelOf(field)` answers a field's label, or
// undefined. The field the message starts with becomes its label; so does any other name of
// a field in it written as the API writes one (startTime, fromStep: a capital, a dot, a
// bracket or an underscore inside), but never one inside quotes (a value as given). A
// message starting with a field the page has no label for (on the journeys pages only an
// edited address holds one) is prefixed with `unlabelled`.
const QUOTED_OR_NAME = /'[^']*'|"[^"]*"|[A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*/g;
const FIELD_HEAD = /^([A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): /;

function inPageWords(message, labelOf, unlabelled = "In the address, ") {
  const text = String(message);
  const head = FIELD_HEAD.exec(text);
  const label = head && labelOf(head[1]);
  if (head && !label) return `${unlabelled}${text}`;
  const rest = (head ? text.slice(head[0].length) : text).replace(QUOTED_OR_NAME, (word) =>
    (/^['"]/.test(word) || !/.[A-Z_.[]/.test(word) ? word : labelOf(word) || word));
  return head ? `${label}: ${rest}` : rest;
}

// An SVG element, like el(): attributes through setAttribute, text through textContent.
const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, props, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A no-break space: a line never ends between a number and its unit.
function ms(value) {
  return `${Number(value).toFixed(value < 10 ? 2 : 1)}\u00a0ms`;
}

// An ISO time or date ("2026-11-03T19:41:34.460Z", "2026-10-12") in a table cell: kept on
// one line (it broke at its hyphens on a phone).
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?$/;

function cellClass(heading, cell) {
  if (heading.num) return "num";
  return typeof cell === "string" && ISO_TIME.test(cell) ? "time" : "";
}

// "in the last hour", "since 2026-11-01", "in the store" (the window "everything").
function windowPhrase() {
  if (!windowSelect.value) return "in the store";
  const label = windowSelect.selectedOptions[0].textContent;
  return label.startsWith("since") ? label : `in the ${label}`;
}

// An empty list says what was looked at and what may show more: "Nothing in this time
// window." said it with "everything" chosen too, where no longer window exists.
function nothingFound(what = "Nothing") {
  return windowSelect.value
    ? `${what} ${windowPhrase()}: a longer time window may show more.`
    : `${what} ${windowPhrase()}.`;
}

// A row with an `href` opens it: its first cell is a link there (the row's Tab stop, named
// as a link to a screen reader, and a Ctrl- or middle-click opens it in a new tab), and a
// click anywhere else on the row follows it too. A row that was only clickable read as a
// plain row and could not be opened beside the list.
function table(headings, rows, onRow, empty) {
  const body = el("tbody");
  for (const row of rows) {
    const opens = Boolean(row.href || onRow);
    const tr = el("tr", { class: [row.failed ? "failed" : "", opens ? "clickable" : ""].join(" ") },
      row.cells.map((cell, i) => el("td", { class: cellClass(headings[i], cell) },
        i === 0 && row.href ? el("a", { href: row.href, class: "row-link" }, cell) : cell)));
    if (row.href) {
      tr.addEventListener("click", (event) => {
        if (!event.target.closest("a, button")) go(row.href);
      });
    } else if (onRow) {
      tr.tabIndex = 0;
      tr.addEventListener("click", () => onRow(row));
      tr.addEventListener("keydown", (event) => { if (event.key === "Enter") onRow(row); });
    }
    body.append(tr);
  }
  if (!rows.length) {
    body.append(el("tr", {}, el("td", { class: "empty", colspan: headings.length },
      empty || nothingFound())));
  }
  // In a box of its own that scrolls sideways: a wide table never widens the page. When it
  // is wider than its box a line above it says so: on a phone the box's edge cut a column
  // mid-word ("Fi") and nothing told the columns after it were there.
  const box = el("div", { class: "table-scroll" },
    el("p", { class: "scroll-hint", hidden: true }, "More columns to the right: scroll the table sideways."),
    el("table", {}, el("thead", {}, el("tr", {},
      headings.map((h) => el("th", { class: h.num ? "num" : "" }, h.label)))), body));
  overflowWatch.observe(box);
  return box;
}

// Each table box or chart frame, as its size changes: wider content (its last child) than
// box, or not (data-overflow).
const overflowWatch = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    const content = target.lastElementChild;
    const wide = content.scrollWidth > target.clientWidth + 1
      || content.getBoundingClientRect().width > target.clientWidth + 1;
    target.dataset.overflow = wide ? "yes" : "no";
    target.querySelector(":scope > .scroll-hint").hidden = !wide;
  }
});

// A chart in a frame that scrolls sideways, with a line above it when it is wider than the
// frame, as a table's box has: on a phone a funnel's bars, a flow's steps and a heat map's
// intervals past the frame's edge were out of sight with nothing saying they were there.
function chartFrame(chart) {
  const frame = el("div", { class: "chart-frame" },
    el("p", { class: "scroll-hint", hidden: true }, "More of the chart to the right: scroll it sideways."),
    chart);
  overflowWatch.observe(frame);
  return frame;
}

// Values longer than this are cut, with a button to show them whole: a 100 KB attribute
// would otherwise make a page thousands of pixels tall.
const LONG_VALUE = 1000;

function shownValue(value, limit = LONG_VALUE) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined || text.length <= limit) return el("span", {}, text ?? "");
  const holder = el("span", { class: "long-value" }, text.slice(0, limit), "… ");
  const more = el("button", { type: "button", class: "show-all" },
    `show all ${text.length.toLocaleString("en")} characters`);
  more.addEventListener("click", () => holder.replaceChildren(text));
  holder.append(more);
  return holder;
}

// Under a list the API cut at `limit` rows: it is the latest `limit`, not everything.
function shownCount(count, limit, what) {
  return el("p", { class: "shown-count" }, count >= limit
    ? `Showing the latest ${limit} ${what} only: there may be more (narrow the search or the time window).`
    : `${count} ${what}.`);
}

// An event match (a funnel step, a path's anchor) as one line, "EVENT" or
// "EVENT:key=value,key=a|b", and back: the CLI's syntax, so the forms and the CLI read a line
// the same way. `|` separates alternatives of a property value only; in a name the API
// refuses it.
function eventLine(match) {
  if (!match) return "";
  if (typeof match === "string") return match;
  const where = Object.entries(match.where || {})
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join("|") : value}`).join(",");
  return where ? `${match.event}:${where}` : match.event;
}

function parseEventLine(text) {
  const line = text.trim();
  if (!line) return null;
  const colon = line.indexOf(":");
  if (colon < 0) return line;
  const where = {};
  for (const part of line.slice(colon + 1).split(",")) {
    const equals = part.indexOf("=");
    if (equals < 1) continue;
    const alternatives = part.slice(equals + 1).split("|");
    where[part.slice(0, equals).trim()] = alternatives.length > 1 ? alternatives : alternatives[0];
  }
  return { event: line.slice(0, colon).trim(), where };
}

// A form's whole-number field as the API is to read it: empty, the default; a whole number, that
// number; anything else as typed, for the API to refuse naming the field ("abc" in Intervals
// was quietly sent as the default 8).
function wholeNumber(text, fallback) {
  const typed = text.trim();
  if (!typed) return fallback;
  return /^-?\d+$/.test(typed) ? Number(typed) : typed;
}

// Every move inside the UI (go(), a link, the nav) keeps the time window chosen.
function go(hash) {
  moveTo(keepWindow(hash));
}

// A move to the page already shown draws it again: a search run twice, or the nav entry of
// the page one is on, read the store again (setting the same hash fires no hashchange, so
// the button did nothing and new telemetry stayed out of sight).
function moveTo(hash) {
  if (new URL(hash, window.location.href).hash === window.location.hash) route();
  else window.location.hash = hash;
}

function keepWindow(hash) {
  const search = hash.split("?")[1];
  if (new URLSearchParams(search || "").has("window") || !windowSelect.value) return hash;
  return withWindow(hash, windowSelect.value);
}

function traceRows(traces) {
  return traces.map((t) => ({
    failed: t.errors > 0,
    trace: t.trace_id,
    href: `#/trace/${t.trace_id}`,
    cells: [t.start, `${t.root_service}: ${t.root_name}`, ms(t.duration_ms), t.spans, t.errors,
      t.conversation_id || "–", t.trace_id],
  }));
}

const TRACE_HEADINGS = [
  { label: "Start" }, { label: "Root" }, { label: "Duration", num: true },
  { label: "Spans", num: true }, { label: "Errors", num: true }, { label: "Conversation" },
  { label: "Trace" },
];

// One Tab stop for a chart of many parts (a funnel's bars, a heat map's cells): the part last
// reached has tabindex 0, the others -1, and the keys `moves` names move between them
// (`moves(key, index)` answers the index to go to, or undefined). A stop per part made a
// retention map of 36 cells 36 Tabs to get past. `onShow(index)` runs as a part is focused or
// pointed at, `onHide()` as it is left: the page says its figures in a line of text there,
// for the keyboard, the mouse and the screen alike (a hover-only title reached none but the
// mouse). That line is aria-live="off": a screen reader reads the part's own name as focus
// moves, and announcing the line too would read each figure twice.
function rovingFocus(parts, moves, onShow, onHide, start = 0) {
  parts.forEach((part, index) => {
    part.setAttribute("tabindex", index === start ? "0" : "-1");
    part.addEventListener("keydown", (event) => {
      const next = moves(event.key, index);
      if (next === undefined || !parts[next]) return;
      event.preventDefault();
      for (const other of parts) other.setAttribute("tabindex", other === parts[next] ? "0" : "-1");
      parts[next].focus();
    });
    // Whatever focused it (a key, a click, a tap), the part focused last is the Tab stop.
    part.addEventListener("focus", () => {
      for (const other of parts) other.setAttribute("tabindex", other === part ? "0" : "-1");
      onShow(index);
    });
    part.addEventListener("mouseenter", () => onShow(index));
    part.addEventListener("blur", onHide);
    part.addEventListener("mouseleave", () => {
      if (parts.includes(document.activeElement)) onShow(parts.indexOf(document.activeElement));
      else onHide();
    });
  });
}

// ---- pages and routing -----------------------------------------------------------------

// route name -> { show(arg, params), section, nav, order }
const pages = new Map();

// Register a page for "#/<route>/<arg>?<params>". `nav` (a label) puts it in the header,
// ordered by `order`; `section` is the nav entry it belongs to (default: its own route).
// `window: false` for a page the time window does not change (one trace, one transcript):
// there the select is disabled and says so, rather than offer a choice that does nothing.
function register(route, page) {
  pages.set(route, { section: route, ...page });
}

function buildNav() {
  const nav = document.querySelector("header nav");
  const entries = [...pages.entries()].filter(([, page]) => page.nav)
    .sort((a, b) => (a[1].order || 100) - (b[1].order || 100));
  nav.replaceChildren(...entries.map(([route, page]) =>
    el("a", { href: `#/${route}`, "data-view": route }, page.nav)));
}

// The time window lives in the hash's query (`window=15m`), so a reload, a shared link and
// back/forward keep it; "everything" is no `window` at all.
function chooseWindow(value) {
  if (value && ![...windowSelect.options].some((option) => option.value === value)) {
    windowSelect.append(el("option", { value }, `since ${value}`));
  }
  windowSelect.value = value;
}

function withWindow(hash, value) {
  const [path, search] = hash.split("?");
  const params = new URLSearchParams(search || "");
  if (value) params.set("window", value);
  else params.delete("window");
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

function windowChanged() {
  window.location.hash = withWindow(window.location.hash || "#/appmap", windowSelect.value);
}

function followLink(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey
    || event.shiftKey || event.altKey) return;
  const link = event.target.closest && event.target.closest("a[href^='#']");
  if (!link) return;
  const href = link.getAttribute("href");
  const kept = keepWindow(href);
  if (kept === href && new URL(href, window.location.href).hash !== window.location.hash) return;
  event.preventDefault();
  moveTo(kept);
}

// A path part as it was meant; one that is not valid percent-encoding ("zz%zz") as it is.
function decoded(part) {
  try {
    return decodeURIComponent(part);
  } catch (error) {
    return part;
  }
}

// After a route change, focus goes to the new page's heading (else the main region), as a
// page load would put a screen reader and the Tab key at the page's start: the link or form
// that had focus is gone with the old page. Not on the first load (the browser's own start
// is right then), and not while the time window select is in use (keyboard users change it
// with the arrow keys, each change a new route). The focus ring shows only when the keyboard
// was the last thing used: Chromium drew it after a change made without a key (a window
// picked, the browser's back button) when nothing had been clicked since the page loaded.
let firstRoute = true;
let keyboardUsed = false;
document.addEventListener("keydown", () => { keyboardUsed = true; }, true);
document.addEventListener("pointerdown", () => { keyboardUsed = false; }, true);

function focusNewPage() {
  if (firstRoute) {
    firstRoute = false;
    return;
  }
  if (document.activeElement === windowSelect) return;
  focusHeading();
}

function focusHeading() {
  const target = view.querySelector("h2") || view;
  if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
  target.focus({ focusVisible: keyboardUsed });
}

// "Skip to content", the first Tab stop of every page: past the header's nav and time window
// to the page's heading, as a route change moves focus. Its "#view" is not a route: followed,
// the router would read it as an unknown page and show the app map.
function skipToContent(event) {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  focusHeading();
}

async function route() {
  const hash = window.location.hash || "#/appmap";
  const [path, search] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  const params = new URLSearchParams(search || "");
  chooseWindow(params.get("window") || "");
  const page = pages.get(parts[0]) || pages.get("appmap");
  // Still set to the hash's window, which links from this page keep.
  windowSelect.disabled = page.window === false;
  windowNote.hidden = page.window !== false;
  // The page's own entry says so to a screen reader too (the colour and underline did alone).
  for (const link of document.querySelectorAll("nav a")) {
    const current = link.dataset.view === page.section;
    link.classList.toggle("active", current);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  status.textContent = "loading…";
  try {
    const arg = parts[1] === undefined ? undefined : decoded(parts[1]);
    await page.show(arg, params);
  } catch (error) {
    view.replaceChildren(el("p", { class: "error" }, String(error.message || error)));
  }
  status.textContent = "";
  // The main region is not live: it read a whole new page (a list of 100 rows) to a screen
  // reader on every move, over the heading focus moves to. What a new page refuses or failed
  // is said once, here.
  announce.textContent = [...view.querySelectorAll(".error")]
    .map((node) => node.textContent).join(" ");
  focusNewPage();
  document.body.dataset.ready = hash;
}

window.BotTelemetry = {
  el, query, windowParams, getJson, postJson, svg, ms, table, go, traceRows, TRACE_HEADINGS,
  view, register, shownValue, shownCount, eventLine, parseEventLine, windowPhrase, nothingFound,
  answerOf, rovingFocus, inPageWords, chartFrame, wholeNumber,
};

// Page scripts are deferred too and run before this event: every page is registered by then.
document.addEventListener("DOMContentLoaded", () => {
  buildNav();
  document.querySelector(".skip-link").addEventListener("click", skipToContent);
  windowSelect.addEventListener("change", windowChanged);
  document.addEventListener("click", followLink);
  window.addEventListener("hashchange", route);
  route();
});
