// Metrics: the names in the store, and one metric's series: a line chart over time for
// gauges and sums, percentiles and bucket bars for histograms. Charts are SVG built with the
// DOM API here (no chart library, nothing from a CDN); every label is set as text.
"use strict";

(() => {
const { el, query, windowParams, getJson, table, view, register, nothingFound, chartFrame } =
  window.BotTelemetry;

const SVG = "http://www.w3.org/2000/svg";
// `top` leaves a row above the plot for the unit: beside the y axis it sat on the top
// value's label.
const CHART = { width: 760, height: 276, left: 64, right: 16, top: 28, bottom: 36 };
const MAX_LINES = 10;

function svg(tag, attributes, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function number(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "string") return value; // "NaN", "Infinity", "-Infinity"
  if (Number.isInteger(value)) return value.toLocaleString("en");
  return Number(value.toPrecision(6)).toLocaleString("en", { maximumFractionDigits: 6 });
}

function labels(attributes) {
  const entries = Object.entries(attributes || {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(", ") : "–";
}

function seriesName(series) {
  const resource = Object.keys(series.resource || {}).length ? ` (${labels(series.resource)})` : "";
  const attributes = Object.keys(series.attributes || {}).length ? ` ${labels(series.attributes)}` : "";
  return `${series.service}${resource}${attributes}`;
}

async function showMetrics() {
  const found = await getJson(`/api/metrics${query(windowParams())}`);
  const rows = found.map((m) => ({
    href: `#/metric/${encodeURIComponent(m.name)}`,
    cells: [m.name, m.kind, m.unit || "–", m.series, m.points, m.services.join(", "), m.last],
  }));
  view.replaceChildren(el("h2", {}, "Metrics"),
    table([{ label: "Metric" }, { label: "Kind" }, { label: "Unit" },
      { label: "Series", num: true }, { label: "Points", num: true }, { label: "Services" },
      { label: "Last" }], rows));
}

// One polyline per series (gaps where a value is missing or not finite), axes with the
// value range and the time range.
function lineChart(series, unit) {
  const lines = series.slice(0, MAX_LINES);
  const finite = (v) => typeof v === "number" && Number.isFinite(v);
  const all = lines.flatMap((s) => s.values.filter((p) => finite(p.value)));
  const { width, height, left, right, top, bottom } = CHART;
  const chart = svg("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`,
    role: "img", "aria-label": "values over time" });
  if (!all.length) {
    chart.append(svg("text", { x: left, y: top + 20, class: "empty" }, "No finite values to draw."));
    return chart;
  }
  const times = all.map((p) => p.time_ns / 1e6); // ms: Number keeps them exact enough
  const values = all.map((p) => p.value);
  let [t0, t1] = [Math.min(...times), Math.max(...times)];
  let [v0, v1] = [Math.min(...values), Math.max(...values)];
  if (t0 === t1) { t0 -= 1000; t1 += 1000; }
  if (v0 === v1) { v0 -= Math.abs(v0) || 1; v1 += Math.abs(v1) || 1; }
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
  const y = (v) => top + (1 - (v - v0) / (v1 - v0)) * (height - top - bottom);
  chart.append(
    svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: height - bottom }),
    svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }),
    svg("text", { class: "tick", x: left - 6, y: top + 10, "text-anchor": "end" }, number(v1)),
    svg("text", { class: "tick", x: left - 6, y: height - bottom, "text-anchor": "end" }, number(v0)),
    svg("text", { class: "tick", x: left, y: height - bottom + 16 }, new Date(t0).toISOString()),
    svg("text", { class: "tick", x: width - right, y: height - bottom + 16, "text-anchor": "end" },
      new Date(t1).toISOString()),
    unit ? svg("text", { class: "tick unit", x: 4, y: top - 12 }, unit) : null,
  );
  lines.forEach((s, index) => {
    // Split at missing values so a gap is drawn as a gap, not as a line through it.
    const runs = [[]];
    for (const p of s.values) {
      if (finite(p.value)) runs[runs.length - 1].push(`${x(p.time_ns / 1e6).toFixed(1)},${y(p.value).toFixed(1)}`);
      else if (runs[runs.length - 1].length) runs.push([]);
    }
    const group = svg("g", { class: `series series-${index}`, "data-series": seriesName(s) },
      svg("title", {}, seriesName(s)));
    for (const run of runs.filter((r) => r.length)) {
      group.append(run.length === 1
        ? svg("circle", { cx: run[0].split(",")[0], cy: run[0].split(",")[1], r: 2.5 })
        : svg("polyline", { points: run.join(" "), fill: "none" }));
    }
    chart.append(group);
  });
  return chart;
}

