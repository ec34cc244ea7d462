"""What a box sends and plays during a two-way call (the WebRTC part is ``safezone.box.call``).

Sources, chosen from the box config:

* video: the camera (``camera``: a V4L2 device such as ``/dev/video0`` or an ``rtsp://`` URL,
  opened with aiortc's ``MediaPlayer``), else a generated test pattern - a moving bar and the
  box code, the time and a frame counter drawn into the picture, so an operator can tell a
  live picture from a frozen one;
* audio: the microphone (``microphone``: an ALSA capture device such as ``default`` or
  ``hw:1,0``), else a generated tone (a soft 440 Hz beep once a second).

What the operator says goes to :class:`AudioSink`: it counts frames and samples (shown in the
log and the self-test, and read by the tests) and, when ``speaker`` names an ALSA playback
device, plays them there from a thread of its own (ALSA writes block; the event loop must not).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError

from safezone.box.audio import use_system_alsa

log = logging.getLogger(__name__)

AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020
VIDEO_CLOCK = 90_000

# A 3x5 pixel font: enough for "SOS-SADET 14:02:07 #123" and "NO CAMERA".
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111", ":": "000010000010000", "-": "000000111000000",
    ".": "000000000000010", "#": "101111101111101", " ": "000000000000000",
    "_": "000000000000111",
    "A": "010101111101101", "B": "110101110101110", "C": "011100100100011",
    "D": "110101101101110", "E": "111100110100111", "F": "111100110100100",
    "G": "011100101101011", "H": "101101111101101", "I": "111010010010111",
    "J": "001001001101010", "K": "101101110101101", "L": "100100100100111",
    "M": "101111111101101", "N": "110101101101101", "O": "010101101101010",
    "P": "110101110100100", "Q": "010101101110011", "R": "110101110101101",
    "S": "011100010001110", "T": "111010010010010", "U": "101101101101111",
    "V": "101101101101010", "W": "101101111111101", "X": "101101010101101",
    "Y": "101101010010010", "Z": "111001010100111",
}


def draw_text(image: npt.NDArray[np.uint8], text: str, x: int, y: int, scale: int) -> None:
    """Draw ``text`` in white (on a dark box) into an RGB image, in place; clipped at edges."""
    height, width = image.shape[:2]
    box_w = (len(text) * 4 + 1) * scale
    image[max(0, y - scale): min(height, y + 6 * scale), max(0, x - scale): min(width, x + box_w)] \
        //= 4
    for i, char in enumerate(text.upper()):
        glyph = _GLYPHS.get(char, _GLYPHS["_"])
        for row in range(5):
            for col in range(3):
                if glyph[row * 3 + col] == "1":
                    top, left = y + row * scale, x + (i * 4 + col) * scale
                    image[top: top + scale, left: left + scale] = 255


class PatternTrack(MediaStreamTrack):
    """Generated video: colour bars, a bar sweeping across, the label, the time, a counter."""

    kind = "video"

    def __init__(self, label: str, *, width: int = 640, height: int = 360, fps: float = 15.0,
                 note: str | None = None) -> None:
        super().__init__()
        self.label = label
        self.note = note
        self.width, self.height, self.fps = width - width % 2, height - height % 2, fps
        self.frames = 0
        self._start: float | None = None
        bars = np.array([[192, 192, 192], [192, 192, 0], [0, 192, 192], [0, 192, 0],
                         [192, 0, 192], [192, 0, 0], [0, 0, 192]], dtype=np.uint8)
        columns = (np.arange(self.width) * len(bars) // self.width)
        self._background = np.broadcast_to(bars[columns], (self.height, self.width, 3)).copy()

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.frames / self.fps
        if due > now:
            await asyncio.sleep(due - now)
        image = self._background.copy()
        bar = int(self.frames * 6) % self.width
        image[:, bar: bar + max(4, self.width // 40)] = (255, 255, 255)
        scale = max(2, self.height // 90)
        clock = datetime.now(UTC).strftime("%H:%M:%S")
        draw_text(image, self.label, 2 * scale, 2 * scale, scale)
        draw_text(image, f"{clock} UTC #{self.frames}", 2 * scale, 9 * scale, scale)
        if self.note:
            draw_text(image, self.note, 2 * scale, 16 * scale, scale)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = int(self.frames * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.frames += 1
        return frame


class ToneTrack(MediaStreamTrack):
    """Generated audio: 48 kHz mono, a soft 440 Hz beep for 0.2 s of every second."""

    kind = "audio"

    def __init__(self, *, frequency: float = 440.0) -> None:
        super().__init__()
        self.frequency = frequency
        self.frames = 0
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.frames * AUDIO_PTIME
        if due > now:
            await asyncio.sleep(due - now)
        first = self.frames * self._samples
        t = (first + np.arange(self._samples)) / AUDIO_RATE
        on = (t % 1.0) < 0.2
        wave = np.sin(2 * np.pi * self.frequency * t) * on * 0.2 * 32767
        frame = av.AudioFrame.from_ndarray(wave.astype(np.int16).reshape(1, -1), format="s16",
                                           layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = first
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.frames += 1
        return frame


@dataclass
class SinkCounts:
    """What the box has received of the operator's voice."""

    frames: int = 0
    samples: int = 0
    loud_frames: int = 0  # frames with any sound in them (peak above about -40 dBFS)
    played_samples: int = 0  # written to the speaker (its thread's count)
    first_at: float | None = None
    last_at: float | None = None


