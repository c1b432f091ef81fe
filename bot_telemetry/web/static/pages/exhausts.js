// Data exhausts: request a response or private export (UCI's submit), and a tag's jobs with
// their status, attempts, message and fresh download links (UCI's list), followed until they
// end. The same API as the CLI and UCI's scripts: a refused request shows the field it names.
"use strict";

(() => {
const { el, table, go, view, register, answerOf, inPageWords } = window.BotTelemetry;

// The form's labels of the fields UCI's API names in a refusal ("request.datasetConfig.endDate:
// … is before startDate …" is the To date, before the From date).
const LABELS = {
  "request.dataset": "Dataset", "request.datasetConfig.type": "Dataset", "request.tag": "Tag",
  "request.requestedBy": "Requested by", "request.requestedChannel": "Channel",
  "request.datasetConfig.conversationId": "Bot", "request.datasetConfig.startDate": "From",
  "request.datasetConfig.endDate": "To (included)", "request.encryptionKey": "ZIP password",
  requestedBy: "Requested by", requestedChannel: "Channel", startDate: "From",
  endDate: "To (included)", conversationId: "Bot", encryptionKey: "ZIP password",
};
const labelOf = (field) => LABELS[field];

const DATASETS = { "uci-response-exhaust": "response", "uci-private-exhaust": "private" };
const LIST_LIMIT = 50;
// While a job of the tag shown is still waiting or running, its list is read again this often.
const FOLLOW_MILLIS = 2000;

// UCI's envelope: the result, or an Error with its errmsg (the field and what was expected).
// Through answerOf, as every page: a stopped collector is said in words, not "Failed to fetch".
async function uci(path, options) {
  const response = await answerOf(path, { headers: { Accept: "application/json" }, ...options });
  const body = await response.json().catch(() => ({}));
  if (response.ok && body.responseCode === "OK") return body.result;
  const said = (body.params && body.params.errmsg) || body.error;
  const error = new Error(said || `${path} answered ${response.status}`);
  error.status = response.status;
  throw error;
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function newTag() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `tag-${Date.now().toString(36)}`;
}

// The last request's fields (never its key), so the next one starts from them.
let last = null;

function requestForm() {
  const today = new Date();
  const monthAgo = new Date(today.getTime() - 30 * 86_400_000);
  const before = last || { startDate: isoDay(monthAgo), endDate: isoDay(today) };
  const input = (name, props) => el("input", { name, value: before[name], ...props });
  const fields = {
    dataset: el("select", { name: "dataset" }, Object.entries(DATASETS).map(([value, label]) =>
      el("option", { value, selected: value === before.dataset ? "selected" : null }, label))),
    conversationId: input("conversationId", { size: 18, placeholder: "its service.name" }),
    startDate: input("startDate", { type: "date" }),
    endDate: input("endDate", { type: "date" }),
    requestedBy: input("requestedBy", { size: 14 }),
    requestedChannel: input("requestedChannel", { size: 14 }),
    tag: input("tag", { size: 38, value: newTag() }),
    encryptionKey: input("encryptionKey", { type: "password", size: 16, autocomplete: "off",
      placeholder: "private: required" }),
  };
  const said = el("p", { class: "error", role: "alert", hidden: true });
  const built = el("form", { class: "search", id: "exhaust-form" },
    el("label", {}, "Dataset", fields.dataset), el("label", {}, "Bot", fields.conversationId),
    el("label", {}, "From", fields.startDate), el("label", {}, "To (included)", fields.endDate),
    el("label", {}, "Requested by", fields.requestedBy),
    el("label", {}, "Channel", fields.requestedChannel), el("label", {}, "Tag", fields.tag),
    el("label", {}, "ZIP password", fields.encryptionKey),
    el("button", { type: "submit" }, "Request"));
  built.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (name) => fields[name].value.trim();
    const request = {
      dataset: value("dataset"), tag: value("tag"), requestedBy: value("requestedBy"),
      requestedChannel: value("requestedChannel"), output_format: "csv",
      datasetConfig: { type: value("dataset"), conversationId: value("conversationId"),
        startDate: value("startDate"), endDate: value("endDate") },
    };
    last = { dataset: request.dataset, requestedBy: request.requestedBy,
      requestedChannel: request.requestedChannel, ...request.datasetConfig };
    // The key as typed (spaces are part of a password), and only when one was given.
    if (fields.encryptionKey.value) request.encryptionKey = fields.encryptionKey.value;
    try {
      await uci("/dataset/v1/request/submit", {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ id: "bot-telemetry.ui.exhaust.submit", ver: "1.0", params: {},
          request }),
      });
    } catch (error) {
      said.textContent = inPageWords(error.message, labelOf, "");
      said.hidden = false;
      return;
    }
    go(`#/exhausts/${encodeURIComponent(request.tag)}`);
  });
  return [built, said];
}

