"""Announcements and the gong-round rota: rendered for real (espeak-ng, ffmpeg), then timed.

The clock is passed in (`now`), so these tests do not depend on the day they run.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.test_programme import _clauses, _day_items, _village_and_device

CST = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 12, 4, 8, 0, tzinfo=CST)


@pytest.fixture
def render(config, tmp_path):  # noqa: ANN001, ANN201
    from library.broadcast.announcements import Render
    from media_pipeline.jobs import RenderOptions

    return Render(RenderOptions(), tmp_path / "speech-cache", config.tools)


@pytest.fixture
def evening(db, runner, tmp_path) -> list[str]:
    """榕溪村 (zone 上寨), loudspeakers 喇叭 and 鼓楼喇叭, the two-clause programme 19:30–20:30."""
    _village_and_device(runner)
    keys = _clauses(db, tmp_path)
    assert runner.invoke("playlist", "create", "晚间", "--village", "榕溪村").exit_code == 0
    for key in keys[:2]:
        assert runner.invoke("playlist", "add", "晚间", "clause", key).exit_code == 0
    result = runner.invoke(
        "schedule", "add", "晚间", "--rrule", "FREQ=DAILY", "--window", "19:30-20:30",
        "--from", "2026-12-01", "--village", "榕溪村",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return keys


def _announce(db, store, render, **kw):  # noqa: ANN001, ANN003, ANN202
    from library.broadcast.announcements import announce

    values = {"village": "榕溪村", "kind": "oneoff", "created_by": "吴文化", "now": MORNING}
    values.update(kw)
    return announce(db, store, render, **values)


def test_a_oneoff_announcement_cuts_into_the_evening_programme_which_resumes(
    db, store, render, evening
):
    from library.broadcast.announcements import When

    info = _announce(
        db, store, render, text="今晚八点在鼓楼开会，请各户派一人参加。",
        when=When(at=datetime(2026, 12, 4, 19, 35, 5)), intro="chime",
    )  # fmt: skip
    assert info.duration_s and 3 < info.duration_s < 30
    items = _day_items(db)
    ours = [i for i in items if i.layer.name == "INTERRUPT"]
    assert len(ours) == 1 and ours[0].start == datetime(2026, 12, 4, 19, 35, 5, tzinfo=CST)
    length = (ours[0].end - ours[0].start).total_seconds()
    assert abs(length - ours[0].media.duration_s) < 1e-3
    before = [i for i in items if i.end == ours[0].start]
    after = [i for i in items if i.start == ours[0].end]
    assert before[0].rule == "interrupted" and after[0].rule == "resumed"
    assert after[0].media == before[0].media  # the interrupted clause again, from its start
    # The stored files are real: the loudspeaker MP3 and the screen's clip.
    with db.session() as session:
        from library.broadcast.models import Announcement

        row = session.get(Announcement, info.id)
        kinds = {f.kind for f in row.files}
        assert {"audio-loudspeaker", "video-16x9", "subtitles-vtt"} <= kinds
        assert all((store.root / f.store_path).is_file() for f in row.files)


def test_an_emergency_loops_over_everything_until_stopped(db, store, render, evening):
    from library.broadcast.announcements import When, stop

    at = datetime(2026, 12, 4, 19, 40)
    info = _announce(
        db, store, render, kind="emergency", text="上寨起火，请青壮年带水桶到上寨集合。",
        emergency="fire", when=When(at=at, for_minutes=5),
    )  # fmt: skip
    calls = [i for i in _day_items(db) if i.layer.name == "EMERGENCY" and i.media]
    assert len(calls) >= 3  # the call, a pause, the call again … for five minutes
    assert calls[0].start == at.replace(tzinfo=CST)
    assert calls[-1].start < (at + timedelta(minutes=5)).replace(tzinfo=CST)
    assert all(i.schedule_id == str(info.schedules[0]) for i in calls)
    stopped = stop(db, info.id)
    assert stopped.stopped
    assert not [i for i in _day_items(db) if i.layer.name == "EMERGENCY"]


def test_praise_entries_play_only_after_a_second_persons_review_and_until_they_expire(
    db, store, render, runner, evening
):
    from library.broadcast.announcements import review
    from library.broadcast.programme import ProgrammeError

    info = _announce(
        db, store, render, kind="praise", person="杨秀珠",
        text="杨秀珠主动清理寨中柴草堆，消除火灾隐患，特此表扬。", when=_until(date(2026, 12, 4)),
    )  # fmt: skip
    assert info.reviewed_by is None and not info.schedules
    assert runner.invoke("playlist", "add", "晚间", "list", "表扬榜").exit_code == 0

    def praise_on(day: int) -> list:
        from library.broadcast.device_rules import device_timeline

        with db.session() as session:
            start = datetime(2026, 12, day, tzinfo=CST)
            items = device_timeline(session, "喇叭", start, start + timedelta(days=1))
        return [i for i in items if i.media and i.media.sha256 == _sha(db, info.id)]

    assert not praise_on(4)  # not reviewed: not broadcast
    with pytest.raises(ProgrammeError, match="另一个人"):
        review(db, info.id, "吴文化")  # the author may not review their own entry
    assert review(db, info.id, "石主任").reviewed_by == "石主任"
    assert praise_on(4)  # reviewed: plays in the evening programme
    assert not praise_on(5)  # expired after its last day
    # Village-protocol only: never in an export.
    exported = runner.invoke("playlist", "export", "晚间").output
    assert "不导出" in exported and _sha(db, info.id) not in exported


def test_the_gong_round_rota_calls_tonights_household_at_eight(db, store, render, evening):
    from library.broadcast.rota import create_rota, skip

    called: list[str] = []
    info = create_rota(
        db, store, render, village="榕溪村", name="鸣锣喊寨", at="20:00",
        starts_on=date(2026, 11, 30), members=["杨老三", "吴家宝"], progress=called.append,
    )  # fmt: skip
    assert called == ["杨老三", "吴家宝"]
    assert [d.member for d in info.coming[:5]] == ["杨老三", "吴家宝"] * 2 + ["杨老三"]
    items = _day_items(db)  # 2026-12-04: the fifth evening, 杨老三's
    call = [i for i in items if i.schedule_id.startswith("rota")]
    assert len(call) == 1 and call[0].start == datetime(2026, 12, 4, 20, 0, tzinfo=CST)
    assert call[0].layer.name == "INTERRUPT"
    with db.session() as session:
        from library.broadcast.models import AnnouncementFile

        file = session.query(AnnouncementFile).filter_by(sha256=call[0].media.sha256).one()
        assert file.announcement.person == "杨老三"
        assert "今晚轮到杨老三家鸣锣喊寨" in file.announcement.text
    skip(db, "榕溪村/鸣锣喊寨", date(2026, 12, 4))
    assert not [i for i in _day_items(db) if i.schedule_id.startswith("rota")]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"kind": "notice", "text": "停电通知"}, "--until"),
        ({"kind": "praise", "text": "好人好事", "when": None}, "--person"),
        ({"text": "  "}, "TEXT"),
        ({"text": "测试", "zones": ("没有这个寨",)}, "没有这个寨"),
        ({"kind": "recurring", "text": "每周一大扫除", "rrule": "FREQ=SOMETIMES"}, "--rrule"),
        ({"text": "过去的广播", "at": datetime(2026, 12, 3, 8, 0)}, "--at"),
    ],
)
def test_bad_announcements_fail_before_rendering_and_save_nothing(
    db, store, render, evening, kw, message
):
    from library.broadcast.announcements import When, list_announcements
    from library.broadcast.programme import ProgrammeError
    from library.errors import LibraryError

    kw = dict(kw)
    when = When(rrule=kw.pop("rrule", None), at=kw.pop("at", None))
    kw.setdefault("when", when)
    if kw["when"] is None:
        kw["when"] = When()
    with pytest.raises((ProgrammeError, LibraryError), match=message):
        _announce(db, store, render, **kw)
    assert list_announcements(db) == []
    assert not list(store.root.rglob("*.mp3"))  # nothing rendered


def test_a_persons_recording_replaces_synthesis_and_a_fifo_is_refused(
    db, store, render, evening, tmp_path, config
):
    import subprocess

    from media_pipeline.errors import PipelineError

    voice = tmp_path / "voice.wav"
    subprocess.run(
        [config.tools.binary("ffmpeg"), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=220:duration=3",
         "-ac", "1", str(voice)],
        check=True,
    )  # fmt: skip
    info = _announce(db, store, render, text="侗语通知：明天修路。", voice=voice)
    assert info.duration_s and info.duration_s >= 3
    with db.session() as session:
        from library.broadcast.models import Announcement

        assert session.get(Announcement, info.id).file("voice") is not None
    fifo = tmp_path / "voice.fifo"
    os.mkfifo(fifo)
    with pytest.raises((PipelineError, Exception), match="voice.fifo"):
        _announce(db, store, render, text="另一条", voice=Path(fifo))


def _until(day: date):  # noqa: ANN202
    from library.broadcast.announcements import When

    return When(until=day)


def _sha(db, announcement_id: int) -> str:  # noqa: ANN001
    from library.broadcast.models import Announcement

    with db.session() as session:
        return session.get(Announcement, announcement_id).file("audio-loudspeaker").sha256


def test_announce_and_rota_commands(runner, evening):
    result = runner.invoke(
        "announce", "add", "明早八点停电检修，请提前储水。", "--village", "榕溪村",
        "--kind", "notice", "--time", "07:00", "--time", "19:00", "--until", "2030-01-02",
        "--by", "吴文化", "--intro", "chime",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "通知 #1" in result.output and "2030-01-02" in result.output
    result = runner.invoke(
        "announce", "add", "吴家宝捡到钱包主动归还。", "--village", "榕溪村", "--kind", "praise",
        "--person", "吴家宝", "--until", "2030-01-01", "--by", "吴文化",
    )  # fmt: skip
    assert result.exit_code == 0 and "待审核" in result.output
    denied = runner.invoke("announce", "review", "2", "--by", "吴文化")
    assert denied.exit_code == 1 and len(denied.output.strip().splitlines()) == 1
    assert "石主任" in runner.invoke("announce", "review", "2", "--by", "石主任").output
    listed = runner.invoke("announce", "list", "--village", "榕溪村").output
    assert listed.index("表扬榜 #2") < listed.index("通知 #1")  # newest first
    assert "已停止" in runner.invoke("announce", "stop", "1").output

    result = runner.invoke(
        "rota", "create", "鸣锣喊寨", "--village", "榕溪村", "--at", "20:00",
        "--from", "2030-01-01", "--member", "杨老三", "--member", "吴家宝",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2030-01-02\t吴家宝" in result.output
    swapped = runner.invoke(
        "rota", "swap", "鸣锣喊寨", "--date", "2030-01-02", "--member", "杨老三"
    ).output
    assert "2030-01-02\t杨老三（调换 / swap）" in swapped
    bad = runner.invoke("rota", "swap", "鸣锣喊寨", "--date", "2030-01-02", "--member", "无此人")
    assert bad.exit_code == 1 and "无此人" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    shown = runner.invoke("rota", "show", "鸣锣喊寨", "--from", "2030-01-01", "--days", "3").output
    assert "2030-01-03\t杨老三" in shown
