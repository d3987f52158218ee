"""The change count (library/changes.py) that the device API's caches are kept by."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import delete, select, text

from tests.test_api_v1 import _credential
from tests.test_programme import _village_and_device


def _count(db) -> int:  # noqa: ANN001 - library.db.Database
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT n FROM change_count")).scalar_one()


def test_content_raises_the_count_and_bookkeeping_does_not(db, runner):
    from library.broadcast.device_reports import heartbeat, record_plays
    from library.broadcast.models import Device, Zone
    from library.broadcast.screen_pairing import new_pairing

    _village_and_device(runner)
    before = _count(db)
    now = datetime.now(UTC)
    # A device's own reports, its last-seen time and pairing codes are bookkeeping.
    heartbeat(db, 1, {"cache_bytes": 1, "free_bytes": 2, "player_version": "1"}, now)
    with db.session() as session:
        session.get(Device, 1).last_seen_at = now
    play = {"id": "p1", "item_id": "x", "sha256": "a" * 64, "status": "completed",
            "start": now.isoformat(), "end": now.isoformat()}  # fmt: skip
    record_plays(db, 1, [play])
    new_pairing(db, now)
    with db.session() as session:
        session.get(Device, 1).player_version = "1"  # set to what it was: no change at all
    assert _count(db) == before
    # Anything a device plays or is: a new village, a renamed device, a bulk delete.
    assert runner.invoke("village", "add", "岩脚村", "--township", "肇兴镇").exit_code == 0
    assert _count(db) == before + 1
    with db.session() as session:
        session.get(Device, 2).name = "鼓楼大喇叭"
    assert _count(db) == before + 2
    with db.session() as session:
        session.execute(delete(Zone).where(Zone.name == "上寨"))
    assert _count(db) == before + 3
    # A failed transaction raises nothing.
    try:
        with db.session() as session:
            session.get(Device, 2).name = "又改了"
            session.flush()
            raise RuntimeError("Ctrl-C")
    except RuntimeError:
        pass
    assert _count(db) == before + 3
    with db.session() as session:
        assert session.scalar(select(Device.name).where(Device.id == 2)) == "鼓楼大喇叭"


def test_a_change_in_another_process_is_seen(db, runner):
    # `kuanyue` in a process of its own, as a cultural worker runs it beside the server.
    _village_and_device(runner)
    seen = db.changes.current()
    command = [sys.executable, "-m", "web.cli", "village", "add", "岩脚村", "--township", "肇兴镇"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30  # it is read again within a second; no timing asserted
    while db.changes.current() == seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert db.changes.current() == _count(db) > seen


def test_a_device_disabled_in_another_process_is_refused(client, runner):
    _village_and_device(runner)
    made = runner.invoke("device", "token", "喇叭")
    auth = {"Authorization": f"Bearer {_credential(made.output)}"}
    assert client.get("/api/v1/device/emergency", headers=auth).status_code == 200
    command = [sys.executable, "-m", "web.cli", "device", "disable", "喇叭"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if client.get("/api/v1/device/emergency", headers=auth).status_code == 401:
            break
        time.sleep(0.05)
    assert client.get("/api/v1/device/emergency", headers=auth).status_code == 401


def test_a_cache_kept_by_count_forgets_on_a_new_count_and_ignores_an_old_one():
    from library.changes import PerCount

    kept: PerCount[str, int] = PerCount(size=2)
    kept.put(5, "a", 1)
    assert kept.get(5, "a") == 1 and kept.get(6, "a") is None
    kept.put(6, "b", 2)
    assert kept.get(6, "a") is None and kept.get(6, "b") == 2
    kept.put(5, "a", 9)  # a slow request that read the count before the change
    assert kept.get(6, "a") is None and kept.get(5, "a") is None
    kept.put(6, "c", 3)
    kept.put(6, "d", 4)  # full: starts again rather than growing
    assert kept.get(6, "d") == 4 and kept.get(6, "b") is None


def test_a_write_after_a_savepoint_rolled_back_still_raises_the_count(db, runner):
    from library.broadcast.models import Device

    _village_and_device(runner)
    before = _count(db)
    with db.session() as session:
        with session.begin_nested() as trial:
            session.get(Device, 1).name = "试一试"
            session.flush()  # raised, inside the savepoint
            trial.rollback()  # and undone with it
        session.get(Device, 2).name = "鼓楼大喇叭"
    assert _count(db) == before + 1
