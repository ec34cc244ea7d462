"""``safezone camera ...``: camera registry commands for the command line."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from safezone.i18n import translate
from safezone.settings import get_settings

if TYPE_CHECKING:
    from safezone.cameras.import_service import ImportReport
    from safezone.db.engine import Database

camera_app = typer.Typer(help="Manage the camera registry.", no_args_is_help=True)

EXIT_ROWS_FAILED = 1
EXIT_BAD_FILE = 2


def _width(text: str) -> int:
    # Thai vowel and tone marks take no column of their own on a terminal.
    return sum(0 if unicodedata.combining(ch) or unicodedata.category(ch) == "Mn" else 1
               for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def format_report(report: ImportReport, lang: str, *, failed_only: bool = False) -> str:
    """The report as a plain-text table, one line per row, then the totals."""
    from safezone.cameras.import_service import issue_dict

    sheet = report.sheet
    lines = [
        f"file: {report.filename} ({sheet.format}"
        + (f", {sheet.encoding}" if sheet.encoding else "")
        + f", header row {sheet.header_row})"
    ]
    if sheet.ignored:
        lines.append("ignored columns: " + ", ".join(sheet.ignored))
    shown = [r for r in report.results if r.outcome == "failed" or not failed_only]
    ids = [r.external_id or "" for r in shown]
    id_width = max([_width(i) for i in ids] + [len("external_id")])
    lines.append(f"{'row':>6}  {_pad('external_id', id_width)}  {'outcome':<9}  detail")
    for result in shown:
        if result.outcome == "failed":
            detail = "; ".join(issue_dict(i, lang)["message"] for i in result.issues)
        else:
            detail = ", ".join(result.changed)
        lines.append(f"{result.row:>6}  {_pad(result.external_id or '', id_width)}  "
                     f"{result.outcome:<9}  {detail}".rstrip())
    c = report.counts
    total = (f"{c['rows']} rows: {c['created']} created, {c['updated']} updated, "
             f"{c['unchanged']} unchanged, {c['failed']} failed")
    lines.append(total + (" (dry run: nothing written)" if report.dry_run else ""))
    return "\n".join(lines)


@camera_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX camera list.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and report; write nothing.")
    ] = False,
    owner: Annotated[
        str | None,
        typer.Option(help="Owner organisation (Thai or English name, or id) of new cameras "
                          "whose row names none."),
    ] = None,
    failed_only: Annotated[
        bool, typer.Option("--failed-only", help="List only the rows that failed.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import cameras: new external_ids are added, known ones updated; a row-by-row report.

    Exit status: 0 all rows fine, 1 some rows failed (the good ones are imported), 2 the file
    cannot be read.
    """
    # Imported here, not at the top: every other ``safezone`` command would pay for them.
    from safezone.cameras.bulk_import import ImportFileError, read_sheet
    from safezone.cameras.import_service import cli_principal, run_import
    from safezone.cli import _lang, fail, run_db  # the root CLI imports this module

    settings = get_settings()
    lang = _lang()
    try:
        if file.stat().st_size > settings.camera_import_max_bytes:
            max_mb = round(settings.camera_import_max_bytes / 2**20, 1)
            raise fail(translate("problem.camera_import.too_large", lang, max_mb=max_mb),
                       EXIT_BAD_FILE)
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"{file}: {exc.strerror or exc}", EXIT_BAD_FILE) from None
    try:
        sheet = read_sheet(data, file.name, max_rows=settings.camera_import_max_rows)
    except ImportFileError as exc:
        message = translate(f"problem.camera_import.{exc.code}", lang, **exc.params)
        raise fail(message, EXIT_BAD_FILE) from None

    async def job(db: Database) -> ImportReport:
        return await run_import(db, sheet=sheet, filename=file.name, who=cli_principal(),
                                settings=settings, dry_run=dry_run, default_owner=owner)

    try:
        report = run_db(settings, job)
    except ImportFileError as exc:  # --owner names no single organisation
        message = translate(f"problem.camera_import.{exc.code}", lang, **exc.params)
        raise fail(message, EXIT_BAD_FILE) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict(lang), ensure_ascii=False, indent=1))
    else:
        typer.echo(format_report(report, lang, failed_only=failed_only))
    if report.counts["failed"]:
        raise typer.Exit(EXIT_ROWS_FAILED)
