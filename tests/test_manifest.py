"""Manifest import: one CSV row per file, bad rows reported by line, catalogued files updated."""

from __future__ import annotations

import pytest

from library.catalogue.manifest import import_sheet
from library.catalogue.recordings import format_date, get_recording, title
from library.errors import LibraryError
from tests.conftest import make_library
from tests.recordings import make_recording

pytestmark = pytest.mark.slow


def test_rows_become_recordings_and_bad_rows_are_named(tmp_path):
    config, db, store = make_library(tmp_path / "lib")
    folder = tmp_path / "archive"
    make_recording(folder / "歌 一.m4a", "m4a", 3.5, freq=330)
    make_recording(folder / "two.mp3", "mp3", 3.5, freq=550)
    sheet = folder / "manifest.csv"
    sheet.write_text(
        "file,title_zh,title_kmc,genre,village,date,performers,tags,protocol\n"
        "歌 一.m4a,防火歌,Kgal Laox,大歌,榕溪村,2019-07,吴培三:lead; 杨秀珠:chorus,防火; 夜歌,public\n"
        "missing.mp3,不存在,,,,,,,\n"
        "two.mp3,酒歌,,酒歌,榕溪村,2020,,,village\n"
        "two.mp3,酒歌（更正）,,酒歌,榕溪村,2020-12-01,,,village\n",
        encoding="gb18030",  # archives' spreadsheets are often saved in GBK
    )
    report = import_sheet(db, store, sheet)
    assert [line.status for line in report.lines] == ["added", "refused", "added", "updated"]
    assert report.lines[1].path == "manifest.csv:3" and "missing.mp3" in report.lines[1].reason
    with db.session() as session:
        first = get_recording(session, report.lines[0].recording_id)
        assert (title(first), title(first, "kmc-Latn"), first.genre.key) == (
            "防火歌",
            "Kgal Laox",
            "kgal-laox",
        )
        assert format_date(first) == "2019-07" and first.tags == ["夜歌", "防火"]
        assert {(p.performer.name, p.role) for p in first.performers} == {
            ("吴培三", "lead"),
            ("杨秀珠", "chorus"),
        }
        second = get_recording(session, report.lines[2].recording_id)
        assert title(second) == "酒歌（更正）" and format_date(second) == "2020-12-01"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        pytest.param("title_zh,genre", "missing column", id="no-file-column"),
        pytest.param("file,title,genre", "unknown column", id="unknown-column"),
    ],
)
def test_bad_headers_are_explained(tmp_path, header, message):
    config, db, store = make_library(tmp_path / "lib")
    sheet = tmp_path / "manifest.csv"
    sheet.write_text(header + "\nx,y,z\n", encoding="utf-8")
    with pytest.raises(LibraryError, match=message):
        import_sheet(db, store, sheet)
