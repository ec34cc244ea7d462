// Two-way call with an SOS box, started by the alarm panel's Answer button (alarm-panel.js
// imports this module and calls `answer({ alarm, panel })`).
//
// 1. POST /api/v1/alarms/{id}/call creates the call (the server checks the role, that the box
//    is free and that the device link is up) and returns its signalling socket and ICE servers.
// 2. The socket (WS /api/v1/calls/{id}/signal) carries our offer to the box (through the server
//    and MQTT) and brings back its answer; ICE candidates may trickle both ways.
// 3. The browser receives the box camera's video and sound, and sends the operator's microphone
//    (without one - no permission, no device, not HTTPS - the call goes on listen-only, and
//    the operator is told so).
// The call is shown in a dock of its own (bottom right), so it stays while the operator moves
// between alarms. Everything is drawn with DOM nodes and textContent.

const lang = document.documentElement.lang === "en" ? "en" : "th";
const strings = JSON.parse(document.getElementById("i18n")?.textContent || "{}");
const config = JSON.parse(document.getElementById("console-config")?.textContent || "{}");
const GATHER_WAIT_MS = 1500; // the offer waits this long for our ICE candidates, then trickles
const HANGUP_REASONS = new Set(["operator_hangup", "connection_failed"]);

let current = null;

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

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

async function request(method, url, body) {
  const headers = { Accept: "application/json", "Accept-Language": lang };
  if (method !== "GET") headers["X-CSRF-Token"] = config.csrf || "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error((data && data.detail) || `${response.status}`);
  return data;
}

function linkStylesheet() {
  const href = new URL("../css/call.css", import.meta.url).href;
  if (![...document.querySelectorAll("link[rel=stylesheet]")].some((l) => l.href === href)) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    document.head.append(link);
  }
}

// The operator's microphone, or why there is none (the call then goes on listen-only).
async function microphone() {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) return { reason: "insecure" };
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: false,
    });
    return { stream };
  } catch (error) {
    const name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") return { reason: "denied" };
    if (name === "NotFoundError" || name === "OverconstrainedError") return { reason: "missing" };
    if (name === "NotReadableError" || name === "AbortError") return { reason: "busy" };
    return { reason: "other" };
  }
}

function gathered(pc, within) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => pc.iceGatheringState === "complete" && done();
    const timer = setTimeout(done, within);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

class BoxCall {
  constructor(alarm) {
    this.alarm = alarm;
    this.box = alarm.box?.code || `#${alarm.id}`;
    this.state = "idle";
    this.done = false;
    this.callId = null;
    this.ws = null;
    this.pc = null;
    this.mic = null;
    this.offerSent = false;
    this.gatheringEnded = false;
    this.connectedAt = null;
    this.videoFrames = 0;
    this.endReason = null;
    this.errors = [];
    this.build();
  }

  build() {
    linkStylesheet();
    document.querySelector(".call-dock")?.remove();
    const dock = el("section", "call-dock");
    dock.dataset.testid = "call-dock";
    dock.setAttribute("role", "region");
    const title = el("h2", "call-title", t("ui.console.call.title", { box: this.box }));
    title.id = "call-title";
    dock.setAttribute("aria-labelledby", title.id);
    this.duration = el("span", "call-duration", "00:00");
    this.duration.dataset.testid = "call-duration";
    this.duration.setAttribute("aria-label", t("ui.console.call.duration", { time: "00:00" }));
    const head = el("header", "call-head");
    head.append(title, this.duration);
    this.video = el("video", "call-video");
    this.video.dataset.testid = "call-video";
    Object.assign(this.video, { autoplay: true, muted: true, playsInline: true });
    this.video.setAttribute("aria-label", t("ui.console.call.video_waiting"));
    this.audio = el("audio");
    this.audio.autoplay = true;
    this.status = el("p", "call-status");
    this.status.dataset.testid = "call-status";
    this.status.setAttribute("role", "status");
    this.status.setAttribute("aria-live", "polite");
    this.warning = el("p", "call-warning");
    this.warning.dataset.testid = "call-warning";
    this.warning.setAttribute("role", "alert");
    this.warning.hidden = true;
    this.muteButton = el("button", "btn btn-secondary", t("ui.console.call.mute"));
    Object.assign(this.muteButton, { type: "button", hidden: true });
    this.muteButton.dataset.testid = "mute-button";
    this.muteButton.setAttribute("aria-pressed", "false");
    this.muteButton.addEventListener("click", () => this.toggleMute());
    this.hangupButton = el("button", "btn call-hangup", t("ui.console.call.hangup"));
    this.hangupButton.type = "button";
    this.hangupButton.dataset.testid = "hangup-button";
    this.hangupButton.addEventListener("click", () => (this.done ? this.dismiss() : this.hangup()));
    const actions = el("div", "call-actions");
    actions.append(this.muteButton, this.hangupButton);
    dock.append(head, this.video, this.audio, this.status, this.warning, actions);
    document.body.append(dock);
    this.dock = dock;
    this.video.addEventListener("loadeddata", () => this.video.setAttribute("aria-label", this.box));
    this.countFrames();
  }

