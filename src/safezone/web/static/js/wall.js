// The camera wall: a 2×2, 3×3 or 4×4 grid of live tiles and the person's saved layouts.
//
// Put a camera in a tile by dragging it from the list onto the tile, or by selecting a tile
// and then clicking the camera (keyboard and touch friendly). Layouts are saved per person
// through /api/v1/wall-layouts; the loaded layout's id stays in the address (?layout=ID) so a
// reload or a bookmark opens the same wall. Names come from the database: DOM text only.

import { LivePlayer, stateText } from "./live-player.js";

const strings = JSON.parse(document.getElementById("i18n").textContent);
const config = JSON.parse(document.getElementById("wall-config").textContent);
const wall = document.getElementById("wall");
const list = document.getElementById("camera-list");
const filter = document.getElementById("camera-filter");
const select = document.getElementById("layout-select");
const nameInput = document.getElementById("layout-name");
const saveButton = document.getElementById("layout-save");
const deleteButton = document.getElementById("layout-delete");
const message = document.getElementById("layout-message");
const cameras = new Map(config.cameras.map((c) => [c.id, c]));

let grid = 2;
let tiles = []; // [{el, video, state, label, cameraId, player}]
let selected = null; // index of the selected tile
let layouts = [];

function t(key, params = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function say(text, isError = false) {
  message.textContent = text;
  message.classList.toggle("wall-message-error", isError);
}

async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = config.csrfToken || "";
  const response = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let detail = String(response.status);
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || detail;
    } catch {
      /* not problem+json */
    }
    throw new Error(detail);
  }
  return response.status === 204 ? null : response.json();
}

function cameraLabel(camera) {
  return camera ? `${camera.code} · ${camera.name}` : "";
}

function assign(index, cameraId) {
  const tile = tiles[index];
  if (!tile) return;
  tile.player?.stop();
  tile.player = null;
  tile.cameraId = cameraId ?? null;
  tile.el.dataset.cameraId = tile.cameraId ?? "";
  const camera = cameras.get(tile.cameraId);
  tile.label.textContent = camera ? cameraLabel(camera) : t("ui.wall.empty_tile");
  tile.clear.hidden = !camera;
  tile.state.hidden = false;
  tile.state.textContent = camera ? "" : t("ui.wall.drop_here");
  if (camera) {
    tile.player = new LivePlayer(tile.video, {
      cameraId: camera.id,
      onState: (state, reason) => {
        tile.state.hidden = state === "live";
        tile.state.textContent = stateText(strings, state, reason);
        tile.el.dataset.state = state;
      },
    });
    tile.player.start();
  } else {
    tile.el.dataset.state = "empty";
  }
}

function selectTile(index) {
  selected = selected === index ? null : index;
  tiles.forEach((tile, i) => tile.el.classList.toggle("wall-tile-selected", i === selected));
}

function makeTile(index) {
  const el = document.createElement("div");
  el.className = "wall-tile";
  el.tabIndex = 0;
  el.dataset.index = String(index);
  el.setAttribute("data-testid", "wall-tile");
  el.setAttribute("role", "button");
  el.setAttribute("aria-label", t("ui.wall.tile", { n: index + 1 }));
  const video = document.createElement("video");
  video.className = "wall-video";
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  const head = document.createElement("div");
  head.className = "wall-tile-head";
  const label = document.createElement("span");
  label.className = "wall-tile-label";
  const clear = document.createElement("button");
  clear.type = "button";
  clear.className = "wall-tile-clear";
  clear.textContent = "×";
  clear.title = t("ui.wall.clear_tile");
  clear.setAttribute("aria-label", t("ui.wall.clear_tile"));
  clear.addEventListener("click", (event) => {
    event.stopPropagation();
    assign(index, null);
  });
  head.append(label, clear);
  const state = document.createElement("div");
  state.className = "wall-tile-state";
  el.append(video, head, state);
  el.addEventListener("click", () => selectTile(index));
  el.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      selectTile(index);
    }
  });
  el.addEventListener("dragover", (event) => {
    event.preventDefault();
    el.classList.add("wall-tile-over");
  });
  el.addEventListener("dragleave", () => el.classList.remove("wall-tile-over"));
  el.addEventListener("drop", (event) => {
    event.preventDefault();
    el.classList.remove("wall-tile-over");
    const id = Number(event.dataTransfer.getData("text/plain"));
    if (cameras.has(id)) assign(index, id);
  });
  return { el, video, state, label, clear, cameraId: null, player: null };
}

