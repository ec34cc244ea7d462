"""Evidence export bundles and their verification.

A bundle is a zip holding, at its top level:

- the clip's MP4, exactly as recorded;
- ``manifest.json``: the clip, camera, asked and recorded windows, the MP4's SHA-256 and size,
  who exported it and when, the SafeZone version, and the clip's custody entries copied from
  the audit chain with their chain hashes;
- ``custody.log``: the same custody entries for a person to read;
- ``SHA256SUMS``: hashes of the three files above in the format ``sha256sum -c`` reads.

``verify_bundle`` checks every listed hash, that the manifest's MP4 hash and size match the
MP4, and that each custody entry still hashes to its chain hash (so an edited entry shows);
it needs nothing but the bundle.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from safezone.audit.models import AuditEntry
from safezone.audit.service import entry_hash
from safezone.cameras.models import Camera
from safezone.evidence.models import Clip
from safezone.i18n import BANGKOK

FORMAT = "safezone-evidence-bundle/1"
MANIFEST = "manifest.json"
CUSTODY = "custody.log"
SUMS = "SHA256SUMS"
_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def video_name(clip: Clip) -> str:
    """A file name that says which camera and when, safe on every file system."""
    code = re.sub(r"[^A-Za-z0-9_-]+", "-", clip.camera_code).strip("-") or "camera"
    return f"{code}_{clip.start_at:%Y%m%dT%H%M%SZ}_{clip.id[:8]}.mp4"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="microseconds") if moment else None


def entry_record(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as the manifest carries it: every field its chain hash covers."""
    return {
        "id": entry.id,
        "at": _iso(entry.at),
        "actor_id": entry.actor_id,
        "actor": entry.actor,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "details": entry.details,
        "client": entry.client,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


@dataclass(frozen=True)
class Exporter:
    id: int
    username: str
    display_name: str


def build_manifest(
    *,
    clip: Clip,
    camera: Camera | None,
    entries: list[AuditEntry],
    exporter: Exporter,
    exported_at: datetime,
    version: str,
    video: dict[str, Any],
) -> dict[str, Any]:
    """The manifest's content (``video`` carries file, sha256, size_bytes and codec facts)."""
    return {
        "format": FORMAT,
        "clip": {
            "id": clip.id,
            "status": clip.status,
            "reason": clip.reason,
            "incident_id": clip.incident_id,
            "requested_by": clip.requested_by,
            "requested_window": {"start": _iso(clip.start_at), "end": _iso(clip.end_at)},
            "recorded_window": {
                "start": _iso(clip.recorded_start_at),
                "end": _iso(clip.recorded_end_at),
            },
            "unavailable_s": clip.unavailable_s,
            "note": clip.note,
            "created_at": _iso(clip.created_at),
            "completed_at": _iso(clip.completed_at),
            "retain_until": _iso(clip.retain_until),
        },
        "camera": {
            "id": clip.camera_id,
            "code": clip.camera_code,
            "name_th": camera.name_th if camera else None,
            "name_en": camera.name_en if camera else None,
            "lat": camera.lat if camera else None,
            "lon": camera.lon if camera else None,
        },
        "video": video,
        "export": {
            "exported_by": {
                "id": exporter.id,
                "username": exporter.username,
                "name": exporter.display_name,
            },
            "exported_at": _iso(exported_at),
            "safezone_version": version,
        },
        "custody": [entry_record(e) for e in entries],
    }


def _local(at: str | None) -> str:
    if not at:
        return "-"
    moment = datetime.fromisoformat(at)
    return f"{at} (Bangkok {moment.astimezone(BANGKOK):%Y-%m-%d %H:%M:%S})"


def custody_log(manifest: dict[str, Any]) -> str:
    """The custody trail as plain text."""
    clip, cam, video = manifest["clip"], manifest["camera"], manifest["video"]
    export = manifest["export"]
    lines = [
        "SafeZone evidence - chain of custody / บันทึกการครอบครองพยานหลักฐาน",
        f"Clip:      {clip['id']}",
        f"Camera:    {cam['code']}  {cam['name_th'] or ''} / {cam['name_en'] or ''}",
        f"Asked:     {_local(clip['requested_window']['start'])}",
        f"      to   {_local(clip['requested_window']['end'])}",
        f"Recorded:  {_local(clip['recorded_window']['start'])}",
        f"      to   {_local(clip['recorded_window']['end'])}",
        f"Missing:   {clip['unavailable_s'] or 0} s  {clip['note'] or ''}".rstrip(),
        f"Reason:    {clip['reason'] or ''}",
        f"Video:     {video['file']}  {video['size_bytes']} bytes",
        f"SHA-256:   {video['sha256']}",
        f"Exported:  {_local(export['exported_at'])} by {export['exported_by']['username']}",
        f"Software:  SafeZone {export['safezone_version']}",
        "",
        "Audit-chain entries about this clip (id, time UTC, action, who, from, chain hash):",
    ]
    for e in manifest["custody"]:
        who = f"{e['actor']}" + (f" (#{e['actor_id']})" if e["actor_id"] is not None else "")
        lines.append(
            f"#{e['id']:<7} {e['at']}  {e['action']:<14} {who:<24} {e['client'] or '-':<15}"
            f" {e['hash']}"
        )
    return "\n".join(lines) + "\n"


def write_bundle(
    dest: Path, *, video_path: Path, manifest: dict[str, Any]
) -> None:
    """Write the zip (video stored as is: it does not compress; text deflated)."""
    manifest_bytes = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    log_bytes = custody_log(manifest).encode("utf-8")
    name = manifest["video"]["file"]
    sums = "".join(
        f"{digest}  {member}\n"
        for member, digest in (
            (name, manifest["video"]["sha256"]),
            (MANIFEST, hashlib.sha256(manifest_bytes).hexdigest()),
            (CUSTODY, hashlib.sha256(log_bytes).hexdigest()),
        )
    )
    with zipfile.ZipFile(dest, "w") as zf:
        zf.write(video_path, name, compress_type=zipfile.ZIP_STORED)
        zf.writestr(MANIFEST, manifest_bytes, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(CUSTODY, log_bytes, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(SUMS, sums.encode("ascii"), compress_type=zipfile.ZIP_DEFLATED)


# --- verification ---------------------------------------------------------------------------


@dataclass
class Report:
    """The outcome of checking a bundle, line by line."""

    ok: bool = True
    lines: list[str] = field(default_factory=list)
    custody_hashes: list[str] = field(default_factory=list)

    def good(self, text: str) -> None:
        self.lines.append(f"OK      {text}")

    def bad(self, text: str) -> None:
        self.ok = False
        self.lines.append(f"FAILED  {text}")


class _Source:
    """A bundle as a zip file or as the folder it was extracted into."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None

    def names(self) -> set[str]:
        if self.zip is not None:
            return {n for n in self.zip.namelist() if not n.endswith("/")}
        return {p.name for p in self.path.iterdir() if p.is_file()}

    def open(self, name: str) -> IO[bytes]:
        if self.zip is not None:
            return self.zip.open(name)
        return (self.path / name).open("rb")

    def sha256(self, name: str) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        with self.open(name) as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
                size += len(block)
        return digest.hexdigest(), size

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def verify_bundle(path: Path) -> Report:
    """Check a bundle (zip or extracted folder); see the module docstring."""
    report = Report()
    try:
        source = _Source(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.bad(f"cannot open {path}: {exc}")
        return report
    try:
        _verify(source, report)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        report.bad(f"unreadable bundle: {type(exc).__name__}: {exc}")
    finally:
        source.close()
    return report


def _verify(source: _Source, report: Report) -> None:
    names = source.names()
    if SUMS not in names:
        report.bad(f"{SUMS} is missing")
        return
    with source.open(SUMS) as fh:
        sums_text = fh.read().decode("utf-8")
    listed: dict[str, str] = {}
    for number, line in enumerate(sums_text.splitlines(), 1):
        match = _SUM_LINE.match(line)
        if not match:
            report.bad(f"{SUMS} line {number} is malformed")
            continue
        listed[match.group(2)] = match.group(1).lower()
    actual: dict[str, str] = {}
    for name, expected in listed.items():
        if name not in names:
            report.bad(f"{name}: listed in {SUMS} but missing")
            continue
        digest, _size = source.sha256(name)
        actual[name] = digest
        if digest == expected:
            report.good(f"{name}: sha256 matches")
        else:
            report.bad(f"{name}: sha256 {digest} differs from {SUMS} ({expected})")
    for name in sorted(names - set(listed) - {SUMS}):
        report.lines.append(f"NOTE    {name}: not covered by {SUMS}")
    if MANIFEST not in names:
        report.bad(f"{MANIFEST} is missing")
        return
    for required in (MANIFEST, CUSTODY):
        if required not in listed:
            report.bad(f"{required} is not covered by {SUMS}")
    with source.open(MANIFEST) as fh:
        manifest = json.loads(fh.read().decode("utf-8"))
    _check_video(source, manifest, names, listed, actual, report)
    _check_custody(manifest, report)


def _check_video(
    source: _Source,
    manifest: dict[str, Any],
    names: set[str],
    listed: dict[str, str],
    actual: dict[str, str],
    report: Report,
) -> None:
    video = manifest["video"]
    name = str(video["file"])
    if name not in names:
        report.bad(f"the video {name} named in the manifest is missing")
        return
    if name not in listed:
        report.bad(f"the video {name} is not covered by {SUMS}")
    digest, size = source.sha256(name)
    if actual.get(name, digest) != digest:
        report.bad(f"{name}: read twice with different results")
    if digest == video["sha256"] and size == video["size_bytes"]:
        report.good(f"{name}: matches the manifest (sha256 and {size} bytes)")
    else:
        report.bad(f"{name}: does not match the manifest's sha256/size")
    completes = [e for e in manifest["custody"] if e["action"] == "clip.complete"]
    if not completes:
        report.bad("no clip.complete entry in the custody trail")
    elif any(e["details"].get("sha256") != video["sha256"] for e in completes):
        report.bad("the video hash differs from the one recorded in the audit chain")
    else:
        report.good("video hash equals the one the audit chain recorded at completion")


def _check_custody(manifest: dict[str, Any], report: Report) -> None:
    clip_id = manifest["clip"]["id"]
    bad = 0
    for e in manifest["custody"]:
        recomputed = entry_hash(
            id=e["id"],
            at=datetime.fromisoformat(e["at"]),
            actor_id=e["actor_id"],
            actor=e["actor"],
            action=e["action"],
            entity_type=e["entity_type"],
            entity_id=e["entity_id"],
            details=e["details"],
            client=e["client"],
            prev_hash=e["prev_hash"],
        )
        report.custody_hashes.append(e["hash"])
        if recomputed != e["hash"] or e["entity_id"] != clip_id:
            bad += 1
            report.bad(f"custody entry #{e['id']} ({e['action']}) does not match its chain hash")
    if not bad:
        report.good(f"{len(manifest['custody'])} custody entries match their chain hashes")
