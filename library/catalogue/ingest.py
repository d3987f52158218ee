"""Ingest recordings: scan folders incrementally and resumably, add single files with metadata.

A scan hashes new or changed files (threads: hashing is I/O and releases the GIL), skips exact
duplicates by SHA-256, analyses the rest on every core (probe, loudness, silence, waveform,
fingerprint: one in-process decode each), and commits each file on its own: a crash or Ctrl-C
loses at most the files in flight, and the next scan carries on where this one stopped.
Each new original is left with its copies pending; `library.catalogue.copies` makes them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    ThreadPoolExecutor,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
from sqlalchemy import select

from media_pipeline.errors import MediaError, PipelineError
from media_pipeline.files import MadeFile
from media_pipeline.recordings.ingest import RecordingAnalysis

from ..db import Database
from ..errors import LibraryError
from ..models import MediaFile, MediaStream, NearDuplicate, Recording, ScannedFile, utcnow
from ..parallel import run_items
from ..store import MediaStore, file_row, sha256_file
from .recordings import RecordingMeta, apply_meta

MIME = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".3gp": "video/3gpp",
    ".3g2": "video/3gpp2",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".mts": "video/mp2t",
    ".m4a": "audio/mp4",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".amr": "audio/amr",
    ".awb": "audio/amr-wb",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".aac": "audio/aac",
    ".wma": "audio/x-ms-wma",
}
# What phones, recorders and cameras make; anything else in a scanned folder is reported.
MEDIA_SUFFIXES = frozenset(MIME)


@dataclass(frozen=True)
class ReportLine:
    """What happened to one file."""

    path: str
    status: str  # added | unchanged | duplicate | refused
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


def walk_media(folder: Path) -> Iterator[Path]:
    """Every non-hidden file below `folder`, following symlinks but never round a loop.

    A symlink to its own folder or one above it (`ln -s .. loop`) is yielded itself, for the
    scan to report, and not followed: following it would walk out of `folder`.
    """
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        st = os.stat(root)
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop: this folder was walked already
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        here = Path(os.path.realpath(root))
        keep = []
        for name in sorted(d for d in dirs if not d.startswith(".")):
            if here.is_relative_to(os.path.realpath(os.path.join(root, name))):
                yield Path(root) / name
            else:
                keep.append(name)
        dirs[:] = keep
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


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
        meta.titles = {"zh-Hans": path.stem}
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
        original_name=path.name,
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
        raise LibraryError(
            f"{path}: 文件在导入过程中被修改 / the file changed while it was being imported"
        )
    recording.files.append(orig)
    recording.files += [file_row(store, p, MediaFile()) for p in analysis.produced]
    session.flush()
    for other_file, other_recording, score in finder.matches(analysis):
        session.add(NearDuplicate(file_a_id=other_file, file_b_id=orig.id, similarity=score))
        report.near_duplicates.append((other_recording, recording.id, score))
    finder.add(orig.id, recording.id, analysis)
    return recording


def _remember(
    session,
    path: Path,
    st: os.stat_result,
    sha: str | None,
    status: str,
    reason: str = "",
    recording_id: int | None = None,
) -> None:  # noqa: ANN001
    row = session.scalar(select(ScannedFile).where(ScannedFile.path == str(path)))
    if row is None:
        row = ScannedFile(path=str(path))
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
) -> ScanReport:
    """Catalogue every media file below `folder`; unchanged files are skipped by size and mtime."""
    started = time.perf_counter()
    folder = Path(folder)
    if not folder.is_dir():
        raise LibraryError(f"不是文件夹：{folder} / not a folder: {folder}")
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
    for path in walk_media(folder):
        if path.is_dir():
            note(
                ReportLine(
                    str(path), "refused", "符号链接循环，未跟随 / symlink loop, not followed"
                )
            )
            continue
        resolved = path.absolute()
        try:
            st = resolved.stat()
        except OSError as exc:
            note(ReportLine(str(path), "refused", f"无法读取 / cannot read: {exc.strerror}"))
            continue
        row = known.get(str(resolved))
        if row is not None and (row.size, row.mtime_ns) == (st.st_size, st.st_mtime_ns):
            note(ReportLine(str(path), "unchanged", row.status, row.recording_id))
            continue
        changed.append((resolved, st))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as threads:
        hashes = list(threads.map(lambda item: _hash(item[0]), changed))

    todo: list[tuple[Path, os.stat_result, str]] = []
    later: list[tuple[Path, os.stat_result, str]] = []
    first_of: dict[str, Path] = {}
    with db.session() as session:
        for (path, st), sha in zip(changed, hashes, strict=True):
            if sha is None:
                note(ReportLine(str(path), "refused", "无法读取 / cannot read"))
            elif path.suffix.lower() not in MEDIA_SUFFIXES:
                _remember(
                    session, path, st, sha, "refused", "不是音视频文件 / not an audio or video file"
                )
                note(
                    ReportLine(str(path), "refused", "不是音视频文件 / not an audio or video file")
                )
            elif sha in originals:
                _duplicate(session, path, st, sha, originals[sha], note)
            elif sha in first_of:
                later.append((path, st, sha))  # the same bytes twice in this scan: decided below
            else:
                first_of[sha] = path
                todo.append((path, st, sha))
        finder = _NearDuplicateFinder(session)

    _analyse_all(db, store, todo, workers, defaults or RecordingMeta(), finder, report, note)
    if later:
        outcome = {line.path: line for line in report.lines}
        with db.session() as session:
            for path, st, sha in later:
                first = outcome.get(str(first_of[sha]))
                if first is not None and first.status == "added":
                    _duplicate(session, path, st, sha, first.require_recording_id(), note)
                else:
                    reason = first.reason if first is not None else ""
                    _remember(session, path, st, sha, "refused", reason)
                    note(ReportLine(str(path), "refused", reason))
    report.seconds = time.perf_counter() - started
    return report


def _duplicate(
    session, path: Path, st: os.stat_result, sha: str, recording_id: int, note: Progress
) -> None:  # noqa: ANN001
    reason = f"与 #{recording_id} 完全相同 / identical to #{recording_id}"
    _remember(session, path, st, sha, "duplicate", reason, recording_id)
    note(ReportLine(str(path), "duplicate", reason, recording_id))


def reason_for(error: PipelineError, path: Path | str) -> str:
    """Why a file was refused, without repeating its path (the report line names it)."""
    if isinstance(error, MediaError):
        return MediaError.REASONS[error.reason] + (f"（{error.detail}）" if error.detail else "")
    return str(error).replace(str(path), "").strip(" :：") or str(error)


def _hash(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


def _analyse_all(db, store, todo, workers, defaults, finder, report, note) -> None:  # noqa: ANN001
    def finish(
        item: tuple[Path, os.stat_result, str], result: RecordingAnalysis | PipelineError
    ) -> None:
        path, st, sha = item
        with db.session() as session:
            if isinstance(result, PipelineError):
                reason = reason_for(result, path)
                _remember(session, path, st, sha, "refused", reason)
                line = ReportLine(str(path), "refused", reason)
            else:
                meta = RecordingMeta(**{**defaults.__dict__, "titles": dict(defaults.titles)})
                recording = _record(session, store, path, sha, result, meta, finder, report)
                _remember(session, path, st, sha, "added", "", recording.id)
                report.media_seconds += result.duration_s
                line = ReportLine(str(path), "added", "", recording.id)
        note(line)

    run_items(todo, _analyse, finish, store=store, workers=workers)


def add_file(db: Database, store: MediaStore, path: Path, meta: RecordingMeta) -> ReportLine:
    """Catalogue one file with the metadata a person gave; an identical file is refused."""
    path = Path(path).absolute()
    if not path.is_file():
        raise LibraryError(f"找不到文件 / no such file: {path}")
    report = ScanReport()
    st = path.stat()
    sha = sha256_file(path)
    with db.session() as session:
        # Check the metadata before minutes of analysis: a typo in a date fails at once.
        with session.begin_nested() as trial:
            apply_meta(session, Recording(), meta)
            trial.rollback()
        existing = session.scalar(
            select(MediaFile.recording_id).where(
                MediaFile.kind == "original", MediaFile.sha256 == sha
            )
        )
        finder = _NearDuplicateFinder(session)
    if existing is not None:
        return ReportLine(
            str(path), "duplicate", f"与 #{existing} 完全相同 / identical to #{existing}", existing
        )
    lines: list[ReportLine] = []
    _analyse_all(db, store, [(path, st, sha)], 1, meta, finder, report, lines.append)
    line = lines[0]
    if line.status == "refused":
        raise LibraryError(f"{path}: {line.reason}")
    return line
