"""Playlists as M3U8, schedules as iCalendar, and the public village programme page."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from tests.test_programme import _clauses, _recording, _village_and_device


def _programme(db, runner, tmp_path, summary: str = "晚间") -> list[str]:  # noqa: ANN001
    """榕溪村's evening playlist: two clauses, a pause, a village-only recording, at 19:30."""
    _village_and_device(runner)
    keys = _clauses(db, tmp_path)
    rec = _recording(db)  # protocol "village": may be broadcast there, never shown publicly
    assert runner.invoke("playlist", "create", summary, "--village", "榕溪村").exit_code == 0
    for args in (("clause", keys[0]), ("clause", keys[1]), ("pause", "5"), ("recording", rec)):
        result = runner.invoke("playlist", "add", summary, *map(str, args))
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        "schedule", "add", summary, "--rrule", "FREQ=DAILY\nEXDATE:20261210", "--window",
        "19:30-20:30", "--from", "2026-12-01", "--until", "2026-12-31", "--village", "榕溪村",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return keys


def test_playlist_exports_as_m3u8_with_durations(db, runner, tmp_path):
    _programme(db, runner, tmp_path)
    out = tmp_path / "out" / "晚间.m3u8"
    result = runner.invoke("playlist", "export", "晚间", "-o", str(out))
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    extinf = [line for line in lines if line.startswith("#EXTINF:")]
    assert [line.split(",")[0] for line in extinf] == [
        "#EXTINF:10.000",
        "#EXTINF:20.000",
        "#EXTINF:60.000",
    ]
    assert extinf[0].split(",", 1)[1].startswith("第一条")
    assert "# 停顿 / pause 5 s" in lines
    # A clause file is served by the site; the recording's loudspeaker copy is not: store path.
    after = [lines[lines.index(line) + 1] for line in extinf]
    assert after[0] == "/media/" + "1" * 64 + ".mp3"
    assert after[2].endswith("/e/e.mp3") and not after[2].startswith("/media/")
    assert not list(out.parent.glob(".*part*"))  # written atomically: no temporary left
    screen = runner.invoke("playlist", "export", "晚间", "--device-kind", "screen")
    assert screen.exit_code == 0 and "#EXTINF" not in screen.output
    assert "未渲染 / not rendered" in screen.output


def test_schedules_export_as_icalendar_that_parses_back(db, runner, tmp_path):
    from dateutil.rrule import rrulestr

    long_name = "晚间" + "防火防盗讲卫生" * 6
    _programme(db, runner, tmp_path, summary=long_name)
    out = tmp_path / "榕溪村.ics"
    result = runner.invoke("schedule", "export", "--village", "榕溪村", "-o", str(out))
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")  # every line ends in CRLF
    physical = raw.split(b"\r\n")
    assert max(len(line) for line in physical) <= 75
    assert any(line.startswith(b" ") for line in physical)  # the long SUMMARY was folded
    text = raw.decode("utf-8").replace("\r\n ", "")  # unfold
    lines = text.split("\r\n")
    assert f"SUMMARY:{long_name}" in lines
    assert "DTSTART;TZID=Asia/Shanghai:20261201T193000" in lines
    assert "DTEND;TZID=Asia/Shanghai:20261201T203000" in lines
    assert "TZID:Asia/Shanghai" in lines
    assert "EXDATE;TZID=Asia/Shanghai:20261210T193000" in lines
    rule = next(line for line in lines if line.startswith("RRULE:"))
    zone = ZoneInfo("Asia/Shanghai")
    parsed = rrulestr(rule, dtstart=datetime(2026, 12, 1, 19, 30, tzinfo=zone), forceset=True)
    parsed.exdate(datetime(2026, 12, 10, 19, 30, tzinfo=zone))  # type: ignore[union-attr]
    days = [d.day for d in parsed]  # type: ignore[union-attr]
    assert days[0] == 1 and 10 not in days and days[-1] == 31 and len(days) == 30


def test_village_page_lists_today_and_tomorrow(client, db, runner, tmp_path):
    keys = _programme(db, runner, tmp_path)
    page = client.get("/v/榕溪村?date=2026-12-04")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-day="2026-12-04"' in html and 'data-day="2026-12-05"' in html
    assert html.count('datetime="2026-12-04T19:30:00+08:00"') == 1  # merged over the devices
    assert html.count('datetime="2026-12-05T19:30:00+08:00"') == 1
    assert "第一条" in html and "喇叭、鼓楼喇叭" in html
    assert "防火歌" not in html  # village-protocol recording: never on a public page
    assert keys
    english = client.get("/v/榕溪村?date=2026-12-04&lang=en").get_data(as_text=True)
    assert "Today" in english and "Tomorrow" in english


def test_an_unknown_village_is_404(client, db, runner):
    assert client.get("/v/没有这个村").status_code == 404


# --- the village page: one entry per window ---------------------------------------------------


def _village_day(db, day: date = date(2026, 12, 4)):  # noqa: ANN001, ANN202
    from library.broadcast.models import Village
    from library.broadcast.village_day import village_programme

    with db.session() as session:
        village = session.query(Village).filter_by(name="榕溪村").one()
        return village_programme(session, village, day)


