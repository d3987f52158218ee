"""Changing the programme: stored reels, playlist items removed and moved, playlists listed
and deleted, device fallbacks, schedules edited and deleted, and the timeline's reasons."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.test_programme import DAY, _clauses, _day_items, _recording, _village_and_device

# --- stored reels -------------------------------------------------------------------------


@pytest.fixture
def fake_reels(monkeypatch) -> list[dict]:
    """`make_reel` without media work: writes two small files and records what it was asked."""
    from media_pipeline.recordings import reel as pipeline

    calls: list[dict] = []

    def make_reel(card, excerpt, lyrics, out_mp4, out_mp3, **kwargs):  # noqa: ANN001, ANN202
        calls.append({"card": card, "excerpt": excerpt, "lyrics": list(lyrics)})
        Path(out_mp4).write_bytes(b"mp4 " + str(out_mp4).encode())
        Path(out_mp3).write_bytes(b"mp3 " + str(out_mp3).encode())
        return pipeline.ReelResult(Path(out_mp4), Path(out_mp3), 12.5)

    monkeypatch.setattr(pipeline, "make_reel", make_reel)
    return calls


def _reel_source(db, key: str, *, protocol: str = "village") -> int:  # noqa: ANN001
    """A recording of 榕溪村 that sings clause `key` (4–9 s), with a broadcast consent, a
    public and a restricted lyrics track, and the clause's screen video."""
    from library.broadcast.programme import newest_clause
    from library.models import (
        ClauseSpan,
        Consent,
        MediaFile,
        Recording,
        RecordingText,
        SegmentFile,
        TextLine,
        TextTrack,
    )

    def file(kind: str, char: str, mime: str) -> MediaFile:
        return MediaFile(
            kind=kind, sha256=char * 64, store_path=f"{char}/{char}.m4a", mime=mime, size=10,
            duration_s=30.0,
        )  # fmt: skip

    def track(protocol: str, text: str) -> TextTrack:
        line = TextLine(position=1, start_s=5.0, end_s=7.0, text=text)
        return TextTrack(
            kind="lyrics", lang="zh-Hans", format="lrc", protocol=protocol, lines=[line]
        )

    with db.session() as session:
        rec = Recording(
            protocol=protocol,
            village="榕溪村",
            texts=[RecordingText(field="title", lang="zh-Hans", value="喊寨歌")],
            consents=[Consent(person="吴秀梅", scope="broadcast")],
            files=[file("original", "c", "audio/mp4"), file("web", "d", "audio/mp4")],
            spans=[ClauseSpan(clause_key=key, start_s=4.0, end_s=9.0)],
            tracks=[track("restricted", "秘密的歌词"), track("public", "公开的歌词")],
        )
        session.add(rec)
        clause = newest_clause(session, key)
        clause.segments[-1].files.append(
            SegmentFile(
                kind="video-16x9", sha256="f" * 64, store_path="f/card.mp4", mime="video/mp4",
                size=10, duration_s=10.0,
            )
        )  # fmt: skip
        session.flush()
        return rec.id


@pytest.fixture
def reel_library(db, runner, tmp_path, fake_reels) -> tuple[list[str], int]:
    """榕溪村 with its devices, the small covenant and a recording that sings clause 1."""
    _village_and_device(runner)
    keys = _clauses(db, tmp_path)
    return keys, _reel_source(db, keys[0])


def test_store_reel_stores_both_files_once(db, store, reel_library, fake_reels):
    from library.access import Viewer
    from library.catalogue.reels import store_reel
    from library.models import Reel

    keys, rec = reel_library
    heard = []
    reel_id = store_reel(db, store, keys[0], Viewer.ADMIN, planned=heard.append)
    assert [p.recording_id for p in heard] == [rec]
    with db.session() as session:
        reel = session.get(Reel, reel_id)
        assert (reel.clause_key, reel.recording_id) == (keys[0], rec)
        files = {f.kind: f for f in reel.files}
        assert set(files) == {"video", "audio-loudspeaker"}
        assert files["video"].mime == "video/mp4" and files["audio-loudspeaker"].duration_s == 12.5
        assert store.path(files["video"].store_path).read_bytes().startswith(b"mp4 ")
        assert store.path(files["audio-loudspeaker"].store_path).read_bytes().startswith(b"mp3 ")
    # The maker is an admin, but a stored reel plays to everyone: no restricted lyrics.
    assert [line.zh for line in fake_reels[0]["lyrics"]] == ["公开的歌词"]
    # Idempotent: the same reel again, by recording id too, without composing.
    assert store_reel(db, store, keys[0], Viewer.ADMIN, rec) == reel_id
    assert len(fake_reels) == 1


