"""Segments: the rendered media of clause versions, and reuse across versions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Clause, Segment, SegmentFile

# What a clone copies of each file row: everything but its own id and segment.
FILE_COLUMNS = tuple(
    c.name for c in SegmentFile.__table__.columns if c.name not in ("id", "segment_id")
)


def clone_segment(segment: Segment, clause: Clause) -> Segment:
    """A copy of `segment` (same stored files, no media work) attached to `clause`."""
    copy = Segment(
        inputs_hash=segment.inputs_hash,
        engine=segment.engine,
        voice=segment.voice,
        duration_s=segment.duration_s,
        render_seconds=0.0,
    )
    copy.files = [SegmentFile(**{c: getattr(f, c) for c in FILE_COLUMNS}) for f in segment.files]
    clause.segments.append(copy)
    return copy


def copy_segments(session: Session, old: Clause, new: Clause) -> int:
    """Give `new` every segment of `old` it does not have yet; returns how many."""
    have = {s.inputs_hash for s in new.segments}
    count = 0
    for segment in old.segments:
        if segment.inputs_hash not in have:
            clone_segment(segment, new)
            have.add(segment.inputs_hash)
            count += 1
    return count


def find_segment_by_inputs(session: Session, inputs_hash: str) -> Segment | None:
    """Any segment already rendered from exactly these inputs (by any clause row)."""
    return session.scalar(select(Segment).where(Segment.inputs_hash == inputs_hash).limit(1))


def promote_segment(session: Session, clause: Clause, inputs_hash: str) -> None:
    """Make the clause's segment of `inputs_hash` its newest (pages show the newest), by
    replacing it with a clone: same stored files, a new id. A no-op when it is the newest."""
    matching = [s for s in clause.segments if s.inputs_hash == inputs_hash]
    if not matching or clause.segments[-1] is matching[0]:
        return
    old = matching[0]
    clause.segments.remove(old)  # deleted (delete-orphan) before its clone takes its key
    session.flush()
    copy = clone_segment(old, clause)
    copy.render_seconds, copy.created_at = old.render_seconds, old.created_at
