"""Database engine, sessions and Alembic migrations (SQLite in WAL mode by default)."""

from __future__ import annotations

import contextlib
import glob
import logging
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .disk import FULL, StorageError, check_writable
from .errors import DatabaseError, LibraryError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration's revision id. Checking it with one query spares every command the
# cost of importing Alembic; tests/test_store.py proves it equals Alembic's head.
SCHEMA_HEAD = "0012"
# Backups made before a migration (kuanyue.db.bak-<old revision>-<UTC time>) kept beside it.
KEEP_BACKUPS = 3

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API objects
    # We issue BEGIN ourselves (_sqlite_begin), as SQLAlchemy's pysqlite docs advise, so that
    # a writer can take the lock up front and transactional DDL works in migrations.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets the web server read while a render writes; busy_timeout rides out short locks.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


IMMEDIATE = "kuanyue_immediate"


def _sqlite_begin(conn) -> None:  # noqa: ANN001 - a SQLAlchemy connection
    # pysqlite's own BEGIN is turned off (_sqlite_pragmas) so that we choose the kind here.
    immediate = conn.get_execution_options().get(IMMEDIATE)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic configuration pointing at our migrations and `url`."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class Database:
    """An engine plus a session factory, migrated to the newest schema on open."""

    def __init__(self, url: str) -> None:
        self.url = url
        # The SQLite file, when there is one (not :memory: or a file: URI): it is backed up
        # before a migration.
        self.path: Path | None = None
        parsed = make_url(url)
        database = parsed.database or ""
        if (
            parsed.get_backend_name() == "sqlite"
            and database not in ("", ":memory:")
            and not database.startswith("file:")
        ):
            self.path = Path(database)
            # SQLite in WAL mode writes beside the database even to read it (-wal, -shm):
            # a folder that cannot be written gets one clear line now, not an "unable to
            # open database file" later.
            check_writable(self.path.parent)
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        from .changes import ChangeCounter  # the models load only with a database
        from .index_upkeep import keep_index_current

        keep_index_current(self.sessions)
        self.changes = ChangeCounter(self.engine, self.sessions)

    def upgrade(self) -> None:
        """Apply pending migrations (one query when the schema is already current).

        A SQLite file that holds tables is backed up beside itself first (see
        backup_before_migration); a new, empty database is not.
        """
        try:
            # IMMEDIATE: two commands opening a new or old database at once migrate it once;
            # the second waits, then finds it current.
            with self.engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
                revision = self._revision(conn)
                if revision == SCHEMA_HEAD:
                    return
                if self.path is not None and _has_tables(conn):
                    backup_before_migration(self.path, revision)
                from alembic import command

                cfg = alembic_config(self.url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise translate_db_error(exc, self.url) from exc

    @staticmethod
    def _revision(conn) -> str | None:  # noqa: ANN001 - a SQLAlchemy connection
        if not conn.dialect.has_table(conn, "alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    @contextlib.contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error (Ctrl-C included).

        `write=True` takes SQLite's write lock when the transaction begins (BEGIN IMMEDIATE)
        for work that reads and then writes what another process may write meanwhile
        (claims, recording results): it waits its turn (busy_timeout) instead of failing with
        "database is locked" when it first writes.
        """
        session = self.sessions()
        if write:
            session.connection(execution_options={IMMEDIATE: True})
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise translate_db_error(exc, self.url) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def _has_tables(conn) -> bool:  # noqa: ANN001 - a SQLAlchemy connection
    return bool(
        conn.execute(text("SELECT count(*) FROM sqlite_master WHERE type='table'")).scalar()
    )


def backup_before_migration(path: Path, revision: str | None) -> Path:
    """Copy the SQLite database at `path` to `<name>.bak-<revision>-<UTC time>` beside it.

    SQLite's online backup API copies a consistent snapshot (the WAL included) even while
    another process has the database open, which a file copy does not. The backup is left
    in rollback-journal mode, so it is one self-contained file. Only the KEEP_BACKUPS newest
    backups are kept. Raises DatabaseError (and the caller does not migrate) on failure.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    backup = path.with_name(f"{path.name}.bak-{revision or 'none'}-{stamp}")
    try:
        with (
            contextlib.closing(sqlite3.connect(path)) as source,
            contextlib.closing(sqlite3.connect(backup)) as target,
        ):
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        backup.unlink(missing_ok=True)
        raise DatabaseError(
            f"升级数据库前无法备份，未升级 / cannot back up the database before upgrading it,"
            f" so it was not upgraded: {backup}: {exc}"
        ) from exc
    versions = f"{revision or '-'} → {SCHEMA_HEAD}"
    log.warning(
        "数据库升级（%s）前已备份到 %s / backed up the database before upgrading it (%s): %s",
        versions,
        backup,
        versions,
        backup,
    )
    _prune_backups(path)
    return backup


def _prune_backups(path: Path) -> None:
    """Remove all but the KEEP_BACKUPS newest backups of `path` (by the time in their name)."""
    # Only names this function makes: a backup someone named by hand is never removed.
    pattern = re.compile(re.escape(path.name) + r"\.bak-.+-(\d{8}T\d{6}\.\d{6}Z)$")
    found = []
    for candidate in path.parent.glob(f"{glob.escape(path.name)}.bak-*"):
        match = pattern.match(candidate.name)
        if match and candidate.is_file():
            found.append((match.group(1), candidate))
    for _stamp, old in sorted(found, reverse=True)[KEEP_BACKUPS:]:
        old.unlink(missing_ok=True)


def translate_db_error(exc: OperationalError, url: str) -> LibraryError:
    """Say why a low-level database error happened where we know."""
    text = str(exc.orig) if exc.orig else str(exc)
    if "readonly" in text or "read-only" in text:
        why = "数据库只读，请检查文件权限 / the database is read-only: check the permissions of"
    elif "unable to open" in text:
        why = "无法打开数据库文件 / cannot open the database file"
    elif "locked" in text:
        why = "数据库被其他进程锁定，请稍后重试 / the database is locked by another process; retry"
    elif "disk" in text and "full" in text:
        return StorageError(FULL, url.removeprefix("sqlite:///"))
    elif "disk I/O error" in text:
        why = (
            "磁盘读写出错（磁盘可能已满或损坏，请用 df -h 检查）/ disk I/O error (the disk may"
            " be full or failing: check df -h)"
        )
    else:
        why = "数据库错误 / database error"
    return DatabaseError(f"{why} {url}: {text}")


def open_database(url: str) -> Database:
    """Open (creating if needed) and migrate the database at `url`."""
    db = Database(url)
    db.upgrade()
    return db
