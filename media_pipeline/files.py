"""Files the pipeline makes: atomic output (temporary name, then rename) and their record."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path with the same suffix as `path`; rename it into place on success.

    The temporary name keeps the extension so ffmpeg still picks the right muxer. On any
    exception (including KeyboardInterrupt) the partial file is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.part{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@dataclass(frozen=True)
class MadeFile:
    """A file the pipeline made (a rendered output, a derived copy, a waveform) and its measures."""

    kind: str
    path: str
    mime: str
    duration_s: float | None = None
    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    loudness_range_lu: float | None = None
    reencoded: bool | None = None  # copies only: False when the source was remuxed as it was
