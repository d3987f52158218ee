"""Ingest recordings: scan folders incrementally and resumably, add single files with metadata.

A scan hashes new or changed files (threads: hashing is I/O and releases the GIL), skips exact
duplicates by SHA-256, analyses the rest on every core (probe, loudness, silence, waveform,
fingerprint: one in-process decode each), and commits each file on its own: a crash or Ctrl-C
loses at most the files in flight, and the next scan carries on where this one stopped.
Each new original is left with its copies pending; `library.catalogue.copies` makes them.

Odd entries never hang or stop a scan, and each gets a report line saying why it was
skipped: a file's type is checked (lstat, then stat) before anything opens it, so FIFOs,
devices and sockets are never read, and every open re-checks with fstat (a name swapped
for a FIFO in between cannot block). Hidden entries (a name starting with a dot), unreadable
folders, symlink loops and symlinks out of the scanned folder (unless `follow_links`) are
skipped too. Names in any bytes (an old GBK USB stick) are stored and shown as
`library.names.printable` text, which is also what a re-scan looks them up by.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import (
    ThreadPoolExecutor,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
from sqlalchemy import select

from media_pipeline.errors import MediaError, PipelineError
from media_pipeline.files import MadeFile, NotRegularFile, file_kind
from media_pipeline.recordings.ingest import RecordingAnalysis

from ..claims import claim, claiming
from ..db import Database
from ..errors import LibraryError
from ..models import MediaFile, MediaStream, NearDuplicate, Recording, ScannedFile, utcnow
from ..names import printable
from ..parallel import RunScratch, run_items
from ..store import MediaStore, file_row, sha256_file
from .recordings import RecordingMeta, apply_meta
from .walk import MEDIA_SUFFIXES, MIME, NAME_CLASH, cannot_read, not_regular, walk_media


@dataclass(frozen=True)
class ReportLine:
    """What happened to one file."""

    path: str
    status: str  # added | unchanged | duplicate | refused | elsewhere (another scan has it)
    reason: str = ""
    recording_id: int | None = None

    def require_recording_id(self) -> int:
        """The recording of an added or duplicate line, which always has one."""
        if self.recording_id is None:
            raise RuntimeError(f"{self.path}: a {self.status!r} report line has no recording id")
        return self.recording_id


@dataclass
class ScanReport:
    """An import report: added, skipped and refused files, and why."""

    lines: list[ReportLine] = field(default_factory=list)
    near_duplicates: list[tuple[int, int, float]] = field(
        default_factory=list
    )  # recording ids, score
    media_seconds: float = 0.0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """How many files ended with `status`."""
        return sum(line.status == status for line in self.lines)


Progress = Callable[[ReportLine], None]


NOT_MEDIA = "不是音视频文件 / not an audio or video file"
ELSEWHERE = "另一个扫描正在编目同样的文件 / another scan is cataloguing the same file"
CLAIM = "catalogue"


def _analyse(item: tuple[Path, os.stat_result, str], scratch: Path) -> RecordingAnalysis:
    from media_pipeline.recordings.ingest import analyse_recording

    return analyse_recording(item[0], scratch)


def _as_array(values: tuple[int, ...]) -> Sequence[int]:
    # A uint32 array, so `similarity` need not convert it on every comparison.
    # `Fingerprint.values` (media_pipeline) accepts one, as its comment says, but is annotated
    # `Sequence[int]` only, which an ndarray is not to mypy.
    return cast("Sequence[int]", np.asarray(values, dtype=np.uint32))


def _parse_fingerprint(text: str | None) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",")) if text else ()


class _NearDuplicateFinder:
    """Compares a new original's fingerprint with the catalogue's (similar durations only)."""

    def __init__(self, session) -> None:  # noqa: ANN001 - a SQLAlchemy session
        rows = session.execute(
            select(
                MediaFile.id, MediaFile.recording_id, MediaFile.duration_s, MediaFile.fingerprint
            ).where(MediaFile.kind == "original")
        )
        self.known = [
            (i, r, d or 0.0, _as_array(_parse_fingerprint(f))) for i, r, d, f in rows if f
        ]

    def matches(self, analysis: RecordingAnalysis) -> list[tuple[int, int, float]]:
        """(file id, recording id, similarity) of every known original that sounds the same."""
        from media_pipeline.recordings.fingerprint import NEAR_DUPLICATE, Fingerprint, similarity

        if not analysis.fingerprint:
            return []
        new = Fingerprint(analysis.duration_s, _as_array(analysis.fingerprint))
        found = []
        for file_id, recording_id, duration, values in self.known:
            # The same take from two phones differs by trimming, not by minutes.
            if abs(duration - analysis.duration_s) > max(30.0, 0.25 * duration):
                continue
            score = similarity(new, Fingerprint(duration, values))
            if score >= NEAR_DUPLICATE:
                found.append((file_id, recording_id, score))
        return found

    def add(self, file_id: int, recording_id: int, analysis: RecordingAnalysis) -> None:
        """Remember a newly added original for the rest of the scan."""
        values = _as_array(analysis.fingerprint)
        self.known.append((file_id, recording_id, analysis.duration_s, values))


def _record(
    session,
    store: MediaStore,
    path: Path,
    sha: str,
    analysis: RecordingAnalysis,
    meta: RecordingMeta,
    finder: _NearDuplicateFinder,
    report: ScanReport,
) -> Recording:  # noqa: ANN001
    """Store the original (copied, never moved or modified) and its waveform; add the rows."""
    recording = Recording()
    session.add(recording)
    if not meta.titles:
        meta.titles = {"zh-Hans": printable(path.stem)}
    # Metadata first: a bad date or genre must not leave the original in the store without a row.
    apply_meta(session, recording, meta)
    made = MadeFile(
        "original",
        str(path),
        MIME.get(path.suffix.lower(), "application/octet-stream"),
        analysis.duration_s,
        analysis.integrated_lufs,
        loudness_range_lu=analysis.loudness_range_lu,
        reencoded=False,
    )
    row = MediaFile(
        original_name=printable(path.name),
        container=analysis.container,
        sample_peak_dbfs=analysis.sample_peak_dbfs,
        leading_silence_s=analysis.leading_silence_s,
        trailing_silence_s=analysis.trailing_silence_s,
        fingerprint=",".join(map(str, analysis.fingerprint)),
        probe=analysis.probe,
        copies="pending",
        streams=[
            MediaStream(
                index=index,
                kind=s.kind,
                codec=s.codec,
                sample_rate=s.sample_rate,
                channels=s.channels,
                width=s.width,
                height=s.height,
                fps=s.fps,
            )
            for index, s in enumerate(analysis.streams)
        ],
    )
    orig = file_row(store, made, row, move=False)
    if orig.sha256 != sha:
        raise _SourceChanged(CHANGED)
    recording.files.append(orig)
    recording.files += [file_row(store, p, MediaFile()) for p in analysis.produced]
    session.flush()
    for other_file, other_recording, score in finder.matches(analysis):
        session.add(NearDuplicate(file_a_id=other_file, file_b_id=orig.id, similarity=score))
        report.near_duplicates.append((other_recording, recording.id, score))
    finder.add(orig.id, recording.id, analysis)
    return recording


CHANGED = "文件在导入过程中被修改 / the file changed while it was being imported"


class _SourceChanged(LibraryError):
    """The original's bytes differ from those hashed: refused, the scan goes on."""