def test_store_reel_asks_the_access_rule_every_time(db, store, reel_library, fake_reels):
    from library.access import Viewer
    from library.catalogue.recordings import withdraw_consent
    from library.catalogue.reels import store_reel
    from library.errors import LibraryError

    keys, rec = reel_library
    with pytest.raises(LibraryError, match="no recording span you may use"):
        store_reel(db, store, keys[0], Viewer.PUBLIC)  # a village song, hidden from the public
    store_reel(db, store, keys[0], Viewer("resident", village="榕溪村"))
    with db.session(write=True) as session:
        withdraw_consent(session, rec, "吴秀梅", "broadcast")
    with pytest.raises(LibraryError, match="may not be broadcast"):
        store_reel(db, store, keys[0], Viewer.ADMIN)  # stored already, refused all the same
    assert len(fake_reels) == 1


def test_store_gc_keeps_reel_and_announcement_files(db, store, reel_library, tmp_path):
    from library.access import Viewer
    from library.broadcast.models import Announcement, AnnouncementFile, Village
    from library.catalogue.reels import store_reel
    from library.models import Reel
    from library.store_gc import collect, referenced

    keys, _rec = reel_library
    reel_id = store_reel(db, store, keys[0], Viewer.ADMIN)
    voice = tmp_path / "voice.mp3"
    voice.write_bytes(b"a voice")
    entry = store.put(voice)
    stray = tmp_path / "stray.mp3"
    stray.write_bytes(b"nobody's")
    stray_entry = store.put(stray)
    with db.session() as session:
        village = session.query(Village).one()
        announcement = Announcement(village=village, kind="notice", text="停电", created_by="a")
        announcement.files.append(
            AnnouncementFile(
                kind="voice", sha256=entry.sha256, store_path=entry.store_path,
                mime="audio/mpeg", size=entry.size,
            )
        )  # fmt: skip
        session.add(announcement)
        paths = [f.store_path for f in session.get(Reel, reel_id).files]
    assert set(paths) | {entry.store_path} <= referenced(db)
    found = collect(db, store, remove=True, grace_s=-1)
    assert [p.relative_to(store.root).as_posix() for p in found.files] == [stray_entry.store_path]
    assert all(store.path(p).exists() for p in [*paths, entry.store_path])


def test_playlist_add_reel_makes_it_once_and_plays_it(db, runner, reel_library, fake_reels):
    keys, rec = reel_library
    assert runner.invoke("playlist", "create", "教唱", "--village", "榕溪村").exit_code == 0
    result = runner.invoke("playlist", "add", "教唱", "reel", f"{keys[0]}@{rec}")
    assert result.exit_code == 0, result.output
    assert "composing reel" in result.output and "教唱短片 / reel #1" in result.output
    again = runner.invoke("playlist", "add", "教唱", "reel", keys[0], "--repeat", "2")
    assert again.exit_code == 0 and "composing" not in again.output
    assert len(fake_reels) == 1
    shown = runner.invoke("playlist", "show", "教唱").output
    assert "×2\t12.5 s" in shown and "总时长 / total: 37.5 s" in shown
    result = runner.invoke(
        "schedule", "add", "教唱", "--rrule", "FREQ=DAILY", "--window", "19:30-20:30",
        "--from", "2026-12-01", "--village", "榕溪村",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    items = _day_items(db)
    assert items and all(not i.media.cuttable for i in items)
    plan = runner.invoke("timeline", "喇叭", "--date", DAY).output
    assert f"教唱短片 / reel {keys[0]} + #{rec}" in plan


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        pytest.param("no-such-01", "no clause", id="unknown-clause"),
        pytest.param("x@y", "KEY[@ID]", id="bad-form"),
    ],
)
def test_playlist_add_reel_refusals_are_one_line(db, runner, reel_library, value, needle):
    assert runner.invoke("playlist", "create", "教唱", "--village", "榕溪村").exit_code == 0
    result = runner.invoke("playlist", "add", "教唱", "reel", value)
    assert result.exit_code == 1 and needle in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "reel" not in runner.invoke("playlist", "show", "教唱").output


