// Measures: pick measures, a granularity and filters; each answer is a chart (drawn here as
// SVG, line or bar, values on hover) with its table below. Everything from telemetry (intent
// names, dialog ids, ...) is set as text or as an attribute through the DOM, never as markup.
"use strict";

(() => {
const {
  el, query, windowParams, getJson, postJson, table, go, view, register, inPageWords, chartFrame,
} = window.BotTelemetry;

// The form's label of a field the query API names in a refusal: a context dimension's label
// is its name; the start is the header's "Time window" when the form has no "From";
// undefined for one only an edited address gives.
function labelOf(field, from) {
  if (/^measures\[\d+\]\.timeGranularity/.test(field)) return "Granularity";
  if (/^measures\[\d+\]\.measureType/.test(field)) return "Measures";
  const dimension = /^context\.(\w+)/.exec(field);
  if (dimension) return dimension[1];
  return { startTime: from ? "From" : "Time window", endTime: "To" }[field];
}

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 880;
const HEIGHT = 240;
const PAD = { left: 58, right: 16, top: 14, bottom: 30 };
const MAX_SERIES = 8;
const MEASURE_HINT = "Point at a measure, or Tab to it, for what it counts.";
const WEEK_MS = 604800e3;
// More rows than this and a measure's table is folded under its chart, its size in the line
// that opens it; more buckets than this and the page offers the coarser granularities.
// "everything" by day on a store a year and a half old drew 530 rows a measure: a page
// 35,000 px tall, the chart (one Tab stop, arrow keys between buckets) lost above them.
const LONG_SERIES = 60;

function svg(tag, attributes, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function text(x, y, content, cls, anchor) {
  const node = svg("text", { x, y, class: cls, "text-anchor": anchor || "start" });
  node.textContent = String(content);
  return node;
}

// The page's own "from", else the global window (a duration ago, which the API reads as it
// reads every time: 15m, 1h30m, 7 days; it was read here, and a window this page could not
// read, such as 1h30m, was silently the first thing stored), else the first thing stored.
function startTime(stored, from, now) {
  if (from) return from;
  const since = windowParams().since;
  if (since) return since;
  return stored.first || new Date(now - WEEK_MS).toISOString();
}

// The granularity to ask for: the one picked if the API takes it for this window, else the
// nearest it takes, coarser first (a finer one only has more buckets), with a note saying so.
// One the API does not know is asked as it is, for the API to name it.
function granularityFor(asked, usable) {
  const all = usable ? usable.granularities : [];
  const at = all.findIndex((g) => g.granularity === asked);
  if (at < 0 || all[at].usable) return { granularity: asked, note: null };
  const chosen = all.slice(at + 1).find((g) => g.usable)
    || all.slice(0, at).reverse().find((g) => g.usable);
  if (!chosen) return { granularity: asked, note: null };
  return { granularity: chosen.granularity,
    note: `${asked} would give ${all[at].buckets.toLocaleString("en")} buckets in this ` +
      `window, more than the ${usable.maxBuckets.toLocaleString("en")} a chart may have: ` +
      `showing ${chosen.granularity} instead.` };
}

// A measure that does not take one of the filters: a plain note where its chart would be.
function refusedNote(measure, result) {
  const dimension = result.refused.field.replace(/^context\./, "");
  const takes = measure.dimensions.map((d) => d.name).join(", ");
  return el("p", { class: "meta untaken" },
    `${result.measureType} does not take the ${dimension} filter, so it is not charted ` +
    `(it takes ${takes}).`);
}

function format(value, kind) {
  if (value === null || value === undefined) return "–";
  if (kind === "ratio") return `${(value * 100).toFixed(1)}%`;
  if (kind === "milliseconds") return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * power >= value);
  return step * power;
}

function timeLabel(iso, granularity) {
  if (granularity === "month") return iso.slice(0, 7);
  if (granularity === "day" || granularity === "week") return iso.slice(0, 10);
  if (granularity === "second") return iso.slice(11, 19);
  return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}

// What one chart draws: the values the catalog says are charted together (p50/p95/p99;
// failed turns without the all-turns denominator); a grouped measure: the first value per key.
// A series is named by the first key and by each other key that differs between rows: a bot
// with one recognizer sees "BookTable", one with two "BookTable / clu" and "BookTable / llm".
function seriesOf(measure, rows) {
  const times = [...new Set(rows.map((row) => row.time))].sort();
  const index = new Map(times.map((time, i) => [time, i]));
  const first = measure.values[0];
  if (measure.keys.length) {
    const named = measure.keys.filter((k, i) => i === 0 || new Set(rows.map((row) => row[k])).size > 1);
    const keyOf = (row) => named.map((k) => (row[k] === null ? "–" : row[k])).join(" / ");
    const totals = new Map();
    for (const row of rows) totals.set(keyOf(row), (totals.get(keyOf(row)) || 0) + (row[first.name] || 0));
    const keys = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a) || (a < b ? -1 : 1))
      .slice(0, MAX_SERIES);
    const series = keys.map((key) => ({ name: key, values: times.map(() => null) }));
    const byKey = new Map(series.map((s) => [s.name, s]));
    for (const row of rows) {
      const target = byKey.get(keyOf(row));
      if (target) target.values[index.get(row.time)] = row[first.name];
    }
    return { times, kind: first.kind, series, hidden: totals.size - keys.length };
  }
  const drawn = measure.values.filter((value) => measure.charted.includes(value.name));
  const series = drawn.map((value) => ({ name: value.name, values: times.map(() => null) }));
  for (const row of rows) {
    drawn.forEach((value, i) => { series[i].values[index.get(row.time)] = row[value.name]; });
  }
  return { times, kind: drawn[0].kind, series, hidden: 0 };
}