def _remember(
    session,
    path: Path,
    st: os.stat_result,
    sha: str | None,
    status: str,
    reason: str = "",
    recording_id: int | None = None,
) -> None:  # noqa: ANN001
    # The printable name: any bytes stored as text, and the key the next scan looks up.
    key = printable(path)
    row = session.scalar(select(ScannedFile).where(ScannedFile.path == key))
    if row is None:
        row = ScannedFile(path=key)
        session.add(row)
    row.size, row.mtime_ns, row.sha256 = st.st_size, st.st_mtime_ns, sha
    row.status, row.reason, row.recording_id, row.scanned_at = (
        status,
        reason,
        recording_id,
        utcnow(),
    )


def scan_folder(
    db: Database,
    store: MediaStore,
    folder: Path,
    *,
    workers: int = 2,
    defaults: RecordingMeta | None = None,
    progress: Progress | None = None,
    follow_links: bool = False,
) -> ScanReport:
    """Catalogue every media file below `folder`; unchanged files are skipped by size and mtime.

    Every entry gets one report line, the odd ones included (see `walk_media`); symlinks
    out of `folder` are followed only with `follow_links`.
    """
    started = time.perf_counter()
    folder = Path(folder)
    if not folder.is_dir():
        shown = printable(folder)
        raise LibraryError(f"不是文件夹：{shown} / not a folder: {shown}")
    report = ScanReport()

    def note(line: ReportLine) -> None:
        report.lines.append(line)
        if progress:
            progress(line)

    with db.session() as session:
        known = {r.path: r for r in session.scalars(select(ScannedFile))}
        originals = dict(
            session.execute(
                select(MediaFile.sha256, MediaFile.recording_id).where(MediaFile.kind == "original")
            ).all()
        )
    changed: list[tuple[Path, os.stat_result]] = []
    not_media: list[tuple[Path, os.stat_result]] = []
    shown_as: dict[str, Path] = {}
    for found in walk_media(folder, follow_links=follow_links):
        path, st = found.path, found.st
        if st is None:
            note(ReportLine(printable(path), "refused", found.skipped))
            continue
        resolved = path.absolute()
        key = printable(resolved)
        # Two names that differ only in bytes printable escapes (b"\xff" and the text
        # "\\xff") would share one row: the second is left alone rather than confused.
        if shown_as.setdefault(key, resolved) != resolved:
            note(ReportLine(printable(path), "refused", NAME_CLASH))
            continue
        row = known.get(key)
        if row is not None and (row.size, row.mtime_ns) == (st.st_size, st.st_mtime_ns):
            note(ReportLine(printable(path), "unchanged", row.status, row.recording_id))
        elif path.suffix.lower() not in MEDIA_SUFFIXES:
            not_media.append((resolved, st))  # refused by its name: never read
        else:
            changed.append((resolved, st))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as threads:
        hashes = list(threads.map(lambda item: _hash(item[0]), changed))

    todo: list[tuple[Path, os.stat_result, str]] = []
    later: list[tuple[Path, os.stat_result, str]] = []
    first_of: dict[str, Path] = {}
    with db.session(write=True) as session:
        for path, st in not_media:
            _remember(session, path, st, None, "refused", NOT_MEDIA)
            note(ReportLine(printable(path), "refused", NOT_MEDIA))
        for (path, st), (sha, unread) in zip(changed, hashes, strict=True):
            if sha is None:
                note(ReportLine(printable(path), "refused", unread))
            elif sha in originals:
                _duplicate(session, path, st, sha, originals[sha], note)
            elif sha in first_of:
                later.append((path, st, sha))  # the same bytes twice in this scan: decided below
            else:
                first_of[sha] = path
                todo.append((path, st, sha))
        finder = _NearDuplicateFinder(session)

    with RunScratch(store.root.parent / "tmp") as run, claiming(db, run, CLAIM):
        # A file another live scan is cataloguing is left to it (a scan of the same folder,
        # or of another holding the same bytes); the next scan finds it catalogued.
        mine = claim(db, run, CLAIM, (sha for _, _, sha in todo))
        for path, _st, sha in todo:
            if sha not in mine:
                note(ReportLine(printable(path), "elsewhere", ELSEWHERE))
        todo = [item for item in todo if item[2] in mine]
        _analyse_all(
            db, store, todo, workers, defaults or RecordingMeta(), finder, report, note, run
        )
    if later:
        outcome = {line.path: line for line in report.lines}
        with db.session(write=True) as session:
            for path, st, sha in later:
                first = outcome.get(printable(first_of[sha]))
                if first is not None and first.status == "added":
                    _duplicate(session, path, st, sha, first.require_recording_id(), note)
                elif first is not None and first.status == "elsewhere":
                    note(ReportLine(printable(path), "elsewhere", ELSEWHERE))
                else:
                    reason = first.reason if first is not None else ""
                    _remember(session, path, st, sha, "refused", reason)
                    note(ReportLine(printable(path), "refused", reason))
    report.seconds = time.perf_counter() - started
    return report


