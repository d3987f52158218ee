"""Before a migration the SQLite file is backed up beside itself, with SQLite's backup API."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from library.db import KEEP_BACKUPS, SCHEMA_HEAD, alembic_config, open_database

OLD = "0002"


def _revision(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.bak-*"))


@pytest.fixture
def old_database(tmp_path) -> Iterator[Path]:
    """A database migrated only to revision 0002, open in another connection, whose last
    write (a performer) is still in the WAL: a copy of the main file alone would miss it."""
    from alembic import command

    path = tmp_path / "kuanyue.db"
    command.upgrade(alembic_config(f"sqlite:///{path}"), OLD)
    with contextlib.closing(sqlite3.connect(path)) as other:
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("PRAGMA wal_autocheckpoint=0")
        other.execute("INSERT INTO performer (name) VALUES ('吴培三')")
        other.commit()
        assert path.with_name("kuanyue.db-wal").stat().st_size > 0
        assert _revision(path) == OLD
        yield path


def test_an_old_database_is_backed_up_then_upgraded(old_database, caplog):
    with caplog.at_level(logging.WARNING, logger="library.db"):
        open_database(f"sqlite:///{old_database}").engine.dispose()

    assert _revision(old_database) == SCHEMA_HEAD
    (backup,) = _backups(old_database)
    assert backup.name.startswith(f"kuanyue.db.bak-{OLD}-")
    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file
        assert conn.execute("SELECT name FROM performer").fetchall() == [("吴培三",)]
    assert _revision(backup) == OLD
    (line,) = [r.getMessage() for r in caplog.records if r.name == "library.db"]
    assert str(backup) in line and "已备份" in line and "backed up" in line
    assert line.index("已备份") < line.index("backed up")  # Chinese first

    open_database(f"sqlite:///{old_database}").engine.dispose()  # at head: no new backup
    assert _backups(old_database) == [backup]


@pytest.mark.parametrize(
    "empty_file", [pytest.param(False, id="new"), pytest.param(True, id="empty-file")]
)
def test_a_new_database_gets_no_backup(tmp_path, empty_file):
    path = tmp_path / "kuanyue.db"
    if empty_file:
        path.touch()
    open_database(f"sqlite:///{path}").engine.dispose()
    assert _revision(path) == SCHEMA_HEAD
    assert _backups(path) == []


def test_only_the_newest_backups_are_kept(old_database):
    older = [
        old_database.with_name(f"kuanyue.db.bak-0001-2024010{day}T080000.000000Z")
        for day in range(1, 5)
    ]
    by_hand = old_database.with_name("kuanyue.db.bak-before-the-county-visit")
    for path in (*older, by_hand):
        path.write_bytes(b"")

    open_database(f"sqlite:///{old_database}").engine.dispose()

    kept = _backups(old_database)
    assert len([p for p in kept if p != by_hand]) == KEEP_BACKUPS == 3
    assert by_hand in kept  # not a name this code makes: never removed
    assert older[-2:] == [p for p in kept if p in older]  # the two newest of the old ones
    assert any(p.name.startswith(f"kuanyue.db.bak-{OLD}-") for p in kept)  # and today's