function chart(measure, result, kind) {
  const { times, series, hidden, kind: valueKind } = seriesOf(measure, result.response);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const all = series.flatMap((s) => s.values).filter((v) => v !== null);
  const top = valueKind === "ratio" ? Math.max(1, niceMax(Math.max(...all, 0))) : niceMax(Math.max(...all, 0));
  const band = plotWidth / Math.max(times.length, 1);
  const x = (i) => PAD.left + (i + 0.5) * band;
  const y = (v) => PAD.top + plotHeight - (v / top) * plotHeight;
  // A group, not an img: an img's parts are hidden from a screen reader, and each bucket is
  // a stop the keyboard reaches, named by its time and values.
  const root = svg("svg", {
    class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "group",
    "aria-label": `${result.measureType} by ${result.timeGranularity}: arrow keys move between `
      + "buckets",
    "data-measure": result.measureType, "data-kind": kind,
  });
  // axes and grid
  for (let tick = 0; tick <= 4; tick++) {
    const value = (top * tick) / 4;
    root.append(svg("line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }),
      text(PAD.left - 6, y(value) + 4, format(value, valueKind), "tick", "end"));
  }
  const every = Math.max(1, Math.ceil(times.length / 8));
  times.forEach((time, i) => {
    if (i % every === 0) root.append(text(x(i), HEIGHT - 10, timeLabel(time, result.timeGranularity), "tick", "middle"));
  });
  // the series
  series.forEach((s, number) => {
    const cls = `series series-${number}`;
    if (kind === "bar") {
      const width = Math.max(1, (band * 0.8) / series.length);
      s.values.forEach((v, i) => {
        if (v === null) return;
        const left = x(i) - band * 0.4 + number * width;
        root.append(svg("rect", { class: `bar ${cls}`, x: left, y: y(v), width, height: y(0) - y(v) }));
      });
      return;
    }
    let run = [];
    const flush = () => {
      if (run.length > 1) root.append(svg("polyline", { class: `line ${cls}`, points: run.join(" ") }));
      run = [];
    };
    s.values.forEach((v, i) => {
      if (v === null) { flush(); return; }
      run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      if (times.length <= 120) root.append(svg("circle", { class: `point ${cls}`, cx: x(i), cy: y(v), r: 2.5 }));
    });
    flush();
  });
  // hover: a band per bucket shows every series' value there
  const guide = svg("line", { class: "guide", y1: PAD.top, y2: PAD.top + plotHeight, visibility: "hidden" });
  // The tip draws what the focused bucket's name says: hidden from a screen reader, which
  // read a bucket as nothing and then the tip's text as it changed.
  const tip = svg("g", { class: "tip", visibility: "hidden", "aria-hidden": "true" });
  root.append(guide);
  // One Tab stop per chart (the first bucket); the arrow keys, Home and End move between its
  // buckets. A stop per bucket made a month by day 31 Tabs before the table under it.
  const hits = [];
  const moveTo = (event, i) => {
    const keys = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1,
      Home: 0, End: times.length - 1 };
    if (!(event.key in keys)) return;
    event.preventDefault();
    const target = hits[Math.min(Math.max(keys[event.key], 0), times.length - 1)];
    for (const other of hits) other.setAttribute("tabindex", other === target ? "0" : "-1");
    target.focus();
  };
  const bucketLines = (i) => [timeLabel(times[i], result.timeGranularity),
    ...series.map((s) => `${s.name}: ${format(s.values[i], valueKind)}`)];
  times.forEach((time, i) => {
    const hit = svg("rect", { class: "hit", x: PAD.left + i * band, y: PAD.top, width: band, height: plotHeight,
      tabindex: i === 0 ? 0 : -1, "data-index": i, role: "img",
      "aria-label": bucketLines(i).join(", ") });
    hits.push(hit);
    hit.addEventListener("keydown", (event) => moveTo(event, i));
    const show = () => {
      guide.setAttribute("x1", x(i)); guide.setAttribute("x2", x(i)); guide.setAttribute("visibility", "visible");
      const lines = bucketLines(i);
      const tipWidth = 12 + 7 * Math.max(...lines.map((line) => line.length));
      const left = x(i) + 10 + tipWidth > WIDTH ? x(i) - 10 - tipWidth : x(i) + 10;
      tip.replaceChildren(svg("rect", { x: left, y: PAD.top, width: tipWidth, height: 8 + 16 * lines.length, rx: 4 }),
        ...lines.map((line, n) => text(left + 6, PAD.top + 18 + 16 * n, line, n ? "tip-value" : "tip-time")));
      tip.setAttribute("visibility", "visible");
    };
    const hide = () => { tip.setAttribute("visibility", "hidden"); guide.setAttribute("visibility", "hidden"); };
    hit.addEventListener("mouseenter", show);
    hit.addEventListener("focus", show);
    hit.addEventListener("mouseleave", hide);
    hit.addEventListener("blur", hide);
    root.append(hit);
  });
  root.append(tip);
  const legend = el("p", { class: "legend" }, series.map((s, number) =>
    el("span", { class: "legend-item" }, el("span", { class: `swatch series-${number}` }), s.name)),
  hidden > 0 ? el("span", { class: "meta" }, ` and ${hidden} more in the table`) : null);
  return [chartFrame(root), legend];
}

