"""Evidence clip routes: request a clip, list and read clips, play (with HTTP Range),
download and export a verifiable bundle. Every access to the video is a custody entry."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from safezone import __version__
from safezone.audit.service import SYSTEM
from safezone.auth.access import Access
from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.cameras.models import Camera
from safezone.db.base import utcnow
from safezone.deps import DatabaseDep, ReadSession, SettingsDep
from safezone.evidence import service
from safezone.evidence.bundle import (
    Exporter,
    build_manifest,
    video_name,
    write_bundle,
)
from safezone.evidence.models import CLIP_STATUSES, Clip
from safezone.evidence.probe import video_facts
from safezone.evidence.recorder import in_thread
from safezone.evidence.schemas import ClipCreate, ClipOut
from safezone.evidence.workers import EvidenceWorkers
from safezone.evidence.writer import sha256_file
from safezone.i18n import translate
from safezone.problems import Problem, request_language
from safezone.schemas import ListOut, PageDep

router = APIRouter(tags=["evidence"])
# The command centre works with evidence; patrol, partners and viewers do not.
EVIDENCE_ROLES = frozenset({Role.admin, Role.supervisor, Role.operator})
Staff = Annotated[Principal, Depends(Access(EVIDENCE_ROLES))]


def _workers(request: Request) -> EvidenceWorkers:
    services = getattr(request.app.state, "services", None)
    workers = getattr(services, "evidence", None)
    if not isinstance(workers, EvidenceWorkers):
        raise Problem(503, "evidence_unavailable")
    return workers


def clip_out(clip: Clip, lang: str) -> ClipOut:
    """The clip as the API shows it, its note in words."""
    out = ClipOut.model_validate(clip)
    if clip.note:
        out.note_text = translate(
            f"evidence.note.{clip.note}", lang, missing=f"{clip.unavailable_s or 0:g}"
        )
    return out


@router.post(
    "/cameras/{camera_id}/clips",
    response_model=ClipOut,
    status_code=202,
    summary="Record an evidence clip of a camera for a time window",
)
async def create_clip(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    who: Staff,
    camera_id: int,
    body: ClipCreate,
) -> ClipOut:
    """Books the clip and starts recording it (pre-roll from the rolling buffer where the
    camera has one; the rest live). Answers at once with the pending clip."""
    workers = _workers(request)
    async with db.write() as session:
        clip = await service.create_clip(
            session,
            camera_id=camera_id,
            body=body,
            who=who,
            settings=settings,
            buffered_since=workers.buffers.buffered_since(camera_id),
        )
    workers.recorder.schedule(clip.id)
    return clip_out(clip, request_language(request))


@router.get("/clips", response_model=ListOut[ClipOut], summary="Evidence clips, newest first")
async def list_clips(
    request: Request,
    session: ReadSession,
    _: Staff,
    page: PageDep,
    camera_id: Annotated[int | None, Query()] = None,
    incident_id: Annotated[int | None, Query()] = None,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(CLIP_STATUSES) + ")$")] = None,
) -> dict[str, Any]:
    rows, total = await service.list_clips(
        session,
        limit=page.limit,
        offset=page.offset,
        camera_id=camera_id,
        incident_id=incident_id,
        status=status,
    )
    lang = request_language(request)
    data = [clip_out(c, lang) for c in rows]
    return {"data": data, "count": total, "limit": page.limit, "offset": page.offset}


@router.get("/clips/{clip_id}", response_model=ClipOut, summary="One evidence clip")
async def get_clip(request: Request, session: ReadSession, _: Staff, clip_id: str) -> ClipOut:
    clip = await service.get_clip(session, clip_id=clip_id)
    return clip_out(clip, request_language(request))


async def _servable(db: DatabaseDep, settings: SettingsDep, clip_id: str) -> tuple[Clip, Path]:
    async with db.session() as session:
        clip = await service.get_clip(session, clip_id=clip_id)
    return clip, service.require_file(clip, settings)


async def _check_integrity(db: DatabaseDep, clip: Clip, path: Path) -> None:
    """Refuse to hand out a file that no longer hashes to what was recorded."""
    digest = await in_thread(lambda: sha256_file(path), "clip-hash")
    if digest == clip.sha256:
        return
    async with db.write() as session:
        await service.record_custody(
            session, clip=clip, actor=SYSTEM, action="clip.integrity_failed", found=digest
        )
    raise Problem(409, "clip_file_altered", id=clip.id)


@router.get(
    "/clips/{clip_id}/video.mp4",
    response_class=FileResponse,
    summary="Play the clip (HTTP Range supported)",
)
async def play_clip(db: DatabaseDep, settings: SettingsDep, who: Staff, clip_id: str) -> Any:
    """For a <video> element. Audited as clip.view at most once a minute per person."""
    clip, path = await _servable(db, settings, clip_id)
    # Most range requests of a playback are already audited: check before taking a write lock.
    async with db.session() as session:
        seen = await service.viewed_recently(session, clip=clip, who=who)
    if not seen:
        async with db.write() as session:
            await service.record_view(session, clip=clip, who=who)
    return FileResponse(path, media_type="video/mp4", content_disposition_type="inline")


@router.get(
    "/clips/{clip_id}/download", response_class=FileResponse, summary="Download the clip's MP4"
)
async def download_clip(db: DatabaseDep, settings: SettingsDep, who: Staff, clip_id: str) -> Any:
    clip, path = await _servable(db, settings, clip_id)
    await _check_integrity(db, clip, path)
    async with db.write() as session:
        await service.record_custody(session, clip=clip, actor=who.actor, action="clip.download")
    return FileResponse(path, media_type="video/mp4", filename=video_name(clip))


@router.get(
    "/clips/{clip_id}/bundle.zip",
    response_class=FileResponse,
    summary="Export the clip as a verifiable evidence bundle",
)
async def export_bundle(db: DatabaseDep, settings: SettingsDep, who: Staff, clip_id: str) -> Any:
    """Zip of the MP4, manifest.json, custody.log and SHA256SUMS (``sha256sum -c`` and
    ``safezone evidence verify`` check it). The export itself is in its custody trail."""
    clip, path = await _servable(db, settings, clip_id)
    await _check_integrity(db, clip, path)
    exported_at = utcnow()
    async with db.write() as session:
        await service.record_custody(session, clip=clip, actor=who.actor, action="clip.export")
    async with db.session() as session:
        entries = await service.custody_entries(session, clip_id=clip.id)
        camera = await session.get(Camera, clip.camera_id) if clip.camera_id else None
    facts = await in_thread(lambda: video_facts(path), "clip-probe")
    manifest = build_manifest(
        clip=clip,
        camera=camera,
        entries=entries,
        exporter=Exporter(who.user_id, who.username, who.display_name),
        exported_at=exported_at,
        version=__version__,
        video={
            "file": video_name(clip),
            "sha256": clip.sha256,
            "size_bytes": clip.size_bytes,
            "duration_s": clip.duration_s,
            **facts,
        },
    )
    exports = service.evidence_dir(settings) / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    dest = exports / f"{uuid.uuid4()}.zip"
    try:
        await in_thread(
            lambda: write_bundle(dest, video_path=path, manifest=manifest), "clip-bundle"
        )
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return FileResponse(
        dest,
        media_type="application/zip",
        filename=f"evidence_{video_name(clip).removesuffix('.mp4')}.zip",
        background=BackgroundTask(dest.unlink, missing_ok=True),
    )
