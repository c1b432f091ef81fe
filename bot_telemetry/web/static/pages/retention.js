// Retention: users by the period they first came (their cohort), and the share who came back
// in each period after, as a heat map (drawn here) with the cohort table below.
"use strict";

(() => {
const {
  el, windowParams, postJson, getJson, svg, table, go, view, register, rovingFocus, inPageWords,
  chartFrame, wholeNumber, eventLine, parseEventLine,
} = window.BotTelemetry;

// The form's label of a field the retention API names in a refusal; undefined for one only
// an edited address gives.
function labelOf(field) {
  const event = /^(cohortEvent|returningEvent)(\.|$)/.exec(field);
  if (event) return event[1] === "cohortEvent" ? "Cohort event" : "Returning event";
  return { period: "Period", totalIntervals: "Intervals", startTime: "Time window" }[field];
}

function requestIn(params) {
  const text = params.get("request");
  if (!text) return { period: "week", totalIntervals: 8 };
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error("the retention request in the address is not JSON");
  }
}

function percent(value) {
  return value === null || value === undefined ? "" : `${Math.round(value * 100)}%`;
}

function day(iso) {
  return iso.slice(0, 10);
}

// An interval not over by the end of the window: who came back is not known yet (a 0 there
// would read as nobody came back).
function pending(cohort, i) {
  return cohort.values[i] !== null && cohort.values[i] !== undefined
    && cohort.complete !== undefined && !cohort.complete[i];
}

function form(request) {
  const period = el("select", { name: "period" }, ["day", "week", "month"].map((p) =>
    el("option", { value: p, selected: p === (request.period || "week") ? "selected" : null }, p)));
  const intervals = el("input", { name: "intervals", size: 3, value: request.totalIntervals || 8 });
  // Typed as a funnel step is (EVENT or EVENT:key=a|b, the same parser): taken whole, a
  // line with a property matched no event at all, and an event with properties from a
  // shared address showed as "[object Object]".
  const cohort = el("input", { name: "cohortEvent", size: 22,
    value: eventLine(request.cohortEvent), placeholder: "first conversation" });
  const returning = el("input", { name: "returningEvent", size: 22,
    value: eventLine(request.returningEvent), placeholder: "any conversation" });
  const built = el("form", { class: "search", id: "retention-form" },
    el("label", {}, "Period", period), el("label", {}, "Intervals", intervals),
    el("label", {}, "Cohort event", cohort), el("label", {}, "Returning event", returning),
    el("button", { type: "submit" }, "Show retention"));
  built.addEventListener("submit", (event) => {
    event.preventDefault();
    // What the form does not show (a shared address's startTime, context) is kept: a change
    // of period quietly dropped it and moved the cohorts.
    go(`#/retention?${new URLSearchParams({ request: JSON.stringify({ ...request,
      period: period.value, totalIntervals: wholeNumber(intervals.value, 8),
      cohortEvent: parseEventLine(cohort.value), returningEvent: parseEventLine(returning.value),
    }) })}`);
  });
  return built;
}

// A cell's figures in words: its name for a screen reader, and the line under the map while
// it is focused or pointed at.
function cellFigures(result, cohort, i) {
  const value = cohort.values[i];
  const where = `cohort ${day(cohort.cohortStart)}, ${result.period} ${i}: `;
  if (pending(cohort, i)) {
    return `${where}not over yet (${value} of ${cohort.size} back so far)`;
  }
  return `${where}${value} of ${cohort.size} (${percent(cohort.rates[i]) || "–"})`;
}

const TIP_HINT = "Point at a cell, or Tab to the map and move with the arrow keys, for who "
  + "came back in it.";

// A row per cohort, a cell per interval; the darker, the more came back. A grid (rows of
// cells) with one Tab stop: the arrow keys move between cells, Home and End along a row. A
// hover title per cell held the figures (and all a "not yet" cell knew): neither a keyboard
// nor a screen reader reached it; a Tab stop per cell would have made 36 for 8 weeks.
function heatMap(result, tip) {
  const n = result.totalIntervals;
  const cell = 56;
  const left = 150;
  const top = 26;
  const width = left + n * cell + 10;
  const height = top + result.cohorts.length * 30 + 10;
  const root = svg("svg", { class: "heatmap", width, height, viewBox: `0 0 ${width} ${height}`,
    role: "grid", "aria-label": `retention by ${result.period}: arrow keys move between cells` });
  root.append(svg("g", { role: "row" }, svg("text", { role: "columnheader", x: left - 8, y: 16,
    "text-anchor": "end", class: "axis", text: "cohort (users)" }),
  Array.from({ length: n }, (_, i) => svg("text", { class: "axis", role: "columnheader",
    x: left + i * cell + cell / 2, y: 16, "text-anchor": "middle", text: `${result.period} ${i}` }))));
  // grid[row][interval]: the cell there, or undefined where the cohort has no such interval.
  const grid = [];
  const parts = [];
  result.cohorts.forEach((cohort, row) => {
    const y = top + row * 30;
    const line = svg("g", { role: "row" }, svg("text", { class: "axis", role: "rowheader",
      x: left - 8, y: y + 19, "text-anchor": "end",
      text: `${day(cohort.cohortStart)} (${cohort.size})` }));
    grid.push([]);
    cohort.values.forEach((value, i) => {
      if (value === null) return;
      const waiting = pending(cohort, i);
      const rate = cohort.rates[i] || 0;
      const node = svg("g", { class: waiting ? "cell pending" : "cell", "data-cohort": row,
        "data-interval": i, role: "gridcell", "aria-label": cellFigures(result, cohort, i) },
      svg("rect", { x: left + i * cell, y, width: cell - 2, height: 28,
        "fill-opacity": waiting ? null : (0.08 + 0.92 * rate).toFixed(3) }),
      svg("text", { x: left + i * cell + cell / 2 - 1, y: y + 18, "text-anchor": "middle",
        class: !waiting && rate > 0.55 ? "light" : "",
        text: waiting ? "not yet" : percent(cohort.rates[i]) }));
      grid[row][i] = parts.length;
      parts.push({ node, row, interval: i, figures: cellFigures(result, cohort, i) });
      line.append(node);
    });
    root.append(line);
  });
  // The cell a key leads to from parts[at]: along its row, or the same interval a row up or
  // down (the row's last cell where that row is shorter: the newest cohorts have fewer).
  const moves = (key, at) => {
    const { row, interval } = parts[at];
    const cells = grid[row].flatMap((p, i) => (p === undefined ? [] : [i]));
    const inRow = (r, i) => {
      const found = grid[r].flatMap((p, j) => (p === undefined || j > i ? [] : [p]));
      return found.length ? found[found.length - 1] : undefined;
    };
    const position = cells.indexOf(interval);
    if (key === "ArrowRight") return grid[row][cells[Math.min(position + 1, cells.length - 1)]];
    if (key === "ArrowLeft") return grid[row][cells[Math.max(position - 1, 0)]];
    if (key === "Home") return grid[row][cells[0]];
    if (key === "End") return grid[row][cells[cells.length - 1]];
    if (key === "ArrowDown" && row + 1 < grid.length) return inRow(row + 1, interval) ?? at;
    if (key === "ArrowUp" && row > 0) return inRow(row - 1, interval) ?? at;
    return key === "ArrowDown" || key === "ArrowUp" ? at : undefined;
  };
  rovingFocus(parts.map((p) => p.node), moves, (i) => { tip.textContent = parts[i].figures; },
    () => { tip.textContent = TIP_HINT; });
  tip.textContent = parts.length ? TIP_HINT : "";
  return root;
}

function tableCell(cohort, i) {
  const value = cohort.values[i];
  if (value === null || value === undefined) return "";
  if (pending(cohort, i)) return `not over yet (${value} so far)`;
  return `${value} (${percent(cohort.rates[i]) || "–"})`;
}

async function showRetention(params) {
  const request = requestIn(params);
  // The header's window, as funnels and user flows take it: who first came in it, and who
  // came back until now; the API has no cohort for a period that has not begun.
  const startTime = windowParams().since || request.startTime || null;
  const result = await postJson("/analytics/retention", { ...request, startTime })
    .catch((error) => error);
  if (result instanceof Error) {
    // A bad input (a 400): the form keeps what was typed, the message goes under it.
    view.replaceChildren(el("h2", {}, "Retention"), form(request),
      el("p", { class: "error" }, inPageWords(result.message, labelOf)));
    return;
  }
  const n = result.totalIntervals;
  // No one in any cohort: why. On an empty store "a longer period reaches further back" was
  // wrong advice: nothing is stored anywhere, so say how telemetry gets here (as the empty
  // app map does). Asked only then: the store's first time is a query of its own.
  const nobody = result.cohorts.every((c) => !c.size);
  const stored = nobody ? await getJson("/analytics/measures").then((m) => m?.stored) : null;
  const empty = !nobody ? null : stored && !stored.first
    ? el("p", { class: "empty retention-empty" }, "The store holds no events yet. A bot that "
      + "calls bot_telemetry.configure() sends its telemetry here with "
      + `OTEL_EXPORTER_OTLP_ENDPOINT=${window.location.origin}.`)
    : result.cohorts.length
      ? el("p", { class: "empty retention-empty" }, `No one came first in these ${n} `
        + `${result.period}s (${day(result.cohorts[0].cohortStart)} to `
        + `${day(result.cohorts[result.cohorts.length - 1].cohortStart)}): more intervals or a `
        + "longer period reach further back.")
      : null;
  const tip = el("p", { class: "chart-tip retention-tip", "aria-live": "off" });
  // Without the parts a result has no use for: replaceChildren writes a null as "null" (the
  // page showed a stray "null" above the map whenever everyone's interval was over, or
  // someone had come).
  view.replaceChildren(...[
    el("h2", {}, "Retention"),
    form(request),
    el("p", { class: "funnel-summary" }, `cohort: ${result.cohortEvent} · back: ` +
      `${result.returningEvent} · by ${result.period}`),
    // No one in any cohort: an empty grid of 0s said nothing of why, nor what reaches further.
    empty,
    chartFrame(heatMap(result, tip)),
    tip,
    result.cohorts.some((c) => c.values.some((_, i) => pending(c, i)))
      ? el("p", { class: "meta retention-pending" }, `not yet: the ${result.period} is not ` +
        "over, so who came back in it is not known yet (the cell's line above and the table "
        + "below say who came so far).")
      : null,
    el("h3", {}, "Cohorts"),
    table([{ label: "Cohort" }, { label: "Users", num: true },
      ...Array.from({ length: n }, (_, i) => ({ label: `${result.period} ${i}`, num: true }))],
    result.cohorts.map((c) => ({ cells: [day(c.cohortStart), c.size,
      ...Array.from({ length: n }, (_, i) => tableCell(c, i))] }))),
  ].filter(Boolean));
}

register("retention", { nav: "Retention", order: 47, show: (_, params) => showRetention(params) });
})();
