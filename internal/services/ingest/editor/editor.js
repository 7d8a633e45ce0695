// The Pressline console: a newsroom signs in once per tab, lists and
// searches its articles, follows one through the stages, submits,
// corrects and withdraws; an operator also sees the webhook subscribers,
// their delivery attempts, and sends tests and redeliveries. Everything
// goes through the same API as any client; nothing but this file runs.
"use strict";

const $ = (id) => document.getElementById(id);
const views = ["signin", "articles", "article", "submit", "operators"];

// Tokens live in sessionStorage: gone with the tab, never in a URL or in
// storage that outlives the session.
const tokens = {
  get newsroom() { return sessionStorage.getItem("pressline-token") || ""; },
  get operator() { return sessionStorage.getItem("pressline-operator-token") || ""; },
};

function say(text, isError) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

// api calls the API with the newsroom's token (or the operator's) and
// returns the decoded body; a refusal throws its problem's detail.
async function api(path, options, asOperator) {
  const opts = Object.assign({}, options);
  opts.headers = Object.assign({ Authorization: "Bearer " + (asOperator ? tokens.operator : tokens.newsroom) }, opts.headers);
  const resp = await fetch(path, opts);
  const text = await resp.text();
  const body = text ? JSON.parse(text) : {};
  if (!resp.ok) {
    const where = body.field ? ` (${body.field})` : "";
    throw new Error((body.detail || resp.statusText) + where);
  }
  return body;
}

// apiText is api for what is not JSON: a page's preview.
async function apiText(path) {
  const resp = await fetch(path, { headers: { Authorization: "Bearer " + tokens.newsroom } });
  const text = await resp.text();
  if (!resp.ok) throw new Error(JSON.parse(text).detail || resp.statusText);
  return text;
}

function show(view) {
  for (const v of views) $("view-" + v).hidden = v !== view;
  $("nav").hidden = view === "signin";
  $("nav-operators").hidden = !tokens.operator;
}

// route shows what the address names: #/articles, #/article/ID,
// #/submit, #/operators.
async function route() {
  if (!tokens.newsroom) {
    show("signin");
    return;
  }
  const [, view, arg] = location.hash.split("/");
  say("");
  try {
    switch (view) {
      case "article": show("article"); await showArticle(decodeURIComponent(arg || "")); break;
      case "submit": show("submit"); break;
      case "operators": show("operators"); await Promise.all([showDeadLetters(), showWebhooks()]); break;
      default: show("articles"); await listArticles(false);
    }
  } catch (err) {
    say(err.message, true);
  }
}

function signIn(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  if (!token) {
    say("Give the newsroom's token.", true);
    return;
  }
  sessionStorage.setItem("pressline-token", token);
  const op = $("operator-token").value.trim();
  if (op) sessionStorage.setItem("pressline-operator-token", op);
  else sessionStorage.removeItem("pressline-operator-token");
  $("token").value = $("operator-token").value = "";
  if (location.hash === "#/articles") route();
  else location.hash = "#/articles";
}

function signOut() {
  sessionStorage.removeItem("pressline-token");
  sessionStorage.removeItem("pressline-operator-token");
  location.hash = "";
  route();
}

// Articles.

let nextPage = "";

async function listArticles(more) {
  let path = nextPage;
  if (!more) {
    const q = new URLSearchParams({ limit: "25" });
    for (const [name, id] of [["status", "filter-state"], ["q", "filter-q"], ["warning", "filter-warning"], ["site", "filter-site"]]) {
      const v = $(id).value.trim();
      if (v) q.set(name, v);
    }
    path = "/v1/articles?" + q;
    $("article-list").replaceChildren();
  }
  const page = await api(path);
  for (const st of page.articles || []) {
    const a = st.article || {};
    const link = el("a", st.title || a.id, { href: "#/article/" + encodeURIComponent(a.id) });
    const row = el("tr");
    const title = el("td");
    title.append(link);
    row.append(title, el("td", st.state), el("td", a.version), el("td", when(a.received_at)),
      el("td", (st.warnings || []).map((w) => w.code).join(", ")));
    $("article-list").append(row);
  }
  if (!$("article-list").children.length) {
    const row = el("tr");
    row.append(el("td", "No article matches.", { colspan: "5" }));
    $("article-list").append(row);
  }
  nextPage = page.next || "";
  $("more").hidden = !nextPage;
}