function resultTable(measure, result) {
  const headings = [{ label: "Time" }, ...measure.keys.map((k) => ({ label: k })),
    ...measure.values.map((v) => ({ label: v.name, num: true }))];
  const rows = result.response.map((row) => ({
    cells: [row.time, ...measure.keys.map((k) => (row[k] === null ? "–" : row[k])),
      ...measure.values.map((v) => format(row[v.name], v.kind))],
  }));
  const shown = table(headings, rows);
  if (rows.length <= LONG_SERIES) return shown;
  return el("details", { class: "long-table" },
    el("summary", {}, `Table: ${rows.length.toLocaleString("en")} rows, one per `
      + `${measure.keys.length ? `${result.timeGranularity} and ${measure.keys.join(" / ")}`
        : result.timeGranularity}`),
    shown);
}

// Over a long series, the coarser granularities the window takes, each a link with its
// number of buckets: the fold keeps the page short, and these give a chart one can read.
function coarserNote(granularity, usable, params) {
  const all = usable ? usable.granularities : [];
  const at = all.findIndex((g) => g.granularity === granularity);
  if (at < 0 || all[at].buckets <= LONG_SERIES) return null;
  const coarser = all.slice(at + 1).filter((g) => g.usable);
  const links = coarser.flatMap((g, i) => {
    const next = new URLSearchParams(params);
    next.set("g", g.granularity);
    return [i ? ", " : "", el("a", { href: `#/measures?${next}` }, `by ${g.granularity}`),
      ` (${g.buckets.toLocaleString("en")} bucket${g.buckets === 1 ? "" : "s"})`];
  });
  return el("p", { class: "meta long-series" },
    `${all[at].buckets.toLocaleString("en")} ${granularity}s in this window: each table is `
    + "folded under its chart.", coarser.length ? " Fewer, longer buckets: " : null,
    ...links, coarser.length ? "." : null);
}

