"""The search index follows every write through the library, with no reindex by hand."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from library.access import Viewer
from library.catalogue.lyrics import attach_track
from library.catalogue.recordings import RecordingMeta, apply_meta, find_genre, save_genre
from library.models import Performer, Recording
from library.search import rebuild_index, search

ADMIN = Viewer("admin")


def _found(db, query: str, viewer: Viewer = ADMIN) -> list[int]:  # noqa: ANN001
    with db.session() as session:
        return [h.recording_id for h in search(session, query, viewer)]


def _index_rows(session) -> list[tuple]:  # noqa: ANN001
    return session.execute(text("SELECT rowid, * FROM recording_fts ORDER BY rowid")).all()


@pytest.fixture
def recording(db) -> int:
    """A village recording catalogued the way ingest does it: a new row, then its metadata."""
    with db.session() as session:
        rec = Recording(village="岩脚村", protocol="village")
        session.add(rec)
        apply_meta(
            session,
            rec,
            RecordingMeta(
                titles={"zh-Hans": "寨子防火歌"}, genre="大歌", performers=[("吴培三", "lead")]
            ),
        )
    return rec.id


def test_edits_through_the_library_are_found_at_once(db, recording, tmp_path):
    assert _found(db, "防火歌") == [recording]

    # A title edit replaces the old words and adds the new ones, Dong included.
    with db.session() as session:
        apply_meta(
            session,
            recording,
            RecordingMeta(titles={"zh-Hans": "鼓楼夜歌", "kmc-Latn": "Kgal Laox"}),
        )
    assert _found(db, "防火歌") == []
    assert _found(db, "鼓楼夜歌") == [recording]
    assert _found(db, "Ga Lao") == [recording]

    # A new lyrics track: its words are found at once, by those who may read it.
    lyrics = tmp_path / "夜歌.lrc"
    lyrics.write_text("[00:01.00]熄灭火塘要小心\n", encoding="utf-8")
    with db.session() as session:
        attach_track(session, recording, lyrics, kind="lyrics", lang="zh-Hans", protocol="public")
    assert _found(db, "熄灭火塘") == [recording]
    assert _found(db, "熄灭火塘", Viewer.PUBLIC) == []  # the recording is still village-only

    # A protocol change opens the recording, and its public lyrics, to the public.
    with db.session() as session:
        apply_meta(session, recording, RecordingMeta(protocol="public"))
    assert _found(db, "熄灭火塘", Viewer.PUBLIC) == [recording]
    assert _found(db, "鼓楼夜歌", Viewer.PUBLIC) == [recording]

    # A genre renamed in the controlled list renames it in every recording's row.
    with db.session() as session:
        key = find_genre(session, "大歌").key
        save_genre(session, key, "侗族大歌（新名）", "Kgal Laox")
    assert _found(db, "新名") == [recording]

    # A performer's name corrected once is corrected wherever they sing.
    with db.session() as session:
        performer = session.query(Performer).filter_by(name="吴培三").one()
        performer.name = "吴培山"
    assert _found(db, "吴培山") == [recording]
    assert _found(db, "吴培三") == []

    # What the hooks kept up is exactly what a rebuild writes.
    with db.session() as session:
        kept = _index_rows(session)
        rebuild_index(session)
        assert _index_rows(session) == kept


def test_the_index_rolls_back_with_the_edit(db, recording):
    with pytest.raises(RuntimeError), db.session() as session:
        apply_meta(session, recording, RecordingMeta(titles={"zh-Hans": "半途而废的标题"}))
        session.flush()
        assert [h.recording_id for h in search(session, "半途而废", ADMIN)] == [recording]
        raise RuntimeError("the edit fails after the flush")
    assert _found(db, "半途而废") == []
    assert _found(db, "防火歌") == [recording]


def test_a_deleted_recording_leaves_no_rows(db, recording, tmp_path):
    lyrics = tmp_path / "a.txt"
    lyrics.write_text("一行歌词\n", encoding="utf-8")
    with db.session() as session:
        attach_track(session, recording, lyrics, kind="lyrics", lang="zh-Hans")
    with db.session() as session:
        assert len(_index_rows(session)) == 2  # the recording's row and its track's
        session.delete(session.get(Recording, recording))
    with db.session() as session:
        assert _index_rows(session) == []