function when(t) {
  return t ? new Date(t).toLocaleString() : "";
}

let current = null; // the article shown

async function showArticle(id) {
  const st = await api("/v1/articles/" + encodeURIComponent(id));
  current = st;
  renderArticle(st);
}

function renderArticle(st) {
  const a = st.article || {};
  $("a-title").textContent = st.title || "(not cleaned yet)";
  $("a-id").textContent = a.id;
  $("a-state").textContent = st.state + (st.error ? ": " + st.error : "");
  $("a-version").textContent = a.version;
  $("a-external").textContent = st.external_id || "none";
  $("a-trace").textContent = st.trace_id || "";
  const links = $("a-links");
  links.replaceChildren();
  for (const url of st.urls || []) {
    links.append(el("a", url, { href: url, target: "_blank", rel: "noopener" }), el("br"));
  }
  if (!links.children.length) links.textContent = st.state === "withdrawn" ? "Withdrawn." : "Not yet.";
  timeline($("a-timeline"), st);
  warningList($("a-warnings"), st);
  const canCorrect = Boolean(st.external_id) && st.state !== "withdrawn";
  $("correct-form").querySelector("fieldset, textarea").disabled = !canCorrect;
  $("correct").disabled = !canCorrect;
  $("correct-note").textContent = canCorrect
    ? `The correction is sent under External-Id ${st.external_id} and becomes version ${Number(a.version) + 1}.`
    : st.state === "withdrawn" ? "A withdrawn article is not corrected: submit it as a new one."
      : "This article was sent without an External-Id, so a correction cannot name it: resubmit it from your CMS with one.";
  $("withdraw").disabled = st.state === "withdrawn";
  versions(st);
}

// versions offers each version's preview and ninjs, and a comparison of
// any two.
function versions(st) {
  const n = Number((st.article || {}).version) || 1;
  const box = $("versions");
  box.replaceChildren();
  for (const sel of [$("diff-from"), $("diff-to")]) sel.replaceChildren();
  for (let v = 1; v <= n; v++) {
    const preview = el("button", `Preview version ${v}`, { type: "button", "data-version": v, class: "preview" });
    preview.addEventListener("click", () => showPreview(v).catch((err) => say(err.message, true)));
    const ninjs = el("button", `ninjs of version ${v}`, { type: "button" });
    ninjs.addEventListener("click", () => showNinjs(v).catch((err) => say(err.message, true)));
    box.append(preview, ninjs);
    $("diff-from").append(el("option", v));
    $("diff-to").append(el("option", v));
  }
  $("diff-from").value = String(Math.max(1, n - 1));
  $("diff-to").value = String(n);
  $("diff-form").hidden = n < 2;
  $("diff-out").hidden = $("preview").hidden = $("ninjs").hidden = true;
}

function versionPath(v) {
  return "/v1/articles/" + encodeURIComponent(current.article.id) + "/versions/" + v;
}

// showPreview shows the version's page in a frame sandboxed without
// scripts: nothing in it runs (it is same-origin only so that it is
// drawn here at all, which headless Chromium did not do for an opaque
// one), on top of the page's own policy and the sanitiser.
async function showPreview(v) {
  $("preview").srcdoc = await apiText(versionPath(v) + "/preview");
  $("preview").hidden = false;
  $("ninjs").hidden = true;
}

async function showNinjs(v) {
  $("ninjs").textContent = JSON.stringify(await api(versionPath(v) + "/ninjs"), null, 2);
  $("ninjs").hidden = false;
  $("preview").hidden = true;
}

