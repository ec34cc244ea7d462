// The console's alarm tone, generated with the Web Audio API (no audio file to download).
//
// Browsers refuse to start audio until the person has interacted with the page (autoplay
// rule), so sound is switched on with a button: that click creates and resumes the
// AudioContext. The choice is remembered; after a reload the context starts suspended and the
// first click or key press anywhere on the page resumes it.

const STORE_KEY = "safezone.console.sound";
const RING_EVERY_MS = 1600;

export class AlarmSound {
  constructor() {
    this.ctx = null;
    this.enabled = localStorage.getItem(STORE_KEY) === "on";
    this.ringing = false;
    this.timer = null;
    this.beeps = 0; // how many tones were scheduled (tests and the status line read it)
    this.error = null;
  }

  get suspended() {
    return this.enabled && (!this.ctx || this.ctx.state !== "running");
  }

  // Must run inside a user gesture (click / key) to be allowed to start.
  async resume() {
    if (!this.enabled) return;
    try {
      this.ctx = this.ctx || new AudioContext();
      if (this.ctx.state !== "running") await this.ctx.resume();
    } catch (error) {
      this.error = String(error);
    }
  }

  async setEnabled(on) {
    this.enabled = on;
    localStorage.setItem(STORE_KEY, on ? "on" : "off");
    if (on) {
      await this.resume();
      this.beep(); // confirm that the speakers work
    }
    this.update(this.ringing);
  }

  // One two-tone "dee-daa" (880 Hz then 660 Hz), loud enough to cut through a busy room.
  beep() {
    if (!this.enabled || !this.ctx || this.ctx.state !== "running") return;
    const ctx = this.ctx;
    const start = ctx.currentTime + 0.01;
    [880, 660].forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = freq;
      const t0 = start + i * 0.28;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + 0.26);
    });
    this.beeps += 1;
  }

  // Ring while some loud alarm waits for someone; stop when none does.
  update(ringing) {
    this.ringing = ringing;
    if (ringing && this.enabled && !this.timer) {
      this.beep();
      this.timer = setInterval(() => this.beep(), RING_EVERY_MS);
    } else if ((!ringing || !this.enabled) && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