function build(size, cameraIds = []) {
  for (const tile of tiles) tile.player?.stop();
  grid = size;
  wall.className = `wall wall-${size}`;
  wall.dataset.grid = String(size);
  wall.replaceChildren();
  tiles = [];
  selected = null;
  for (let i = 0; i < size * size; i += 1) {
    const tile = makeTile(i);
    tiles.push(tile);
    wall.append(tile.el);
    assign(i, cameraIds[i] ?? null);
  }
  for (const radio of document.querySelectorAll('input[name="grid"]')) {
    radio.checked = Number(radio.value) === size;
  }
}

function renderList() {
  const needle = filter.value.trim().toLowerCase();
  list.replaceChildren();
  for (const camera of cameras.values()) {
    if (needle && !cameraLabel(camera).toLowerCase().includes(needle)) continue;
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "wall-camera";
    button.draggable = true;
    button.dataset.cameraId = String(camera.id);
    const dot = document.createElement("span");
    dot.className = `cam-dot cam-status-${camera.status}`;
    dot.title = strings[`ui.status.${camera.status}`] ?? camera.status;
    const text = document.createElement("span");
    text.textContent = cameraLabel(camera);
    button.append(dot, text);
    button.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData("text/plain", String(camera.id));
      event.dataTransfer.effectAllowed = "copy";
    });
    button.addEventListener("click", () => {
      let index = selected;
      if (index === null) index = tiles.findIndex((tile) => tile.cameraId === null);
      if (index === -1 || index === null) {
        say(t("ui.wall.pick_tile"));
        return;
      }
      assign(index, camera.id);
      // Placed: clear the selection, so the next click fills the next empty tile.
      if (selected !== null) selectTile(selected);
    });
    item.append(button);
    list.append(item);
  }
}

function currentLayout() {
  return layouts.find((layout) => String(layout.id) === select.value) || null;
}

function renderLayouts(selectedId = null) {
  const keep = selectedId ?? select.value;
  select.replaceChildren(new Option(t("ui.wall.layout_none"), ""));
  for (const layout of layouts) {
    select.append(new Option(`${layout.name} (${layout.grid}×${layout.grid})`, String(layout.id)));
  }
  select.value = layouts.some((l) => String(l.id) === String(keep)) ? String(keep) : "";
  deleteButton.disabled = !select.value;
}

function remember(layoutId) {
  const url = new URL(location.href);
  if (layoutId) url.searchParams.set("layout", String(layoutId));
  else url.searchParams.delete("layout");
  history.replaceState(null, "", url);
}

function applyLayout(layout) {
  build(layout.grid, layout.camera_ids.map((id) => (cameras.has(id) ? id : null)));
  nameInput.value = layout.name;
  remember(layout.id);
  say(t("ui.wall.loaded", { name: layout.name }));
}

async function loadLayouts() {
  const page = await api("GET", `${config.layoutsUrl}?limit=1000`);
  layouts = page.data;
}

async function save() {
  const name = nameInput.value.trim();
  if (!name) {
    say(t("ui.wall.need_name"), true);
    nameInput.focus();
    return;
  }
  const body = { name, grid, camera_ids: tiles.map((tile) => tile.cameraId) };
  const existing = layouts.find((l) => l.name.toLowerCase() === name.toLowerCase());
  try {
    const saved = existing
      ? await api("PUT", `${config.layoutsUrl}/${existing.id}`, body)
      : await api("POST", config.layoutsUrl, body);
    await loadLayouts();
    renderLayouts(saved.id);
    remember(saved.id);
    say(t("ui.wall.saved", { name: saved.name }));
  } catch (error) {
    say(error.message, true);
  }
}

async function remove() {
  const layout = currentLayout();
  if (!layout) return;
  try {
    await api("DELETE", `${config.layoutsUrl}/${layout.id}`);
    await loadLayouts();
    renderLayouts("");
    remember(null);
    say(t("ui.wall.deleted", { name: layout.name }));
  } catch (error) {
    say(error.message, true);
  }
}

for (const radio of document.querySelectorAll('input[name="grid"]')) {
  radio.addEventListener("change", () => {
    const size = Number(radio.value);
    build(size, tiles.map((tile) => tile.cameraId).slice(0, size * size));
  });
}
select.addEventListener("change", () => {
  deleteButton.disabled = !select.value;
  const layout = currentLayout();
  if (layout) applyLayout(layout);
  else remember(null);
});
saveButton.addEventListener("click", save);
deleteButton.addEventListener("click", remove);
filter.addEventListener("input", renderList);
window.addEventListener("pagehide", () => tiles.forEach((tile) => tile.player?.stop()));

renderList();
build(2);
try {
  await loadLayouts();
  const wanted = new URL(location.href).searchParams.get("layout");
  renderLayouts(wanted);
  const layout = currentLayout();
  if (layout) applyLayout(layout);
} catch (error) {
  say(error.message, true);
}
wall.dataset.ready = "true";
