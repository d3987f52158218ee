"""A database-wide change count: every commit that changes content raises it.

The device API answers a county's polls from memory — who a device is, its snapshot's
version, the live emergencies — and must still see at once what a cultural worker changed in
another process (`kuanyue announce`, a render, a consent withdrawn). So every transaction that
writes content also raises the one row of `change_count`, and the caches are kept while the
count stands still. A process reads the count at most once every READ_EVERY_S (one cheap
query for all its threads) and at once after its own commits.

Bookkeeping writes that never change what a device plays or who it is — play logs, pairing
codes, work claims, scanned-file notes, the search index, a device's last-seen and health —
leave the count alone; otherwise the 963 devices' last-seen batches alone would empty the
caches every few seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, event, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from .models import ChangeCount

READ_EVERY_S = 1.0
# Tables whose writes are bookkeeping through and through.
BOOKKEEPING = frozenset(
    {"change_count", "play_log", "screen_pairing", "work_claim", "scanned_file", "recording_fts"}
)
# Columns of other tables whose writes are bookkeeping: a device's reports about itself.
BOOKKEEPING_COLUMNS = {
    "device": frozenset(
        {"last_seen_at", "player_version", "cache_bytes", "free_bytes", "clock_offset_s"}
    )
}
_RAISE = update(ChangeCount).where(ChangeCount.id == 1).values(n=ChangeCount.n + 1)
_RAISED = "kuanyue.changes.raised"  # session.info key: this transaction raised the count
# Raised by this process's own commits that raised a count, so every counter here (a command
# and the app may each open the database) reads again at once rather than within a second.
_local = {"commits": 0}


class ChangeCounter:
    """The count as this process last read it, re-read at most every READ_EVERY_S."""

    def __init__(self, engine: Engine, sessions: sessionmaker) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._value: int | None = None
        self._read_at = -1e9
        self._seen_commits = -1
        self._caches: dict[str, PerCount] = {}
        self._caches_lock = threading.Lock()
        event.listen(sessions, "after_flush", self._after_flush)
        event.listen(sessions, "do_orm_execute", self._on_execute)
        event.listen(sessions, "after_commit", self._after_commit)
        # Also after a savepoint's rollback, which may have taken the raise with it.
        event.listen(sessions, "after_rollback", self._forget)

    def current(self) -> int:
        """The count; a thread finding another already reading it takes the last value."""
        if not self._due() and self._value is not None:
            return self._value
        if not self._lock.acquire(blocking=self._value is None):
            return self._value  # type: ignore[return-value]  # None only while blocking
        try:
            if self._due() or self._value is None:
                commits = _local["commits"]
                with self._engine.connect() as conn:
                    self._value = int(conn.execute(select(ChangeCount.n)).scalar() or 0)
                self._read_at, self._seen_commits = time.monotonic(), commits
            return self._value
        finally:
            self._lock.release()

    def cache(self, name: str, size: int) -> PerCount:
        """This database's cache called `name` (made on first use), kept per change count."""
        found = self._caches.get(name)
        if found is None:
            # Not under the count's lock: every poll asks for a cache, and must never wait
            # while one thread reads the count.
            with self._caches_lock:
                found = self._caches.setdefault(name, PerCount(size))
        return found

    def _due(self) -> bool:
        return (
            self._seen_commits != _local["commits"]
            or time.monotonic() - self._read_at >= READ_EVERY_S
        )

    def _raise(self, session: Session) -> None:
        if not session.info.get(_RAISED):
            session.connection().execute(_RAISE)  # the connection: no do_orm_execute again
            session.info[_RAISED] = True

    def _after_flush(self, session: Session, _context: Any) -> None:
        # The flush's objects still show what it wrote (new, changed, deleted) at this point.
        if (
            any(_content(obj) for obj in session.new)
            or any(_content(obj) for obj in session.deleted)
            or any(_content(obj, changed=True) for obj in session.dirty)
        ):
            self._raise(session)

    def _on_execute(self, state: ORMExecuteState) -> None:
        # Bulk writes (`session.execute(delete(...))`) pass no objects through a flush.
        if state.is_insert or state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            if getattr(table, "name", None) not in BOOKKEEPING:
                self._raise(state.session)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_RAISED, None):
            _local["commits"] += 1  # this process sees its own change on its next read

    def _forget(self, session: Session) -> None:
        session.info.pop(_RAISED, None)


def _content(obj: object, *, changed: bool = False) -> bool:
    """Whether writing `obj` (a changed one: its changed attributes) changes content."""
    table = getattr(getattr(obj, "__table__", None), "name", "")
    if table in BOOKKEEPING:
        return False
    if not changed:
        return True
    keys = {a.key for a in inspect(obj).attrs if a.history.has_changes()}
    return bool(keys - BOOKKEEPING_COLUMNS.get(table, frozenset()))


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class PerCount(Generic[K, V]):
    """A bounded dict whose entries hold while the change count stands still.

    A new dict replaces it whole when the count moves or it holds `size` entries (simple, and
    a county's devices fit many times over); one handed out by `for_count` stays usable.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._count: int | None = None
        self._data: dict[K, V] = {}
        self._lock = threading.Lock()
        # For get_or_make: one thread makes a missing value while others with the same key
        # wait for it, so a county's polls arriving together after a change do the work once.
        self._making = [threading.Lock() for _ in range(32)]

    def for_count(self, count: int) -> dict[K, V]:
        """The dict for this count (a throwaway one when `count` is older than the kept one)."""
        with self._lock:
            if self._count is not None and count < self._count:
                return {}  # a slow request's stale answers must not replace newer ones
            if count != self._count or len(self._data) >= self.size:
                self._data, self._count = {}, count
            return self._data

    def get(self, count: int, key: K) -> V | None:
        """The value kept for `key` under this count, or None."""
        with self._lock:
            return self._data.get(key) if count == self._count else None

    def put(self, count: int, key: K, value: V) -> None:
        """Keep `value` for `key` under this count (a newer count empties the rest)."""
        self.for_count(count)[key] = value

    def get_or_make(self, count: int, key: K, make: Callable[[], V]) -> V:
        """The value kept for `key`, made by `make()` — once, however many threads ask."""
        found = self.get(count, key)
        if found is not None:
            return found
        with self._making[hash(key) % len(self._making)]:
            found = self.get(count, key)
            if found is None:
                found = make()
                self.put(count, key, found)
            return found