def _duplicate(
    session, path: Path, st: os.stat_result, sha: str, recording_id: int, note: Progress
) -> None:  # noqa: ANN001
    reason = f"与 #{recording_id} 完全相同 / identical to #{recording_id}"
    _remember(session, path, st, sha, "duplicate", reason, recording_id)
    note(ReportLine(printable(path), "duplicate", reason, recording_id))


def reason_for(error: PipelineError, path: Path | str) -> str:
    """Why a file was refused, without repeating its path (the report line names it).

    Printable text (names in any bytes escaped), fit to store and to show.
    """
    if isinstance(error, MediaError):
        reason = MediaError.REASONS[error.reason] + (f"（{error.detail}）" if error.detail else "")
    else:
        reason = str(error).replace(str(path), "").strip(" :：") or str(error)
    return printable(reason)


def _hash(path: Path) -> tuple[str | None, str]:
    """The file's SHA-256, or None and why it could not be read (never blocks: see store)."""
    try:
        return sha256_file(path), ""
    except NotRegularFile as exc:  # swapped for a FIFO or a device since it was listed
        return None, not_regular(exc.kind)
    except OSError as exc:
        return None, cannot_read(exc)


def _analyse_all(db, store, todo, workers, defaults, finder, report, note, run) -> None:  # noqa: ANN001
    def finish(
        item: tuple[Path, os.stat_result, str], result: RecordingAnalysis | PipelineError
    ) -> None:
        path, st, sha = item
        reason = None
        if isinstance(result, PipelineError):
            reason = reason_for(result, path)
        else:
            try:
                with db.session(write=True) as session:
                    # Catalogued meanwhile by another command (e.g. `catalogue add`)?
                    if (same := _original_with(session, sha)) is not None:
                        _duplicate(session, path, st, sha, same, note)
                        return
                    meta = RecordingMeta(**{**defaults.__dict__, "titles": dict(defaults.titles)})
                    recording = _record(session, store, path, sha, result, meta, finder, report)
                    _remember(session, path, st, sha, "added", "", recording.id)
                report.media_seconds += result.duration_s
                line = ReportLine(printable(path), "added", "", recording.id)
            except NotRegularFile as exc:  # swapped for a FIFO or a device meanwhile
                reason = not_regular(exc.kind)
            except _SourceChanged:
                reason = CHANGED
        if reason is not None:
            with db.session(write=True) as session:
                _remember(session, path, st, sha, "refused", reason)
            line = ReportLine(printable(path), "refused", reason)
        note(line)

    run_items(todo, _analyse, finish, store=store, workers=workers, run=run)


