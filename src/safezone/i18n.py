"""Thai-first translations for the UI and for API error messages.

Catalogues are flat JSON files (``web/i18n/{lang}.json``) so translators can edit them without
touching code. A missing Thai string falls back to English, then to the key itself.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

Lang = Literal["th", "en"]
LANGUAGES: tuple[Lang, ...] = ("th", "en")
BANGKOK = ZoneInfo("Asia/Bangkok")
_CATALOGUES = Path(__file__).parent / "web" / "i18n"

TH_MONTHS_ABBR = (
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
)


@lru_cache
def catalogue(lang: str) -> dict[str, str]:
    """The translation table of one language."""
    path = _CATALOGUES / f"{lang}.json"
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def translate(key: str, lang: str, /, **params: Any) -> str:
    """The text for ``key`` in ``lang`` with ``{name}`` placeholders filled in."""
    text = catalogue(lang).get(key) or catalogue("en").get(key) or key
    if not params:
        return text
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        # A translator's typo in a placeholder must not turn an error message into a crash.
        return text


def negotiate(
    accept_language: str | None, *, cookie: str | None = None, default: Lang = "th"
) -> Lang:
    """Pick the language: an explicit cookie wins, then the best Accept-Language match."""
    if cookie in LANGUAGES:
        return cookie
    if not accept_language:
        return default
    best: tuple[float, Lang] | None = None
    for part in accept_language.split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, q = piece.partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and (best is None or weight > best[0]):
            best = (weight, primary)
    return best[1] if best else default


def format_datetime(value: datetime | None, lang: str, *, with_time: bool = True) -> str:
    """Show a UTC time in Asia/Bangkok; the Thai UI counts years in the Buddhist era (พ.ศ.)."""
    if value is None:
        return "–"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(BANGKOK)
    if lang == "th":
        text = f"{local.day} {TH_MONTHS_ABBR[local.month - 1]} {local.year + 543}"
    else:
        text = local.strftime("%d %b %Y").lstrip("0")
    if with_time:
        text += local.strftime(" %H:%M")
    return text


def format_date(value: date, lang: str) -> str:
    """A calendar date, Buddhist era in Thai."""
    if lang == "th":
        return f"{value.day} {TH_MONTHS_ABBR[value.month - 1]} {value.year + 543}"
    return value.strftime("%d %b %Y").lstrip("0")