  setState(state, params = {}) {
    this.state = state;
    this.dock.dataset.state = state;
    this.status.textContent = t(`ui.console.call.state.${state}`, params);
  }

  warn(text) {
    this.warning.textContent = text;
    this.warning.hidden = !text;
  }

  // Frames actually painted in the <video> (shown to the operator and read by the tests).
  countFrames() {
    if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
    const tick = () => {
      this.videoFrames += 1;
      if (!this.done) this.video.requestVideoFrameCallback(tick);
    };
    this.video.requestVideoFrameCallback(tick);
  }

  async start() {
    if (!window.RTCPeerConnection || !window.WebSocket) {
      this.fail(t("ui.console.call.no_webrtc"));
      return;
    }
    this.setState("requesting");
    let created;
    try {
      created = await request("POST", `/api/v1/alarms/${encodeURIComponent(this.alarm.id)}/call`);
    } catch (error) {
      this.fail(t("ui.console.call.failed", { detail: error.message }));
      return;
    }
    this.callId = created.call.id;
    this.dock.dataset.callId = this.callId;
    this.answerTimeout = created.answer_timeout_s;
    this.refreshAlarm();
    try {
      await this.openSocket(created.signal_url);
      this.setState("microphone");
      this.mic = await microphone();
      if (this.done) return;
      if (!this.mic.stream) this.warn(t("ui.console.call.no_mic", { reason: t(`ui.console.call.no_mic.${this.mic.reason}`) }));
      await this.offer(created.ice_servers);
    } catch (error) {
      if (!this.done) this.hangup("operator_hangup", t("ui.console.call.failed", { detail: error.message }));
    }
  }

