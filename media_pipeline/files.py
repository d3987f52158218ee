"""Files the pipeline makes: atomic output (temporary name, then rename) and their record."""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# What a path names when it is not a regular file, for the messages that refuse it.
FILE_KINDS = {
    "fifo": ("命名管道（FIFO）", "a named pipe (FIFO)"),
    "device": ("设备文件", "a device"),
    "socket": ("套接字", "a socket"),
    "directory": ("文件夹", "a folder"),
    "other": ("特殊文件", "a special file"),
}


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


def file_kind(mode: int) -> str | None:
    """None for a regular file, else its FILE_KINDS key (from a stat result's st_mode)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISDIR(mode):
        return "directory"
    return "other"


class NotRegularFile(OSError):
    """A path to read names a FIFO, a device, a socket or a folder; `kind` says which."""

    def __init__(self, path: Path | str, kind: str) -> None:
        self.kind = kind
        zh, en = FILE_KINDS[kind]
        super().__init__(f"不是普通文件，而是{zh} / not a regular file but {en}")
        self.filename = path

    def __str__(self) -> str:
        """The message alone: OSError's own would print "[Errno None] None: path"."""
        return str(self.args[0])


def open_regular(path: Path | str) -> BinaryIO:
    """Open `path` for reading if, once open, it is a regular file; never block or wait.

    The file is opened non-blocking, so a FIFO (which would wait for a writer) or a device
    opens at once, and is then checked with fstat: what was checked is what is read, even
    if the name was swapped for a FIFO after an earlier stat. Raises NotRegularFile.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        kind = file_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise NotRegularFile(path, kind)
        os.set_blocking(fd, True)  # regular files ignore it; reads behave as usual
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def fd_path(fd: int) -> str | None:
    """A path that opens the file behind `fd` itself (Linux /proc, BSD /dev/fd), or None.

    For C libraries that want a name: the file read is the one already open and checked,
    and names in any bytes (not UTF-8) need not be passed through text.
    """
    for folder in ("/proc/self/fd", "/dev/fd"):
        if os.path.isdir(folder):
            return f"{folder}/{fd}"
    return None


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