def test_a_reel_of_a_village_song_stays_out_of_another_villages_playlist(db, runner, reel_library):
    keys, _rec = reel_library
    assert runner.invoke("village", "add", "岩脚村", "--township", "肇兴镇").exit_code == 0
    assert runner.invoke("playlist", "create", "教唱", "--village", "岩脚村").exit_code == 0
    result = runner.invoke("playlist", "add", "教唱", "reel", keys[0])
    assert result.exit_code == 1 and "may not be broadcast in 岩脚村" in result.output
    assert "reel" not in runner.invoke("playlist", "show", "教唱").output


# --- playlists ----------------------------------------------------------------------------


@pytest.fixture
def evening(db, runner, tmp_path) -> list[str]:
    """榕溪村's playlist 晚间: clause 1, clause 2, clause 3, a 5 s pause; not scheduled."""
    _village_and_device(runner)
    keys = _clauses(db, tmp_path)
    assert runner.invoke("playlist", "create", "晚间", "--village", "榕溪村").exit_code == 0
    for args in (("clause", keys[0]), ("clause", keys[1]), ("clause", keys[2]), ("pause", "5")):
        assert runner.invoke("playlist", "add", "晚间", *args).exit_code == 0
    return keys


def _labels(runner) -> list[str]:  # noqa: ANN001
    lines = runner.invoke("playlist", "show", "晚间").output.splitlines()[1:-1]
    return [line.split("\t")[1] for line in lines]


def test_remove_and_move_renumber_items(db, runner, evening):
    keys = evening
    result = runner.invoke("playlist", "move", "晚间", "4", "1")
    assert result.exit_code == 0 and "停顿" in result.output
    assert _labels(runner) == ["停顿 / pause 5 s", *(f"条款 / clause {k}" for k in keys)]
    assert runner.invoke("playlist", "move", "晚间", "2", "4").exit_code == 0
    assert _labels(runner)[1:] == [f"条款 / clause {k}" for k in (keys[1], keys[2], keys[0])]
    assert runner.invoke("playlist", "remove", "晚间", "1").exit_code == 0
    assert _labels(runner) == [f"条款 / clause {k}" for k in (keys[1], keys[2], keys[0])]
    positions = runner.invoke("playlist", "show", "晚间").output.splitlines()[1:-1]
    assert [line.split("\t")[0] for line in positions] == ["1", "2", "3"]
    # A new item goes to the end, after the renumbered ones.
    assert runner.invoke("playlist", "add", "晚间", "pause", "2").exit_code == 0
    assert _labels(runner)[-1] == "停顿 / pause 2 s"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(("remove", "晚间", "9"), "POSITION", id="remove-past-end"),
        pytest.param(("move", "晚间", "0", "1"), "POSITION", id="move-from-zero"),
        pytest.param(("move", "晚间", "1", "5"), "TO", id="move-past-end"),
        pytest.param(("remove", "早间", "1"), "no playlist", id="unknown-playlist"),
        pytest.param(("add", "晚间", "list", "表扬榜了"), "praise or warning", id="bad-list"),
        pytest.param(("add", "晚间", "announcement", "99999999999999999999"), "no announce",
                     id="huge-id"),
        pytest.param(("add", "晚间", "covenant", "no-such"), "no covenant", id="bad-slug"),
    ],
)  # fmt: skip
def test_playlist_edits_refused_name_the_field(db, runner, evening, args, needle):
    before = _labels(runner)
    result = runner.invoke("playlist", *args)
    assert result.exit_code == 1 and needle in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _labels(runner) == before