async function showMeasures(arg, params) {
  const catalog = await getJson("/analytics/measures");
  const byName = new Map(catalog.measures.map((m) => [m.measureType, m]));
  const picked = (params.get("m") || "activeUsers,messagesReceived").split(",").filter((m) => byName.has(m));
  const kind = params.get("chart") === "bar" ? "bar" : "line";
  const from = params.get("from") || "";
  const to = params.get("to") || "";
  const context = {};
  for (const dimension of catalog.dimensions) {
    const values = (params.get(dimension) || "").split(",").map((v) => v.trim()).filter(Boolean);
    if (values.length) context[dimension] = values;
  }
  const now = Date.now();
  const windowStart = startTime(catalog.stored, from, now);
  const windowEnd = to || now;
  // A bad "from" or "to" is left to the query below, which names it.
  const usable = await postJson("/analytics/granularities",
    { startTime: windowStart, endTime: windowEnd }).catch(() => null);
  const { granularity, note } = granularityFor(params.get("g") || "day", usable);
  const offered = usable
    ? usable.granularities.filter((g) => g.usable).map((g) => g.granularity)
    : catalog.granularities;
  // What a measure counts: its checkbox's description (a screen reader reads it), and the
  // line under the boxes while one is focused or pointed at. It was a hover title on the
  // label, which neither a keyboard nor a screen reader reached.
  const docLine = el("p", { class: "chart-tip measure-doc", "aria-live": "off" }, MEASURE_HINT);
  const picks = catalog.measures.map((m) => {
    const box = el("input", { type: "checkbox", name: "measure", value: m.measureType,
      checked: picked.includes(m.measureType), "aria-description": m.doc });
    const label = el("label", { title: m.doc }, box, ` ${m.measureType}`);
    const show = () => { docLine.textContent = `${m.measureType}: ${m.doc}`; };
    box.addEventListener("focus", show);
    label.addEventListener("mouseenter", show);
    box.addEventListener("blur", () => { docLine.textContent = MEASURE_HINT; });
    // Back to the box that has focus, if one has.
    label.addEventListener("mouseleave", () => {
      const focused = document.activeElement;
      docLine.textContent = focused?.name === "measure" && form.contains(focused)
        ? `${focused.value}: ${focused.getAttribute("aria-description")}` : MEASURE_HINT;
    });
    return label;
  });
  const form = el("form", { class: "search measures-form" },
    el("fieldset", { class: "measure-picks" }, el("legend", {}, "Measures"), picks),
    docLine,
    el("div", { class: "measure-options" },
      el("label", {}, "Granularity", el("select", { name: "granularity" },
        offered.map((g) => el("option", { value: g, selected: g === granularity }, g)))),
      el("label", {}, "Chart", el("select", { name: "chart" },
        ["line", "bar"].map((c) => el("option", { value: c, selected: c === kind }, c)))),
      el("label", {}, "From", el("input", { name: "from", value: from, size: 20,
        placeholder: "the time window's start" })),
      el("label", {}, "To", el("input", { name: "to", value: to, size: 20, placeholder: "now" })),
      catalog.dimensions.map((dimension) => el("label", {}, dimension,
        el("input", { name: dimension, value: (context[dimension] || []).join(", "), placeholder: "any",
          size: 12 }))),
      el("button", { type: "submit" }, "Show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = [...form.querySelectorAll("input[name=measure]:checked")].map((i) => i.value);
    const filters = {};
    for (const dimension of catalog.dimensions) filters[dimension] = form.elements[dimension].value.trim();
    go(`#/measures${query({ m: chosen.join(","), g: form.granularity.value,
      chart: form.chart.value === "bar" ? "bar" : "", from: form.elements.from.value.trim(),
      to: form.elements.to.value.trim(), ...filters })}`);
  });
  const sections = [];
  if (note) sections.push(el("p", { class: "meta granularity-note" }, note));
  const long = picked.length ? coarserNote(granularity, usable, params) : null;
  if (long) sections.push(long);
  if (picked.length) {
    const answer = await postJson("/analytics/query", {
      startTime: windowStart, endTime: windowEnd, context,
      measures: picked.map((m) => ({ measureType: m, timeGranularity: [granularity] })),
    }).catch((error) => error);
    if (answer instanceof Error) {
      const said = inPageWords(answer.message, (field) => labelOf(field, from));
      sections.push(el("p", { class: "error" }, said));
    } else {
      for (const result of answer) {
        const measure = byName.get(result.measureType);
        if (result.refused) {
          sections.push(el("section", { class: "measure", "data-measure": result.measureType },
            el("h3", {}, `${result.measureType} by ${result.timeGranularity}`),
            refusedNote(measure, result)));
          continue;
        }
        sections.push(el("section", { class: "measure", "data-measure": result.measureType },
          el("h3", {}, `${result.measureType} by ${result.timeGranularity}`),
          el("p", { class: "meta" }, measure.doc),
          ...chart(measure, result, kind),
          resultTable(measure, result)));
      }
    }
  } else {
    sections.push(el("p", { class: "meta" }, "Pick one or more measures."));
  }
  view.replaceChildren(el("h2", {}, "Measures"), form, ...sections);
}

register("measures", { nav: "Measures", order: 35, show: showMeasures });
})();
