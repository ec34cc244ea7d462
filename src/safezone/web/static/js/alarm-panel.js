// The alarm panel of the operator console: the box, its cameras (live), the incident timeline,
// and the Acknowledge / Answer / Resolve buttons. Built with DOM nodes and textContent only:
// names and notes come from the database.

import { LivePlayer, stateText } from "./live-player.js";

const MAX_VIDEOS = 2; // live views opened at once: more would crowd the panel and the uplink

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export class AlarmPanel {
  constructor({ t, strings, lang, formatDate, config, api, onClose }) {
    Object.assign(this, { t, strings, lang, formatDate, config, api, onClose });
    this.root = document.getElementById("alarm-panel");
    this.alarm = null;
    this.players = [];
    this.timelineFor = null;
    this.callModule = null;
    this.busy = false;
    document.getElementById("panel-close").addEventListener("click", () => this.close());
    this.ack = document.getElementById("ack-button");
    this.answer = document.getElementById("answer-button");
    this.resolve = document.getElementById("resolve-button");
    this.ack.addEventListener("click", () => this.act("acknowledge"));
    this.resolve.addEventListener("click", () => this.act("resolve"));
    this.answer.addEventListener("click", () => this.startCall());
    if (config.callModule) {
      // The two-way call module exists: load it and let Answer through.
      import(config.callModule)
        .then((module) => {
          this.callModule = module;
          this.update();
        })
        .catch(() => {
          this.callModule = null;
        });
    }
  }

  name(item) {
    if (!item) return "";
    return this.lang === "en" ? item.name_en || item.name_th : item.name_th || item.name_en;
  }

  show(alarm) {
    const changed = !this.alarm || this.alarm.id !== alarm.id;
    this.alarm = alarm;
    this.root.hidden = false;
    this.root.dataset.alarmId = String(alarm.id);
    if (changed) {
      this.showError(null);
      this.startVideos();
      this.loadTimeline();
    }
    this.update();
  }

  close() {
    this.stopVideos();
    this.alarm = null;
    this.root.hidden = true;
    delete this.root.dataset.alarmId;
    this.onClose?.();
  }

  // The alarm changed (pushed, or our own action came back): redraw what depends on it.
  refresh(alarm) {
    if (!this.alarm || this.alarm.id !== alarm.id) return;
    this.alarm = alarm;
    this.update();
    this.loadTimeline();
  }

  update() {
    const a = this.alarm;
    if (!a) return;
    const t = this.t;
    const box = a.box || {};
    document.getElementById("panel-title").textContent =
      `${t(`ui.console.kind.${a.kind}`)} · ${box.code || "#" + a.id}`;
    const status = document.getElementById("panel-status");
    status.textContent = `${t(`ui.console.status.${a.status}`)} · ${this.formatDate(a.raised_at)}`;
    status.dataset.status = a.status;
    const responder = this.config.role !== "patrol";
    this.ack.hidden = !responder || a.status !== "new";
    this.ack.disabled = this.busy;
    this.resolve.hidden = !responder || !["new", "acknowledged"].includes(a.status);
    this.resolve.disabled = this.busy;
    const canCall = Boolean(this.callModule) && a.kind === "sos" && box.has_camera !== false;
    this.answer.disabled = !canCall;
    this.answer.title = canCall ? "" : t("ui.console.call_unavailable");

    const facts = document.getElementById("panel-facts");
    const rows = [
      [t("ui.console.box"), `${box.code || "–"} ${this.name(box)}`],
      [t("ui.console.address"), box.address || "–"],
      [t("ui.console.box_status"), this.strings[`ui.status.${box.status}`] ?? box.status ?? "–"],
      [t("ui.console.battery"), typeof box.battery_pct === "number" ? `${Math.round(box.battery_pct)} %` : "–"],
      [t("ui.console.mains"), box.mains_ok === false ? t("ui.console.mains_off") : box.mains_ok ? t("ui.console.mains_on") : "–"],
      [t("ui.console.incident"), a.incident_id ? `#${a.incident_id}` : "–"],
      [t("ui.console.nearby"), a.nearby_alarms.length ? a.nearby_alarms.map((id) => `#${id}`).join(", ") : "–"],
    ];
    if (a.acknowledged_at) rows.push([t("ui.console.acknowledged_at"), this.formatDate(a.acknowledged_at)]);
    if (a.escalations) rows.push([t("ui.console.escalations"), String(a.escalations)]);
    facts.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", null, k), el("dd", null, v)]));

    document.getElementById("camera-note").textContent = t(`ui.console.camera_match.${a.camera_match}`);
    const list = document.getElementById("panel-cameras");
    list.replaceChildren(
      ...a.cameras.map((cam) => {
        const li = el("li", "panel-camera");
        const link = el("a", null, `${cam.code} ${this.name(cam)}`);
        link.href = `/cameras/${encodeURIComponent(cam.id)}`;
        link.target = "_blank";
        link.rel = "noopener";
        const meta = [
          typeof cam.distance_m === "number" ? t("ui.console.metres", { m: Math.round(cam.distance_m) }) : null,
          this.strings[`ui.status.${cam.status}`] ?? cam.status,
        ].filter(Boolean);
        li.append(link, el("span", "panel-camera-meta", meta.join(" · ")));
        return li;
      }),
    );
  }

  startVideos() {
    this.stopVideos();
    const box = document.getElementById("panel-videos");
    box.replaceChildren();
    const linked = (this.alarm.cameras || []).filter((c) => c.tier === "linked").slice(0, MAX_VIDEOS);
    for (const cam of linked) {
      const figure = el("figure", "panel-video");
      const video = el("video");
      video.muted = true;
      video.autoplay = true;
      video.dataset.cameraId = String(cam.id);
      const caption = el("figcaption", null, `${cam.code} · ${this.t("ui.live.state.connecting")}`);
      figure.append(video, caption);
      box.append(figure);
      const player = new LivePlayer(video, {
        cameraId: cam.id,
        onState: (state, reason) => {
          caption.textContent = `${cam.code} · ${stateText(this.strings, state, reason)}`;
        },
      });
      player.start();
      this.players.push(player);
    }
  }

  stopVideos() {
    for (const player of this.players) player.stop();
    this.players = [];
  }

  async loadTimeline() {
    const a = this.alarm;
    const list = document.getElementById("panel-timeline");
    if (!a || !a.incident_id) {
      list.replaceChildren(el("li", "panel-note", this.t("ui.console.no_incident")));
      return;
    }
    const wanted = a.id;
    try {
      const incident = await this.api("GET", `${this.config.incidentsUrl}/${a.incident_id}`);
      if (!this.alarm || this.alarm.id !== wanted) return;
      list.replaceChildren(
        ...incident.timeline.map((entry) => {
          const li = el("li", "timeline-entry");
          li.dataset.kind = entry.kind;
          const label = this.strings[`ui.console.event.${entry.kind}`] ?? entry.kind;
          li.append(el("time", null, this.formatDate(entry.at)), el("span", null, label));
          if (entry.actor && entry.actor !== "system") li.append(el("span", "timeline-actor", entry.actor));
          if (entry.data && entry.data.text) li.append(el("q", null, entry.data.text));
          return li;
        }),
      );
    } catch (error) {
      list.replaceChildren(el("li", "panel-note", error.message));
    }
  }

  showError(message) {
    const box = document.getElementById("panel-error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  async act(action) {
    const a = this.alarm;
    if (!a || this.busy) return;
    this.busy = true;
    this.update();
    try {
      const body = action === "resolve" ? {} : undefined;
      const updated = await this.api("POST", `${this.config.alarmsUrl}/${a.id}/${action}`, body);
      this.showError(null);
      document.dispatchEvent(new CustomEvent("safezone:alarm", { detail: updated }));
    } catch (error) {
      this.showError(error.message);
    } finally {
      this.busy = false;
      this.update();
    }
  }

  async startCall() {
    if (!this.callModule || !this.alarm) return;
    try {
      await this.callModule.answer({ alarm: this.alarm, panel: this.root });
    } catch (error) {
      this.showError(String(error && error.message ? error.message : error));
    }
  }
}
