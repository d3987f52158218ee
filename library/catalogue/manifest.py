"""Import a manifest (CSV, one row per file, as archives keep them) into the catalogue."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from ..db import Database
from ..errors import LibraryError
from ..langs import TITLE_FIELDS
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
            f"{sheet}: 缺少列 {', '.join(missing)}；可用的列：{', '.join(COLUMNS)} / "
            f"missing column(s) {', '.join(missing)}; known columns: {', '.join(COLUMNS)}"
        )
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        raise LibraryError(
            f"{sheet}: 未知的列 {', '.join(unknown)} / unknown column(s); known: {', '.join(COLUMNS)}"
        )
    reader.fieldnames = header
    report = ScanReport()
    for number, row in enumerate(reader, start=2):  # line 1 is the header
        where = f"{sheet.name}:{number}"
        name = (row.get("file") or "").strip()
        path = (sheet.parent / name) if name else None
        try:
            if path is None:
                raise LibraryError("没有文件名 / no file name in the row")
            if not path.is_file():
                raise LibraryError(f"找不到文件 / file not found: {path}")
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
