// The map page: the zone and every layer from /api/v1/layers on one Leaflet map.
//
// No framework and no build step: this file is served as is. Leaflet (vendored, global `L`)
// is loaded by a deferred classic script just before this module, so it is ready here.
// Popups and the legend are built with DOM nodes and textContent, never from HTML strings,
// because feature names come from the database.

const L = window.L;
const lang = document.documentElement.lang === "en" ? "en" : "th";
const strings = JSON.parse(document.getElementById("i18n").textContent);
const config = JSON.parse(document.getElementById("map-config").textContent);
const locale = lang === "th" ? "th-TH" : "en-GB";
const numbers = new Intl.NumberFormat(locale);
const areas = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
// Thai officers read dates in the Buddhist era (พ.ศ.); all times are station time.
const dates = new Intl.DateTimeFormat(lang === "th" ? "th-TH-u-ca-buddhist" : "en-GB", {
  timeZone: "Asia/Bangkok",
  dateStyle: "medium",
  timeStyle: "short",
});
// Statuses that mean "not working": drawn hollow so they stand out among healthy devices.
const DOWN = new Set(["offline", "fault", "inactive", "maintenance", "degraded"]);
const GEOMETRY_ORDER = { polygon: 0, line: 1, point: 2 };
// Camera wedges are coloured by health, so dead cameras and blind spots stand out; cameras that
// are only registered (no stream the centre can reach) are dashed grey outlines. Online is the
// layer's legend colour (camera_fov in /api/v1/layers).
const FOV_COLORS = { online: "#17becf", degraded: "#ff7f0e", unknown: "#7f7f7f" };
const FOV_DOWN = "#d62728";
const REGISTERED = "#7f7f7f";

function fovStyle(p) {
  const linked = p.tier === "linked";
  const color = linked ? FOV_COLORS[p.status] ?? FOV_DOWN : REGISTERED;
  return {
    color,
    weight: 1,
    opacity: 0.8,
    fillColor: color,
    // Semi-transparent, so overlapping wedges read as darker (seen twice) and the streets show.
    fillOpacity: linked && p.status === "online" ? 0.22 : 0.1,
    dashArray: linked ? null : "4 4",
  };
}