def _original_with(session, sha: str) -> int | None:  # noqa: ANN001
    """The recording whose original has these bytes, if any."""
    return session.scalar(
        select(MediaFile.recording_id)
        .where(MediaFile.kind == "original", MediaFile.sha256 == sha)
        .limit(1)
    )


def add_file(db: Database, store: MediaStore, path: Path, meta: RecordingMeta) -> ReportLine:
    """Catalogue one file with the metadata a person gave; an identical file is refused.

    Only a regular file is read (a FIFO or a device is refused, never opened); a name in
    any bytes is stored and shown escaped (`printable`).
    """
    path = Path(path).absolute()
    shown = printable(path)
    try:
        st = path.stat()
        kind = file_kind(st.st_mode)
        if kind is not None:
            raise NotRegularFile(path, kind)
        sha = sha256_file(path)
    except FileNotFoundError:
        raise LibraryError(f"找不到文件 / no such file: {shown}") from None
    except NotRegularFile as exc:
        raise LibraryError(f"{shown}: {not_regular(exc.kind)}") from None
    except OSError as exc:
        raise LibraryError(f"{shown}: {cannot_read(exc)}") from None
    report = ScanReport()
    with db.session() as session:
        # Check the metadata before minutes of analysis: a typo in a date fails at once.
        with session.begin_nested() as trial:
            apply_meta(session, Recording(), meta)
            trial.rollback()
        existing = _original_with(session, sha)
        finder = _NearDuplicateFinder(session)
    if existing is not None:
        return ReportLine(
            shown, "duplicate", f"与 #{existing} 完全相同 / identical to #{existing}", existing
        )
    lines: list[ReportLine] = []
    _analyse_all(db, store, [(path, st, sha)], 1, meta, finder, report, lines.append, None)
    line = lines[0]
    if line.status == "duplicate":  # catalogued by another command while this one analysed
        return line
    if line.status == "refused":
        raise LibraryError(f"{shown}: {line.reason}")
    return line
