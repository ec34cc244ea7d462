"""The health monitor's rules, as pure functions: the state from a probe and a picture check,
when to look again, and what the alerts say (Thai first, English second)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime

from safezone.cameras.frame_check import FrameCheck
from safezone.cameras.rtsp_probe import ProbeResult
from safezone.i18n import BANGKOK

# A camera is "up" only when it is online: a degraded (tampered) or pictureless camera is not
# doing its job, and uptime is about the job.
UP = frozenset({"online"})
# States that raise the offline alert once they have lasted camera_offline_alert_s.
ALERTING = frozenset({"offline", "unauthorized"})
STATES = ("online", "degraded", "no_video", "unauthorized", "offline", "unknown")
JITTER = 0.2
OFFLINE_KIND = "camera_offline"
TAMPER_KIND = "camera_tamper"

_TAMPER_TEXT = {
    "black": ("ภาพจากกล้องมืดสนิท", "the picture is black"),
    "covered": ("เลนส์กล้องถูกบังหรือปิด", "the lens is covered"),
    "frozen": ("ภาพจากกล้องค้าง ไม่เปลี่ยนแปลง", "the picture is frozen"),
    "moved": ("กล้องถูกหันหรือเคลื่อนออกจากมุมเดิม", "the camera was moved from its view"),
}
_STATE_TEXT = {
    "offline": ("ขาดการเชื่อมต่อ", "offline"),
    "unauthorized": ("ปฏิเสธรหัสผ่านของศูนย์", "refusing our credentials"),
}


def jittered(delay: float, rng: random.Random) -> float:
    """``delay`` ±20 %, so a thousand cameras that failed together do not retry together."""
    return delay * (1 + rng.uniform(-JITTER, JITTER))


def next_delay(failures: int, *, interval: float, backoff: Sequence[float]) -> float:
    """Wait before the next probe: the interval when healthy, else the back-off step for the
    number of consecutive failures (1 s → 5 s → 10 s → 60 s, the last step repeating)."""
    if failures <= 0:
        return interval
    return backoff[min(failures, len(backoff)) - 1]


def combine(probe: ProbeResult, frame: FrameCheck | None) -> tuple[str, str, str | None]:
    """(status, detail, tamper) from the latest probe and the latest picture check."""
    if probe.state != "online":
        return probe.state, probe.detail, None
    if frame is None:
        return "online", probe.detail, None
    if frame.reason is not None:
        return "no_video", f"no picture: {frame.detail}", None
    if frame.tamper is not None:
        return "degraded", f"tamper: {frame.tamper}", frame.tamper
    return "online", probe.detail, None


def _name(code: str, name: str) -> str:
    return f"{code} ({name})" if name else code


def _clock(at: datetime) -> str:
    return at.astimezone(BANGKOK).strftime("%H:%M")


def offline_messages(
    *, code: str, name_th: str, name_en: str, status: str, detail: str | None, since: datetime
) -> tuple[str, str]:
    """The offline/unauthorized alert text (times in Asia/Bangkok)."""
    th_state, en_state = _STATE_TEXT.get(status, (status, status))
    suffix = f": {detail}" if detail else ""
    return (
        f"กล้อง {_name(code, name_th)} {th_state} ตั้งแต่ {_clock(since)} น.{suffix}",
        f"Camera {_name(code, name_en or name_th)} {en_state} since {_clock(since)}{suffix}",
    )


def tamper_messages(*, code: str, name_th: str, name_en: str, tamper: str) -> tuple[str, str]:
    """The tamper alert text."""
    th, en = _TAMPER_TEXT.get(tamper, (tamper, tamper))
    return f"กล้อง {_name(code, name_th)}: {th}", f"Camera {_name(code, name_en or name_th)}: {en}"


def tamper_severity(tamper: str) -> str:
    """Covering or turning a camera is done on purpose, often before a crime."""
    return "critical" if tamper in ("covered", "moved") else "warning"
