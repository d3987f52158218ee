"""Database engine, sessions and Alembic migrations (SQLite in WAL mode by default)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration's revision id. Checking it with one query spares every command the
# cost of importing Alembic; tests/test_store.py proves it equals Alembic's head.
SCHEMA_HEAD = "0003"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API objects
    cur = dbapi_conn.cursor()
    # WAL lets the web server read while a render writes; busy_timeout rides out short locks.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


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
        parsed = make_url(url)
        database = parsed.database or ""
        if (
            parsed.get_backend_name() == "sqlite"
            and database not in ("", ":memory:")
            and not database.startswith("file:")
        ):
            path = Path(database)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"无法创建数据库目录 {path.parent} / cannot create the database folder {path.parent}: {exc}"
                ) from exc
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        """Apply pending migrations (one query when the schema is already current)."""
        try:
            with self.engine.begin() as conn:
                if self._revision(conn) == SCHEMA_HEAD:
                    return
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
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error (Ctrl-C included)."""
        session = self.sessions()
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


def translate_db_error(exc: OperationalError, url: str) -> DatabaseError:
    """Say why a low-level database error happened where we know."""
    text = str(exc.orig) if exc.orig else str(exc)
    if "readonly" in text or "read-only" in text:
        why = "数据库只读，请检查文件权限 / the database is read-only: check the permissions of"
    elif "unable to open" in text:
        why = "无法打开数据库文件 / cannot open the database file"
    elif "locked" in text:
        why = "数据库被其他进程锁定，请稍后重试 / the database is locked by another process; retry"
    elif "disk" in text and "full" in text:
        why = "磁盘已满 / the disk is full"
    else:
        why = "数据库错误 / database error"
    return DatabaseError(f"{why} {url}: {text}")


def open_database(url: str) -> Database:
    """Open (creating if needed) and migrate the database at `url`."""
    db = Database(url)
    db.upgrade()
    return db
