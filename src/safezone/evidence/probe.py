"""Facts about a recorded clip file, read from its container (nothing is decoded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av


def video_facts(path: Path) -> dict[str, Any]:
    """Codec, profile, resolution and frame rate of the file's video track."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            return {"codec": None, "width": None, "height": None, "frame_rate": None}
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        return {
            "codec": ctx.name,
            "profile": stream.profile,
            "width": ctx.width,
            "height": ctx.height,
            "frame_rate": round(float(rate), 3) if rate else None,
            "frames": stream.frames or None,
        }
