"""The one access filter: SQL and Python agree, nothing restricted leaks, consent is honoured."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from library.access import (
    Viewer,
    broadcastable,
    broadcastable_clause,
    can_see,
    can_see_track,
    query_recordings,
    visible_recordings,
    visible_tracks,
)
from library.db import Database, open_database
from library.models import (
    ClauseSpan,
    Consent,
    Genre,
    Performer,
    Recording,
    RecordingPerformer,
    RecordingText,
    Steward,
    TextLine,
    TextTrack,
)

YANJIAO, GAOZENG = "岩脚", "高增"

VIEWERS = {
    "public": Viewer.PUBLIC,
    "resident-yanjiao": Viewer("resident", village=YANJIAO),
    "device-yanjiao": Viewer("device", village=YANJIAO),
    "resident-gaozeng": Viewer("resident", village=GAOZENG),
    "resident-no-village": Viewer("resident"),
    "steward-yang": Viewer("steward", name="杨老师"),
    "steward-wu-yanjiao": Viewer("steward", village=YANJIAO, name="吴老"),
    "steward-stranger": Viewer("steward", name="陌生人"),
    "admin": Viewer("admin"),
}


def _track(kind: str, protocol: str, lang: str, *lines: str) -> TextTrack:
    """A plain text track with the given lines."""
    return TextTrack(
        kind=kind,
        lang=lang,
        format="plain",
        protocol=protocol,
        lines=[TextLine(position=n, text=t) for n, t in enumerate(lines)],
    )


def _recording(session, *, titles: dict[str, str], genre: str | None = None, **fields) -> Recording:  # noqa: ANN001
    """A recording with language-tagged titles, added to the session."""
    genre_row = session.scalar(select(Genre).where(Genre.key == genre)) if genre else None
    rec = Recording(
        genre=genre_row,
        texts=[RecordingText(field="title", lang=lang, value=v) for lang, v in titles.items()],
        **fields,
    )
    session.add(rec)
    return rec


def build_catalogue(session) -> dict[str, int]:  # noqa: ANN001
    """The shared test catalogue: every protocol, tracks of every protocol, consent, stewards."""
    wu = Performer(name="吴秀梅", name_kmc="Wu Xiumei", village=YANJIAO)
    recs = {
        "fire": _recording(
            session,
            titles={"zh-Hans": "寨子防火歌", "kmc-Latn": "Kgal Laox"},
            genre="kgal-laox",
            protocol="public",
            village=YANJIAO,
            township="肇兴镇",
            date_year=2019,
            occasion="新米节",
            tags=["消防"],
            notes="鼓楼前录制，村民齐唱",
            performers=[RecordingPerformer(performer=wu, role="lead")],
            tracks=[
                _track("lyrics", "public", "zh-Hans", "每晚鸣锣喊寨", "熄灭火塘"),
                _track("transcript", "village", "zh-Hans", "寨内传唱词"),
                _track("translation", "restricted", "zh-Hans", "祖公秘语不外传"),
            ],
            spans=[ClauseSpan(clause_key="yanjiao-1", start_s=80.0, end_s=125.0)],
            stewards=[Steward(name="吴老")],
            consents=[Consent(person="吴秀梅", scope="broadcast")],
        ),
        "village": _recording(
            session,
            titles={"zh-Hans": "拦路歌", "kmc-Latn": "Al Gang"},
            genre="lanlu",
            protocol="village",
            village=YANJIAO,
            date_year=2021,
            tracks=[_track("lyrics", "village", "zh-Hans", "拦路的歌词")],
        ),
        "other-village": _recording(
            session,
            titles={"zh-Hans": "高增酒歌"},
            genre="jiu",
            protocol="village",
            village=GAOZENG,
            date_year=2015,
            notes="鼓楼对歌",
        ),
        "restricted": _recording(
            session,
            titles={"zh-Hans": "祭萨歌"},
            protocol="restricted",
            village=YANJIAO,
            date_year=2020,
            stewards=[Steward(name="杨老师")],
            # A public track cannot open a restricted recording.
            tracks=[_track("lyrics", "public", "zh-Hans", "萨岁神坛之歌")],
            consents=[Consent(person="杨老师", scope="broadcast")],
        ),
        "nowhere": _recording(
            session, titles={"zh-Hans": "无村之歌"}, protocol="village", village=None
        ),
        "rules": _recording(
            session,
            titles={"zh-Hans": "规约歌"},
            protocol="public",
            village=GAOZENG,
            date_year=2010,
            notes="這首歌後來被改編為防火歌，鼓樓對歌",
        ),
    }
    session.flush()
    return {key: rec.id for key, rec in recs.items()}


def catalogue_database(folder) -> tuple[Database, dict[str, int]]:  # noqa: ANN001
    """A database in `folder` holding the shared catalogue, indexed for search."""
    from library.search import index_recording

    database = open_database(f"sqlite:///{folder}/k.db")
    with database.session() as session:
        ids = build_catalogue(session)
        for recording_id in ids.values():
            index_recording(session, recording_id)
    return database, ids


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """The shared catalogue, read-only for the tests using it."""
    return catalogue_database(tmp_path_factory.mktemp("access"))


# Who sees which recording: the rule of DESIGN.md "Access", written out by hand.
EXPECTED = {
    "public": {"fire", "rules"},
    "resident-yanjiao": {"fire", "rules", "village"},
    "device-yanjiao": {"fire", "rules", "village"},
    "resident-gaozeng": {"fire", "rules", "other-village"},
    "resident-no-village": {"fire", "rules"},
    "steward-yang": {"fire", "rules", "restricted"},
    "steward-wu-yanjiao": {"fire", "rules", "village"},
    "steward-stranger": {"fire", "rules"},
    "admin": {"fire", "rules", "village", "other-village", "restricted", "nowhere"},
}


@pytest.mark.parametrize("who", [pytest.param(k, id=k) for k in VIEWERS])
def test_query_recordings_matches_the_rule(catalogue, who):
    database, ids = catalogue
    names = {v: k for k, v in ids.items()}
    with database.session() as session:
        found = {names[r.id] for r in session.scalars(query_recordings(VIEWERS[who]))}
    assert found == EXPECTED[who]


@pytest.mark.parametrize("who", [pytest.param(k, id=k) for k in VIEWERS])
def test_can_see_agrees_with_sql(catalogue, who):
    database, ids = catalogue
    viewer = VIEWERS[who]
    with database.session() as session:
        in_sql = set(session.scalars(select(Recording.id).where(visible_recordings(viewer))))
        for rec in session.scalars(select(Recording)):
            assert can_see(viewer, rec) == (rec.id in in_sql), (who, rec.id)


@pytest.mark.parametrize("who", [pytest.param(k, id=k) for k in VIEWERS])
def test_can_see_track_agrees_with_sql(catalogue, who):
    database, _ = catalogue
    viewer = VIEWERS[who]
    with database.session() as session:
        in_sql = set(session.scalars(select(TextTrack.id).where(visible_tracks(viewer))))
        # The same clause gives the same answer when the caller joined the recording.
        joined = set(
            session.scalars(select(TextTrack.id).join(Recording).where(visible_tracks(viewer)))
        )
        assert joined == in_sql
        for track in session.scalars(select(TextTrack)):
            assert can_see_track(viewer, track) == (track.id in in_sql), (who, track.id)


@pytest.mark.parametrize(
    ("who", "protocols"),
    [
        pytest.param("public", {"public"}, id="public"),
        pytest.param("resident-yanjiao", {"public", "village"}, id="resident"),
        pytest.param("resident-gaozeng", {"public"}, id="other-village"),
        pytest.param("steward-wu-yanjiao", {"public", "village", "restricted"}, id="steward"),
        pytest.param("steward-yang", {"public"}, id="steward-of-another"),
    ],
)
def test_tracks_of_the_public_recording(catalogue, who, protocols):
    database, ids = catalogue
    with database.session() as session:
        seen = session.scalars(
            select(TextTrack.protocol).where(
                TextTrack.recording_id == ids["fire"], visible_tracks(VIEWERS[who])
            )
        )
        assert set(seen) == protocols


def test_a_public_track_of_a_restricted_recording_stays_hidden(catalogue):
    database, ids = catalogue
    with database.session() as session:
        query = select(TextTrack.id).where(TextTrack.recording_id == ids["restricted"])
        assert session.scalars(query.where(visible_tracks(Viewer.PUBLIC))).all() == []
        assert session.scalars(query.where(visible_tracks(VIEWERS["steward-yang"]))).all()


def test_unknown_viewer_kind_is_refused():
    with pytest.raises(ValueError, match="unknown viewer kind"):
        Viewer("superuser")


def _broadcast_ids(session) -> set[int]:  # noqa: ANN001
    return set(session.scalars(select(Recording.id).where(broadcastable_clause())))


def test_broadcastable_needs_consent_and_a_broadcast_protocol(catalogue):
    database, ids = catalogue
    with database.session() as session:
        # "restricted" has broadcast consent but is restricted; "village" has no consent.
        assert _broadcast_ids(session) == {ids["fire"]}
        for rec in session.scalars(select(Recording)):
            assert broadcastable(rec) == (rec.id == ids["fire"])


def test_withdrawing_consent_takes_a_recording_off_air_at_once(db):
    with db.session() as session:
        ids = build_catalogue(session)
        rec = session.get(Recording, ids["fire"])
        assert broadcastable(rec) and ids["fire"] in _broadcast_ids(session)
        rec.consents[0].withdrawn_at = datetime.now(UTC)
        session.flush()
        assert not broadcastable(rec)
        assert ids["fire"] not in _broadcast_ids(session)


@pytest.mark.parametrize(
    ("consents", "expected"),
    [
        pytest.param([("a", "archive", False), ("a", "stream", False)], False, id="no-broadcast"),
        pytest.param([("a", "broadcast", True)], False, id="withdrawn"),
        pytest.param([("a", "broadcast", False), ("b", "broadcast", False)], True, id="two"),
        pytest.param(
            [("a", "broadcast", False), ("b", "broadcast", True)], False, id="one-of-two-withdrew"
        ),
        pytest.param([("a", "broadcast", True), ("a", "broadcast", False)], True, id="given-again"),
    ],
)
def test_broadcast_rule(db, consents, expected):
    with db.session() as session:
        rec = _recording(
            session,
            titles={"zh-Hans": "歌"},
            protocol="public",
            consents=[
                Consent(person=p, scope=s, withdrawn_at=datetime.now(UTC) if gone else None)
                for p, s, gone in consents
            ],
        )
        session.flush()
        assert broadcastable(rec) is expected
        assert (rec.id in _broadcast_ids(session)) is expected


def test_restricting_a_recording_takes_it_out_at_once(db):
    with db.session() as session:
        ids = build_catalogue(session)
        rec = session.get(Recording, ids["fire"])
        rec.protocol = "restricted"
        session.flush()
        assert ids["fire"] not in _broadcast_ids(session)
        assert ids["fire"] not in set(session.scalars(query_recordings(Viewer.PUBLIC)).all())
