"""Playlists as M3U8, schedules as iCalendar, and the public village programme page."""

from __future__ import annotations

from datetime import datetime
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
