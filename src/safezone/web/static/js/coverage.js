// The zone's camera coverage as a headline on the map page: the share of the zone that linked,
// online cameras see, what linking every registered camera would give, and how many SOS boxes
// and risk points no camera sees. Figures come from GET /api/v1/coverage (partners: their own
// organisation's cameras only).
//
// Runs after map.js has drawn the layers (it needs the zones' ids); text is set with
// textContent only, since zone names come from the database.

const L = window.L;
const lang = document.documentElement.lang === "en" ? "en" : "th";
const strings = JSON.parse(document.getElementById("i18n").textContent);
const config = JSON.parse(document.getElementById("map-config").textContent);
const locale = lang === "th" ? "th-TH" : "en-GB";
const percent = new Intl.NumberFormat(locale, {
  style: "percent",
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});
const numbers = new Intl.NumberFormat(locale);
// A station has one to a few zones; more lines would cover the map.
const MAX_ZONES = 3;

function t(key, params = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function mapReady() {
  return new Promise((resolve) => {
    if (window.safezoneMap && window.safezoneMap.ready) resolve(window.safezoneMap);
    else document.addEventListener("safezone:map-ready", () => resolve(window.safezoneMap), { once: true });
  });
}

async function fetchCoverage(zoneId) {
  const url = `${config.coverageUrl}?zone_id=${encodeURIComponent(zoneId)}`;
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "application/json", "Accept-Language": lang },
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(body && typeof body.detail === "string" ? body.detail : `${response.status}`);
  }
  return body;
}

function zoneBlock(feature, body, many) {
  const p = feature.properties || {};
  const block = el("section", "coverage-zone");
  block.dataset.zoneId = String(feature.id);
  if (many) {
    const name = lang === "th" ? p.name_th || p.name_en : p.name_en || p.name_th;
    block.append(el("h3", "coverage-zone-name", name || `#${feature.id}`));
  }
  const figure = el("p", "coverage-figure");
  const share = el("strong", "coverage-share", percent.format(body.covered_share));
  share.dataset.testid = "coverage-share";
  share.dataset.share = String(body.covered_share);
  figure.append(share, el("span", "coverage-label", t("ui.map.coverage_headline")));
  block.append(figure);
  const facts = el("ul", "coverage-facts");
  facts.append(el("li", null, t("ui.map.coverage_potential", { share: percent.format(body.potential_share) })));
  facts.append(
    el("li", null, t("ui.map.coverage_cameras", {
      count: numbers.format(body.cameras_counted),
      total: numbers.format(body.cameras_potential),
    })),
  );
  if (body.unknown_coverage.length) {
    facts.append(el("li", null, t("ui.map.coverage_unknown", { count: numbers.format(body.unknown_coverage.length) })));
  }
  const sos = el("li", "coverage-gap", t("ui.map.coverage_sos", { count: numbers.format(body.uncovered_sos_boxes.length) }));
  const risk = el("li", "coverage-gap", t("ui.map.coverage_risk", { count: numbers.format(body.uncovered_risk_points.length) }));
  if (!body.uncovered_sos_boxes.length) sos.classList.add("coverage-gap-none");
  if (!body.uncovered_risk_points.length) risk.classList.add("coverage-gap-none");
  facts.append(sos, risk);
  if (body.scope === "organisation") facts.append(el("li", "coverage-scope", t("ui.map.coverage_own")));
  block.append(facts);
  return block;
}

async function main() {
  const state = await mapReady();
  state.coverage = {};
  const zones = state.layers?.zones?.group?.getLayers().map((layer) => layer.feature) ?? [];
  if (!zones.length || !config.coverageUrl) {
    state.coverageReady = true;
    return;
  }
  const panel = el("div", "coverage-panel leaflet-bar");
  panel.dataset.testid = "coverage-panel";
  panel.setAttribute("role", "status");
  panel.append(el("h2", "coverage-title", t("ui.map.coverage_title")));
  const body = el("div", "coverage-body", t("ui.map.coverage_loading"));
  panel.append(body);
  const Control = L.Control.extend({
    onAdd() {
      // Clicks and scrolls on the panel must not pan or zoom the map under it.
      L.DomEvent.disableClickPropagation(panel);
      L.DomEvent.disableScrollPropagation(panel);
      return panel;
    },
  });
  new Control({ position: "topright" }).addTo(state.map);

  const shown = zones.slice(0, MAX_ZONES);
  const results = await Promise.allSettled(shown.map((feature) => fetchCoverage(feature.id)));
  const blocks = results.map((outcome, i) => {
    if (outcome.status === "fulfilled") {
      state.coverage[shown[i].id] = outcome.value;
      return zoneBlock(shown[i], outcome.value, shown.length > 1);
    }
    return el("p", "coverage-error", t("ui.map.coverage_error", { detail: outcome.reason.message }));
  });
  body.replaceChildren(...blocks);
  state.coverageReady = true;
  document.dispatchEvent(new CustomEvent("safezone:coverage-ready"));
}

main().catch((error) => {
  if (window.safezoneMap) {
    window.safezoneMap.coverageReady = true;
    window.safezoneMap.errors?.push(String(error && error.message ? error.message : error));
  }
});
