"""The slow half of ingest: the web and loudspeaker copies (and posters) of catalogued originals.

Cataloguing leaves each new original with `copies = "pending"`; the database itself is the
queue. `make_pending_copies` works through it on every core, short recordings in batches
that share their ffmpeg runs, and commits each recording on its own, all its copies at once: a crash or Ctrl-C leaves the rest pending for the next run,
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
from media_pipeline.recordings.copy_rules import SourceLevel
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
BATCH_MAX = 16
BATCH_MEDIA_S = 600.0


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


def _work(
    tools: Tools, threads: int, batch: tuple[_Item, ...], scratch: Path
) -> list[RecordingCopies | PipelineError]:
    from media_pipeline.recordings.ingest import CopiesOf, make_many_copies

    wanted = [
        CopiesOf(Path(item.source), scratch / str(n), item.level, item.loudspeaker)
        for n, item in enumerate(batch)
    ]
    return make_many_copies(wanted, tools, threads=threads)


def _threads(workers: int, batches: int) -> int:
    """Threads for each ffmpeg: the cores shared among the batches worked on at once."""
    return max(1, (os.cpu_count() or 1) // max(1, min(workers, batches)))


def batches(items: Sequence[_Item], workers: int) -> list[tuple[_Item, ...]]:
    """The items in batches that share their ffmpeg runs, most media first.

    Each ffmpeg start spends ~70 ms loading libraries, a fifth of what a minute of audio's
    copies cost. A batch holds up to BATCH_MAX recordings and about BATCH_MEDIA_S of media
    (less when there is little to do: some four batches per worker), recordings of similar
    length together; the batches with the most media go first, so the workers finish
    together on small ones.
    """
    total = sum(i.duration_s for i in items)
    target = min(BATCH_MEDIA_S, max(1.0, total / (4 * max(1, workers))))
    grouped: list[list[_Item]] = []
    media = 0.0
    for item in sorted(items, key=lambda i: i.duration_s):
        if not grouped or len(grouped[-1]) >= BATCH_MAX or media + item.duration_s > target:
            grouped.append([])
            media = 0.0
        grouped[-1].append(item)
        media += item.duration_s
    grouped.sort(key=lambda batch: -sum(i.duration_s for i in batch))
    return [tuple(batch) for batch in grouped]


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

    def finish(
        batch: tuple[_Item, ...], results: list[RecordingCopies | PipelineError] | PipelineError
    ) -> None:
        if isinstance(results, PipelineError):
            results = [results] * len(batch)
        for item, result in zip(batch, results, strict=True):
            finish_one(item, result)

    def finish_one(item: _Item, result: RecordingCopies | PipelineError) -> None:
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
        todo = batches(items, workers)
        work = functools.partial(_work, tools, _threads(workers, len(todo)))
        run_items(todo, work, finish, store=store, workers=workers, run=run)
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
    if made.source is not None:  # metered where a gain depended on it
        original.true_peak_dbtp = made.source.true_peak_dbtp
    original.copies, original.copies_error = DONE, None
