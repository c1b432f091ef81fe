// Funnels: every dialog's funnel with no set-up, or one described by hand; a bar per step,
// and for a step the reasons entities stopped there, each one a click away from its
// transcript and the trace of the turn where it stopped.
"use strict";

(() => {
const {
  el, windowParams, postJson, svg, table, go, view, register, eventLine, parseEventLine,
  windowPhrase, rovingFocus, inPageWords, chartFrame, wholeNumber,
} = window.BotTelemetry;

const CAUSES = {
  botError: "bot error",
  slowReply: "slow reply",
  fallback: "not understood (fallback)",
  escalated: "handed to a person",
  cancelled: "cancelled",
  wentElsewhere: "went elsewhere",
  userLeft: "user left",
};

// The form's label of a field the funnel API names in a refusal ("steps[1]" is the second
// line of Steps); undefined for one only an edited address gives.
function labelOf(field) {
  const step = /^steps\[(\d+)\]/.exec(field);
  if (step) return `Steps, line ${Number(step[1]) + 1}`;
  const excluded = /^exclusions\[(\d+)\](?:\.(fromStep|toStep))?/.exec(field);
  if (excluded) {
    const part = { fromStep: ", its FROM", toStep: ", its TO" }[excluded[2]] || "";
    return `Exclusions, line ${Number(excluded[1]) + 1}${part}`;
  }
  return {
    steps: "Steps", order: "Order", window: "Conversion window", countBy: "Count",
    breakdown: "Breakdown",
    exclusions: "Exclusions", fromStep: "FROM", toStep: "TO", startTime: "Time window",
  }[field];
}

// The header's time window, as the API's startTime (a duration ago); null: everything.
function since() {
  return windowParams().since || null;
}

function percent(value) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return `${(seconds * 1000).toFixed(0)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  return `${(seconds / 60).toFixed(1)} min`;
}

function requestIn(params) {
  const text = params.get("request");
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error("the funnel in the address is not JSON");
  }
}

function funnelLink(request, extra) {
  const search = new URLSearchParams({ request: JSON.stringify(request), ...(extra || {}) });
  return `#/funnels?${search.toString()}`;
}

function form(request) {
  const field = (label, input) => el("label", {}, label, input);
  const steps = el("textarea", { name: "steps", rows: 4, cols: 48 },
    (request.steps || []).map(eventLine).join("\n"));
  const select = (name, options, value) => el("select", { name },
    options.map((option) => el("option", { value: option, selected: option === value ? "selected" : null }, option)));
  const order = select("order", ["ordered", "strict", "unordered"], request.order || "ordered");
  const countBy = select("countBy", ["conversation", "user", "session"], request.countBy || "conversation");
  const window_ = el("input", { name: "window", value: request.window || "14d", size: 6 });
  const breakdown = el("input", { name: "breakdown", value: request.breakdown || "", size: 12,
    placeholder: "e.g. channelId" });
  const exclusions = el("textarea", { name: "exclusions", rows: 2, cols: 28,
    placeholder: "EVENT:FROM:TO" },
  (request.exclusions || []).map((e) => `${eventLine(e)}:${e.fromStep}:${e.toStep}`).join("\n"));
  const built = el("form", { class: "search", id: "funnel-form" },
    field("Steps (one per line: EVENT or EVENT:key=value, a|b for either value)", steps),
    // "Conversion window", not "Window": beside the header's "Time window" (which attempts
    // count) the two read as one setting.
    field("Order", order), field("Conversion window", window_), field("Count", countBy),
    field("Breakdown", breakdown), field("Exclusions", exclusions),
    el("button", { type: "submit" }, "Show funnel"));
  // A line of Exclusions without its FROM and TO says so on the field; FROM or TO that is
  // not a whole number goes as typed, for the API to refuse naming it. A line "EVENT" was
  // sent with no event and NaN steps, and "EVENT:a:b" quietly as the whole funnel.
  exclusions.addEventListener("input", () => exclusions.setCustomValidity(""));
  built.addEventListener("submit", (event) => {
    event.preventDefault();
    const lines = exclusions.value.split("\n").map((line) => line.trim()).filter(Boolean);
    const short = lines.findIndex((line) => !/^[^:].*:[^:]*:[^:]*$/.test(line));
    exclusions.setCustomValidity(short < 0 ? "" : `Exclusions, line ${short + 1}: expected `
      + `EVENT:FROM:TO (the steps it may not come between, counted from 0), got "${lines[short]}"`);
    if (!exclusions.reportValidity()) return;
    const excluded = lines.map((line) => {
      const parts = line.split(":");
      const to = wholeNumber(parts.pop(), null);
      const from = wholeNumber(parts.pop(), null);
      const step = parseEventLine(parts.join(":"));
      return { ...(typeof step === "string" ? { event: step } : step), fromStep: from, toStep: to };
    });
    // What the form does not show (a shared address's startTime, context, slowReplySeconds)
    // is kept.
    go(funnelLink({ ...request,
      steps: steps.value.split("\n").map((line) => line.trim()).filter(Boolean).map(parseEventLine),
      order: order.value, window: window_.value, countBy: countBy.value,
      breakdown: breakdown.value || null, exclusions: excluded,
    }));
  });
  return built;
}

// Two short lines under a bar: the event, and the last property it must have.
function shortLines(step, room) {
  const fit = (text) => (text.length > room ? `…${text.slice(text.length - room + 1)}` : text);
  const values = Object.values(step.where || {}).map((v) => (Array.isArray(v) ? v.join("|") : v));
  return [fit(step.event), values.length ? fit(String(values[values.length - 1])) : ""];
}

function shortName(step) {
  return shortLines(step, 24).filter(Boolean).join(" ");
}

// A step's figures in words: the bar's name for a screen reader, and the line under the chart
// while the bar is focused or pointed at.
function stepFigures(step) {
  return [
    step.name,
    `${step.count} (${percent(step.conversionFromFirst)} of the first step, ` +
      `${percent(step.conversionFromPrevious)} of the previous)`,
    `stopped here: ${step.dropOff}`,
    step.medianSecondsToConvert === null ? "" :
      `time to convert: median ${duration(step.medianSecondsToConvert)}, ` +
      `p90 ${duration(step.p90SecondsToConvert)}`,
  ].filter(Boolean).join(" · ");
}

const TIP_HINT = "Point at a bar, or Tab to the chart and move with the arrow keys, for its "
  + "figures; a click, Enter or Space opens why those who stopped there did.";

// A bar per step (its height: the entities that reached it), on the first step's height in
// grey; a click opens why those who stopped there did. The chart is one Tab stop: the arrow
// keys, Home and End move between the bars (a stop per bar put up to 20 before the table).
// The figures a hover title held are in the line under the chart (`tip`) and in each bar's
// name: the title reached neither a keyboard nor a screen reader.
function chart(result, onSelect, tip, chosen) {
  const steps = result.steps;
  const width = Math.max(640, 140 * steps.length);
  const height = 300;
  const top = 24;
  const bottom = 70;
  const plot = height - top - bottom;
  const first = Math.max(steps.length ? steps[0].count : 0, 1);
  const slot = width / Math.max(steps.length, 1);
  const barWidth = Math.min(110, slot * 0.62);
  // A group, not an img: an img's parts are hidden from a screen reader, and the bars are
  // buttons.
  const root = svg("svg", { class: "funnel-chart", width, height, viewBox: `0 0 ${width} ${height}`,
    role: "group", "aria-label": `funnel of ${steps.length} steps: arrow keys move between them` });
  const bars = steps.map((step, index) => {
    const x = index * slot + (slot - barWidth) / 2;
    const barHeight = Math.max((step.count / first) * plot, 1);
    const y = top + plot - barHeight;
    const middle = x + barWidth / 2;
    const group = svg("g", { class: "funnel-step", "data-step": index, role: "button",
      "aria-label": stepFigures(step), "aria-pressed": "false" },
      svg("rect", { class: "ghost", x, y: top, width: barWidth, height: plot }),
      svg("rect", { class: "bar", x, y, width: barWidth, height: barHeight }),
      svg("text", { class: "count", x: middle, y: y - 6, "text-anchor": "middle", text: step.count }),
      ...shortLines(step, Math.max(8, Math.floor(slot / 7.5))).map((line, row) =>
        svg("text", { class: "label", x: middle, y: height - bottom + 16 + row * 14,
          "text-anchor": "middle", text: line })),
      svg("text", { class: "rate", x: middle, y: height - bottom + 46, "text-anchor": "middle",
        text: index === 0 ? "" : `${percent(step.conversionFromPrevious)} of previous` }),
      step.dropOff ? svg("text", { class: "dropped", x: middle, y: height - bottom + 60,
        "text-anchor": "middle", text: `${step.dropOff} stopped` }) : null);
    const select = () => onSelect(index);
    group.addEventListener("click", select);
    // A button (role) takes Space as well as Enter; Space alone scrolled the page.
    group.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      select();
    });
    root.append(group);
    return group;
  });
  const last = steps.length - 1;
  const moves = (key, i) => ({ ArrowRight: Math.min(i + 1, last), ArrowDown: Math.min(i + 1, last),
    ArrowLeft: Math.max(i - 1, 0), ArrowUp: Math.max(i - 1, 0), Home: 0, End: last })[key];
  rovingFocus(bars, moves, (i) => { tip.textContent = stepFigures(steps[i]); },
    () => { tip.textContent = TIP_HINT; }, chosen !== null && steps[chosen] ? chosen : 0);
  tip.textContent = TIP_HINT;
  return root;
}

