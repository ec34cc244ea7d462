"""The box's sound through ALSA for real: PyAV's own alsa-lib, the system's configuration, and
ALSA's ``null`` device (capture gives filler samples, playback takes anything), so no sound card is
needed. A device that is not there gives a reason, never an exception."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError

from safezone.box import audio
from safezone.box.agent import BoxAgent
from safezone.box.call_media import AUDIO_RATE, AudioSink, ToneTrack, open_microphone
from safezone.box.selftest import _audio_check
from tests.calls.conftest import agent_config

needs_alsa_config = pytest.mark.skipif(
    not audio.SYSTEM_ALSA_CONFIG.is_file(),
    reason="no /usr/share/alsa/alsa.conf (Debian's libasound2-data)")


class ToneFrames(MediaStreamTrack):
    """``count`` frames of the generated tone (20 ms each), then the end of the track."""

    kind = "audio"

    def __init__(self, count: int) -> None:
        super().__init__()
        self.left, self.tone = count, ToneTrack()

    async def recv(self) -> Any:
        if self.left == 0:
            raise MediaStreamError
        self.left -= 1
        return await self.tone.recv()


@pytest.fixture(autouse=True)
def _no_alsa_config_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    # As a fresh box starts: nothing has pointed alsa-lib anywhere yet.
    monkeypatch.delenv("ALSA_CONFIG_PATH", raising=False)


@needs_alsa_config
def test_without_the_system_configuration_pyav_knows_no_device() -> None:
    """Why ``use_system_alsa`` exists: PyAV's alsa-lib looks under its build prefix."""
    with pytest.raises(av.FFmpegError):
        av.open("null", format="alsa")


@needs_alsa_config
def test_device_checks_open_alsa_for_real() -> None:
    assert audio.microphone_works("null") is None
    assert audio.speaker_works("null") is None
    assert audio.microphone_works("hw:97,0")  # a reason, not an exception
    assert audio.speaker_works("hw:97,0")
    assert audio.play(audio.tone(), device="null")


@needs_alsa_config
async def test_the_microphone_is_captured_from_alsa() -> None:
    track, player = await asyncio.to_thread(open_microphone, "null")
    assert isinstance(player, MediaPlayer) and not isinstance(track, ToneTrack), \
        "fell back to the generated tone"
    try:
        frames = [await asyncio.wait_for(track.recv(), 5) for _ in range(10)]
    finally:
        track.stop()
    assert all(isinstance(f, av.AudioFrame) and f.sample_rate == AUDIO_RATE for f in frames)
    assert sum(f.samples for f in frames) >= 10


@needs_alsa_config
async def test_the_operator_voice_is_played_to_the_alsa_speaker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = AudioSink(speaker="null")
    with caplog.at_level(logging.WARNING, logger="safezone.box.call_media"):
        await asyncio.wait_for(sink.consume(ToneFrames(50)), 10)
        assert sink._thread is not None
        await asyncio.to_thread(sink._thread.join, 5)
    assert not sink._thread.is_alive()
    assert sink.counts.frames == 50 and sink.counts.loud_frames > 5
    # All of it went out to ALSA, resampled to 48 kHz mono (the resampler may hold a tail).
    assert sink.counts.played_samples >= 49 * 960
    assert not [r for r in caplog.records if "failed" in r.getMessage()], caplog.text


@needs_alsa_config
async def test_the_self_test_opens_the_configured_devices(tmp_path: Path) -> None:
    def agent(**devices: str) -> BoxAgent:
        return BoxAgent(agent_config("SOS-AUDIO", "s", broker="mqtt://127.0.0.1:1", topic_root="t",
                                     tmp=tmp_path, **devices), console=lambda line: None)

    working = await _audio_check(agent(microphone="null", speaker="null"))
    assert working.ok and working.detail == "microphone null; speaker null"
    broken = await _audio_check(agent(microphone="null", speaker="hw:97,0"))
    assert not broken.ok and broken.detail == f"speaker hw:97,0: {audio.speaker_works('hw:97,0')}"
    assert "hw:97,0" in broken.detail.partition(": ")[2]  # FFmpeg's own words, naming it


async def test_a_speaker_that_fails_never_stops_the_count() -> None:
    """The box's speaker (an ALSA device that is not there): the voice is still counted."""
    sink = AudioSink(speaker="hw:97,0")
    await asyncio.wait_for(sink.consume(ToneFrames(30)), 10)
    assert sink.counts.frames == 30 and sink.counts.samples == 30 * 960
    assert sink.counts.played_samples == 0
    assert sink._thread is not None
    await asyncio.to_thread(sink._thread.join, 5)
    assert not sink._thread.is_alive()
