"""Every string of the site has its English translation (Chinese is the source language)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

PO = Path(__file__).resolve().parents[1] / "web/translations/en/LC_MESSAGES/messages.po"


def test_every_message_is_translated():
    with PO.open("rb") as fh:
        catalog = read_po(fh)
    untranslated = [m.id for m in catalog if m.id and not m.string]
    assert untranslated == []
