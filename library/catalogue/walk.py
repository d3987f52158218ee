"""Walking a folder for a scan: every entry classified (media, odd files, links, hidden
names) before anything is read, and the media types cataloguing takes."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from media_pipeline.files import FILE_KINDS, file_kind

from ..names import printable

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

HIDDEN_FILE = "隐藏文件（名称以“.”开头），跳过 / hidden file (its name starts with a dot), skipped"
HIDDEN_FOLDER = (
    "隐藏文件夹（名称以“.”开头），跳过 / hidden folder (its name starts with a dot), skipped"
)
LOOP = "符号链接循环，未跟随 / symlink loop, not followed"
OUTSIDE = (
    "符号链接指向扫描的文件夹之外，未跟随 / symlink to outside the scanned folder, not followed"
)
BROKEN_LINK = "符号链接的目标不存在 / broken symlink: its target does not exist"
NAME_CLASH = (
    "文件名显示出来与另一个文件相同，无法区分，跳过 / its name, once shown, is the same as"
    " another file's: skipped"
)


def cannot_read(exc: OSError) -> str:
    """The reason for a file or folder that could not be opened or read."""
    return f"无法读取 / cannot read: {exc.strerror or exc}"


def not_regular(kind: str) -> str:
    """The reason for a FIFO, a device or a socket: never opened."""
    zh, en = FILE_KINDS[kind]
    return f"不是普通文件：{zh}，未读取 / not a regular file: {en}, not read"


def _unreadable_folder(exc: OSError) -> str:
    return f"无法读取的文件夹，跳过 / unreadable folder, skipped: {exc.strerror or exc}"


def _already_walked(first: Path) -> str:
    shown = printable(first)
    return f"与 {shown} 是同一个文件夹，已扫描 / the same folder as {shown}, already scanned"


def _inside_link(target: str) -> str:
    shown = printable(target)
    return (
        f"指向扫描范围内的文件夹 {shown}，在那里扫描 / symlink to a folder inside the scanned"
        f" folder, scanned there: {shown}"
    )


@dataclass(frozen=True)
class Found:
    """An entry below a scanned folder: a regular file and its stat, or why it was skipped."""

    path: Path
    st: os.stat_result | None = None  # a regular file's (through a symlink), never opened
    skipped: str = ""  # why it is not a file to read


def walk_media(folder: Path, *, follow_links: bool = False) -> Iterator[Found]:
    """Every entry below `folder`, in name order: each regular file, and each entry skipped.

    No file is opened: types come from lstat and stat. Skipped, with the reason: hidden
    files and folders (a name starting with a dot), unreadable folders, FIFOs, devices and
    sockets, broken symlinks, symlink loops (a link to a folder it is in), symlinks out of
    `folder` unless `follow_links`, a folder reached a second time, and symlinks to folders
    inside `folder` (their files are walked where they are). Symlinks to files inside
    `folder` are followed.
    """
    folder = Path(folder)
    root = Path(os.path.realpath(folder))
    top = os.stat(folder)
    walked: dict[tuple[int, int], Path] = {(top.st_dev, top.st_ino): folder}
    stack: list[tuple[Path, frozenset[tuple[int, int]]]] = [
        (folder, frozenset(walked)),
    ]
    while stack:
        here, ancestors = stack.pop()
        try:
            with os.scandir(here) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            yield Found(here, skipped=_unreadable_folder(exc))
            continue
        here_real = Path(os.path.realpath(here))
        below: list[tuple[Path, frozenset[tuple[int, int]]]] = []
        for entry in entries:
            path = here / entry.name
            found = _classify(entry, path, root, here_real, ancestors, walked, follow_links)
            if isinstance(found, Found):
                yield found
            else:
                below.append((path, ancestors | {found}))
        stack.extend(reversed(below))  # the first subfolder is walked first


def _classify(
    entry: os.DirEntry,
    path: Path,
    root: Path,
    here_real: Path,
    ancestors: frozenset[tuple[int, int]],
    walked: dict[tuple[int, int], Path],
    follow_links: bool,
) -> Found | tuple[int, int]:
    """What one entry is: a Found (a file, or skipped), or the key of a folder to walk."""
    try:
        st = entry.stat(follow_symlinks=False)
        if entry.name.startswith("."):
            return Found(path, skipped=HIDDEN_FOLDER if stat.S_ISDIR(st.st_mode) else HIDDEN_FILE)
        if stat.S_ISLNK(st.st_mode):
            st = os.stat(path)
            target = Path(os.path.realpath(path))
            inside = target.is_relative_to(root)
            if stat.S_ISDIR(st.st_mode):
                if here_real.is_relative_to(target) or (st.st_dev, st.st_ino) in ancestors:
                    return Found(path, skipped=LOOP)
                where = Path(os.path.relpath(target, root))
                if inside and not any(part.startswith(".") for part in where.parts):
                    return Found(path, skipped=_inside_link(str(where)))
            if not inside and not follow_links:
                return Found(path, skipped=OUTSIDE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Found(path, skipped=LOOP)
        if exc.errno == errno.ENOENT and entry.is_symlink():
            return Found(path, skipped=BROKEN_LINK)
        return Found(path, skipped=cannot_read(exc))
    if stat.S_ISDIR(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            return Found(path, skipped=LOOP)
        if key in walked:
            return Found(path, skipped=_already_walked(walked[key]))
        walked[key] = path
        return key
    kind = file_kind(st.st_mode)
    if kind is not None:
        return Found(path, skipped=not_regular(kind))
    return Found(path, st)
