"""Sound at the box: a generated attention tone, played through ALSA with PyAV when the box has
an audio output device. There is no speech synthesis here: a ``play_message`` text is shown on
the console sink and announced by the tone; a box with recorded messages would play those.
"""

from __future__ import annotations

import io
import logging
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

RATE = 16_000
SYSTEM_ALSA_CONFIG = Path("/usr/share/alsa/alsa.conf")


def use_system_alsa(config: Path = SYSTEM_ALSA_CONFIG) -> None:
    """Point PyAV's ALSA at the system's configuration, unless the environment already chose one.

    PyAV's wheels carry their own alsa-lib, built to read its configuration under the build's
    prefix (``/tmp/vendor/share/alsa``), where nothing is: without this every device name,
    ``default`` and ``hw:1,0`` included, is "Unknown PCM" and a box would have no microphone
    or speaker. alsa-lib reads ``ALSA_CONFIG_PATH`` whenever a device is opened.
    """
    if "ALSA_CONFIG_PATH" not in os.environ and config.is_file():
        os.environ["ALSA_CONFIG_PATH"] = str(config)


def tone(
    freqs: tuple[float, ...] = (880.0, 660.0), seconds: float = 0.35, rate: int = RATE
) -> npt.NDArray[np.int16]:
    """A chime: each frequency in turn for ``seconds``, with 10 ms fades (no clicks)."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * rate))
    parts = [np.sin(2 * np.pi * f * t) * fade for f in freqs]
    return (np.concatenate(parts) * 0.5 * 32767).astype(np.int16)


def _frames(samples: npt.NDArray[np.int16], rate: int, frame: int = 1024) -> list[av.AudioFrame]:
    out = []
    for start in range(0, len(samples), frame):
        chunk = samples[start : start + frame].reshape(1, -1)
        f = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
        f.sample_rate = rate
        f.pts = start
        f.time_base = Fraction(1, rate)
        out.append(f)
    return out


def wav_bytes(samples: npt.NDArray[np.int16], rate: int = RATE) -> bytes:
    """The samples as a WAV file (PCM s16le), encoded with PyAV."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
        for frame in _frames(samples, rate):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def audio_devices(dev_snd: Path = Path("/dev/snd")) -> list[str]:
    """ALSA playback devices present (pcmC*D*p)."""
    if not dev_snd.is_dir():
        return []
    return sorted(p.name for p in dev_snd.glob("pcmC*D*p"))


def play(samples: npt.NDArray[np.int16], rate: int = RATE, device: str | None = None) -> bool:
    """Play through ALSA ``device`` (unset: ``default``, when the box has a sound card at all);
    False (and a log line) when there is none or it fails."""
    if device is None:
        if not audio_devices():
            log.info("no audio output device: tone not played")
            return False
        device = "default"
    why = _write(samples, rate, device)
    if why is not None:
        log.warning("audio output failed: %s", why)
    return why is None


def _write(samples: npt.NDArray[np.int16], rate: int, device: str) -> str | None:
    """Write ``samples`` to ALSA ``device``: None, or why it failed."""
    use_system_alsa()
    try:
        with av.open(device, mode="w", format="alsa") as container:
            stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
            for frame in _frames(samples, rate):
                for packet in stream.encode(frame):
                    container.mux(packet)
    except (av.FFmpegError, OSError) as exc:
        return str(exc)[:150]
    return None


def microphone_works(device: str) -> str | None:
    """None if ALSA capture ``device`` delivers a frame; otherwise why not. Blocking."""
    use_system_alsa()
    try:
        with av.open(device, format="alsa", options={"channels": "1",
                                                      "sample_rate": "48000"}) as container:
            for _frame in container.decode(audio=0):
                return None
        return "no audio frame"
    except (av.FFmpegError, OSError) as exc:
        return str(exc)[:150]


def speaker_works(device: str) -> str | None:
    """None if ALSA playback ``device`` takes 20 ms of silence; otherwise why not. Blocking."""
    return _write(np.zeros(RATE // 50, dtype=np.int16), RATE, device)
