"""Catalogue search: Chinese without spaces, Traditional/Simplified, Dong tones, filters, leaks."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from library.access import Viewer
from library.models import Recording, RecordingText, TextLine, TextTrack
from library.search import fold_dong, fold_zh, index_recording, rebuild_index, search
from tests.test_access import VIEWERS, build_catalogue, catalogue_database

ADMIN = Viewer("admin")


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """The shared catalogue, read-only for the tests using it."""
    return catalogue_database(tmp_path_factory.mktemp("search"))


def _found(catalogue, query: str, viewer: Viewer = ADMIN, **filters) -> list[str]:  # noqa: ANN001
    """The catalogue keys of the recordings found, best first."""
    database, ids = catalogue
    names = {v: k for k, v in ids.items()}
    with database.session() as session:
        return [names[h.recording_id] for h in search(session, query, viewer, **filters)]


@pytest.mark.parametrize(
    ("text_in", "folded"),
    [
        pytest.param("規約", "规约", id="traditional"),
        pytest.param("规约", "规约", id="simplified"),
        pytest.param("ＫＧＡＬ　１", "kgal 1", id="full-width"),
    ],
)
def test_fold_zh(text_in, folded):
    assert fold_zh(text_in) == folded


@pytest.mark.parametrize(
    ("text_in", "folded"),
    [
        pytest.param("Kgal Laox", "ga lao", id="tone-letters"),
        pytest.param("Ga Lao", "ga lao", id="no-tone-letters"),
        pytest.param("Gā Lǎo", "ga lao", id="accents"),
        pytest.param("nyenc", "nyen", id="tone-c"),
        pytest.param("gang", "gang", id="coda-ng-kept"),
        pytest.param("x", "x", id="lone-letter-kept"),
        pytest.param("大歌 Kgal", "大歌 ga", id="mixed-scripts"),
    ],
)
def test_fold_dong(text_in, folded):
    assert fold_dong(text_in) == folded


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("防火", ["fire", "rules"], id="zh-short-like"),
        pytest.param("寨子防火歌", ["fire"], id="zh-whole-title"),
        pytest.param("防火歌", ["fire", "rules"], id="zh-match"),
        pytest.param("規約", ["rules"], id="traditional-finds-simplified-like"),
        pytest.param("規約歌", ["rules"], id="traditional-finds-simplified-match"),
        pytest.param("鼓楼对歌", ["other-village", "rules"], id="simplified-finds-traditional"),
        pytest.param("Kgal Laox", ["fire"], id="dong-with-tones"),
        pytest.param("Ga Lao", ["fire"], id="dong-without-tones"),
        pytest.param("kgal", ["fire"], id="dong-one-syllable"),
        pytest.param("ＫＧＡＬ", ["fire"], id="dong-full-width"),
        pytest.param('"ga lao"', ["fire"], id="dong-phrase"),
        pytest.param("gang", ["village"], id="dong-whole-syllable"),
        pytest.param("吴秀梅", ["fire"], id="performer-zh"),
        pytest.param("Wu Xiumei", ["fire"], id="performer-kmc"),
        pytest.param("肇兴镇", ["fire"], id="township"),
        pytest.param("高增", ["other-village", "rules"], id="village"),
        pytest.param("新米节", ["fire"], id="occasion"),
        pytest.param("消防", ["fire"], id="tag"),
        pytest.param("大歌", ["fire"], id="genre-name"),
        pytest.param("鼓楼前", ["fire"], id="notes"),
        pytest.param("鸣锣 火塘", ["fire"], id="lyrics-terms-anded"),
        pytest.param("鸣锣 高增", [], id="terms-anded-across-recordings"),
        pytest.param("防火 Kgal", ["fire"], id="terms-anded-across-columns"),
        pytest.param("无此歌", [], id="nothing"),
        pytest.param("100%_", [], id="like-wildcards-escaped"),
    ],
)
def test_search_finds(catalogue, query, expected):
    assert sorted(_found(catalogue, query)) == sorted(expected)


def test_short_latin_term_matches_whole_syllables(catalogue):
    # "ga" is the key of "Kgal"; it must not find "Gang" as a substring would.
    assert _found(catalogue, "ga") == ["fire"]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        pytest.param("防火歌", "fire", id="match-title-above-notes"),
        pytest.param("防火", "fire", id="like-title-above-notes"),
    ],
)
def test_ranking_puts_titles_first(catalogue, query, first):
    found = _found(catalogue, query)
    assert found[0] == first and len(found) == 2


def test_hit_carries_titles_snippet_and_rank(catalogue):
    database, ids = catalogue
    with database.session() as session:
        (hit,) = search(session, "火塘", Viewer.PUBLIC)
    assert hit.recording_id == ids["fire"]
    assert hit.title == "寨子防火歌 / Kgal Laox"
    assert "[火塘]" in hit.snippet
    assert hit.rank < 0


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param({"genre": "大歌"}, ["fire"], id="genre-zh"),
        pytest.param({"genre": "Kgal Laox"}, ["fire"], id="genre-kmc"),
        pytest.param({"genre": "lanlu"}, ["village"], id="genre-key"),
        pytest.param({"village": "高增"}, ["other-village", "rules"], id="village"),
        pytest.param({"date_from": 2019, "date_to": 2020}, ["fire", "restricted"], id="dates"),
        pytest.param({"date_to": 2015}, ["other-village", "rules"], id="date-to"),
        pytest.param({"has_lyrics": True}, ["fire", "village", "restricted"], id="has-lyrics"),
        pytest.param({"has_lyrics": False}, ["other-village", "nowhere", "rules"], id="no-lyrics"),
        pytest.param({"protocol": "restricted"}, ["restricted"], id="protocol"),
        pytest.param({"clause_key": "yanjiao-1"}, ["fire"], id="clause"),
        pytest.param({"genre": "大歌", "date_from": 2020}, [], id="filters-anded"),
    ],
)
def test_filters(catalogue, filters, expected):
    assert sorted(_found(catalogue, "", **filters)) == sorted(expected)


def test_filters_combine_with_a_query(catalogue):
    assert sorted(_found(catalogue, "鼓楼", village="高增")) == ["other-village", "rules"]
    assert _found(catalogue, "鼓楼", village="岩脚") == ["fire"]


# --- access leaks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "allowed"),
    [
        # The restricted recording's own title, by MATCH and by LIKE.
        pytest.param("祭萨歌", {"steward-yang", "admin"}, id="restricted-title"),
        pytest.param("祭萨", {"steward-yang", "admin"}, id="restricted-title-short"),
        # Words only in the (public) lyrics track of the restricted recording.
        pytest.param("萨岁神坛", {"steward-yang", "admin"}, id="restricted-recording-lyrics"),
        # Words only in the restricted track of a public recording.
        pytest.param("祖公秘语", {"steward-wu-yanjiao", "admin"}, id="restricted-track"),
        pytest.param("秘语", {"steward-wu-yanjiao", "admin"}, id="restricted-track-short"),
        # Words only in the village track of a public recording.
        pytest.param(
            "寨内传唱",
            {"resident-yanjiao", "device-yanjiao", "steward-wu-yanjiao", "admin"},
            id="village-track",
        ),
        # A village recording of 岩脚 and of 高增.
        pytest.param(
            "拦路歌",
            {"resident-yanjiao", "device-yanjiao", "steward-wu-yanjiao", "admin"},
            id="village-recording",
        ),
        pytest.param("高增酒歌", {"resident-gaozeng", "admin"}, id="other-village-recording"),
        # A village recording with no village is nobody's but the admin's.
        pytest.param("无村之歌", {"admin"}, id="village-without-village"),
    ],
)
@pytest.mark.parametrize("who", [pytest.param(k, id=k) for k in VIEWERS])
def test_search_never_leaks(catalogue, query, allowed, who):
    found = _found(catalogue, query, VIEWERS[who])
    assert bool(found) == (who in allowed), found


@pytest.mark.parametrize("who", [pytest.param(k, id=k) for k in VIEWERS])
def test_filters_do_not_reveal_hidden_tracks(catalogue, who):
    # The restricted recording's lyrics must not count for "has lyrics" unless visible.
    found = set(_found(catalogue, "", VIEWERS[who], has_lyrics=True))
    assert ("restricted" in found) == (who in {"steward-yang", "admin"})
    assert "nowhere" not in found


def test_snippets_come_from_visible_text_only(catalogue):
    database, _ = catalogue
    with database.session() as session:
        hits = search(session, "防火歌", Viewer.PUBLIC) + search(session, "火", Viewer.PUBLIC)
    assert hits
    assert not any("秘语" in h.snippet or "寨内" in h.snippet for h in hits)


def test_a_naive_rowid_join_sees_no_track_text(catalogue):
    # Anyone querying the index by hand joins rowid to recording.id: track rows never join.
    database, _ = catalogue
    with database.session() as session:
        rows = session.execute(
            text(
                "SELECT recording.id FROM recording_fts JOIN recording"
                " ON recording.id = recording_fts.rowid WHERE recording_fts MATCH '\"祖公秘语\"'"
            )
        ).all()
    assert rows == []


# --- keeping the index current ---------------------------------------------------------------


def test_reindex_follows_changes_and_deletions(db):
    with db.session() as session:
        ids = build_catalogue(session)
        for recording_id in ids.values():
            index_recording(session, recording_id)
        rec = session.get(Recording, ids["fire"])
        next(t for t in rec.texts if t.lang == "zh-Hans").value = "新的标题"
        rec.tracks.pop(0)  # the public lyrics
        rec.tracks.append(
            TextTrack(
                kind="lyrics",
                lang="zh-Hans",
                format="plain",
                protocol="public",
                lines=[TextLine(position=0, text="补录的歌词")],
            )
        )
        session.flush()
        index_recording(session, rec.id)
        assert search(session, "寨子防火歌", ADMIN) == []
        assert search(session, "火塘", ADMIN) == []
        assert [h.recording_id for h in search(session, "新的标题", ADMIN)] == [rec.id]
        assert [h.recording_id for h in search(session, "补录的", Viewer.PUBLIC)] == [rec.id]

        session.delete(rec)
        session.flush()
        index_recording(session, ids["fire"])
        assert search(session, "祖公秘语", ADMIN) == []
        count = session.scalar(text("SELECT count(*) FROM recording_fts"))
        assert count == rebuild_index(session) + 2  # the remaining tracks with lines


def test_index_sees_rows_added_without_the_relationship(db):
    with db.session() as session:
        ids = build_catalogue(session)
        session.add(
            RecordingText(
                recording_id=ids["rules"], field="title", lang="kmc-Latn", value="Kgal Xaih"
            )
        )
        session.flush()
        index_recording(session, ids["rules"])
        assert [h.recording_id for h in search(session, "xaih", ADMIN)] == [ids["rules"]]
        assert session.scalar(select(Recording.id).where(Recording.id == ids["rules"]))
