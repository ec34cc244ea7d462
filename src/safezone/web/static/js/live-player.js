// Live player: fragmented MP4 from the camera's WebSocket into Media Source Extensions.
//
// The server sends {"type":"init","mime":...} (text), then the init segment and one fragment
// per frame (binary); {"type":"status",...} text frames report the camera link. The source
// buffer runs in 'sequence' mode, so fragments play back to back whatever their timestamps
// (a new viewer joins mid-stream; a slow one skips to the next key frame). Latency is kept low
// by jumping to the live edge when playback falls behind, and the buffer behind the playhead
// is trimmed so a long view does not fill memory. Refusals (4401/4403/4404) show why and do
// not retry; anything else reconnects with back-off.

const DENIED = new Set([4401, 4403, 4404]);
const BACKOFF_MS = [1000, 2000, 5000, 10000, 30000];
const MAX_BEHIND_S = 1.0; // further behind the live edge than this: jump forward
const EDGE_MARGIN_S = 0.15; // where to land when jumping: just short of the newest frame
const KEEP_BEHIND_S = 8; // buffered video kept behind the playhead
const STALL_MS = 8000; // no data this long on an open socket: reconnect

function concat(chunks) {
  if (chunks.length === 1) return chunks[0];
  const size = chunks.reduce((sum, c) => sum + c.byteLength, 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(new Uint8Array(c), at);
    at += c.byteLength;
  }
  return out;
}

export function liveUrl(cameraId) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/v1/cameras/${encodeURIComponent(cameraId)}/live`;
}

export class LivePlayer {
  // onState(state, reason): connecting | live | reconnecting | denied | unsupported | stopped
  constructor(video, { cameraId, onState = () => {} }) {
    this.video = video;
    this.cameraId = cameraId;
    this.onState = onState;
    this.ws = null;
    this.ms = null;
    this.sb = null;
    this.queue = [];
    this.attempt = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.stallTimer = null;
    this.video.muted = true;
    this.video.playsInline = true;
    this.video.addEventListener("playing", () => {
      this.attempt = 0;
      this.setState("live");
    });
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.stallTimer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000, "stopped");
      this.ws = null;
    }
    this.teardown();
    this.setState("stopped");
  }

  setState(state, reason = "") {
    this.state = state;
    this.video.dataset.state = state;
    this.onState(state, reason);
  }

  connect() {
    this.setState(this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(liveUrl(this.cameraId));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = (event) => {
      this.watchStall();
      if (typeof event.data === "string") this.onControl(JSON.parse(event.data));
      else this.onMedia(event.data);
    };
    ws.onclose = (event) => this.onClose(event);
    this.watchStall();
  }

  watchStall() {
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      // The socket is open but nothing arrives (a dead network path): start again.
      if (this.ws && !this.stopped) this.ws.close(4000, "stalled");
    }, STALL_MS);
  }

  onControl(message) {
    if (message.type === "init") {
      this.setup(message.mime);
    } else if (message.type === "status" && message.state === "reconnecting") {
      this.setState("reconnecting", message.reason || "");
    }
  }

  setup(mime) {
    this.teardown();
    if (!window.MediaSource || !MediaSource.isTypeSupported(mime)) {
      this.stopped = true;
      this.ws?.close(1000, "unsupported");
      this.setState("unsupported", mime);
      return;
    }
    const ms = new MediaSource();
    this.ms = ms;
    this.queue = [];
    ms.addEventListener(
      "sourceopen",
      () => {
        if (this.ms !== ms) return;
        URL.revokeObjectURL(this.video.src);
        const sb = ms.addSourceBuffer(mime);
        sb.mode = "sequence";
        sb.addEventListener("updateend", () => this.pump());
        sb.addEventListener("error", () => this.restart());
        this.sb = sb;
        this.pump();
      },
      { once: true },
    );
    this.video.src = URL.createObjectURL(ms);
  }

  teardown() {
    this.sb = null;
    this.queue = [];
    if (this.ms) {
      this.ms = null;
      this.video.removeAttribute("src");
      this.video.load();
    }
  }

  onMedia(data) {
    if (!this.ms) return;
    this.queue.push(data);
    this.pump();
  }

  pump() {
    const sb = this.sb;
    if (!sb || sb.updating || !this.ms || this.ms.readyState !== "open") return;
    const video = this.video;
    const ranges = sb.buffered;
    if (ranges.length && video.currentTime - ranges.start(0) > KEEP_BEHIND_S * 2) {
      sb.remove(0, video.currentTime - KEEP_BEHIND_S);
      return; // updateend calls pump again
    }
    if (this.queue.length) {
      const chunk = concat(this.queue);
      this.queue = [];
      try {
        sb.appendBuffer(chunk);
      } catch (error) {
        // QuotaExceeded or a closed source: start over from the next init segment.
        this.restart();
      }
      return;
    }
    this.chase();
  }

  chase() {
    const video = this.video;
    const ranges = video.buffered;
    if (!ranges.length) return;
    const last = ranges.length - 1;
    const end = ranges.end(last);
    const start = ranges.start(last);
    if (end - video.currentTime > MAX_BEHIND_S || video.currentTime < start) {
      video.currentTime = Math.max(start, end - EDGE_MARGIN_S);
    }
    if (video.paused) video.play().catch(() => {});
  }

  restart() {
    if (this.stopped) return;
    this.ws?.close(4000, "restart");
  }

  onClose(event) {
    clearTimeout(this.stallTimer);
    this.ws = null;
    this.teardown();
    if (this.stopped) return;
    if (DENIED.has(event.code)) {
      this.stopped = true;
      this.setState("denied", event.reason || "forbidden");
      return;
    }
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.setState("reconnecting", event.reason || "");
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}

// The text to show for a player state, from the page's catalogue (ui.live.*).
export function stateText(strings, state, reason) {
  if (state === "denied") {
    return strings[`ui.live.reason.${reason}`] ?? strings["ui.live.state.denied"] ?? state;
  }
  if (state === "reconnecting" && reason && strings[`ui.live.upstream.${reason}`]) {
    return strings[`ui.live.upstream.${reason}`];
  }
  return strings[`ui.live.state.${state}`] ?? state;
}
