// The editor page: submits an article through the ingest API and follows
// its status until it is published or has failed.
"use strict";

const $ = (id) => document.getElementById(id);

function say(text, isError) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

function headers() {
  return { Authorization: "Bearer " + $("token").value.trim() };
}

async function submit(event) {
  event.preventDefault();
  // The tab's session only: a token kept in localStorage outlives the
  // browser session and is read by anything that runs on this origin later.
  sessionStorage.setItem("pressline-token", $("token").value.trim());
  let text = $("article").value;
  let type = $("format").value;
  const file = $("article-file").files[0];
  if (file) {
    text = await file.text();
    if (/\.html?$/i.test(file.name)) type = "text/html; charset=utf-8";
    if (/\.json$/i.test(file.name)) type = "application/json";
  }
  if (!text.trim()) {
    say("Paste an article or choose a file.", true);
    return;
  }
  const form = new FormData();
  form.append("article", new Blob([text], { type: type }));
  for (const image of $("images").files) form.append("image", image, image.name);
  say("Sending…");
  $("submit").disabled = true;
  try {
    const resp = await fetch("/v1/articles", { method: "POST", headers: headers(), body: form });
    const body = await resp.json();
    if (!resp.ok) {
      say(body.detail || resp.statusText, true);
      return;
    }
    say("Accepted.");
    follow(body.id);
  } catch (err) {
    say("Could not reach Pressline: " + err.message, true);
  } finally {
    $("submit").disabled = false;
  }
}

async function follow(id) {
  $("progress").hidden = false;
  $("article-id").textContent = id;
  $("published").textContent = "";
  for (let tries = 0; tries < 240; tries++) {
    const resp = await fetch("/v1/articles/" + encodeURIComponent(id), { headers: headers() });
    if (resp.ok) {
      const st = await resp.json();
      render(st);
      if (st.state === "published" || st.state === "failed" || st.state === "withdrawn") return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function render(st) {
  const steps = $("steps");
  steps.replaceChildren();
  for (const h of st.history || []) {
    const li = document.createElement("li");
    li.textContent = `${h.stage}: ${h.state} at ${h.at}${h.detail ? " (" + h.detail + ")" : ""}`;
    steps.append(li);
  }
  const warnings = $("warnings");
  warnings.replaceChildren();
  for (const w of st.warnings || []) {
    const li = document.createElement("li");
    li.textContent = `${w.code}: ${w.message}`;
    warnings.append(li);
  }
  const published = $("published");
  published.replaceChildren();
  if (st.state === "failed") {
    published.textContent = "Failed: " + st.error;
  }
  for (const url of st.urls || []) {
    const a = document.createElement("a");
    a.href = url;
    a.textContent = "Published: " + url;
    a.target = "_blank";
    a.rel = "noopener";
    published.append(a, document.createElement("br"));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localStorage.removeItem("pressline-token"); // where earlier versions kept it
  $("token").value = sessionStorage.getItem("pressline-token") || "";
  $("submit-form").addEventListener("submit", submit);
});
