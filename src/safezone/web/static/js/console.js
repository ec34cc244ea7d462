// The operator console: the alert queue, alarm markers on the map, sound, and the alarm panel.
//
// The map itself is map.js's (same page, loaded just before this module): this file only adds
// alarm markers to `window.safezoneMap.map`. Alarms arrive over the console WebSocket; the
// first message ("hello") carries every open alarm, so after a reconnect the queue is rebuilt
// from it and nothing is missed. Everything is drawn with DOM nodes and textContent.

import { AlarmPanel, el } from "./alarm-panel.js";
import { AlarmSound } from "./alarm-sound.js";

const L = window.L;
const lang = document.documentElement.lang === "en" ? "en" : "th";
const strings = JSON.parse(document.getElementById("i18n").textContent);
const config = JSON.parse(document.getElementById("console-config").textContent);
const dates = new Intl.DateTimeFormat(lang === "th" ? "th-TH-u-ca-buddhist" : "en-GB", {
  timeZone: "Asia/Bangkok",
  dateStyle: "medium",
  timeStyle: "medium",
});
const BACKOFF_MS = [1000, 2000, 5000, 10000];
const PING_EVERY_MS = 25000;
const OPEN = new Set(["new", "acknowledged"]);

function t(key, params = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function formatDate(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value ?? "–") : dates.format(date);
}

async function api(method, url, body) {
  const headers = { Accept: "application/json", "Accept-Language": lang };
  if (method !== "GET") headers["X-CSRF-Token"] = config.csrf || "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error((data && data.detail) || `${response.status}`);
  return data;
}

const state = {
  alarms: new Map(),
  alerts: new Map(),
  markers: new Map(),
  selected: null,
  connected: false,
  ready: false,
  received: [],
  sound: new AlarmSound(),
};
window.safezoneConsole = state;

const panel = new AlarmPanel({
  t, strings, lang, formatDate, config, api,
  onClose: () => {
    state.selected = null;
    render();
  },
});

// Waiting for someone first, then most urgent, then newest.
function compare(a, b) {
  const waiting = (x) => (x.status === "new" ? 0 : 1);
  return waiting(a) - waiting(b) || a.priority - b.priority || Date.parse(b.raised_at) - Date.parse(a.raised_at);
}

function loud(alarm) {
  return alarm.status === "new" && !alarm.silent && alarm.priority <= 2;
}

function boxName(box) {
  if (!box) return "";
  return lang === "en" ? box.name_en || box.name_th : box.name_th || box.name_en;
}

function waited(alarm) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(alarm.raised_at)) / 1000));
  return t("ui.console.waiting", { s: seconds });
}

function queueItem(alarm) {
  const li = el("li", `queue-item kind-${alarm.kind} status-${alarm.status}`);
  li.dataset.alarmId = String(alarm.id);
  li.dataset.testid = "queue-item";
  if (alarm.silent) li.classList.add("silent");
  if (alarm.escalations) li.classList.add("escalated");
  if (state.selected === alarm.id) li.classList.add("selected");
  const button = el("button", "queue-button");
  button.type = "button";
  button.addEventListener("click", () => select(alarm.id, true));
  const head = el("span", "queue-line");
  head.append(el("span", "queue-kind", t(`ui.console.kind.${alarm.kind}`)));
  head.append(el("span", "queue-status", t(`ui.console.status.${alarm.status}`)));
  if (alarm.escalations) head.append(el("span", "queue-escalated", t("ui.console.escalated", { n: alarm.escalations })));
  const box = alarm.box || {};
  button.append(head, el("span", "queue-box", `${box.code || ""} ${boxName(box)}`.trim()));
  const when = el("span", "queue-when", formatDate(alarm.raised_at));
  if (alarm.status === "new") {
    const wait = el("span", "queue-wait", waited(alarm));
    wait.dataset.raised = alarm.raised_at;
    when.append(" · ", wait);
  }
  button.append(when);
  li.append(button);
  return li;
}

function alertItem(alert) {
  const li = el("li", `alert-item severity-${alert.severity} kind-${alert.kind}`);
  li.dataset.alertId = String(alert.id);
  li.append(el("span", "alert-text", lang === "en" ? alert.message_en : alert.message_th));
  li.append(el("time", "alert-when", formatDate(alert.raised_at)));
  return li;
}

function markerIcon(alarm) {
  const classes = ["sz-alarm-marker", `sz-alarm-${alarm.kind}`, `sz-alarm-${alarm.status}`];
  if (loud(alarm)) classes.push("sz-alarm-flash");
  if (alarm.silent) classes.push("sz-alarm-silent");
  if (state.selected === alarm.id) classes.push("sz-alarm-selected");
  return L.divIcon({ className: classes.join(" "), iconSize: [26, 26], html: "" });
}

function drawMarkers() {
  const map = window.safezoneMap && window.safezoneMap.map;
  if (!map || !L) return;
  for (const [id, marker] of state.markers) {
    if (!state.alarms.has(id)) {
      marker.remove();
      state.markers.delete(id);
    }
  }
  for (const alarm of state.alarms.values()) {
    if (typeof alarm.lat !== "number" || typeof alarm.lon !== "number") continue;
    let marker = state.markers.get(alarm.id);
    if (!marker) {
      marker = L.marker([alarm.lat, alarm.lon], { title: `${alarm.box?.code ?? ""}`, keyboard: false });
      marker.on("click", () => select(alarm.id, false));
      marker.addTo(map);
      state.markers.set(alarm.id, marker);
    }
    marker.setIcon(markerIcon(alarm));
    marker.getElement()?.setAttribute("data-alarm-id", String(alarm.id));
    marker.setZIndexOffset(loud(alarm) ? 1000 : 0);
  }
}