def test_village_page_sums_up_a_looping_window(client, db, runner, tmp_path):
    from tests.test_programme import _day_items

    _programme(db, runner, tmp_path)
    (window,) = _village_day(db).windows
    rounds = sum(1 for i in _day_items(db) if i.media and i.media.sha256 == "1" * 64)
    assert rounds > 30  # a 95 s programme in an hour
    assert (window.kind, window.title, window.loops) == ("programme", "晚间", rounds)
    assert [(i.kind, i.label) for i in window.items] == [("clause", "第一条"), ("clause", "第二条")]
    assert window.devices == ("喇叭", "鼓楼喇叭")
    assert window.start.strftime("%H:%M") == "19:30" and window.end.strftime("%H:%M") == "20:30"
    html = client.get("/v/榕溪村?date=2026-12-04").get_data(as_text=True)
    today = html.split('data-day="2026-12-05"')[0]
    assert today.count('<li class="programme-') == 1  # one entry, not one line per play
    assert '20:30</time>\n      <strong lang="zh-Hans">晚间</strong>' in today
    assert f"×{rounds}</span>" in today and today.count("第一条") == 1
    assert "防火歌" not in html  # the village-only song still never appears


def test_village_page_shows_a_range_of_clauses_and_public_songs(client, db, runner, tmp_path):
    from library.models import Covenant, Recording
    from tests.test_programme import _recording

    _village_and_device(runner)
    _clauses(db, tmp_path)
    rec = _recording(db)
    with db.session() as session:
        slug = session.query(Covenant).one().slug
        session.get(Recording, rec).protocol = "public"
    assert runner.invoke("playlist", "create", "全文").exit_code == 0
    for args in (("covenant", slug), ("recording", rec)):
        assert runner.invoke("playlist", "add", "全文", *map(str, args)).exit_code == 0
    result = runner.invoke(
        "schedule", "add", "全文", "--rrule", "FREQ=DAILY", "--window", "18:00-18:10",
        "--from", "2026-12-01", "--village", "榕溪村", "--overrun", "cut",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (window,) = _village_day(db).windows
    assert [(i.kind, i.label) for i in window.items] == [
        ("clause", "第一条…第三条"),
        ("recording", "防火歌"),
    ]
    assert window.loops == 5  # 60 s of clauses and a 60 s song: five rounds in ten minutes
    html = client.get("/v/榕溪村?date=2026-12-04").get_data(as_text=True)
    assert "第一条…第三条" in html and f'href="/recordings/{rec}">防火歌</a>' in html


def _announcement(db, kind: str, text: str, sha: str, **extra) -> int:  # noqa: ANN001, ANN003
    """An announcement of 榕溪村 with a stored loudspeaker file of known sha256 and length."""
    from library.broadcast.models import Announcement, AnnouncementFile, Village

    with db.session() as session:
        village = session.query(Village).filter_by(name="榕溪村").one()
        row = Announcement(village=village, kind=kind, text=text, created_by="杨老师", **extra)
        row.files.append(
            AnnouncementFile(
                kind="audio-loudspeaker", sha256=sha * 64, store_path=f"{sha}/{sha}.mp3",
                mime="audio/mpeg", size=10, duration_s=20.0,
            )
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def _own_schedule(db, announcement_id: int, window: tuple[str, str]) -> None:  # noqa: ANN001
    """Schedule an announcement the way announcements are: its own one-item playlist, once."""
    from library.broadcast.models import Playlist, PlaylistItem, Schedule, ScheduleTarget, Village

    with db.session() as session:
        village = session.query(Village).filter_by(name="榕溪村").one()
        item = PlaylistItem(position=1, kind="announcement", announcement_id=announcement_id)
        own = Playlist(
            name=f"通知 {announcement_id}", village=village, announcement_id=announcement_id,
            items=[item],
        )  # fmt: skip
        session.add(
            Schedule(
                playlist=own, rrule="FREQ=DAILY", window_start=window[0], window_end=window[1],
                starts_on=date(2026, 12, 1), layer="interrupt", overrun="finish", loop=False,
                targets=[ScheduleTarget(village=village)],
            )
        )  # fmt: skip


def test_village_page_shows_notices_never_lists_or_rota_calls(client, db, runner, tmp_path):
    from tests.test_programme import _day_items

    _programme(db, runner, tmp_path)
    praise = _announcement(
        db, "praise", "吴老三家主动清理沟渠", "a", person="吴老三", reviewed_by="石主任",
        expires_on=date(2027, 1, 1),
    )  # fmt: skip
    assert runner.invoke("playlist", "add", "晚间", "list", "表扬榜").exit_code == 0
    rota = _announcement(db, "rota", "今晚轮到吴家喊寨", "b", person="吴家")
    _own_schedule(db, rota, ("20:00", "20:10"))  # cuts into the evening programme
    notice = _announcement(db, "notice", "明天上午九点停电", "9")
    _own_schedule(db, notice, ("19:00", "19:10"))
    # They all play: the praise entry in the evening programme, the call at 20:00.
    played = {i.media.sha256 for i in _day_items(db) if i.media}
    assert {"a" * 64, "b" * 64, "9" * 64} <= played
    assert praise and rota
    windows = _village_day(db).windows
    assert [(w.kind, w.title, w.start.strftime("%H:%M")) for w in windows] == [
        ("notice", "通知", "19:00"),
        ("programme", "晚间", "19:30"),
    ]
    assert [i.label for i in windows[0].items] == ["明天上午九点停电"]
    assert [i.label for i in windows[1].items] == ["第一条", "第二条"]
    # The call is not shown, nor where it was: the evening stays one entry.
    assert windows[1].end.strftime("%H:%M") == "20:30"
    html = client.get("/v/榕溪村?date=2026-12-04").get_data(as_text=True)
    assert '通知</strong>\n      <time datetime="2026-12-04T19:00:00+08:00">19:00</time>：' in html
    assert "明天上午九点停电" in html
    for secret in ("吴老三", "沟渠", "表扬", "轮到", "吴家", "20:00", "20:10"):
        assert secret not in html, secret