@dataclass
class AudioSink:
    """Consumes the operator's audio: counts it and, with a ``speaker`` device, plays it."""

    speaker: str | None = None
    counts: SinkCounts = field(default_factory=SinkCounts)
    _queue: queue.Queue[av.AudioFrame | None] = field(default_factory=lambda: queue.Queue(50))
    _thread: threading.Thread | None = None

    async def consume(self, track: MediaStreamTrack) -> None:
        """Read ``track`` until it ends."""
        if self.speaker:
            self._thread = threading.Thread(target=self._play, name="box-speaker", daemon=True)
            self._thread.start()
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                if not isinstance(frame, av.AudioFrame):
                    continue
                self._count(frame)
                if self._thread is not None:
                    with contextlib.suppress(queue.Full):  # a stalled speaker drops, never blocks
                        self._queue.put_nowait(frame)
        finally:
            if self._thread is not None:
                with contextlib.suppress(queue.Full):
                    self._queue.put_nowait(None)

    def _count(self, frame: av.AudioFrame) -> None:
        counts = self.counts
        counts.frames += 1
        counts.samples += frame.samples
        counts.last_at = time.monotonic()
        if counts.first_at is None:
            counts.first_at = counts.last_at
        data = frame.to_ndarray()
        peak = float(np.abs(data).max()) if data.size else 0.0
        # s16 (decoded Opus) or float planes: both judged against full scale.
        full = 32768.0 if data.dtype == np.int16 else 1.0
        if peak / full > 0.01:
            counts.loud_frames += 1

    def _play(self) -> None:
        """The speaker thread: resample to 48 kHz s16 mono and write to ALSA until told to stop."""
        assert self.speaker is not None  # noqa: S101 - only started with a speaker
        use_system_alsa()
        try:
            with av.open(self.speaker, mode="w", format="alsa") as container:
                stream: Any = container.add_stream("pcm_s16le", rate=AUDIO_RATE)
                stream.layout = "mono"
                resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE)
                while (frame := self._queue.get()) is not None:
                    for out in resampler.resample(frame):
                        out.pts = None
                        for packet in stream.encode(out):
                            container.mux(packet)
                        self.counts.played_samples += out.samples
        except (av.FFmpegError, OSError) as exc:
            log.warning("speaker %s failed: %s (the call goes on without it)", self.speaker, exc)
            # Keep draining so the consumer never blocks on a full queue.
            while self._queue.get() is not None:
                pass


def _video_size(size: str) -> tuple[int, int]:
    width, _, height = size.partition("x")
    return int(width), int(height)


def open_camera(camera: str | None, *, label: str, size: str, fps: float) -> tuple[
        MediaStreamTrack, MediaPlayer | None]:
    """The box camera's track (and the player to stop), or the test pattern.

    Blocking (opening a device or an RTSP stream takes time): run it in a thread. A camera that
    cannot be opened is logged and replaced by the pattern, marked "NO CAMERA", so the call
    still carries the caller's voice.
    """
    width, height = _video_size(size)
    if camera:
        try:
            if camera.startswith(("rtsp://", "rtsps://")):
                player = MediaPlayer(camera, options={"rtsp_transport": "tcp"}, timeout=5)
            else:
                player = MediaPlayer(camera, format="v4l2", options={
                    "video_size": size, "framerate": str(int(fps))})
            if player.video is not None:
                return player.video, player
            log.warning("camera %s has no video stream", camera)
        except (av.FFmpegError, OSError) as exc:
            log.warning("camera %s cannot be opened: %s", camera, exc)
        return PatternTrack(label, width=width, height=height, fps=fps,
                            note="NO CAMERA"), None
    return PatternTrack(label, width=width, height=height, fps=fps), None


def open_microphone(device: str | None) -> tuple[MediaStreamTrack, MediaPlayer | None]:
    """The microphone's track (ALSA, via PyAV), or the generated tone. Blocking."""
    if device:
        use_system_alsa()
        try:
            player = MediaPlayer(device, format="alsa", options={
                "channels": "1", "sample_rate": str(AUDIO_RATE)})
            if player.audio is not None:
                return player.audio, player
        except (av.FFmpegError, OSError) as exc:
            log.warning("microphone %s cannot be opened: %s; sending a tone", device, exc)
    return ToneTrack(), None
