"""Recording metadata: dates with precision, performers and roles, genres, consent, clause links."""

from __future__ import annotations

import pytest

from library.catalogue.recordings import (
    RecordingMeta,
    add_consent,
    apply_meta,
    format_date,
    get_recording,
    link_clause,
    parse_date,
    parse_performer,
    parse_timecode,
    title,
    withdraw_consent,
)
from library.errors import LibraryError
from library.models import MediaFile, Recording


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2019", (2019, None, None), id="year"),
        pytest.param("2019-07", (2019, 7, None), id="month"),
        pytest.param("2019-07-14", (2019, 7, 14), id="day"),
        pytest.param("2019年7月", (2019, 7, None), id="chinese-month"),
        pytest.param("2019.7.14", (2019, 7, 14), id="dots"),
    ],
)
def test_dates_keep_their_precision(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("19", "YYYY"),
        ("yesterday", "YYYY"),
        ("2019-13", "invalid date"),
        ("2019-02-30", "invalid date"),
    ],
)
def test_bad_dates_are_refused(text, message):
    with pytest.raises(LibraryError, match=message):
        parse_date(text)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("吴培三:lead", ("吴培三", "lead"), id="ascii-colon"),
        pytest.param("杨秀珠：chorus", ("杨秀珠", "chorus"), id="fullwidth-colon"),
        pytest.param("石老", ("石老", "lead"), id="default-lead"),
        pytest.param("Wu Peisan: Musician", ("Wu Peisan", "musician"), id="case"),
    ],
)
def test_performer_specs(spec, expected):
    assert parse_performer(spec) == expected


def test_unknown_role_lists_the_roles():
    with pytest.raises(LibraryError, match="lead, chorus, musician, actor, recorder"):
        parse_performer("某人:singer")


@pytest.mark.parametrize(("text", "seconds"), [("01:20", 80), ("1:02:05", 3725), ("80.5", 80.5)])
def test_timecodes(text, seconds):
    assert parse_timecode(text) == seconds


def make_recording(session, duration=125.0):
    recording = Recording()
    session.add(recording)
    recording.files.append(
        MediaFile(
            kind="original",
            sha256="a" * 64,
            store_path="aa/a.m4a",
            mime="audio/mp4",
            size=1,
            duration_s=duration,
        )
    )
    session.flush()
    return recording


def test_metadata_is_applied_and_shown(db):
    with db.session() as session:
        recording = make_recording(session)
        apply_meta(
            session,
            recording,
            RecordingMeta(
                titles={"zh-Hans": "防火歌", "kmc-Latn": "Kgal Laox"},
                genre="大歌",
                village="榕溪村",
                date="2019-07",
                performers=[("吴培三", "lead"), ("杨秀珠", "chorus")],
                tags=["防火", "防火"],
                protocol="public",
            ),
        )
        rid = recording.id
    with db.session() as session:
        r = get_recording(session, rid)
        assert title(r) == "防火歌" and title(r, "kmc-Latn") == "Kgal Laox"
        assert r.genre.key == "kgal-laox" and r.discourse == "song"
        assert format_date(r) == "2019-07" and r.tags == ["防火"]
        assert {(p.performer.name, p.role) for p in r.performers} == {
            ("吴培三", "lead"),
            ("杨秀珠", "chorus"),
        }


def test_unknown_genre_and_language_are_explained(db):
    with db.session() as session:
        recording = make_recording(session)
        with pytest.raises(LibraryError, match="大歌"):
            apply_meta(session, recording, RecordingMeta(genre="摇滚"))
        with pytest.raises(LibraryError, match="zh-Hans, kmc-Latn, doc-Latn"):
            apply_meta(session, recording, RecordingMeta(titles={"fr": "chanson"}))


def test_consent_is_recorded_and_withdrawn(db):
    with db.session() as session:
        recording = make_recording(session)
        add_consent(session, recording, "吴培三", "broadcast", given_on="2024-05-01")
        add_consent(session, recording, "吴培三", "stream")
        assert withdraw_consent(session, recording, "吴培三", "broadcast") == 1
        assert [c.withdrawn_at is None for c in recording.consents] == [False, True]
        with pytest.raises(LibraryError, match="no consent"):
            withdraw_consent(session, recording, "没人")
        with pytest.raises(LibraryError, match="archive, stream, broadcast"):
            add_consent(session, recording, "吴培三", "sell")


def test_links_need_a_real_clause_and_a_span_inside_the_recording(db, tmp_path):
    from library.covenants.versions import import_covenant
    from tests.conftest import SMALL_COVENANT

    source = tmp_path / "c.txt"
    source.write_text(SMALL_COVENANT, encoding="utf-8")
    import_covenant(db, source)
    with db.session() as session:
        recording = make_recording(session)
        span = link_clause(session, recording, "yanjiaocun-01", 80, 125)
        assert (span.start_s, span.end_s, span.relation) == (80, 125, "teaches")
        with pytest.raises(LibraryError, match="no clause"):
            link_clause(session, recording, "nowhere-01", 0, 10)
        with pytest.raises(LibraryError, match="invalid"):
            link_clause(session, recording, "yanjiaocun-01", 100, 200)
        with pytest.raises(LibraryError, match="invalid"):
            link_clause(session, recording, "yanjiaocun-01", 30, 20)


def test_the_genre_list_can_grow_and_be_renamed(db):
    from library.catalogue.recordings import find_genre, save_genre

    with db.session() as session:
        save_genre(session, "new-genre", "新曲种")
        assert find_genre(session, "新曲种").key == "new-genre"
        save_genre(session, "new-genre", "改名曲种", "Dong name", "drama")
        genre = find_genre(session, "new-genre")
        assert (genre.name_zh, genre.name_kmc, genre.discourse) == (
            "改名曲种",
            "Dong name",
            "drama",
        )
        with pytest.raises(LibraryError, match="genre key"):
            save_genre(session, "Bad Key", "坏")


def test_near_duplicates_wait_for_a_person_and_nothing_is_deleted(db):
    from library.catalogue.recordings import decide_near_duplicate, near_duplicates
    from library.models import NearDuplicate

    with db.session() as session:
        a, b = make_recording(session), make_recording(session)
        session.add(NearDuplicate(file_a_id=a.files[0].id, file_b_id=b.files[0].id, similarity=0.9))
        session.flush()
        (pair,) = near_duplicates(session)
        decide_near_duplicate(session, pair.id, "same")
        assert (
            near_duplicates(session) == []
            and near_duplicates(session, pending_only=False)[0].decision == "same"
        )
        assert session.get(Recording, a.id) and session.get(Recording, b.id)
        with pytest.raises(LibraryError, match="same or different"):
            decide_near_duplicate(session, pair.id, "merge")
