// Conversations: the list, and one conversation as an annotated transcript.
"use strict";

(() => {
const { el, query, windowParams, getJson, ms, table, view, register, shownCount } =
  window.BotTelemetry;

const CONVERSATION_LIMIT = 100;

async function showConversations() {
  const found = await getJson(
    `/api/conversations${query({ ...windowParams(), limit: CONVERSATION_LIMIT })}`);
  const rows = found.map((c) => ({
    failed: c.failed_turns > 0,
    href: `#/conversation/${encodeURIComponent(c.conversation_id)}`,
    cells: [c.conversation_id, c.channel_id || "–", c.turns, c.failed_turns, c.first, c.last],
  }));
  view.replaceChildren(el("h2", {}, "Conversations"),
    shownCount(found.length, CONVERSATION_LIMIT, "conversations"),
    table([{ label: "Conversation" }, { label: "Channel" }, { label: "Turns", num: true },
      // Not "failed turns": a failed call the bot recovered from counts here, not in the
      // failedTurns measure or on the app map.
      { label: "Turns with a failure", num: true }, { label: "First" }, { label: "Last" }], rows));
}

function turnCard(turn, number) {
  const failed = turn.failures.length > 0;
  const said = (cls, text) => el("div", { class: cls },
    text === null || text === undefined ? el("span", { class: "norecord" }, "(text not recorded)") : text);
  return el("section", { class: `turn${failed ? " failed" : ""}`, "data-trace": turn.trace_id },
    el("div", { class: "meta" }, `#${number} · ${turn.start} · ${turn.proactive ? "proactive"
      : `${turn.activity_type || "?"}${turn.activity_name ? ` ${turn.activity_name}` : ""}`} · `,
      // Named by its turn: a screen reader's list of links read "trace" once per turn.
      ms(turn.duration_ms), " · ", el("a", { href: `#/trace/${turn.trace_id}`,
        "aria-label": `trace of turn ${number}` }, "trace")),
    // The page's events in the turn's trace, by time (ISO, same form): what the page did to
    // start the turn (a click on send, a suggested action) comes before what the user said.
    pageNotes((turn.client_events || []).filter((note) => note.time <= turn.start)),
    // A proactive turn: nobody said anything, the bot wrote unasked (continue_conversation).
    turn.proactive
      ? el("div", { class: "proactive" }, el("span", { class: "norecord" }, "(proactive: the bot wrote unasked)"))
      : turn.text === null && turn.activity_type && turn.activity_type !== "message"
      ? el("div", { class: "user" }, el("span", { class: "norecord" }, `(${turn.activity_type} activity)`))
      : said("user", turn.text),
    el("div", {},
      turn.intents.map((i) => el("span", { class: "chip intent" },
        `intent ${i.intent}${i.score === null ? "" : ` (${i.score.toFixed(2)})`}`)),
      turn.answers.map((a) => (a.article_found === false && a.answer === null
        // The lookup found nothing (articleFound false): not an answer that went unrecorded.
        ? el("span", { class: "chip answer unanswered" }, "no answer found")
        : el("span", { class: "chip answer" },
          `answer ${a.answer === null ? "(not recorded)" : a.answer}${a.score === null ? "" : ` (${a.score.toFixed(2)})`}`))),
      turn.failures.map((f) => el("span", { class: "chip failure" },
        `${f.service}: ${f.name}${f.message ? ` – ${f.message}` : ""}`))),
    // A reply the bot later edited or took back (update_activity, delete_activity) stays in
    // the turn that sent it, as it now reads, saying so.
    turn.replies.map((reply, index) => {
      const change = (turn.reply_changes || [])[index];
      const line = said(`bot${change ? ` ${change}` : ""}`, reply);
      if (change) line.append(" ", el("span", { class: "chip change" }, `(${change} later)`));
      return line;
    }),
    el("ul", { class: "deps" }, turn.dependencies.map((d) => el("li", { class: d.failed ? "failed" : "" },
      `${d.source} → ${d.target}: ${d.name} ${ms(d.duration_ms)}${d.failed ? " (failed)" : ""}`))),
    pageNotes((turn.client_events || []).filter((note) => note.time > turn.start)));
}

// The page's own events (client telemetry): in their turn when they carry its trace.
function pageNotes(notes) {
  if (!notes.length) return null;
  return el("ul", { class: "page-events" }, notes.map((note) =>
    el("li", { "data-eid": note.eid }, el("span", { class: "chip" }, "page"), ` ${note.label}`)));
}

async function showConversation(conversationId) {
  const conversation = await getJson(`/api/conversations/${encodeURIComponent(conversationId)}`);
  if (!conversation) {
    view.replaceChildren(el("p", { class: "error" }, `No conversation ${conversationId} in the store.`));
    return;
  }
  view.replaceChildren(...[
    el("p", {}, el("a", { href: "#/conversations" }, "← Conversations")),
    el("h2", {}, `Conversation ${conversation.conversation_id}`),
    ...conversation.turns.flatMap((turn, index) => [
      pageNotes((conversation.client_events || []).filter((note) => note.before_turn === index)),
      turnCard(turn, index + 1)]),
    pageNotes((conversation.client_events || []).filter(
      (note) => note.before_turn >= conversation.turns.length)),
  ].filter(Boolean));
}

register("conversations", { nav: "Conversations", order: 30, show: () => showConversations() });
register("conversation", { section: "conversations", window: false,
  show: (id) => showConversation(id) });
})();
