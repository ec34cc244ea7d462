// The camera page: live player, snapshot on demand and the access-request form.

import { LivePlayer, stateText } from "./live-player.js";

const strings = JSON.parse(document.getElementById("i18n").textContent);
const config = JSON.parse(document.getElementById("player-config").textContent);
const video = document.getElementById("live-video");
const stateBox = document.getElementById("player-state");
const toggle = document.getElementById("live-toggle");

function t(key, params = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function showState(state, reason) {
  stateBox.textContent = state === "live" ? "" : stateText(strings, state, reason);
  stateBox.dataset.state = state;
  stateBox.hidden = state === "live";
  if (toggle) toggle.textContent = state === "stopped" || state === "denied" ? t("ui.live.play") : t("ui.live.stop");
}

async function problemText(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || String(response.status);
  } catch {
    return String(response.status);
  }
}

if (config.allowed) {
  const player = new LivePlayer(video, { cameraId: config.cameraId, onState: showState });
  player.start();
  toggle?.addEventListener("click", () => (player.stopped ? player.start() : player.stop()));
  window.addEventListener("pagehide", () => player.stop());

  const button = document.getElementById("snapshot-button");
  const figure = document.getElementById("snapshot-figure");
  const img = document.getElementById("snapshot-img");
  const caption = document.getElementById("snapshot-caption");
  // The image loads straight from the API (the CSP allows same-origin images, not blob:);
  // only when it fails is the problem fetched, to show the person why.
  img.addEventListener("load", () => {
    caption.textContent = t("ui.live.snapshot_taken", { time: new Date().toLocaleTimeString() });
    button.disabled = false;
  });
  img.addEventListener("error", async () => {
    try {
      const response = await fetch(img.src, { cache: "no-store", credentials: "same-origin" });
      caption.textContent = response.ok ? t("ui.live.snapshot_failed") : await problemText(response);
    } catch {
      caption.textContent = t("ui.live.snapshot_failed");
    }
    button.disabled = false;
  });
  button?.addEventListener("click", () => {
    button.disabled = true;
    caption.textContent = t("ui.live.snapshot_loading");
    figure.hidden = false;
    img.src = `${config.snapshotUrl}?t=${Date.now()}`;
  });
} else {
  showState("denied", config.reason);
}

const form = document.getElementById("access-request");
if (form) {
  const result = document.getElementById("access-request-result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = form.elements.reason.value.trim();
    if (!reason) return;
    try {
      const response = await fetch(config.accessRequestUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrfToken || "" },
        body: JSON.stringify({ reason }),
      });
      result.textContent = response.ok ? t("ui.cameras.request_sent") : await problemText(response);
      if (response.ok) form.querySelector("button").disabled = true;
    } catch {
      result.textContent = t("ui.cameras.request_failed");
    }
  });
}