// textLines are an article's title, lead and every text of its body, in
// order: what an editor reads, one passage a line.
function textLines(doc) {
  const out = [];
  if (doc.title) out.push("# " + doc.title);
  if (doc.lead) out.push(doc.lead);
  const walk = (node) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if ((k === "text" || k === "caption") && typeof v === "string" && v.trim()) out.push(v);
        else if (k !== "spans") walk(v);
      }
    }
  };
  walk(doc.blocks || []);
  return out;
}

// diffLines is the longest-common-subsequence diff of two lists of
// lines: each line kept, removed (-) or added (+).
function diffLines(a, b) {
  const m = a.length, n = b.length;
  const lcs = Array.from({ length: m + 1 }, () => new Array(n + 1).fill(0));
  for (let i = m - 1; i >= 0; i--) {
    for (let j = n - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0, j = 0;
  while (i < m || j < n) {
    if (i < m && j < n && a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
    else if (j < n && (i === m || lcs[i][j + 1] >= lcs[i + 1][j])) { out.push(["+", b[j]]); j++; }
    else { out.push(["-", a[i]]); i++; }
  }
  return out;
}

async function compare(event) {
  event.preventDefault();
  try {
    const [a, b] = await Promise.all([api(versionPath($("diff-from").value)), api(versionPath($("diff-to").value))]);
    const list = $("diff-out");
    list.replaceChildren();
    for (const [op, line] of diffLines(textLines(a), textLines(b))) {
      list.append(el("li", (op === " " ? "  " : op + " ") + line, { class: { "+": "added", "-": "removed", " ": "same" }[op] }));
    }
    list.hidden = false;
  } catch (err) {
    say(err.message, true);
  }
}

function timeline(list, st) {
  list.replaceChildren();
  for (const h of st.history || []) {
    list.append(el("li", `${when(h.at)}: ${h.stage} ${h.state} (version ${h.version})${h.detail ? ": " + h.detail : ""}`));
  }
}

function warningList(list, st) {
  list.replaceChildren();
  for (const w of st.warnings || []) {
    const li = el("li");
    li.append(el("code", w.code), document.createTextNode(": " + w.message));
    list.append(li);
  }
  if (!list.children.length) list.append(el("li", "None."));
}

// follow polls an article until it settles, calling each with its status.
async function follow(id, each) {
  for (let tries = 0; tries < 240; tries++) {
    try {
      const st = await api("/v1/articles/" + encodeURIComponent(id));
      each(st);
      if (["published", "failed", "withdrawn", "embargoed"].includes(st.state)) return st;
    } catch (err) {
      // not recorded yet: try again
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return null;
}

async function correct(event) {
  event.preventDefault();
  const text = $("correct-text").value;
  if (!text.trim()) {
    say("Paste the corrected article.", true);
    return;
  }
  const form = new FormData();
  form.append("article", new Blob([text], { type: $("correct-format").value }));
  try {
    $("correct").disabled = true;
    const body = await api("/v1/articles", { method: "POST", body: form, headers: sendHeaders(current.external_id, $("correct-embargo")) });
    say(`Correction accepted as version ${body.version}.`);
    $("correct-text").value = "";
    await follow(body.id, (st) => { if ((st.article || {}).version >= body.version) renderArticle(st); });
  } catch (err) {
    say(err.message, true);
  } finally {
    $("correct").disabled = false;
  }
}

async function withdraw(event) {
  event.preventDefault();
  const id = current.article.id;
  try {
    $("withdraw").disabled = true;
    await api("/v1/articles/" + encodeURIComponent(id) + "/withdraw", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason: $("withdraw-reason").value }),
    });
    say("Withdrawal accepted.");
    await follow(id, renderArticle);
  } catch (err) {
    say(err.message, true);
    $("withdraw").disabled = false;
  }
}

// Submitting.

// sendHeaders are a submission's headers: its External-Id, and its
// embargo (the input's local time, sent with its offset) when one is set.
function sendHeaders(external, embargoInput) {
  const h = { "External-Id": external };
  if (embargoInput.value) h.Embargo = new Date(embargoInput.value).toISOString().replace(/\.\d+Z$/, "Z");
  return h;
}

async function submit(event) {
  event.preventDefault();
  let text = $("article").value;
  let type = $("format").value;
  const file = $("article-file").files[0];
  if (file) {
    text = await file.text();
    if (/\.html?$/i.test(file.name)) type = "text/html; charset=utf-8";
    if (/\.json$/i.test(file.name)) type = "application/json";
    if (/\.md$/i.test(file.name)) type = "text/markdown; charset=utf-8";
  }
  if (!text.trim()) {
    say("Paste an article or choose a file.", true);
    return;
  }
  const form = new FormData();
  form.append("article", new Blob([text], { type: type }));
  for (const image of $("images").files) form.append("image", image, image.name);
  // An External-Id of its own, so the article can be corrected here.
  const external = $("external-id").value.trim() || "console-" + crypto.randomUUID();
  say("Sending…");
  $("submit").disabled = true;
  try {
    const body = await api("/v1/articles", { method: "POST", body: form, headers: sendHeaders(external, $("embargo")) });
    say("Accepted.");
    $("submit-form").reset(); // the next article starts afresh
    $("progress").hidden = false;
    $("article-id").textContent = body.id;
    $("article-id").href = "#/article/" + encodeURIComponent(body.id);
    $("published").replaceChildren();
    const st = await follow(body.id, (st) => { timeline($("steps"), st); warningList($("warnings"), st); });
    if (st && st.state === "failed") $("published").textContent = "Failed: " + st.error;
    for (const url of (st && st.urls) || []) {
      $("published").append(el("a", "Published: " + url, { href: url, target: "_blank", rel: "noopener" }), el("br"));
    }
  } catch (err) {
    say(err.message, true);
  } finally {
    $("submit").disabled = false;
  }
}

// Operators.

// showDeadLetters lists what the stages gave up on; replaying stays with
// `pressline dlq replay`, under the operator's own NATS user.
async function showDeadLetters() {
  const q = new URLSearchParams({ limit: "100" });
  if ($("dl-stage").value.trim()) q.set("stage", $("dl-stage").value.trim());
  const page = await api("/v1/deadletters?" + q, {}, true);
  const body = $("deadletter-list");
  body.replaceChildren();
  for (const d of page.dead_letters || []) {
    const row = el("tr");
    const replay = el("td");
    if (d.replayable) {
      const b = el("button", "Replay", { type: "button", class: "replay" });
      b.addEventListener("click", () => replayDeadLetters("/v1/deadletters/" + d.id + "/replay", null));
      replay.append(b);
    } else {
      replay.append(el("code", d.replay));
    }
    row.append(el("td", d.id), el("td", d.stage), el("td", d.article_id ? `${d.article_id} v${d.version}` : ""),
      el("td", (d.permanent ? "permanent: " : "") + d.error), el("td", d.attempts), el("td", age(d.age_seconds)), replay);
    body.append(row);
  }
  if (!body.children.length) {
    const row = el("tr");
    row.append(el("td", "No dead letter.", { colspan: "7" }));
    body.append(row);
  }
}

// replayDeadLetters sends dead letters back to their stage (one, or a
// stage's all with body) and shows what is left.
async function replayDeadLetters(path, body) {
  try {
    const opts = { method: "POST" };
    if (body) Object.assign(opts, { headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const out = await api(path, opts, true);
    const left = (out.left || []).length ? `; ${out.left.length} left for pressline dlq replay` : "";
    say(`${out.replayed.length} dead letter(s) replayed${left}.`);
    await showDeadLetters();
  } catch (err) {
    say(err.message, true);
  }
}

function age(seconds) {
  if (seconds < 120) return seconds + " s";
  if (seconds < 7200) return Math.round(seconds / 60) + " min";
  if (seconds < 172800) return Math.round(seconds / 3600) + " h";
  return Math.round(seconds / 86400) + " days";
}

async function showWebhooks() {
  const list = await api("/v1/webhooks", {}, true);
  const body = $("webhook-list");
  body.replaceChildren();
  for (const w of list.webhooks || []) {
    const row = el("tr");
    const actions = el("td");
    const attempts = el("button", "Attempts", { type: "button" });
    attempts.addEventListener("click", () => showAttempts(w.name));
    const test = el("button", "Send a test", { type: "button" });
    test.addEventListener("click", () => sendTest(w.name));
    const redeliver = el("button", "Redeliver failures of the last 7 days", { type: "button" });
    redeliver.addEventListener("click", () => redeliverFailed(w.name));
    actions.append(attempts, test, redeliver);
    row.append(el("td", w.name), el("td", w.url), el("td", w.disabled ? "disabled: " + (w.disabled_reason || "") : "delivering"), actions);
    body.append(row);
  }
  if (!body.children.length) {
    const row = el("tr");
    row.append(el("td", "No subscriber: create one with POST /v1/webhooks.", { colspan: "4" }));
    body.append(row);
  }
}

async function showAttempts(name) {
  try {
    const page = await api("/v1/webhooks/" + encodeURIComponent(name) + "/attempts?limit=100", {}, true);
    $("attempts-view").hidden = false;
    $("attempts-name").textContent = name;
    const body = $("attempt-list");
    body.replaceChildren();
    for (const a of page.attempts || []) {
      const row = el("tr", null, { class: "outcome-" + a.outcome });
      row.append(el("td", when(a.at)), el("td", a.webhook_id), el("td", a.attempt), el("td", a.status || "no answer"),
        el("td", Math.round(a.latency_ms) + " ms"), el("td", a.outcome), el("td", when(a.next_retry)), el("td", a.error || ""));
      body.append(row);
    }
    if (!body.children.length) {
      const row = el("tr");
      row.append(el("td", "No attempt recorded.", { colspan: "8" }));
      body.append(row);
    }
  } catch (err) {
    say(err.message, true);
  }
}

async function sendTest(name) {
  try {
    const sent = await api("/v1/webhooks/" + encodeURIComponent(name) + "/test", { method: "POST" }, true);
    say(`Test ${sent.webhook_id} sent; its attempt shows below once made.`);
    for (let tries = 0; tries < 20; tries++) {
      await new Promise((r) => setTimeout(r, 500));
      const page = await api(sent.attempts, {}, true);
      if ((page.attempts || []).length) break;
    }
    await showAttempts(name);
  } catch (err) {
    say(err.message, true);
  }
}

async function redeliverFailed(name) {
  try {
    const since = new Date(Date.now() - 7 * 24 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    const out = await api("/v1/webhooks/" + encodeURIComponent(name) + "/redeliver", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ since }),
    }, true);
    say(`${out.events.length} event(s) sent again to ${name}.`);
  } catch (err) {
    say(err.message, true);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localStorage.removeItem("pressline-token"); // where earlier versions kept it
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("filter-form").addEventListener("submit", (e) => { e.preventDefault(); listArticles(false).catch((err) => say(err.message, true)); });
  $("more").addEventListener("click", () => listArticles(true).catch((err) => say(err.message, true)));
  $("submit-form").addEventListener("submit", submit);
  $("correct-form").addEventListener("submit", correct);
  $("withdraw-form").addEventListener("submit", withdraw);
  $("diff-form").addEventListener("submit", compare);
  $("dl-replay-all").addEventListener("click", () => {
    const stage = $("dl-stage").value.trim();
    if (!stage) say("Name the stage whose dead letters to replay.", true);
    else replayDeadLetters("/v1/deadletters/replay", { stage });
  });
  $("dl-form").addEventListener("submit", (e) => { e.preventDefault(); showDeadLetters().catch((err) => say(err.message, true)); });
  window.addEventListener("hashchange", route);
  route();
});
