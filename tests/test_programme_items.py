"""Playlist items that follow the library: a whole covenant, and a clause re-published mid-week."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.conftest import SMALL_COVENANT
from tests.test_programme import _clauses, _village_and_device

CST = ZoneInfo("Asia/Shanghai")


def _plays(db, day: int) -> list[str]:  # noqa: ANN001
    """The sha256 of each file 喇叭 plays on December `day`, 2026, in order."""
    from library.broadcast.device_rules import device_timeline

    start = datetime(2026, 12, day, tzinfo=CST)
    with db.session() as session:
        items = device_timeline(session, "喇叭", start, start + timedelta(days=1))
    return [i.media.sha256 for i in items if i.media]


def _schedule(runner, name: str) -> None:  # noqa: ANN001
    result = runner.invoke(
        "schedule", "add", name, "--rrule", "FREQ=DAILY", "--window", "19:30-19:32",
        "--from", "2026-12-01", "--village", "榕溪村",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_a_covenant_item_plays_its_clauses_in_order(db, runner, tmp_path):
    _village_and_device(runner)
    _clauses(db, tmp_path)
    from library.models import Covenant

    with db.session() as session:
        slug = session.query(Covenant).one().slug
    assert runner.invoke("playlist", "create", "全文", "--village", "榕溪村").exit_code == 0
    assert runner.invoke("playlist", "add", "全文", "covenant", slug).exit_code == 0
    shown = runner.invoke("playlist", "show", "全文").output
    assert "60.0 s" in shown  # 10 + 20 + 30 s, one pass on a loudspeaker
    _schedule(runner, "全文")
    # 19:30–19:32 holds the three clauses (one minute) twice.
    assert _plays(db, 4) == [f"{n:x}" * 64 for n in (1, 2, 3, 1, 2, 3)]
    missing = runner.invoke("playlist", "add", "全文", "covenant", "no-such-covenant")
    assert missing.exit_code == 1 and "no-such-covenant" in missing.output


def test_a_clause_republished_mid_week_plays_its_new_version_from_then_on(db, runner, tmp_path):
    from library.broadcast.device_rules import load_device_rules
    from library.covenants.versions import import_covenant
    from library.models import Clause, CovenantVersion, Segment, SegmentFile

    _village_and_device(runner)
    keys = _clauses(db, tmp_path)
    assert runner.invoke("playlist", "create", "一条", "--village", "榕溪村").exit_code == 0
    assert runner.invoke("playlist", "add", "一条", "clause", keys[1]).exit_code == 0
    _schedule(runner, "一条")
    old = "2" * 64
    with db.session() as session:
        before = load_device_rules(session, "喇叭").device, load_device_rules(session, "喇叭")
    assert set(_plays(db, 2)) == {old}

    # Wednesday: the village revises clause 2 (the fine) and imports the new text.
    revised = tmp_path / "cov-v2.txt"
    revised.write_text(SMALL_COVENANT.replace("罚款200元", "罚款500元"), encoding="utf-8")
    import_covenant(db, revised, village="榕溪村")
    # Not rendered yet: the clause is left out rather than the old wording played.
    assert _plays(db, 3) == []
    with db.session() as session:
        clause = (
            session.query(Clause)
            .join(CovenantVersion)
            .filter(Clause.key == keys[1])
            .order_by(CovenantVersion.number.desc())
            .first()
        )
        assert "500" in clause.text_zh
        clause.segments.append(
            Segment(
                inputs_hash="n" * 64, engine="espeak", voice="v", duration_s=12.0,
                files=[SegmentFile(kind="audio-loudspeaker", sha256="b" * 64, store_path="b/b.mp3",
                                   mime="audio/mpeg", size=100, duration_s=12.0)],
            )
        )  # fmt: skip
    assert set(_plays(db, 3)) == {"b" * 64}
    with db.session() as session:
        after = load_device_rules(session, "喇叭")
    from library.broadcast.rules import rules_version

    assert rules_version(after.device, after.schedules) != rules_version(
        before[1].device, before[1].schedules
    )
