"""The demo's generated recordings: catalogued, labelled, with lyrics and copies (real media)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from library.catalogue.recordings import get_recording
from library.db import open_database
from library.models import Recording
from library.settings import load_config

ROOT = Path(__file__).resolve().parent.parent


def _demo():
    spec = importlib.util.spec_from_file_location(
        "demo_catalogue", ROOT / "scripts" / "demo_catalogue.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_demo_catalogues_labelled_recordings_with_lyrics_and_copies(capsys):
    demo = _demo()
    assert demo.main([]) == 0
    assert "added 3" in capsys.readouterr().out
    config = load_config(dict(os.environ))
    db = open_database(config.database_url_resolved)
    with db.session() as session:
        ids = session.scalars(select(Recording.id)).all()
        assert len(ids) == 3
        for rid in ids:
            rec = get_recording(session, rid)
            titles = [t.value for t in rec.texts if t.field == "title"]
            assert all("生成" in t for t in titles) and "generated test material" in rec.notes
            kinds = {f.kind for f in rec.files}
            assert {"original", "web", "loudspeaker", "waveform", "peaks"} <= kinds
        song = [get_recording(session, r) for r in ids]
        tracks = [t for r in song for t in r.tracks]
        assert len(tracks) == 1 and tracks[0].lines
    # A second run adds nothing and fails on nothing.
    assert demo.main([]) == 0
    assert "added 0" in capsys.readouterr().out