function lookupForm(tag) {
  const field = el("input", { name: "tag", size: 38, value: tag || "" });
  const built = el("form", { class: "search", id: "exhaust-lookup" },
    el("label", {}, "Jobs of the tag", field), el("button", { type: "submit" }, "Show"));
  // Show with no tag says what it needs (it did nothing at all); typing clears the message.
  field.addEventListener("input", () => field.setCustomValidity(""));
  built.addEventListener("submit", (event) => {
    event.preventDefault();
    const tag = field.value.trim();
    field.setCustomValidity(tag ? "" : "Type the tag of a request to list its jobs.");
    if (field.reportValidity()) go(`#/exhausts/${encodeURIComponent(tag)}`);
  });
  return built;
}

const HEADINGS = [
  { label: "Submitted" }, { label: "Dataset" }, { label: "Bot" }, { label: "From" },
  { label: "To" },
  { label: "Status" }, { label: "Attempts", num: true }, { label: "Message" },
  { label: "Download" }, { label: "Request id" },
];

// UCI's words, and for "No data found" what to check: a bot is named by its service.name, the
// most likely slip when the bot did have traffic.
function message(job) {
  const said = job.statusMessage || "";
  if (said !== "No data found") return said;
  const config = job.datasetConfig || {};
  const what = job.dataset === "uci-private-exhaust" ? "users" : "answers";
  return `${said}: no ${what} of the bot "${config.conversationId}" from ${config.startDate} `
    + `to ${config.endDate} (a bot is named by its service.name; submit again once it has some)`;
}

// A job waiting to retry after a failed attempt (retryAt set) can be run now: the operator
// knows the store or network is back before the wait is over.
function retryButton(job, retry) {
  if (job.status !== "SUBMITTED" || job.retryAt == null) return null;
  const button = el("button", { type: "button", class: "retry-now",
    "aria-label": `Retry job ${job.requestId} now` }, "Retry now");
  button.addEventListener("click", () => {
    button.disabled = true;
    retry(job);
  });
  return button;
}

function jobRow(job, retry) {
  const config = job.datasetConfig || {};
  const links = (job.downloadUrls || []).map((url) =>
    el("a", { href: url, download: "" }, decodeURIComponent(url.split("?")[0].split("/").pop())));
  const button = retryButton(job, retry);
  return {
    failed: job.status === "FAILED",
    cells: [new Date(job.jobStats.dtJobSubmitted).toISOString(), DATASETS[job.dataset] || job.dataset,
      config.conversationId, config.startDate, config.endDate,
      el("span", { class: "job-status", "data-status": job.status }, job.status), job.attempts,
      button ? el("span", {}, message(job), " ", button) : message(job),
      links.length ? el("span", {}, links) : "–", job.requestId],
  };
}

async function jobsOf(tag) {
  const result = await uci(
    `/dataset/v1/request/list/${encodeURIComponent(tag)}?limit=${LIST_LIMIT}`);
  return result.jobs;
}

// Each showing of the page follows its own jobs; one left and come back to stops following.
let showing = 0;

async function showExhausts(tag) {
  showing += 1;
  const mine = showing;
  const [form, said] = requestForm();
  const parts = [el("h2", {}, "Data exhausts"), form, said, lookupForm(tag)];
  if (tag === undefined) {
    view.replaceChildren(...parts);
    return;
  }
  const jobs = el("section", { class: "exhaust-jobs", "data-tag": tag });
  view.replaceChildren(...parts, el("h3", {}, `Jobs of the tag ${tag}`), jobs);
  const hash = window.location.hash;
  const refused = el("p", { class: "error", role: "alert", hidden: true });
  let show;
  const retry = async (job) => {
    try {
      await uci(`/api/exhaust/retry/${encodeURIComponent(tag)}?requestId=${
        encodeURIComponent(job.requestId)}`, { method: "POST" });
      refused.hidden = true;
    } catch (error) {
      refused.textContent = inPageWords(error.message, () => undefined, "");
      refused.hidden = false;
    }
    await show();
  };
  show = async () => {
    let found;
    try {
      found = await jobsOf(tag);
    } catch (error) {
      // An alert: the list is read again after the page was drawn (following its jobs).
      jobs.replaceChildren(el("p", { class: "error", role: "alert" }, inPageWords(error.message,
        (field) => (field === "tag" ? "Jobs of the tag" : undefined), "")));
      return;
    }
    if (mine !== showing || window.location.hash !== hash) return; // another page by now
    const running = found.some((job) => job.status === "SUBMITTED" || job.status === "PROCESSING");
    jobs.dataset.following = running ? "yes" : "no";
    jobs.replaceChildren(refused, table(HEADINGS, found.map((job) => jobRow(job, retry))),
      el("p", { class: "shown-count" },
      running ? "Following the jobs still to run…" : "Links work for a limited time: read again for fresh ones."));
    if (running) setTimeout(show, FOLLOW_MILLIS);
  };
  await show();
}

register("exhausts", { nav: "Exhausts", order: 60, window: false, show: (tag) => showExhausts(tag) });
})();
