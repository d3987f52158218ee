"""Import a manifest (CSV, one row per file, as archives keep them) into the catalogue.

A row names a file in the sheet's folder or below it: an absolute path, or one that leads
out of that folder (`../outside/x.mp3`, a symlink pointing elsewhere), is refused with its
line number, so a sheet cannot pull in files from anywhere on the machine.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

from ..db import Database
from ..errors import LibraryError
from ..langs import TITLE_FIELDS
from ..names import printable
from ..store import MediaStore
from ..textfiles import read_text
from .ingest import ReportLine, ScanReport, add_file
from .recordings import RecordingMeta, parse_performer

REQUIRED = ("file",)
COLUMNS = (
    "file", "title_zh", "title_kmc", "title_doc", "description_zh", "genre", "village", "township",
    "date", "occasion", "language", "performers", "tags", "notes", "protocol", "stewards",
)  # fmt: skip


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("；", ";").split(";") if part.strip()]


def row_meta(row: dict[str, str]) -> RecordingMeta:
    """The metadata of one manifest row (empty cells change nothing)."""
    cell = {k: (v or "").strip() for k, v in row.items() if k}
    return RecordingMeta(
        titles={lang: cell[col] for col, lang in TITLE_FIELDS.items() if cell.get(col)},
        descriptions={"zh-Hans": cell["description_zh"]} if cell.get("description_zh") else {},
        genre=cell.get("genre") or None,
        village=cell.get("village") or None,
        township=cell.get("township") or None,
        date=cell.get("date") or None,
        occasion=cell.get("occasion") or None,
        language=cell.get("language") or None,
        performers=[parse_performer(p) for p in _split(cell.get("performers", ""))],
        tags=_split(cell["tags"]) if cell.get("tags") else None,
        notes=cell.get("notes") or None,
        protocol=cell.get("protocol") or None,
        stewards=_split(cell["stewards"]) if cell.get("stewards") else None,
    )


def row_file(folder: Path, name: str) -> Path:
    """The file a row names, below `folder`; LibraryError when it is outside it."""
    if not name:
        raise LibraryError("没有文件名 / no file name in the row")
    if Path(name).is_absolute():
        raise LibraryError(
            f"不接受绝对路径：{name}，请写相对于清单所在文件夹的路径 / an absolute path: {name};"
            " give the path relative to the sheet's folder"
        )
    path = folder / name
    base = os.path.realpath(folder)
    if not Path(os.path.normpath(os.path.join(base, name))).is_relative_to(base):
        raise LibraryError(
            f"路径指向清单所在文件夹之外：{name} / the path leads outside the sheet's folder: {name}"
        )
    if not Path(os.path.realpath(path)).is_relative_to(base):
        raise LibraryError(
            f"符号链接指向清单所在文件夹之外：{name} / a symlink to outside the sheet's folder: {name}"
        )
    return path


def _update(db: Database, recording_id: int, meta: RecordingMeta) -> None:
    from .recordings import apply_meta

    with db.session() as session:
        apply_meta(session, recording_id, meta)


def import_sheet(
    db: Database,
    store: MediaStore,
    sheet: Path,
    *,
    progress: Callable[[ReportLine], None] | None = None,
) -> ScanReport:
    """Add every row's file with its metadata; catalogued files are updated; bad rows are reported by line."""
    sheet = Path(sheet)
    text, _encoding = read_text(sheet)
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise LibraryError(
            f"{printable(sheet)}: 缺少列 {', '.join(missing)}；可用的列：{', '.join(COLUMNS)} / "
            f"missing column(s) {', '.join(missing)}; known columns: {', '.join(COLUMNS)}"
        )
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        raise LibraryError(
            f"{printable(sheet)}: 未知的列 {', '.join(unknown)} / unknown column(s); known: {', '.join(COLUMNS)}"
        )
    reader.fieldnames = header
    report = ScanReport()
    for number, row in enumerate(reader, start=2):  # line 1 is the header
        where = f"{printable(sheet.name)}:{number}"
        name = (row.get("file") or "").strip()
        try:
            path = row_file(sheet.parent, name)
            if not path.exists():
                raise LibraryError(f"找不到文件 / file not found: {printable(path)}")
            meta = row_meta(row)
            line = add_file(db, store, path, meta)
            if line.status == "duplicate":
                # Already catalogued (by a scan, say): the sheet's metadata describes it.
                _update(db, line.require_recording_id(), meta)
                line = ReportLine(line.path, "updated", "", line.recording_id)
        except LibraryError as exc:
            line = ReportLine(where, "refused", str(exc))
        else:
            line = ReportLine(f"{where} {name}", line.status, line.reason, line.recording_id)
        report.lines.append(line)
        if progress:
            progress(line)
    return report