  openSocket(path) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${path}`);
    this.ws = ws;
    return new Promise((resolve, reject) => {
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "ready") resolve();
        else this.onSignal(message);
      };
      ws.onclose = (event) => {
        reject(new Error(event.reason || String(event.code)));
        if (this.done) return;
        const refused = strings[`ui.console.call.refused.${event.reason}`];
        this.finish(event.code >= 4400 ? "refused" : "signal_lost",
          refused || t("ui.console.call.signal_lost"));
      };
    });
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  async offer(iceServers) {
    const pc = new RTCPeerConnection({ iceServers });
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    if (this.mic.stream) {
      for (const track of this.mic.stream.getAudioTracks()) pc.addTrack(track, this.mic.stream);
    } else {
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    pc.ontrack = (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      if (event.track.kind === "video") {
        this.video.srcObject = new MediaStream([event.track]);
        this.video.play().catch(() => {});
      } else {
        this.audio.srcObject = new MediaStream(stream.getAudioTracks());
        this.audio.play().catch(() => {});
      }
    };
    pc.onicecandidate = (event) => {
      // Before the offer goes, candidates are in its SDP; after, they trickle.
      if (!event.candidate) this.gatheringEnded = true;
      if (this.offerSent) this.send({ type: "ice", candidate: event.candidate ? event.candidate.toJSON() : null });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected" && !this.connectedAt) this.onConnected();
      else if (pc.connectionState === "failed" && !this.done) this.hangup("connection_failed");
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, GATHER_WAIT_MS);
    if (this.done) return;
    this.send({ type: "offer", sdp: pc.localDescription.sdp });
    this.offerSent = true;
    if (this.gatheringEnded) this.send({ type: "ice", candidate: null });
    this.setState("ringing", { s: Math.round(this.answerTimeout) });
  }

  async onSignal(message) {
    if (this.done) return;
    if (message.type === "answer") {
      this.setState("connecting");
      try {
        await this.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
      } catch (error) {
        this.hangup("connection_failed", t("ui.console.call.failed", { detail: error.message }));
      }
    } else if (message.type === "ice") {
      const candidate = message.candidate && message.candidate.candidate ? message.candidate : null;
      await this.pc?.addIceCandidate(candidate ?? undefined).catch(() => {});
    } else if (message.type === "ended") {
      this.finish(message.reason, null, message.duration_s);
    } else if (message.type === "error") {
      this.errors.push(message.code);
      this.warn(message.detail);
    }
  }

  onConnected() {
    this.connectedAt = performance.now();
    this.send({ type: "connected" });
    this.setState("connected");
    this.muteButton.hidden = !this.mic?.stream;
    this.ticker = setInterval(() => this.showDuration(), 1000);
    this.showDuration();
  }

  showDuration(seconds) {
    const value = seconds ?? (this.connectedAt ? (performance.now() - this.connectedAt) / 1000 : 0);
    this.duration.textContent = clock(value);
    this.duration.setAttribute("aria-label", t("ui.console.call.duration", { time: clock(value) }));
  }

  toggleMute() {
    const tracks = this.mic?.stream?.getAudioTracks() || [];
    const muted = !tracks.some((track) => !track.enabled);
    for (const track of tracks) track.enabled = muted;
    this.muteButton.textContent = t(muted ? "ui.console.call.mute" : "ui.console.call.unmute");
    this.muteButton.setAttribute("aria-pressed", muted ? "false" : "true");
  }

  // Our hang-up: the server records it, tells the box, and answers "ended" (which finishes).
  hangup(reason = "operator_hangup", message = null) {
    if (this.done) return;
    if (message) this.warn(message);
    const why = HANGUP_REASONS.has(reason) ? reason : "operator_hangup";
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.send({ type: "hangup", reason: why });
      this.hangupTimer = setTimeout(() => this.finish(why, message), 3000);
    } else {
      if (this.callId) request("POST", `/api/v1/calls/${this.callId}/end`, { reason: why }).catch(() => {});
      this.finish(why, message);
    }
  }

  reasonText(reason) {
    if (!reason) return "";
    if (reason.startsWith("box:")) return t("ui.console.call.ended.box", { reason: reason.slice(4) });
    return t(`ui.console.call.ended.${reason}`, { s: Math.round(this.answerTimeout || 0) });
  }

  fail(message) {
    this.done = true;
    this.setState("failed");
    this.warn(message);
    this.hangupButton.textContent = t("ui.console.call.close");
  }

  finish(reason, message = null, durationS = null) {
    if (this.done) return;
    this.done = true;
    this.endReason = reason;
    clearTimeout(this.hangupTimer);
    clearInterval(this.ticker);
    if (durationS !== null && durationS !== undefined) this.showDuration(durationS);
    for (const track of this.mic?.stream?.getTracks() || []) track.stop();
    this.pc?.close();
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
    const failed = !this.connectedAt && reason !== "operator_hangup";
    this.setState(failed ? "failed" : "ended");
    const text = message || (reason === "operator_hangup" ? "" : this.reasonText(reason));
    if (text) this.warn(text);
    this.muteButton.hidden = true;
    this.hangupButton.textContent = t("ui.console.call.close");
    this.refreshAlarm();
  }

  dismiss() {
    this.dock.remove();
    if (current === this) current = null;
  }

  // The panel's timeline shows call_started / call_ended: have the console redraw the alarm.
  async refreshAlarm() {
    try {
      const alarm = await request("GET", `/api/v1/alarms/${encodeURIComponent(this.alarm.id)}`);
      document.dispatchEvent(new CustomEvent("safezone:alarm", { detail: alarm }));
    } catch {
      // The panel resynchronises on its own; nothing to tell the operator here.
    }
  }

  // What has flowed so far (inbound RTP from the box), for the operator's diagnostics and tests.
  async stats() {
    const out = { videoFramesDecoded: 0, videoFramesPainted: this.videoFrames, audioPackets: 0, audioSamples: 0 };
    if (!this.pc) return out;
    const report = await this.pc.getStats();
    report.forEach((entry) => {
      if (entry.type !== "inbound-rtp") return;
      if (entry.kind === "video") out.videoFramesDecoded += entry.framesDecoded || 0;
      if (entry.kind === "audio") {
        out.audioPackets += entry.packetsReceived || 0;
        out.audioSamples += entry.totalSamplesReceived || 0;
      }
    });
    return out;
  }
}

// The browser leaves the page mid-call: end it on the server at once (the box hangs up too).
window.addEventListener("pagehide", () => {
  if (current && !current.done && current.callId) {
    fetch(`/api/v1/calls/${current.callId}/end`, {
      method: "POST", keepalive: true, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf || "" },
      body: JSON.stringify({ reason: "operator_hangup" }),
    }).catch(() => {});
  }
});

export async function answer({ alarm }) {
  if (current && !current.done) {
    current.warn(t("ui.console.call.in_progress"));
    current.hangupButton.focus();
    return current;
  }
  current?.dismiss();
  current = new BoxCall(alarm);
  window.safezoneCall = current;
  await current.start();
  return current;
}
