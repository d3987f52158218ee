"""Playlists and schedules in the database, a device's timeline from them, and their CLI."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import SMALL_COVENANT

DAY = "2026-12-04"


def _village_and_device(runner) -> None:  # noqa: ANN001
    assert runner.invoke("village", "add", "榕溪村", "--township", "肇兴镇").exit_code == 0
    assert runner.invoke("village", "zone", "add", "榕溪村", "上寨").exit_code == 0
    for name in ("喇叭", "鼓楼喇叭"):
        result = runner.invoke(
            "device", "add", name, "--village", "榕溪村", "--kind", "loudspeaker"
        )
        assert result.exit_code == 0, result.output


def _clauses(db, tmp_path) -> list[str]:  # noqa: ANN001
    """Import the small covenant and give each clause a rendered loudspeaker file (no media work)."""
    from library.covenants.versions import import_covenant
    from library.models import Clause, Segment, SegmentFile

    path = tmp_path / "cov.txt"
    path.write_text(SMALL_COVENANT, encoding="utf-8")
    result = import_covenant(db, path, village="榕溪村")
    keys = []
    with db.session() as session:
        for n, row in enumerate(result.version.clauses, start=1):
            clause = session.get(Clause, row.id)
            clause.segments.append(
                Segment(
                    inputs_hash=f"{n}" * 64,
                    engine="espeak",
                    voice="v",
                    duration_s=10.0 * n,
                    files=[
                        SegmentFile(
                            kind="audio-loudspeaker",
                            sha256=f"{n:x}" * 64,
                            store_path=f"x/{n}.mp3",
                            mime="audio/mpeg",
                            size=100,
                            duration_s=10.0 * n,
                        )
                    ],
                )
            )
            keys.append(clause.key)
    return keys


def _recording(db, consent: bool = True) -> int:  # noqa: ANN001
    from library.models import Consent, MediaFile, Recording, RecordingText

    with db.session() as session:
        rec = Recording(
            protocol="village",
            village="榕溪村",
            texts=[RecordingText(field="title", lang="zh-Hans", value="防火歌")],
            consents=[Consent(person="吴秀梅", scope="broadcast")] if consent else [],
            files=[
                MediaFile(
                    kind="loudspeaker",
                    sha256="e" * 64,
                    store_path="e/e.mp3",
                    mime="audio/mpeg",
                    size=10,
                    duration_s=60.0,
                )
            ],
        )
        session.add(rec)
        session.flush()
        return rec.id


def _day_items(db, device: str = "喇叭"):  # noqa: ANN001, ANN202
    from zoneinfo import ZoneInfo

    from library.broadcast.device_rules import device_timeline

    zone = ZoneInfo("Asia/Shanghai")
    with db.session() as session:
        return device_timeline(
            session,
            device,
            datetime(2026, 12, 4, tzinfo=zone),
            datetime(2026, 12, 5, tzinfo=zone),
        )


@pytest.fixture
def village_programme(db, runner, tmp_path) -> list[str]:
    """榕溪村 with two loudspeakers and an evening playlist of two clauses and a pause."""
    _village_and_device(runner)
    keys = _clauses(db, tmp_path)
    assert runner.invoke("playlist", "create", "晚间", "--village", "榕溪村").exit_code == 0
    for args in (("clause", keys[0]), ("clause", keys[1]), ("pause", "5")):
        result = runner.invoke("playlist", "add", "晚间", *args)
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        "schedule", "add", "晚间", "--rrule", "FREQ=DAILY", "--window", "19:30-20:30",
        "--from", "2026-12-01", "--village", "榕溪村",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return keys


def test_a_daily_village_playlist_plays_at_1930_shanghai(db, village_programme):
    items = _day_items(db)
    first = items[0]
    assert first.start == datetime(2026, 12, 4, 11, 30, tzinfo=UTC)  # 19:30 in Asia/Shanghai
    assert [i.media.duration_s if i.media else None for i in items[:3]] == [10.0, 20.0, None]
    assert items[2].rule == "pause" and not items[0].media.cuttable
    assert items[-1].end <= datetime(2026, 12, 4, 12, 30, tzinfo=UTC)  # finish: no clause cut
    assert {i.match for i in items} == {"village"}


def test_a_device_emergency_cuts_in(db, runner, village_programme):
    assert runner.invoke("playlist", "create", "火警").exit_code == 0
    assert runner.invoke("playlist", "add", "火警", "pause", "60").exit_code == 0
    result = runner.invoke(
        "schedule", "add", "火警", "--rrule", "FREQ=DAILY", "--window", "19:31-19:33",
        "--from", "2026-12-04", "--until", "2026-12-04", "--device", "喇叭", "--layer", "emergency",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    items = _day_items(db)
    cut = [i for i in items if i.cut]
    assert cut and cut[0].end == datetime(2026, 12, 4, 11, 31, tzinfo=UTC)
    emergency = [i for i in items if i.layer.name == "EMERGENCY"]
    assert emergency[0].match == "device" and emergency[0].start == cut[0].end
    # The other loudspeaker is not reached.
    assert not [i for i in _day_items(db, "鼓楼喇叭") if i.layer.name == "EMERGENCY"]


def test_a_recording_without_broadcast_consent_is_refused(db, runner, village_programme):
    rec = _recording(db, consent=False)
    result = runner.invoke("playlist", "add", "晚间", "recording", rec)
    assert result.exit_code != 0 and "may not be broadcast" in result.output
    assert len(result.output.strip().splitlines()) == 1
    shown = runner.invoke("playlist", "show", "晚间").output
    assert "recording" not in shown  # nothing half-saved


def test_a_withdrawal_takes_the_recording_off_at_once(db, runner, village_programme):
    from library.catalogue.recordings import withdraw_consent

    rec = _recording(db)
    assert runner.invoke("playlist", "add", "晚间", "recording", rec).exit_code == 0
    assert any(i.media and i.media.sha256 == "e" * 64 for i in _day_items(db))
    with db.session(write=True) as session:
        withdraw_consent(session, rec, "吴秀梅", "broadcast")
    assert not any(i.media and i.media.sha256 == "e" * 64 for i in _day_items(db))


def test_cli_round_trip(db, runner, village_programme):
    shown = runner.invoke("playlist", "show", "晚间")
    assert shown.exit_code == 0
    assert "总时长 / total: 35.0 s" in shown.output
    listed = runner.invoke("schedule", "list", "--village", "榕溪村")
    assert "晚间" in listed.output and "19:30-20:30" in listed.output
    plan = runner.invoke("timeline", "喇叭", "--date", DAY)
    assert plan.exit_code == 0, plan.output
    lines = plan.output.splitlines()
    assert lines[1].startswith("19:30:00–19:30:10\t定时 scheduled\t条款 第一条")
    assert lines[3].startswith("19:30:30–19:30:35\t定时 scheduled\t静音 / silence")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--rrule", "FREQ=SOMETIMES", "--window", "19:30-20:30"), "--rrule"),
        (("--rrule", "FREQ=DAILY", "--window", "19:30-19:30"), "--window"),
        (("--rrule", "FREQ=DAILY", "--window", "25:00-20:30"), "--window"),
        (("--rrule", "FREQ=DAILY", "--window", "19:30-20:30", "--until", "2020-01-01"), "--until"),
    ],
)
def test_bad_schedules_name_the_field(db, runner, village_programme, args, needle):
    result = runner.invoke("schedule", "add", "晚间", *args, "--village", "榕溪村")
    assert result.exit_code != 0 and needle in result.output
    assert len(runner.invoke("schedule", "list").output.strip().splitlines()) == 1


def test_bad_targets_and_items(db, runner, village_programme):
    base = ("schedule", "add", "晚间", "--rrule", "FREQ=DAILY", "--window", "all-day")
    for target in (("--village", "无此村"), ("--zone", "榕溪村/下寨"), ("--device", "无此设备")):
        result = runner.invoke(*base, "--village", "榕溪村", *target)
        assert result.exit_code != 0, target
    assert len(runner.invoke("schedule", "list").output.strip().splitlines()) == 1
    result = runner.invoke("playlist", "add", "晚间", "clause", "no-such-1")
    assert result.exit_code != 0 and "KEY" in result.output
    result = runner.invoke("playlist", "add", "晚间", "pause", "-3")
    assert result.exit_code != 0 and "SECONDS" in result.output
    assert runner.invoke("playlist", "create", "晚间", "--village", "榕溪村").exit_code != 0
    assert runner.invoke(*base, "--village", "榕溪村").exit_code == 0