def test_covenants_and_lists_in_playlists(db, runner, evening):
    from library.models import Covenant

    with db.session() as session:
        slug = session.query(Covenant).one().slug
    assert runner.invoke("playlist", "create", "全文").exit_code == 0
    result = runner.invoke("playlist", "add", "全文", "covenant", slug)
    assert result.exit_code == 0 and "60.0 s" in runner.invoke("playlist", "show", "全文").output
    # County-wide playlists hold no village lists.
    result = runner.invoke("playlist", "add", "全文", "list", "表扬榜")
    assert result.exit_code == 1 and "village-only" in result.output
    assert runner.invoke("playlist", "add", "晚间", "list", "黑榜").exit_code == 0
    assert "黑榜 / rule-breaking list" in runner.invoke("playlist", "show", "晚间").output


def test_playlist_list_hides_announcements_own(db, runner, evening):
    from library.broadcast.models import Announcement, Playlist, Village

    assert runner.invoke("playlist", "create", "全县", "--shuffle").exit_code == 0
    with db.session() as session:
        village = session.query(Village).one()
        notice = Announcement(village=village, kind="notice", text="停电", created_by="a")
        session.add(notice)
        session.flush()
        session.add(Playlist(name="通知-1", village=village, announcement_id=notice.id))
    listed = runner.invoke("playlist", "list").output.splitlines()
    assert listed == ["全县\t全县 county\t0 项 items\t0.0 s\t随机 / shuffled", listed[1]]
    assert listed[1].startswith("晚间\t榕溪村\t4 项 items\t65.0 s")
    assert runner.invoke("village", "add", "岩脚村", "--township", "肇兴镇").exit_code == 0
    assert runner.invoke("playlist", "create", "岩脚", "--village", "岩脚村").exit_code == 0
    village_only = runner.invoke("playlist", "list", "--village", "岩脚村").output
    assert "岩脚" in village_only and "晚间" not in village_only and "全县" in village_only
    assert "通知-1" not in runner.invoke("playlist", "list").output


def test_an_announcement_playlist_is_not_a_rota_call(db, runner, evening):
    from library.broadcast.models import Announcement, Village

    with db.session() as session:
        village = session.query(Village).one()
        call = Announcement(village=village, kind="rota", text="今晚轮到你家", created_by="a")
        session.add(call)
        session.flush()
        call_id = call.id
    result = runner.invoke("playlist", "add", "晚间", "announcement", call_id)
    assert result.exit_code == 1 and "rota" in result.output


def test_delete_playlist_only_when_nothing_uses_it(db, runner, evening):
    schedule = (
        "schedule", "add", "晚间", "--rrule", "FREQ=DAILY", "--window", "19:30-20:30",
        "--from", "2026-12-01", "--village", "榕溪村",
    )  # fmt: skip
    assert runner.invoke(*schedule).exit_code == 0
    result = runner.invoke("playlist", "delete", "晚间")
    assert result.exit_code == 1 and "schedule 1" in result.output
    assert runner.invoke("schedule", "delete", "1").exit_code == 0
    assert runner.invoke("device", "fallback", "喇叭", "晚间").exit_code == 0
    result = runner.invoke("playlist", "delete", "晚间")
    assert result.exit_code == 1 and "fallback" in result.output and "--clear" in result.output
    assert runner.invoke("device", "fallback", "喇叭", "--clear").exit_code == 0
    result = runner.invoke("playlist", "delete", "晚间")
    assert result.exit_code == 0 and "晚间" in result.output
    assert runner.invoke("playlist", "show", "晚间").exit_code == 1
    assert "还没有播放列表" in runner.invoke("playlist", "list").output


# --- device fallback ------------------------------------------------------------------------


def test_device_fallback_plays_when_nothing_is_scheduled(db, runner, evening):
    result = runner.invoke("device", "fallback", "喇叭", "晚间")
    assert result.exit_code == 0 and "晚间" in result.output
    items = _day_items(db)
    assert items and {i.layer.name for i in items} == {"FALLBACK"}
    assert {i.match for i in items} == {"local"}
    assert not _day_items(db, "鼓楼喇叭")
    plan = runner.invoke("timeline", "喇叭", "--date", DAY).output
    assert "\t本机 fallback\t条款 第一条" in plan
    assert runner.invoke("device", "fallback", "喇叭", "--clear").exit_code == 0
    assert not _day_items(db)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(("喇叭",), "PLAYLIST or --clear", id="neither"),
        pytest.param(("喇叭", "晚间", "--clear"), "PLAYLIST or --clear", id="both"),
        pytest.param(("无此设备", "晚间"), "no device", id="unknown-device"),
        pytest.param(("喇叭", "早间"), "no playlist", id="unknown-playlist"),
        pytest.param(("喇叭", "岩脚"), "another village", id="other-village"),
    ],
)
def test_device_fallback_refusals(db, runner, evening, args, needle):
    assert runner.invoke("village", "add", "岩脚村", "--township", "肇兴镇").exit_code == 0
    assert runner.invoke("playlist", "create", "岩脚", "--village", "岩脚村").exit_code == 0
    result = runner.invoke("device", "fallback", *args)
    assert result.exit_code == 1 and needle in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not _day_items(db)


