"""The slow half of ingest: the web and loudspeaker copies (and posters) of catalogued originals.

Cataloguing leaves each new original with `copies = "pending"`; the database itself is the
queue. `make_pending_copies` works through it on every core and commits each recording on
its own, all its copies at once: a crash or Ctrl-C leaves the rest pending for the next run,
never a recording with half its copies. A copy that cannot be made marks the original
`failed` with the reason, and is tried again only when asked (`retry_failed`).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from media_pipeline.errors import PipelineError
from media_pipeline.recordings.derive import SourceLevel
from media_pipeline.recordings.ingest import RecordingCopies
from media_pipeline.tools import DEFAULT_TOOLS, Tools

from ..access import may_ever_broadcast
from ..claims import claim, claiming
from ..db import Database
from ..models import MediaFile
from ..parallel import RunScratch, run_items
from ..store import MediaStore, file_row
from .ingest import reason_for

PENDING, DONE, FAILED = "pending", "done", "failed"
CLAIM = "copies"


@dataclass(frozen=True)
class CopiesLine:
    """What happened to one recording's copies."""

    recording_id: int
    name: str
    status: str  # done | failed
    reason: str = ""


@dataclass
class CopiesReport:
    """The recordings whose copies were made, and those that failed and why."""

    lines: list[CopiesLine] = field(default_factory=list)
    elsewhere: list[int] = field(default_factory=list)  # recordings another run is working on
    media_seconds: float = 0.0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """How many recordings ended with `status`."""
        return sum(line.status == status for line in self.lines)


@dataclass(frozen=True)
class _Item:
    file_id: int
    recording_id: int
    name: str
    source: str  # the original's path in the store
    duration_s: float
    # What cataloguing measured of the original (None for a row without it: metered anew).
    level: SourceLevel | None = None
    # A restricted recording is never broadcast: no loudspeaker copy is made for it.
    loudspeaker: bool = True


def waiting(
    db: Database, recording_ids: Sequence[int] | None = None, *, retry_failed: bool = False
) -> list[_Item]:
    """The originals whose copies are still to be made (optionally only these recordings')."""
    states = [PENDING, FAILED] if retry_failed else [PENDING]
    query = (
        select(MediaFile)
        .where(MediaFile.kind == "original", MediaFile.copies.in_(states))
        .options(selectinload(MediaFile.recording))
    )
    if recording_ids is not None:
        query = query.where(MediaFile.recording_id.in_(list(recording_ids)))
    with db.session() as session:
        return [
            _Item(
                f.id,
                f.recording_id,
                f.original_name or f.public_name,
                f.store_path,
                f.duration_s or 0.0,
                None
                if f.integrated_lufs is None
                else SourceLevel(f.integrated_lufs, f.loudness_range_lu or 0.0, f.sample_peak_dbfs),
                may_ever_broadcast(f.recording),
            )
            for f in session.scalars(query.order_by(MediaFile.id))
        ]


def _work(tools: Tools, threads: int, item: _Item, scratch: Path) -> RecordingCopies:
    from media_pipeline.recordings.ingest import make_copies

    return make_copies(
        Path(item.source),
        scratch,
        tools,
        level=item.level,
        threads=threads,
        loudspeaker=item.loudspeaker,
    )


def _threads(workers: int, items: int) -> int:
    """Threads for each ffmpeg: the cores shared among the recordings worked on at once."""
    return max(1, (os.cpu_count() or 1) // max(1, min(workers, items)))


def make_pending_copies(
    db: Database,
    store: MediaStore,
    *,
    workers: int = 2,
    recording_ids: Sequence[int] | None = None,
    retry_failed: bool = False,
    progress: Callable[[CopiesLine], None] | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> CopiesReport:
    """Make every pending original's copies (see module doc); one commit per recording."""
    started = time.perf_counter()
    report = CopiesReport()
    items = waiting(db, recording_ids, retry_failed=retry_failed)
    # run_items hands workers absolute paths; the store keeps relative ones.
    items = [replace(i, source=str(store.path(i.source))) for i in items]

    def finish(item: _Item, result: RecordingCopies | PipelineError) -> None:
        with db.session(write=True) as session:
            original = session.get(MediaFile, item.file_id)
            if original is None or original.copies == DONE:  # deleted, or done by another run
                return
            if isinstance(result, PipelineError):
                original.copies, original.copies_error = FAILED, reason_for(result, item.source)
                line = CopiesLine(item.recording_id, item.name, FAILED, original.copies_error)
            else:
                _store_copies(session, store, original, result)
                report.media_seconds += item.duration_s
                line = CopiesLine(item.recording_id, item.name, DONE)
        report.lines.append(line)
        if progress:
            progress(line)

    with RunScratch(store.root.parent / "tmp") as run, claiming(db, run, CLAIM):
        # Recordings another live `copies` (or scan) is working on are left to it.
        mine = claim(db, run, CLAIM, (str(i.file_id) for i in items))
        report.elsewhere = [i.recording_id for i in items if str(i.file_id) not in mine]
        items = [i for i in items if str(i.file_id) in mine]
        work = functools.partial(_work, tools, _threads(workers, len(items)))
        run_items(items, work, finish, store=store, workers=workers, run=run)
    report.seconds = time.perf_counter() - started
    return report


def _store_copies(session, store: MediaStore, original: MediaFile, made: RecordingCopies) -> None:  # noqa: ANN001
    """Move the made files into the store and add (or replace) their rows."""
    recording = original.recording
    existing = {f.kind: f for f in recording.files}
    for produced in made.produced:
        row = existing.get(produced.kind)
        if row is None:
            row = MediaFile()
            recording.files.append(row)
        file_row(store, produced, row)
    original.probe = made.probe
    original.true_peak_dbtp = made.true_peak_dbtp
    original.copies, original.copies_error = DONE, None
