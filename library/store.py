"""Content-addressed media store: media/ab/abcdef….ext under the data directory."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from media_pipeline.files import MadeFile, open_regular

from .disk import storage_errors
from .models import StoredFile

CHUNK = 1 << 20

Row = TypeVar("Row", bound=StoredFile)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks.

    Only a regular file is read (media_pipeline.files.NotRegularFile otherwise): a FIFO or
    /dev/zero would block or never end.
    """
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoreEntry:
    """Where a file landed in the store."""

    sha256: str
    store_path: str  # relative to the store root, e.g. "ab/abcdef….mp4"
    size: int


class MediaStore:
    """Files named by their SHA-256; adding the same bytes twice stores them once."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, store_path: str) -> Path:
        """Absolute path of a stored file; refuses paths that escape the store."""
        full = (self.root / store_path).resolve()
        if not full.is_relative_to(self.root.resolve()):
            raise ValueError(f"path outside the media store: {store_path}")
        return full

    def put(self, src: Path, *, move: bool = True) -> StoreEntry:
        """Add `src` to the store (renamed in when `move`, else copied) and say where it is.

        A full disk or a read-only store raises StorageError; nothing stored is touched.
        """
        with storage_errors():
            return self._put(Path(src), move)

    def _put(self, src: Path, move: bool) -> StoreEntry:
        suffix = src.suffix.lower()
        staging = self.root / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        tmp = staging / f"{uuid.uuid4().hex}{suffix}.part"
        try:
            if move:
                digest = sha256_file(src)
                try:
                    os.replace(src, tmp)
                except OSError:  # another file system: copy, then drop the source
                    shutil.copyfile(src, tmp)
                    src.unlink()
            else:
                digest = _copy_hashing(src, tmp)  # one read of the bytes, not two
            store_path = f"{digest[:2]}/{digest}{suffix}"
            dest = self.root / store_path
            size = tmp.stat().st_size
            if dest.exists() and dest.stat().st_size == size:
                # Stored already: refresh its time so a garbage collection running now
                # keeps it until the row that is about to refer to it is committed.
                os.utime(dest)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return StoreEntry(digest, store_path, size)


def file_row(store: MediaStore, made: MadeFile, row: Row, *, move: bool = True) -> Row:
    """Put a made file in the store and fill `row` (new or replaced) with where it is and its measures.

    The one way a rendered output, an original, a copy or a waveform becomes a stored row.
    """
    entry = store.put(Path(made.path), move=move)
    row.kind = made.kind
    row.sha256, row.store_path, row.size = entry.sha256, entry.store_path, entry.size
    row.mime, row.duration_s = made.mime, made.duration_s
    row.integrated_lufs, row.true_peak_dbtp = made.integrated_lufs, made.true_peak_dbtp
    row.loudness_range_lu = made.loudness_range_lu
    if made.reencoded is not None:
        row.reencoded = made.reencoded  # type: ignore[attr-defined]  # recordings' files only
    return row


def _copy_hashing(src: Path, dest: Path) -> str:
    """Copy `src` to `dest` and return the hex SHA-256 of the bytes copied."""
    digest = hashlib.sha256()
    with open_regular(src) as fin, dest.open("wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
    return digest.hexdigest()