function render() {
  const alarms = [...state.alarms.values()].sort(compare);
  document.getElementById("alarm-queue").replaceChildren(...alarms.map(queueItem));
  document.getElementById("queue-empty").hidden = alarms.length > 0;
  const alerts = [...state.alerts.values()].sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
  document.getElementById("alert-list").replaceChildren(...alerts.map(alertItem));
  state.sound.update(alarms.some(loud));
  drawMarkers();
  updateSoundButton();
  const banner = document.getElementById("supervisor-banner");
  if (banner.dataset.alarmId && !alarms.some((a) => String(a.id) === banner.dataset.alarmId && a.status === "new")) {
    banner.hidden = true;
    delete banner.dataset.alarmId;
  }
}

function select(id, pan) {
  const alarm = state.alarms.get(id);
  if (!alarm) return;
  state.selected = id;
  panel.show(alarm);
  const map = window.safezoneMap && window.safezoneMap.map;
  if (pan && map && typeof alarm.lat === "number") map.setView([alarm.lat, alarm.lon], Math.max(map.getZoom(), 17));
  render();
}

function upsert(alarm, { isNew = false } = {}) {
  if (OPEN.has(alarm.status)) state.alarms.set(alarm.id, alarm);
  else state.alarms.delete(alarm.id);
  if (panel.alarm && panel.alarm.id === alarm.id) panel.refresh(alarm);
  // A new loud alarm takes the panel when the operator is not already on one.
  if (isNew && loud(alarm) && state.selected === null) select(alarm.id, true);
}

function handle(message) {
  const { type, payload } = message;
  state.received.push(type);
  if (type === "hello") {
    state.alarms = new Map(payload.alarms.map((a) => [a.id, a]));
    state.alerts = new Map(payload.alerts.map((a) => [a.id, a]));
    if (state.selected !== null && !state.alarms.has(state.selected)) panel.close();
    state.ready = true;
  } else if (type === "alarm.new") {
    upsert(payload, { isNew: true });
  } else if (type.startsWith("alarm.")) {
    upsert(payload);
  } else if (type === "alert.new" || type === "alert.updated") {
    state.alerts.set(payload.id, payload);
  } else if (type === "alert.cleared") {
    state.alerts.delete(payload.id);
  } else if (type === "supervisor.notify") {
    const banner = document.getElementById("supervisor-banner");
    const a = payload.alarm;
    banner.textContent = t("ui.console.unanswered", {
      kind: t(`ui.console.kind.${a.kind}`), box: a.box?.code ?? `#${a.id}`, s: Math.round(payload.seconds_unanswered),
    });
    banner.dataset.alarmId = String(a.id);
    banner.hidden = false;
    upsert(a);
  } else if (type === "incident.note" && panel.alarm && panel.alarm.incident_id === payload.incident_id) {
    panel.loadTimeline();
  }
  render();
}

function setLink(linkState) {
  const node = document.getElementById("link-state");
  node.dataset.state = linkState;
  node.textContent = t(`ui.console.link.${linkState}`);
  state.connected = linkState === "live";
}

let attempt = 0;
function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}${config.liveUrl}`);
  let pinger = null;
  ws.onopen = () => {
    attempt = 0;
    setLink("live");
    pinger = setInterval(() => ws.send(JSON.stringify({ type: "ping" })), PING_EVERY_MS);
  };
  ws.onmessage = (event) => handle(JSON.parse(event.data));
  ws.onclose = (event) => {
    clearInterval(pinger);
    if (event.code === 4401) {
      window.location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
      return;
    }
    if (event.code === 4403) {
      setLink("denied");
      return;
    }
    setLink("reconnecting");
    const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt += 1;
    setTimeout(connect, delay);
  };
}

function updateSoundButton() {
  const button = document.getElementById("sound-toggle");
  const on = state.sound.enabled;
  button.setAttribute("aria-pressed", on ? "true" : "false");
  button.textContent = t(on ? "ui.console.sound_on" : "ui.console.sound_off");
  document.getElementById("sound-note").hidden = !state.sound.suspended;
}

document.getElementById("sound-toggle").addEventListener("click", async () => {
  await state.sound.setEnabled(!state.sound.enabled);
  updateSoundButton();
});
// After a reload the remembered choice needs one gesture before audio may start.
for (const kind of ["pointerdown", "keydown"]) {
  document.addEventListener(kind, async () => {
    if (state.sound.suspended) {
      await state.sound.resume();
      state.sound.update(state.sound.ringing);
      updateSoundButton();
    }
  });
}
// Our own Acknowledge / Resolve answers come back before the push does.
document.addEventListener("safezone:alarm", (event) => {
  upsert(event.detail);
  render();
});
// map.js may still be loading its layers: draw the markers once its map exists.
document.addEventListener("safezone:map-ready", drawMarkers);
setInterval(() => {
  for (const node of document.querySelectorAll(".queue-wait[data-raised]")) {
    node.textContent = waited({ raised_at: node.dataset.raised });
  }
}, 1000);

updateSoundButton();
connect();
