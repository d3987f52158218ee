"""Cataloguing from start to end: catalogue the files, then make their copies or leave them.

Each `kuanyue catalogue scan | add | import-sheet | copies` is one call here. Cataloguing
(`ingest`, `manifest`) is quick and makes every file findable; the web and loudspeaker copies
(`copies`) are the slow half. Unless told `later`, a workflow makes the copies its files are
waiting for right after cataloguing them; with `later` it only counts the copies waiting, for
`make_copies` to make another time.

`tools` (the configured ffmpeg and friends) reach the copies; cataloguing decodes in-process.
A caller follows along through a `Watch`: one call per file catalogued, one when cataloguing
is over (before any copy is started), one when copies start (with how many) and one per
recording whose copies were made. Ctrl-C (KeyboardInterrupt) passes through: what finished is
committed, and the caller's watch knows which half was running.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from media_pipeline.tools import DEFAULT_TOOLS, Tools

from ..db import Database
from ..store import MediaStore
from .copies import CopiesLine, CopiesReport, make_pending_copies, waiting
from .ingest import ReportLine, ScanReport, add_file, scan_folder
from .manifest import import_sheet
from .recordings import RecordingMeta


class Watch:
    """What a caller sees while a workflow runs; each method does nothing unless overridden."""

    def catalogued(self, line: ReportLine) -> None:
        """A file was catalogued, found unchanged or identical, or refused."""

    def catalogue_done(self, report: ScanReport) -> None:
        """Cataloguing is over; copies (if any) come next."""

    def copies_started(self, count: int) -> None:
        """`count` recordings' copies are about to be made."""

    def copied(self, line: CopiesLine) -> None:
        """One recording's copies were made, or failed."""


@dataclass(frozen=True)
class CatalogueResult:
    """What a workflow did: its cataloguing report and its copies, or how many still wait."""

    report: ScanReport
    copies: CopiesReport | None = None  # None: none were made (nothing waited, or `later`)
    waiting: int = 0  # with `later`: the copies waiting in the whole catalogue


def make_copies(
    db: Database,
    store: MediaStore,
    *,
    workers: int = 2,
    recording_ids: Sequence[int] | None = None,
    retry_failed: bool = False,
    tools: Tools = DEFAULT_TOOLS,
    watch: Watch | None = None,
) -> CopiesReport | None:
    """Make the waiting copies (of these recordings only, if given); None when none wait."""
    watch = watch or Watch()
    todo = waiting(db, recording_ids, retry_failed=retry_failed)
    if not todo:
        return None
    watch.copies_started(len(todo))
    return make_pending_copies(
        db,
        store,
        workers=workers,
        recording_ids=recording_ids,
        retry_failed=retry_failed,
        progress=watch.copied,
        tools=tools,
    )


def _then_copies(
    db: Database,
    store: MediaStore,
    report: ScanReport,
    *,
    later: bool,
    workers: int,
    recording_ids: Sequence[int] | None = None,
    tools: Tools,
    watch: Watch,
) -> CatalogueResult:
    watch.catalogue_done(report)
    if later:
        return CatalogueResult(report, waiting=len(waiting(db)))
    copies = make_copies(
        db, store, workers=workers, recording_ids=recording_ids, tools=tools, watch=watch
    )
    return CatalogueResult(report, copies)


def catalogue_folder(
    db: Database,
    store: MediaStore,
    folder: Path,
    *,
    workers: int = 2,
    defaults: RecordingMeta | None = None,
    later: bool = False,
    follow_links: bool = False,
    tools: Tools = DEFAULT_TOOLS,
    watch: Watch | None = None,
) -> CatalogueResult:
    """Scan `folder` (incremental, resumable; see `scan_folder`), then make the copies waiting.

    Symlinks out of `folder` are reported and not followed unless `follow_links`.
    """
    watch = watch or Watch()
    report = scan_folder(
        db,
        store,
        folder,
        workers=workers,
        defaults=defaults,
        progress=watch.catalogued,
        follow_links=follow_links,
    )
    return _then_copies(db, store, report, later=later, workers=workers, tools=tools, watch=watch)


def catalogue_file(
    db: Database,
    store: MediaStore,
    path: Path,
    meta: RecordingMeta,
    *,
    later: bool = False,
    tools: Tools = DEFAULT_TOOLS,
    watch: Watch | None = None,
) -> CatalogueResult:
    """Add one file with its metadata (see `add_file`), then make that recording's copies.

    A file already catalogued is reported as a duplicate and nothing else happens.
    """
    watch = watch or Watch()
    line = add_file(db, store, path, meta)
    watch.catalogued(line)
    report = ScanReport(lines=[line])
    if line.status != "added":
        return CatalogueResult(report)
    return _then_copies(
        db,
        store,
        report,
        later=later,
        workers=1,
        recording_ids=[line.require_recording_id()],
        tools=tools,
        watch=watch,
    )


def catalogue_sheet(
    db: Database,
    store: MediaStore,
    sheet: Path,
    *,
    workers: int = 2,
    later: bool = False,
    tools: Tools = DEFAULT_TOOLS,
    watch: Watch | None = None,
) -> CatalogueResult:
    """Import a manifest (see `import_sheet`), then make the copies waiting."""
    watch = watch or Watch()
    report = import_sheet(db, store, sheet, progress=watch.catalogued)
    return _then_copies(db, store, report, later=later, workers=workers, tools=tools, watch=watch)
