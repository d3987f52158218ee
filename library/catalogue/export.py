"""Export the catalogue as CSV or JSON — only what the viewer may see."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy.orm import Session

from ..access import Viewer, broadcastable, can_see_track, query_recordings
from ..errors import LibraryError
from ..models import Recording
from .recordings import LOAD_ALL, format_date

COLUMNS = (
    "id", "title_zh", "title_kmc", "title_doc", "genre", "discourse", "village", "township", "date",
    "occasion", "language", "performers", "tags", "protocol", "duration_s", "original_sha256",
    "original_name", "clauses", "lyrics_languages", "broadcastable", "notes",
)  # fmt: skip


def parse_viewer(spec: str) -> Viewer:
    """'public', 'admin', 'village:榕溪村', 'device:榕溪村' or 'steward:杨秀珠' → a Viewer."""
    kind, _, arg = spec.partition(":")
    if kind in ("village", "resident"):
        return Viewer("resident", village=arg or None)
    if kind == "device":
        return Viewer("device", village=arg or None)
    if kind == "steward":
        return Viewer("steward", name=arg or None)
    if kind not in ("public", "admin"):
        raise LibraryError(
            f"身份 {spec!r} 无效 / unknown viewer {spec!r}: public, admin, village:村名, device:村名, steward:姓名"
        )
    return Viewer(kind)


def export_rows(session: Session, viewer: Viewer) -> list[dict[str, Any]]:
    """One dict per recording the viewer may see, with only the text tracks it may read."""
    recordings = session.scalars(
        query_recordings(viewer).order_by(Recording.id).options(*LOAD_ALL)
    ).all()
    rows = []
    for r in recordings:
        titles = {t.lang: t.value for t in r.texts if t.field == "title"}
        original = next((f for f in r.files if f.kind == "original"), None)
        rows.append(
            {
                "id": r.id,
                "title_zh": titles.get("zh-Hans", ""),
                "title_kmc": titles.get("kmc-Latn", ""),
                "title_doc": titles.get("doc-Latn", ""),
                "genre": r.genre.name_zh if r.genre else "",
                "discourse": r.discourse,
                "village": r.village or "",
                "township": r.township or "",
                "date": format_date(r),
                "occasion": r.occasion or "",
                "language": r.language,
                "performers": "; ".join(f"{p.performer.name}:{p.role}" for p in r.performers),
                "tags": "; ".join(r.tags or []),
                "protocol": r.protocol,
                "duration_s": round(original.duration_s, 3)
                if original and original.duration_s
                else "",
                "original_sha256": original.sha256 if original else "",
                "original_name": original.original_name or "" if original else "",
                "clauses": "; ".join(
                    f"{s.clause_key}@{s.start_s:.1f}-{s.end_s:.1f}" for s in r.spans
                ),
                "lyrics_languages": "; ".join(
                    sorted({t.lang for t in r.tracks if can_see_track(viewer, t)})
                ),
                "broadcastable": broadcastable(r),
                "notes": r.notes,
            }
        )
    return rows


def export_text(session: Session, viewer: Viewer, fmt: str) -> str:
    """The catalogue as CSV (UTF-8 with BOM, so spreadsheet programs show Chinese) or JSON."""
    rows = export_rows(session, viewer)
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