function stepsTable(steps) {
  return table([{ label: "Step" }, { label: "Count", num: true }, { label: "Of first", num: true },
    { label: "Of previous", num: true }, { label: "Stopped here", num: true },
    { label: "Median to convert", num: true }, { label: "p90 to convert", num: true }],
  steps.map((s) => ({ cells: [s.name, s.count, percent(s.conversionFromFirst),
    percent(s.conversionFromPrevious), s.dropOff, duration(s.medianSecondsToConvert),
    duration(s.p90SecondsToConvert)] })));
}

// Why those who stopped after step `index` did, and who they are.
function dropPanel(result, index, request) {
  const step = result.steps[index];
  const last = index === result.steps.length - 1;
  const pathsOut = { startEvent: request.steps[index], countBy: result.countBy === "user" ? "user" : result.countBy };
  const pathsIn = { endEvent: request.steps[index], countBy: pathsOut.countBy };
  const links = el("p", { class: "path-links" },
    el("a", { href: `#/paths?${new URLSearchParams({ request: JSON.stringify(pathsOut) })}` },
      "Paths out of this step"), " · ",
    el("a", { href: `#/paths?${new URLSearchParams({ request: JSON.stringify(pathsIn) })}` },
      "Paths into this step"));
  if (last) {
    return el("div", { class: "details", id: "drop-off" }, el("h3", {}, step.name),
      el("p", {}, `${step.count} reached the last step.`), links);
  }
  const causes = Object.entries(step.dropOffCauses).filter(([, n]) => n > 0)
    .map(([cause, n]) => ({ cells: [CAUSES[cause] || cause, n, percent(n / Math.max(step.dropOff, 1))] }));
  const dropped = result.dropped.filter((d) => d.step === index).map((d) => ({
    failed: d.cause === "botError",
    cells: [
      d.time,
      CAUSES[d.cause] || d.cause || "–",
      d.conversationId ? el("a", { href: `#/conversation/${encodeURIComponent(d.conversationId)}`,
        class: "conversation-link" }, d.conversationId) : "–",
      d.traceId ? el("a", { href: `#/trace/${d.traceId}`, class: "trace-link" }, d.traceId) : "–",
    ],
  }));
  return el("div", { class: "details", id: "drop-off" },
    el("h3", {}, `Stopped after “${step.name}”: ${step.dropOff}`),
    table([{ label: "Why" }, { label: "Entities", num: true }, { label: "Share", num: true }], causes),
    el("h3", {}, "Who (most recent first)"),
    table([{ label: "Stopped at" }, { label: "Why" }, { label: "Conversation" },
      { label: "Turn where it stopped" }], dropped),
    links);
}

