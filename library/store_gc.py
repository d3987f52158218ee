"""Removing stored files that no row refers to (left by a crash between storing and recording).

Safe beside running commands: a file younger than the grace period may belong to a row not
yet committed, so it is kept; `MediaStore.put` refreshes the time of a file it stores again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from .broadcast.models import AnnouncementFile
from .db import Database
from .models import Consent, CovenantBackground, MediaFile, ReelFile, SegmentFile
from .store import MediaStore

GRACE_S = 3600.0


@dataclass
class Collected:
    """What a collection found (and removed, unless it was a dry run)."""

    files: list[Path] = field(default_factory=list)
    bytes: int = 0
    removed: bool = False


def referenced(db: Database) -> set[str]:
    """Every store path a row refers to: segment and recording files, consent evidence,
    covenant backgrounds, stored reels and announcements (rendered files and voices)."""
    paths: set[str] = set()
    columns = (
        SegmentFile.store_path,
        MediaFile.store_path,
        Consent.evidence_path,
        CovenantBackground.store_path,
        ReelFile.store_path,
        AnnouncementFile.store_path,
    )
    with db.session() as session:
        for column in columns:
            paths.update(p for p in session.scalars(select(column).distinct()) if p)
    return paths


def collect(
    db: Database, store: MediaStore, *, remove: bool = False, grace_s: float = GRACE_S
) -> Collected:
    """The stored files (and stale staging parts) no row refers to; removed when `remove`."""
    found = Collected(removed=remove)
    if not store.root.is_dir():
        return found
    cutoff = time.time() - grace_s
    # Listed before the rows are read: a file stored and recorded meanwhile is then in both.
    candidates = [p for p in store.root.rglob("*") if p.is_file() and not p.is_symlink()]
    keep = referenced(db)
    for path in sorted(candidates):
        relative = path.relative_to(store.root).as_posix()
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if relative in keep or stat.st_mtime > cutoff:
            continue
        found.files.append(path)
        found.bytes += stat.st_size
        if remove:
            path.unlink(missing_ok=True)
    return found
