"""docs/configuration.md lists every setting exactly as the code defines it."""

from __future__ import annotations

from pathlib import Path

from safezone.settings import Settings, settings_markdown

DOC = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_configuration_doc_is_in_sync() -> None:
    assert DOC.read_text(encoding="utf-8") == settings_markdown(), (
        "docs/configuration.md is stale: run `make docs`"
    )


def test_every_setting_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.title and field.description, f"setting {name} lacks a title or description"