# --- schedules ------------------------------------------------------------------------------


@pytest.fixture
def scheduled(db, runner, evening) -> list[str]:
    """晚间 at 19:30–20:30 daily on 榕溪村 from 2026-12-01: schedule 1."""
    result = runner.invoke(
        "schedule", "add", "晚间", "--rrule", "FREQ=DAILY", "--window", "19:30-20:30",
        "--from", "2026-12-01", "--village", "榕溪村",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return evening


def _rules_version(db, device: str = "喇叭") -> str:  # noqa: ANN001
    from library.broadcast.device_rules import load_device_rules
    from library.broadcast.rules import rules_version

    with db.session() as session:
        found = load_device_rules(session, device, (date(2026, 12, 4), date(2026, 12, 4)))
        return rules_version(found.device, found.schedules)


def _schedule_row(db):  # noqa: ANN001, ANN202
    from library.broadcast.models import Schedule

    with db.session() as session:
        row = session.get(Schedule, 1)
        return row.version, row.window_start, row.window_end, row.ends_on, row.layer


def test_schedule_edit_changes_the_rule_and_its_version(db, runner, scheduled):
    before = _rules_version(db)
    result = runner.invoke("schedule", "edit", "1", "--window", "20:00-21:00", "--overrun", "cut")
    assert result.exit_code == 0, result.output
    assert "20:00-21:00" in result.output and "version 2" in result.output
    assert _schedule_row(db)[:3] == (2, "20:00", "21:00")
    assert _rules_version(db) != before
    items = _day_items(db)
    assert (items[0].start.hour, items[0].start.minute) == (20, 0)
    assert (items[-1].end.hour, items[-1].end.minute) == (21, 0)  # overrun cut: at 21:00
    # Only what is given changes; every edit raises the version.
    assert runner.invoke("schedule", "edit", "1", "--until", "2026-12-03").exit_code == 0
    assert _schedule_row(db)[0] == 3 and _schedule_row(db)[3] == date(2026, 12, 3)
    assert not _day_items(db)  # ends before the 4th
    assert runner.invoke("schedule", "edit", "1", "--until", "none").exit_code == 0
    assert _schedule_row(db)[3] is None and _day_items(db)
    assert runner.invoke("schedule", "edit", "1", "--window", "all-day").exit_code == 0
    listed = runner.invoke("schedule", "list").output
    assert "\tall-day\t" in listed


def test_schedule_edit_replaces_targets(db, runner, scheduled):
    result = runner.invoke("schedule", "edit", "1", "--device", "鼓楼喇叭", "--layer", "interrupt")
    assert result.exit_code == 0, result.output
    assert not _day_items(db, "喇叭")
    items = _day_items(db, "鼓楼喇叭")
    assert {i.match for i in items} == {"device"} and {i.layer.name for i in items} == {"INTERRUPT"}
    listed = runner.invoke("schedule", "list").output
    assert "设备 device" in listed and "村 village" not in listed and "插播 interrupt" in listed
    result = runner.invoke("schedule", "edit", "1", "--zone", "榕溪村/上寨")
    assert (
        result.exit_code == 0
        and "寨/组 zone 榕溪村/上寨" in runner.invoke("schedule", "list").output
    )


def test_schedule_edit_checks_recordings_against_new_targets(db, runner, tmp_path):
    _village_and_device(runner)
    rec = _recording(db)  # a village song of 榕溪村
    assert runner.invoke("village", "add", "岩脚村", "--township", "肇兴镇").exit_code == 0
    assert runner.invoke("playlist", "create", "歌").exit_code == 0
    assert runner.invoke("playlist", "add", "歌", "recording", rec).exit_code == 0
    add = (
        "schedule", "add", "歌", "--rrule", "FREQ=DAILY", "--window", "19:30-20:30",
        "--village", "榕溪村",
    )  # fmt: skip
    assert runner.invoke(*add).exit_code == 0
    result = runner.invoke("schedule", "edit", "1", "--village", "岩脚村")
    assert result.exit_code == 1 and "may not be broadcast in 岩脚村" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "村 village 榕溪村" in runner.invoke("schedule", "list").output
    assert _schedule_row(db)[0] == 1  # nothing half-saved


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(("7", "--window", "20:00-21:00"), "(ID)", id="unknown-id"),
        pytest.param(("x", "--layer", "default"), "(ID)", id="not-a-number"),
        pytest.param(("99999999999999999999", "--layer", "default"), "(ID)", id="huge-id"),
        pytest.param(("1",), "nothing to change", id="nothing"),
        pytest.param(("1", "--window", "20:00-20:00"), "--window", id="empty-window"),
        pytest.param(("1", "--rrule", "FREQ=SOMETIMES"), "--rrule", id="bad-rrule"),
        pytest.param(("1", "--from", "2027-01-01", "--until", "2026-12-31"), "--until",
                     id="until-before-from"),
        pytest.param(("1", "--until", "2026-11-30"), "--until", id="until-before-kept-from"),
        pytest.param(("1", "--from", "12/01"), "--from", id="bad-date"),
        pytest.param(("1", "--village", "无此村"), "无此村", id="unknown-village"),
        pytest.param(("1", "--zone", "上寨"), "--zone", id="zone-without-village"),
    ],
)  # fmt: skip
def test_schedule_edit_refusals_are_one_line_and_change_nothing(
    db, runner, scheduled, args, needle
):
    before = _schedule_row(db)
    result = runner.invoke("schedule", "edit", *args)
    assert result.exit_code == 1 and needle in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _schedule_row(db) == before


