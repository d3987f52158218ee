"""What playlists, schedules and the device timeline share: the error, and finding things.

The programme is built in four modules: `playlists` (ordered items), `schedules` (a playlist
in recurring windows on targets), `device_rules` (the database mapped onto `rules` for one
device, checked again at every call: consent, access, expiry) and `timeline` (pure). This
module holds what more than one of them needs.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session, selectinload

from .. import models as lib
from ..access import Viewer, broadcastable, may
from ..errors import LibraryError
from .models import Playlist
from .places import find_village


class ProgrammeError(LibraryError):
    """A playlist or schedule that cannot be made as asked; the message names the field."""


def find_playlist(session: Session, ref: str) -> Playlist:
    """The playlist named `ref` ("名" or "村名/名"); ProgrammeError if none or ambiguous."""
    village, _, name = ref.strip().rpartition("/")
    query = select(Playlist).where(
        Playlist.name == name.strip(), Playlist.announcement_id.is_(None)
    )
    if village:
        query = query.where(Playlist.village_id == find_village(session, village).id)
    found = list(session.scalars(query))
    if not found:
        raise ProgrammeError(f"找不到播放列表：{ref} / no playlist {ref}")
    if len(found) > 1:
        where = "、".join(f"{p.village.name if p.village else '全县'}/{p.name}" for p in found)
        raise ProgrammeError(
            f"有几个播放列表叫 {ref}，请写成 村名/名：{where} / several playlists are called"
            f" {ref}; write village/name: {where}"
        )
    return found[0]


def newest_clause(session: Session, key: str) -> lib.Clause | None:
    """The newest version's clause with this key (with its segments and their files).

    Remembered for the session: a device's rules ask it for the same clause in every
    schedule that plays it, and a session is one request or one command.
    """
    memo: dict[str, lib.Clause | None] = session.info.setdefault("newest_clause", {})
    if key not in memo:
        memo[key] = session.scalar(
            select(lib.Clause)
            .join(lib.CovenantVersion)
            .where(lib.Clause.key == key)
            .order_by(lib.CovenantVersion.number.desc())
            .limit(1)
            .options(selectinload(lib.Clause.segments).selectinload(lib.Segment.files))
        )
    return memo[key]


def newest_segment_file(
    clause: lib.Clause | None, kind: str
) -> tuple[lib.SegmentFile, float] | None:
    """The newest segment's file of `kind` and its seconds, if rendered for this wording.

    A new covenant version carries its clauses' segments over (library.covenants.segments),
    so a clause whose text changed holds the old wording's media until it is rendered again;
    that media is not this clause's, and a loudspeaker must not announce the old rule (the
    old fine, say) as the new one, so such a clause has no file here until it is rendered.
    """
    if clause is None:
        return None
    for segment in reversed(clause.segments):
        if (file := segment.file(kind)) is not None:
            seconds = file.duration_s or segment.duration_s
            if not seconds or seconds <= 0 or not _rendered_for(clause, segment):
                return None
            return file, seconds
    return None


# (clause id, inputs hash) → rendered for that clause's wording. Both never change (a
# version's clauses are immutable, a segment's inputs are its key), so the answer is kept:
# every device's schedule poll asks it for every clause it plays.
_RENDERED_FOR: dict[tuple[int, str], bool] = {}


def _rendered_for(clause: lib.Clause, segment: lib.Segment) -> bool:
    """Whether `segment` was rendered from `clause`'s wording (its first rendering's clause
    says the same label and text)."""
    key = (clause.id, segment.inputs_hash)
    known = _RENDERED_FOR.get(key)
    if known is not None:
        return known
    session = object_session(clause)
    if session is None:
        return True
    origin = session.scalar(
        select(lib.Clause)
        .join(lib.Segment, lib.Segment.clause_id == lib.Clause.id)
        .where(lib.Segment.inputs_hash == segment.inputs_hash)
        .order_by(lib.Segment.id)
        .limit(1)
    )
    same = origin is None or (origin.label, origin.text_zh, origin.text_dong) == (
        clause.label,
        clause.text_zh,
        clause.text_dong,
    )
    if len(_RENDERED_FOR) < 100_000:
        _RENDERED_FOR[key] = same
    return same


def find_recording(session: Session, value: str) -> lib.Recording:
    """The recording with id `value`; ProgrammeError naming ID when there is none."""
    recording_id = int(value) if value.strip().isdigit() else 0
    recording = session.get(lib.Recording, recording_id) if lib.is_row_id(recording_id) else None
    if recording is None:
        raise ProgrammeError(f"找不到录音（ID）：{value} / no recording {value}")
    return recording


def may_broadcast(recording: lib.Recording, village: str | None) -> bool:
    """The access rule's broadcast answer: for a village's devices, or (None) anywhere."""
    if village is None:
        return broadcastable(recording)
    return may(Viewer("device", village=village), recording, "broadcast")