function breakdownTable(result) {
  if (!result.breakdown) return null;
  const headings = [{ label: result.breakdown }, ...result.steps.map((s, i) => ({
    label: `${i + 1}. ${shortName(s)}`, num: true }))];
  const rows = result.breakdownValues.map((value) => ({
    cells: [value.other ? "(other values)" : value.value === null ? "(none)" : value.value,
      ...value.steps.map((s) => `${s.count} (${percent(s.conversionFromFirst)})`)],
  }));
  return [el("h3", {}, `By ${result.breakdown}`), table(headings, rows)];
}

// The open drop-off panel lives in the address (`step=2`) beside the funnel and the time
// window, so a reload, a shared link and back/forward keep it. A new history entry without
// a hashchange: opening a panel does not ask for the funnel again, and back (which does fire
// hashchange) renders the address it returns to.
function keepStep(index) {
  const [path, search] = window.location.hash.split("?");
  const params = new URLSearchParams(search || "");
  if (params.get("step") === String(index)) return;
  params.set("step", String(index));
  history.pushState(null, "", `${path}?${params}`);
}

async function showFunnels(params) {
  const dialogs = await postJson("/analytics/funnel/dialogs", { startTime: since() })
    .catch((error) => { throw new Error(inPageWords(error.message, labelOf)); });
  let request = requestIn(params);
  if (!request && dialogs.length) request = dialogs[0].funnel;
  const dialogRows = dialogs.map((d) => ({
    href: funnelLink(d.funnel),
    cells: [d.dialogId, d.starts, d.completes, d.cancels, d.steps.length],
  }));
  const parts = [
    el("h2", {}, "Funnels"),
    el("h3", {}, "Dialogs"),
    table([{ label: "Dialog" }, { label: "Started", num: true }, { label: "Completed", num: true },
      { label: "Cancelled", num: true }, { label: "Steps", num: true }], dialogRows),
  ];
  if (!request) {
    view.replaceChildren(...parts, form({}),
      el("p", { class: "empty" }, `No dialog ${windowPhrase()}: describe a funnel above.`));
    return;
  }
  const result = await postJson("/analytics/funnel",
    { ...request, startTime: since() || request.startTime || null }).catch((error) => error);
  if (result instanceof Error) {
    // A bad input (a 400): the form keeps what was typed, the message goes under it.
    view.replaceChildren(...parts, form(request),
      el("p", { class: "error" }, inPageWords(result.message, labelOf)));
    return;
  }
  const slot = el("div");
  const select = (index) => {
    for (const bar of view.querySelectorAll(".funnel-step.selected")) {
      bar.classList.remove("selected");
      bar.setAttribute("aria-pressed", "false");
    }
    const bar = view.querySelector(`.funnel-step[data-step="${index}"]`);
    bar?.classList.add("selected");
    bar?.setAttribute("aria-pressed", "true");
    slot.replaceChildren(dropPanel(result, index, request));
    // Into sight when it opened below the screen's edge (on a phone, under the chart): the
    // tap seemed to do nothing.
    if (slot.getBoundingClientRect().top > window.innerHeight - 80) slot.scrollIntoView({ block: "start" });
    keepStep(index);
  };
  const chosen = params.get("step");
  const tip = el("p", { class: "chart-tip funnel-tip", "aria-live": "off" });
  view.replaceChildren(...parts,
    form(request),
    el("p", { class: "funnel-summary" }, `${result.order} · converting within ${result.window} · counting ` +
      `${result.countBy}s`, result.excluded ? ` · ${result.excluded} excluded` : ""),
    // Why the counts are what they are, when they alone would mislead (a strict funnel).
    ...(result.notes || []).map((note) => el("p", { class: "note", role: "note" }, note)),
    chartFrame(chart(result, select, tip, chosen === null ? null : Number(chosen))),
    tip,
    slot,
    el("h3", {}, "Steps"),
    stepsTable(result.steps),
    ...(breakdownTable(result) || []));
  if (chosen !== null && result.steps[Number(chosen)]) select(Number(chosen));
}

register("funnels", { nav: "Funnels", order: 40, show: (_, params) => showFunnels(params) });
})();
