"""Storage trouble said plainly: a full disk, a read-only folder, a missing permission.

Media work fails in many places when the disk fills (an ffmpeg output, a synthesised phrase,
a rename into the store, a database commit), each with its own low-level error. They are
recognised here and turned into one bilingual line that says what is wrong and what to do;
a run stops at the first one, since every later item would fail the same way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from media_pipeline.errors import ToolFailed

from .errors import LibraryError
from .names import printable

FULL, READ_ONLY, DENIED = "full", "read-only", "denied"
_ERRNOS = {
    errno.ENOSPC: FULL,
    errno.EDQUOT: FULL,
    errno.EFBIG: FULL,  # a file-size limit (ulimit -f): for us, no room to write
    errno.EROFS: READ_ONLY,
    errno.EACCES: DENIED,
    errno.EPERM: DENIED,
}
# What ffmpeg and other programs print for the same conditions (strerror texts).
_TOOL_MESSAGES = {
    "No space left on device": FULL,
    "Disk quota exceeded": FULL,
    "File too large": FULL,
    "Read-only file system": READ_ONLY,
}


class StorageError(LibraryError):
    """The data folder cannot be written: the disk is full, read-only, or not ours to write."""

    def __init__(self, kind: str, path: str | None) -> None:
        self.kind = kind
        self.path = path = _visible(path) if path else None
        where = path or "数据目录 / the data folder"
        zh, en = {
            FULL: (
                f"磁盘已满，写不进 {where}。请清理磁盘空间（df -h 查看）后重新运行同一命令，"
                "已完成的内容不会丢失",
                f"the disk is full: cannot write {where}. Free some space (see df -h) and run"
                " the same command again; nothing already done is lost",
            ),
            READ_ONLY: (
                f"{where} 所在的磁盘是只读的。请把 KUANYUE_HOME 设为可写的文件夹",
                f"{where} is on a read-only file system: set KUANYUE_HOME to a writable folder",
            ),
            DENIED: (
                f"没有权限读写 {where}。请检查它的所有者和权限（ls -l），"
                "或把 KUANYUE_HOME 设为自己的文件夹",
                f"no permission to read or write {where}: check its owner and permissions"
                " (ls -l), or set KUANYUE_HOME to a folder of your own",
            ),
        }[kind]
        super().__init__(f"{zh} / {en}")


def _visible(path: str) -> str:
    """`path` up to its first hidden part: a scratch or staging name means nothing to a reader."""
    parts = Path(path).parts
    hidden = next((i for i, part in enumerate(parts) if part.startswith(".")), len(parts))
    return str(Path(*parts[:hidden])) if hidden > 1 else path


def storage_problem(exc: BaseException) -> StorageError | None:
    """The StorageError `exc` amounts to (an OSError, or a program's failure), else None."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, OSError) and exc.errno in _ERRNOS:
        name = exc.filename
        return StorageError(_ERRNOS[exc.errno], printable(name) if name else None)
    if isinstance(exc, ToolFailed):
        for message, kind in _TOOL_MESSAGES.items():
            if message in exc.stderr:
                line = next(ln for ln in exc.stderr.splitlines() if message in ln)
                path = line.rsplit(": ", 1)[0].strip() if ": " in line else None
                return StorageError(kind, path if path and "/" in path else None)
    return None


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Re-raise a full disk, a read-only folder or a refused write inside as a StorageError."""
    try:
        yield
    except (OSError, ToolFailed) as exc:
        problem = storage_problem(exc)
        if problem is None:
            raise
        raise problem from exc


def check_writable(folder: Path) -> None:
    """Create `folder` if needed and prove a file can be written in it; StorageError if not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        problem = storage_problem(exc)
        if problem is None:
            raise
        raise StorageError(problem.kind, printable(folder)) from exc