function legend(series) {
  return el("ul", { class: "legend" }, series.slice(0, MAX_LINES).map((s, index) =>
    el("li", { class: `series-${index}` }, seriesName(s))));
}

// Bars of one histogram's bucket counts, each labelled with its upper bound.
function bucketChart(buckets) {
  const width = 760;
  const height = 150;
  const bottom = 34;
  const chart = svg("svg", { class: "chart buckets", width, height, viewBox: `0 0 ${width} ${height}`,
    role: "img", "aria-label": "bucket counts" });
  const most = Math.max(1, ...buckets.map((b) => b.count));
  const slot = (width - 20) / Math.max(buckets.length, 1);
  buckets.forEach((bucket, index) => {
    const barHeight = (bucket.count / most) * (height - bottom - 14);
    const x = 10 + index * slot;
    chart.append(svg("g", { class: "bucket" },
      svg("title", {}, `(${bucket.low ?? "-inf"}, ${bucket.high ?? "+inf"}]: ${bucket.count}`),
      svg("rect", { x: x + 1, y: height - bottom - barHeight, width: Math.max(slot - 2, 1),
        height: barHeight }),
      bucket.count ? svg("text", { class: "tick", x: x + slot / 2, y: height - bottom - barHeight - 3,
        "text-anchor": "middle" }, bucket.count) : null,
      svg("text", { class: "tick", x: x + slot / 2, y: height - bottom + 14, "text-anchor": "middle" },
        bucket.high === null ? "+inf" : `≤${number(bucket.high)}`)));
  });
  return chart;
}

async function showMetric(name) {
  const metric = await getJson(`/api/metrics/${encodeURIComponent(name)}${query(windowParams())}`);
  const back = el("p", {}, el("a", { href: "#/metrics" }, "← Metrics"));
  if (!metric) {
    view.replaceChildren(back, el("p", { class: "empty" },
      nothingFound(`No points of metric ${name}`)));
    return;
  }
  // Every value column says its unit ("p95 (ms)"): it was only in the heading, far above a
  // table of bare numbers. "1" is UCUM's "no unit".
  const unit = metric.unit && metric.unit !== "1" ? ` (${metric.unit})` : "";
  const heading = [back, el("h2", {}, `${metric.name} (${metric.kind}${metric.unit ? `, ${metric.unit}` : ""})`),
    metric.description ? el("p", {}, metric.description) : null];
  if (metric.kind === "gauge" || metric.kind === "sum") {
    const rows = metric.series.map((s) => ({
      cells: [seriesName(s), number(s.latest), s.points, s.temporality || "–", s.last],
    }));
    // Lines stop at MAX_LINES, one colour each, and the page says so: the table lists all.
    const cut = metric.series.length > MAX_LINES
      ? el("p", { class: "note lines-cut" }, `Lines for the first ${MAX_LINES} of ` +
        `${metric.series.length} series (one colour each); the table below lists every series.`)
      : null;
    view.replaceChildren(...heading.filter(Boolean),
      chartFrame(lineChart(metric.series, metric.unit)),
      legend(metric.series), ...(cut ? [cut] : []),
      table([{ label: "Series" }, { label: `Latest${unit}`, num: true }, { label: "Points", num: true },
        { label: "Temporality" }, { label: "Last" }], rows));
    return;
  }
  const rows = metric.series.map((s) => {
    const d = s.distribution || { percentiles: {} };
    return { cells: [seriesName(s), number(d.count), number(d.sum), number(d.min),
      number(d.percentiles.p50), number(d.percentiles.p90), number(d.percentiles.p95),
      number(d.percentiles.p99), number(d.max)] };
  });
  const charts = metric.series.filter((s) => s.distribution && s.distribution.buckets.length)
    .map((s) => el("section", { class: "histogram" },
      el("h3", {}, seriesName(s)),
      chartFrame(bucketChart(s.distribution.buckets))));
  view.replaceChildren(...heading.filter(Boolean),
    table([{ label: "Series" }, { label: "Count", num: true },
      ...["Sum", "Min", "p50", "p90", "p95", "p99", "Max"].map((label) =>
        ({ label: `${label}${unit}`, num: true }))], rows),
    ...charts);
}

register("metrics", { nav: "Metrics", order: 40, show: () => showMetrics() });
register("metric", { section: "metrics", show: (name) => showMetric(name) });
})();
