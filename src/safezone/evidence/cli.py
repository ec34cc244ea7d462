"""``safezone evidence``: verify an exported bundle, purge expired clips."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.audit.service import verify as verify_chain
from safezone.db.engine import Database
from safezone.evidence.bundle import Report, verify_bundle
from safezone.evidence.workers import run_purge
from safezone.settings import get_settings

evidence_app = typer.Typer(help="Evidence clips: verify bundles, purge.", no_args_is_help=True)


@evidence_app.command("verify")
def verify(
    bundle: Annotated[
        Path, typer.Argument(exists=True, help="Bundle zip, or the folder it was extracted to.")
    ],
    chain: Annotated[
        bool,
        typer.Option(
            "--chain",
            help="Also confirm the custody entries are in this server's audit chain, intact.",
        ),
    ] = False,
) -> None:
    """Check every hash in an evidence bundle; exit 0 when all match, 1 otherwise."""
    report = verify_bundle(bundle)
    if chain and report.ok:
        _check_against_chain(report)
    for line in report.lines:
        typer.echo(line)
    if report.ok:
        typer.secho(f"bundle verified: {bundle}", fg=typer.colors.GREEN)
        return
    typer.secho(f"bundle FAILED verification: {bundle}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


def _check_against_chain(report: Report) -> None:
    from safezone.cli import run_db

    async def job(db: Database) -> tuple[bool, str | None, set[str]]:
        async with db.session() as session:
            verdict = await verify_chain(session)
            found = set(
                (
                    await session.scalars(
                        select(AuditEntry.hash).where(AuditEntry.hash.in_(report.custody_hashes))
                    )
                ).all()
            )
        return verdict.ok, verdict.reason, found

    ok, reason, found = run_db(get_settings(), job)
    if ok:
        report.good("the server's audit chain is intact")
    else:
        report.bad(f"the server's audit chain is broken: {reason}")
    missing = [h for h in report.custody_hashes if h not in found]
    if missing:
        report.bad(f"{len(missing)} custody entries are not in the server's audit chain")
    else:
        report.good("every custody entry is in the server's audit chain")


@evidence_app.command("purge")
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be purged; change nothing.")
    ] = False,
) -> None:
    """Delete clips past retention (kept while their incident is open); rows stay, marked."""
    from safezone.cli import run_db

    settings = get_settings()

    async def job(db: Database) -> list[tuple[str, str, str]]:
        clips = await run_purge(db, settings, dry_run=dry_run)
        return [
            (c.id, c.camera_code, c.retain_until.isoformat() if c.retain_until else "-")
            for c in clips
        ]

    rows = run_db(settings, job)
    verb = "would purge" if dry_run else "purged"
    for clip_id, code, until in rows:
        typer.echo(f"{verb} {clip_id}  camera {code}  retained until {until}")
    typer.echo(f"{len(rows)} clip(s) {verb}")
