"""The search index kept in step with every write to a recording, whichever module makes it."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import event, select
from sqlalchemy import inspect as inspect_state
from sqlalchemy.orm import Session, sessionmaker

from .models import (
    Genre,
    Performer,
    Recording,
    RecordingPerformer,
    RecordingText,
    TextLine,
    TextTrack,
)
from .search import index_recording

# Three session events, registered on every `Database`'s session factory:
#   before_flush:          recordings reached through a genre or performer being renamed or
#                          deleted (looked up while the rows still point at them);
#   after_flush:           recordings whose indexed fields, texts, performers, tracks or lines
#                          were written (new, changed or deleted objects, as this flush saw them);
#   after_flush_postexec:  those recordings' rows rewritten, inside the flush's transaction.

_PENDING = "kuanyue.search.pending"  # session.info key: {recording id: is new}
_TRACK_LINES = "kuanyue.search.tracks"  # session.info key: ids of tracks whose lines changed
# Recording attributes that feed the index; other writes (files, copies, consent, protocol,
# spans) leave it as it is, because access is checked when searching, not when indexing.
_INDEXED = ("genre", "genre_id", "village", "township", "occasion", "tags", "notes")
_INDEXED_COLLECTIONS = ("texts", "performers", "tracks")
# Names a genre or performer lends to every recording that has it.
_NAMES = {Genre: ("name_zh", "name_kmc"), Performer: ("name", "name_kmc")}

_T = TypeVar("_T")


def _uses_index(session: Session) -> bool:
    """Whether the session's database has the FTS5 index (SQLite only, migration 0002)."""
    bind = session.get_bind()
    return bind.dialect.name == "sqlite"


def _changed(obj: object, names: tuple[str, ...]) -> bool:
    """Whether any of these attributes of a persistent object has unflushed changes."""
    attrs = inspect_state(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _loaded(obj: object, name: str, kind: type[_T]) -> _T | None:
    """An attribute's loaded value without loading it (None when not loaded)."""
    value = inspect_state(obj).dict.get(name)
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{type(obj).__name__}.{name} is {value!r}, not a {kind.__name__}")
    return value


def _note_writes_before(session: Session, _flush_context: object, _instances: object) -> None:
    """Before the flush: recordings reached through a renamed or deleted genre or performer."""
    session.info[_PENDING] = {}
    session.info[_TRACK_LINES] = set()
    if not _uses_index(session):
        return
    genres: set[int] = set()
    performers: set[int] = set()
    for obj in (*session.dirty, *session.deleted):
        if not isinstance(obj, Genre | Performer) or obj.id is None:
            continue
        if obj in session.deleted or _changed(obj, _NAMES[type(obj)]):
            (genres if isinstance(obj, Genre) else performers).add(obj.id)
    ids: set[int] = set()
    if genres:
        ids.update(session.scalars(select(Recording.id).where(Recording.genre_id.in_(genres))))
    if performers:
        ids.update(
            session.scalars(
                select(RecordingPerformer.recording_id).where(
                    RecordingPerformer.performer_id.in_(performers)
                )
            )
        )
    session.info[_PENDING] = dict.fromkeys(ids, False)


def _recording_id_of(obj: object) -> int | None:
    """The recording a text, performer link or track belongs to, from what is loaded."""
    rid = _loaded(obj, "recording_id", int)
    if rid is None and (recording := _loaded(obj, "recording", Recording)) is not None:
        rid = recording.id
    return rid


def _note_writes(session: Session, _flush_context: object) -> None:
    """After the flush's SQL: the recordings whose index rows this flush made stale."""
    if not _uses_index(session):
        return
    pending: dict[int, bool] = session.info.setdefault(_PENDING, {})
    tracks: set[int] = session.info.setdefault(_TRACK_LINES, set())
    for obj in session.new:
        if isinstance(obj, Recording):
            pending.setdefault(obj.id, True)
    changed = [
        obj
        for obj in session.dirty
        if not isinstance(obj, Recording) or _changed(obj, _INDEXED + _INDEXED_COLLECTIONS)
    ]
    for obj in (*session.new, *changed, *session.deleted):
        if isinstance(obj, Recording):
            if obj.id is not None and obj not in session.new:
                pending[obj.id] = False
        elif isinstance(obj, RecordingText | RecordingPerformer | TextTrack):
            if (rid := _recording_id_of(obj)) is not None:
                pending.setdefault(rid, False)
        elif isinstance(obj, TextLine):
            track = _loaded(obj, "track", TextTrack)
            if track is not None and (rid := _recording_id_of(track)) is not None:
                pending.setdefault(rid, False)
            elif (track_id := _loaded(obj, "track_id", int)) is not None:
                tracks.add(track_id)  # looked up after the flush


def _reindex_after_flush(session: Session, _flush_context: object) -> None:
    """After the flush: rewrite the noted recordings' rows, in the same transaction."""
    pending: dict[int, bool] = session.info.pop(_PENDING, {})
    tracks: set[int] = session.info.pop(_TRACK_LINES, set())
    if not _uses_index(session) or not (pending or tracks):
        return
    if tracks:
        rows = session.scalars(select(TextTrack.recording_id).where(TextTrack.id.in_(tracks)))
        for rid in rows:
            pending.setdefault(rid, False)
    for recording_id, new in sorted(pending.items()):
        index_recording(session, recording_id, new=new)


def keep_index_current(sessions: sessionmaker[Session]) -> None:
    """Register the three events on a session factory (`Database` does, for each database)."""
    event.listen(sessions, "before_flush", _note_writes_before)
    event.listen(sessions, "after_flush", _note_writes)
    event.listen(sessions, "after_flush_postexec", _reindex_after_flush)