def test_schedule_delete(db, runner, scheduled):
    result = runner.invoke("schedule", "delete", "1")
    assert result.exit_code == 0 and "晚间" in result.output
    assert not _day_items(db)
    assert "还没有时间表" in runner.invoke("schedule", "list").output
    again = runner.invoke("schedule", "delete", "1")
    assert again.exit_code == 1 and "no schedule 1 (ID)" in again.output


def test_an_announcements_schedule_is_changed_through_the_announcement(db, runner, evening):
    from library.broadcast.models import Announcement, Playlist, Schedule, ScheduleTarget, Village

    with db.session() as session:
        village = session.query(Village).one()
        notice = Announcement(village=village, kind="notice", text="停电", created_by="a")
        session.add(notice)
        session.flush()
        own = Playlist(name="通知-1", village=village, announcement_id=notice.id)
        session.add(
            Schedule(
                playlist=own, rrule="FREQ=DAILY", window_start="19:00", window_end="19:05",
                starts_on=date(2026, 12, 1), layer="interrupt", overrun="finish", loop=False,
                targets=[ScheduleTarget(village=village)],
            )
        )  # fmt: skip
    for args in (("edit", "1", "--layer", "default"), ("delete", "1")):
        result = runner.invoke("schedule", *args)
        assert result.exit_code == 1 and "announcement" in result.output


# --- reasons in Chinese first ---------------------------------------------------------------


def test_timeline_reasons_are_chinese_then_english(db, runner, scheduled):
    from library.broadcast.timeline import LAYER_ZH, RULE_TEXT

    assert all(" / " in text for text in RULE_TEXT.values())
    assert set(LAYER_ZH) >= {"emergency", "interrupt", "scheduled", "rotation", "default"}
    first = _day_items(db)[0]
    assert first.why == (
        "定时时间表 1（村目标）：在时段内播放 / scheduled schedule 1 (village target): plays in"
        " its window"
    )
    plan = runner.invoke("timeline", "喇叭", "--date", DAY).output
    assert "\t定时 scheduled\t" in plan and "在时段内播放 / scheduled schedule 1" in plan