function t(key, params = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function formatDate(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : dates.format(date);
}

class LoadError extends Error {
  constructor(detail, status) {
    super(detail);
    this.status = status;
  }
}

async function getJSON(url) {
  let response;
  try {
    response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json, application/geo+json", "Accept-Language": lang },
    });
  } catch {
    throw new LoadError(t("ui.map.network_error"), 0);
  }
  if (response.status === 401) {
    // The session ended (expired or logged out elsewhere): sign in again and come back.
    window.location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    throw new LoadError(response.statusText, 401);
  }
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`.trim();
    try {
      const problem = await response.json();
      if (problem && typeof problem.detail === "string") detail = problem.detail;
    } catch {
      // Not problem+json (a proxy's error page, say): keep the status line.
    }
    throw new LoadError(detail, response.status);
  }
  return response.json();
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function titleOf(info) {
  return (lang === "th" ? info.title_th || info.title_en : info.title_en || info.title_th) || info.name;
}

function showError(message) {
  const banner = document.getElementById("map-error");
  const line = el("p", null, message);
  banner.append(line);
  banner.hidden = false;
  window.safezoneMap?.errors.push(message);
}

function popupFor(feature, info) {
  const p = feature.properties || {};
  const box = el("div", "sz-popup");
  const primary = lang === "th" ? p.name_th || p.name_en : p.name_en || p.name_th;
  const secondary = lang === "th" ? p.name_en : p.name_th;
  box.append(el("p", "sz-popup-layer", titleOf(info)));
  box.append(el("h2", "sz-popup-title", primary || p.code || feature.id));
  if (secondary && secondary !== primary) box.append(el("p", "sz-popup-alt", secondary));
  const rows = [];
  if (p.code) rows.push([t("ui.map.code"), p.code]);
  if (p.status) rows.push([t("ui.map.status"), strings[`ui.status.${p.status}`] ?? p.status]);
  if (p.kind) rows.push([t("ui.map.kind"), p.kind]);
  if (p.category) rows.push([t("ui.map.category"), p.category]);
  if (typeof p.fov_deg === "number" && typeof p.range_m === "number") {
    const bearing = typeof p.bearing_deg === "number" ? numbers.format(p.bearing_deg) : "–";
    const view = { bearing, fov: numbers.format(p.fov_deg), range: numbers.format(p.range_m) };
    rows.push([t("ui.map.view"), t("ui.map.view_facts", view)]);
  }
  if (typeof p.area_km2 === "number") {
    rows.push([t("ui.map.area"), `${areas.format(p.area_km2)} ${t("ui.map.km2")}`]);
  }
  if (typeof p.population === "number") rows.push([t("ui.map.population"), numbers.format(p.population)]);
  if (typeof p.households === "number") rows.push([t("ui.map.households"), numbers.format(p.households)]);
  const when = p.updated_at || p.last_seen_at;
  if (when) rows.push([t("ui.map.updated"), formatDate(when)]);
  if (rows.length) {
    const list = el("dl", "sz-popup-facts");
    for (const [term, value] of rows) list.append(el("dt", null, term), el("dd", null, value));
    box.append(list);
  }
  return box;
}

function buildLayer(info, collection, renderer) {
  const color = info.color || "#1f6feb";
  const group = L.geoJSON(collection, {
    renderer,
    // GeoJSON applies `style` to every feature, markers included, so both looks live here.
    style: (feature) => {
      if (feature.geometry && feature.geometry.type === "Point") {
        const down = DOWN.has((feature.properties || {}).status);
        return {
          color: down ? color : "#ffffff",
          weight: down ? 2.5 : 1.5,
          opacity: 1,
          fillColor: down ? "#ffffff" : color,
          fillOpacity: 0.95,
        };
      }
      if (info.name === "camera_fov") return fovStyle(feature.properties || {});
      return {
        color,
        weight: info.name === "zones" ? 3 : 2,
        opacity: 0.95,
        fillColor: color,
        fillOpacity: info.name === "zones" ? 0.08 : 0.18,
      };
    },
    pointToLayer: (feature, latlng) => L.circleMarker(latlng, { renderer, radius: 6 }),
    onEachFeature: (feature, layer) => {
      // Tagged so tests (and future tools) can tell which layer a drawn feature belongs to.
      layer.options.szLayer = info.name;
      layer.bindPopup(() => popupFor(feature, info), { maxWidth: 320 });
    },
  });
  return group;
}

function legendItem(info, state) {
  const item = el("li", "legend-item");
  item.dataset.layer = info.name;
  const id = `layer-toggle-${info.name}`;
  const box = el("input");
  box.type = "checkbox";
  box.id = id;
  box.checked = true;
  box.dataset.layer = info.name;
  box.addEventListener("change", () => state.setVisible(info.name, box.checked));
  const label = el("label");
  label.htmlFor = id;
  const swatch = el("span", `legend-swatch legend-swatch-${info.geometry || "point"}`);
  // CSSOM, not a style attribute: allowed by the page's CSP (style-src 'self').
  swatch.style.setProperty("--swatch", info.color || "#1f6feb");
  label.append(swatch, el("span", "legend-title", titleOf(info)));
  const count = el("span", "legend-count", numbers.format(info.count ?? 0));
  count.title = t("ui.map.count", { count: numbers.format(info.count ?? 0) });
  count.dataset.count = String(info.count ?? 0);
  label.append(count);
  item.append(box, label);
  return item;
}

async function main() {
  const details = document.getElementById("layer-details");
  // On a phone the legend starts folded so the map gets the screen. Done before the map is
  // made: Leaflet measures its container once, and a later size change blurs the canvas.
  if (window.matchMedia("(max-width: 720px)").matches) details.open = false;
  const renderer = L.canvas({ padding: 0.5 });
  const map = L.map("map", {
    preferCanvas: true,
    renderer,
    // Vector-only maps can fit the zone snugly; raster tiles look best at whole zoom levels.
    zoomSnap: config.tileUrl ? 1 : 0.25,
  });
  // Until the zone is known: central Bangkok, so a failed load still shows a sensible place.
  map.setView([13.7563, 100.5018], 12);
  L.control.scale({ imperial: false }).addTo(map);
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, { attribution: config.tileAttribution, maxZoom: 19 }).addTo(map);
  }

  const state = {
    map,
    layers: {},
    counts: {},
    apiCounts: {},
    errors: [],
    ready: false,
    setVisible(name, visible) {
      const entry = this.layers[name];
      if (!entry) return;
      if (visible) entry.group.addTo(map);
      else map.removeLayer(entry.group);
    },
    // Features of a layer drawn on the map right now (0 when hidden).
    drawnCount(name) {
      let n = 0;
      map.eachLayer((layer) => {
        if (layer.feature && layer.options && layer.options.szLayer === name) n += 1;
      });
      return n;
    },
    fitZone(animate = true) {
      const zones = this.layers.zones?.group;
      let bounds = zones && map.hasLayer(zones) ? zones.getBounds() : null;
      if (!bounds || !bounds.isValid()) {
        bounds = L.latLngBounds([]);
        for (const entry of Object.values(this.layers)) {
          if (map.hasLayer(entry.group)) bounds.extend(entry.group.getBounds());
        }
      }
      if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18, animate });
    },
  };
  window.safezoneMap = state;

  // Folding the legend on a phone resizes the map; tell Leaflet so it redraws sharply.
  details.addEventListener("toggle", () => map.invalidateSize());
  window.addEventListener("resize", () => map.invalidateSize());
  document.getElementById("fit-zone").addEventListener("click", () => state.fitZone());

  const legend = document.getElementById("legend");
  let infos;
  try {
    const listing = await getJSON(config.layersUrl);
    infos = [...listing.data].sort(
      (a, b) => (GEOMETRY_ORDER[a.geometry] ?? 3) - (GEOMETRY_ORDER[b.geometry] ?? 3),
    );
  } catch (error) {
    legend.replaceChildren(el("li", "legend-note", t("ui.map.no_layers")));
    if (error.status !== 401) showError(t("ui.map.layers_error", { detail: error.message }));
    state.ready = true;
    return;
  }
  legend.replaceChildren(...infos.map((info) => legendItem(info, state)));
  if (!infos.length) legend.append(el("li", "legend-note", t("ui.map.no_layers")));

  const loaded = await Promise.allSettled(
    infos.map((info) => getJSON(`${config.layersUrl}/${encodeURIComponent(info.name)}.geojson`)),
  );
  // Added in list order (areas, then lines, then points) so points are drawn on top.
  loaded.forEach((outcome, index) => {
    const info = infos[index];
    state.apiCounts[info.name] = info.count ?? 0;
    if (outcome.status === "rejected") {
      const item = legend.querySelector(`li[data-layer="${CSS.escape(info.name)}"]`);
      item?.classList.add("legend-item-failed");
      const box = item?.querySelector("input");
      if (box) {
        box.checked = false;
        box.disabled = true;
      }
      if (outcome.reason.status !== 401) {
        showError(t("ui.map.layer_error", { layer: titleOf(info), detail: outcome.reason.message }));
      }
      return;
    }
    const group = buildLayer(info, outcome.value, renderer).addTo(map);
    state.layers[info.name] = { info, group };
    state.counts[info.name] = (outcome.value.features || []).length;
  });
  // No animation on load: the first picture is the zone, not a zoom from the default view.
  state.fitZone(false);
  state.ready = true;
  document.dispatchEvent(new CustomEvent("safezone:map-ready"));
}

main().catch((error) => {
  // Tests wait for `ready`; a crash must end that wait with the error visible, not hang it.
  window.safezoneMap = window.safezoneMap || { errors: [], counts: {}, layers: {} };
  showError(String(error && error.message ? error.message : error));
  window.safezoneMap.ready = true;
});
