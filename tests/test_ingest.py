"""Ingest: a mixed folder of real and broken files, incremental and resumed scans, duplicates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from library.catalogue.copies import make_pending_copies
from library.catalogue.ingest import ReportLine, add_file, scan_folder
from library.catalogue.recordings import RecordingMeta, format_date, get_recording
from library.errors import LibraryError
from library.models import MediaFile, NearDuplicate, Recording, ScannedFile
from library.store import sha256_file
from media_pipeline import tools
from tests.conftest import make_library
from tests.media import ffmpeg
from tests.recordings import FORMATS, make_broken, make_recording

SHELL_NAME = "歌 $(x);'&.mp3"


@dataclass(frozen=True)
class Case:
    """A file in the mixed folder and what the scan must say of it."""

    name: str
    status: str
    reason: str = ""  # a fragment of the refusal reason
    fmt: str | None = None  # tests.recordings format of an added file
    id: str = ""  # an ASCII test id for names that pytest would escape


CASES = [
    Case("a.m4a", "added", fmt="m4a"),
    Case(SHELL_NAME, "added", fmt="mp3", id="shell-chars.mp3"),
    Case("v.mp4", "added", fmt="mp4"),
    Case("子目录/w.flac", "added", fmt="flac", id="subfolder/w.flac"),
    Case("copy of a.m4a", "duplicate", "identical to #"),
    Case("zero.mp3", "refused", "empty"),
    Case("trunc.mp3", "refused", "truncated or corrupt"),
    Case("text.mp3", "refused", "not an audio or video file"),
    Case("notes.txt", "refused", "not an audio or video file"),
    Case("loop", "refused", "symlink loop"),
]
ADDED = [c for c in CASES if c.status == "added"]


def _make_folder(folder: Path) -> None:
    make_recording(folder / "a.m4a", "m4a", 2.0, freq=440)
    make_recording(folder / SHELL_NAME, "mp3", 2.0, freq=330)
    make_recording(folder / "v.mp4", "mp4", 2.0, freq=550)
    make_recording(folder / "子目录" / "w.flac", "flac", 1.5, lead_s=0.5, trail_s=0.5, freq=660)
    shutil.copy2(folder / "a.m4a", folder / "copy of a.m4a")
    make_broken(folder / "zero.mp3", "empty")
    make_broken(folder / "trunc.mp3", "truncated")
    make_broken(folder / "text.mp3", "text")
    (folder / "notes.txt").write_text("录音说明 / notes\n", encoding="utf-8")
    os.symlink("..", folder / "loop")


def _state(folder: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime of every regular file below `folder` (the loop not followed)."""
    return {
        str(p.relative_to(folder)): (sha256_file(p), p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


@dataclass
class Scanned:
    folder: Path
    db: object
    store: object
    report: object
    before: dict[str, tuple[str, int]]

    def line(self, name: str) -> ReportLine:
        (line,) = [ln for ln in self.report.lines if ln.path == str(self.folder / name)]
        return line


@pytest.fixture(scope="module")
def scanned(tmp_path_factory) -> Scanned:
    root = tmp_path_factory.mktemp("ingest")
    folder = root / "录音 folder"
    folder.mkdir()
    _make_folder(folder)
    before = _state(folder)
    _config, db, store = make_library(root / "library")
    report = scan_folder(db, store, folder, workers=2)
    copies = make_pending_copies(db, store, workers=2)
    assert copies.count("done") == len(ADDED) and not copies.count("failed")
    return Scanned(folder, db, store, report, before)


def _recording(scanned: Scanned, name: str) -> Recording:
    with scanned.db.session() as session:
        rec = get_recording(session, scanned.line(name).recording_id)
        for f in rec.files:
            f.streams  # noqa: B018 - loaded while the session is open
        return rec


def _ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def _audio_packets_md5(path: Path) -> str:
    """MD5 of the first audio stream's packets, as stored (no decode)."""
    out = ffmpeg("-i", f"file:{path}", "-map", "0:a:0", "-c", "copy", "-f", "md5", "-")
    return out.stdout.decode().strip()


# --- the mixed folder -------------------------------------------------------------------------


@pytest.mark.slow
def test_every_file_gets_exactly_one_line(scanned):
    expected = {str(scanned.folder / c.name) for c in CASES}
    paths = [line.path for line in scanned.report.lines]
    assert sorted(paths) == sorted(expected)  # nothing twice, nothing from outside the folder


@pytest.mark.slow
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id or c.name) for c in CASES])
def test_status_and_reason(scanned, case):
    line = scanned.line(case.name)
    assert line.status == case.status, line
    assert case.reason in line.reason
    if case.status == "refused":
        assert line.reason and line.recording_id is None
    if case.status == "duplicate":
        assert line.recording_id == scanned.line("a.m4a").recording_id


@pytest.mark.slow
def test_refused_files_leave_no_recording(scanned):
    with scanned.db.session() as session:
        assert session.scalar(select(func.count(Recording.id))) == len(ADDED)
        names = set(
            session.scalars(select(MediaFile.original_name).where(MediaFile.kind == "original"))
        )
    assert names == {Path(c.name).name for c in ADDED}


@pytest.mark.slow
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id or c.name) for c in ADDED])
def test_added_recording_has_every_file_in_the_store(scanned, case):
    rec = _recording(scanned, case.name)
    kinds = {f.kind: f for f in rec.files}
    expected = {"original", "web", "loudspeaker", "waveform", "peaks"}
    if FORMATS[case.fmt].video_codec:
        expected.add("poster")
    assert set(kinds) == expected
    for f in rec.files:
        path = scanned.store.path(f.store_path)
        assert path.is_file(), f.kind
        assert sha256_file(path) == f.sha256, f.kind
        assert path.stat().st_size == f.size
    source = scanned.folder / case.name
    stored = scanned.store.path(kinds["original"].store_path)
    assert stored.read_bytes() == source.read_bytes()
    assert kinds["original"].original_name == source.name


@pytest.mark.slow
def test_sources_are_untouched(scanned):
    assert _state(scanned.folder) == scanned.before


@pytest.mark.slow
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id or c.name) for c in ADDED])
def test_probe_fields_are_stored(scanned, case):
    fmt = FORMATS[case.fmt]
    original = next(f for f in _recording(scanned, case.name).files if f.kind == "original")
    assert original.container == fmt.container
    assert original.probe and "streams" in original.probe
    expected_s = 2.5 if case.fmt == "flac" else 2.0
    assert original.duration_s == pytest.approx(expected_s, abs=0.1)
    audio = [s for s in original.streams if s.kind == "audio"]
    assert [(s.codec, s.sample_rate, s.channels) for s in audio] == [
        (fmt.audio_codec, fmt.sample_rate, fmt.channels)
    ]
    video = [s for s in original.streams if s.kind == "video"]
    if fmt.video_codec:
        assert [(s.codec, s.width, s.height) for s in video] == [(fmt.video_codec, *fmt.size)]
        assert video[0].fps == pytest.approx(fmt.fps)
    else:
        assert video == []


@pytest.mark.slow
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id or c.name) for c in ADDED])
def test_loudness_and_silence_are_measured(scanned, case):
    original = next(f for f in _recording(scanned, case.name).files if f.kind == "original")
    # A 0.5-amplitude sine measures about −9 LUFS; lossy codecs move it a little.
    assert original.integrated_lufs == pytest.approx(-9.0, abs=2.0)
    # −6 dBFS peaks (−9 when ffmpeg spreads the tone over two channels), plus codec overshoot.
    assert -10.0 <= original.sample_peak_dbfs <= -5.0
    # The true peak is metered with the copies only where it could decide the web copy's gain:
    # here the loudness cap (−14 LUFS) takes the peaks far under the ceiling.
    assert original.true_peak_dbtp is None
    assert original.loudness_range_lu is not None
    # The copies read the file again in-process (libav); no ffprobe run replaces the probe.
    assert original.copies == "done" and original.probe["format"]["probed_by"].startswith("libav")
    silence = 0.5 if case.fmt == "flac" else 0.0
    assert original.leading_silence_s == pytest.approx(silence, abs=0.1)
    assert original.trailing_silence_s == pytest.approx(silence, abs=0.1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "web_codecs", "reencoded"),
    [
        pytest.param("a.m4a", ["aac"], False, id="m4a-remuxed"),
        pytest.param(SHELL_NAME, ["mp3"], False, id="mp3-remuxed"),
        pytest.param("子目录/w.flac", ["opus"], True, id="flac-to-opus"),
        pytest.param("v.mp4", ["aac", "h264"], None, id="mp4"),
    ],
)
def test_derived_copies_checked_with_ffprobe(scanned, name, web_codecs, reencoded):
    files = {f.kind: f for f in _recording(scanned, name).files}
    web = _ffprobe(scanned.store.path(files["web"].store_path))
    assert sorted(s["codec_name"] for s in web["streams"]) == web_codecs
    if reencoded is not None:
        assert files["web"].reencoded is reencoded
    speaker = _ffprobe(scanned.store.path(files["loudspeaker"].store_path))
    (stream,) = speaker["streams"]
    assert (stream["codec_name"], stream["channels"], stream["sample_rate"]) == ("mp3", 1, "44100")
    assert files["loudspeaker"].reencoded is True
    peaks = json.loads(scanned.store.path(files["peaks"].store_path).read_text())
    assert peaks
    assert files["waveform"].mime == "image/png"


@pytest.mark.slow
def test_a_compliant_m4a_is_not_reencoded(scanned):
    files = {f.kind: f for f in _recording(scanned, "a.m4a").files}
    original = scanned.store.path(files["original"].store_path)
    web = scanned.store.path(files["web"].store_path)
    assert _audio_packets_md5(web) == _audio_packets_md5(original)


# --- incremental and resumed scans ------------------------------------------------------------


@pytest.mark.slow
def test_second_scan_is_all_unchanged_and_starts_no_program(scanned):
    calls = dict(tools.CALLS)
    report = scan_folder(scanned.db, scanned.store, scanned.folder, workers=2)
    assert dict(tools.CALLS) == calls
    statuses = {
        Path(line.path).relative_to(scanned.folder).as_posix(): line for line in report.lines
    }
    assert statuses.pop("loop").status == "refused"  # not a file: reported again, never followed
    assert {line.status for line in statuses.values()} == {"unchanged"}
    assert set(statuses) == {c.name for c in CASES if c.name != "loop"}
    assert statuses["a.m4a"].recording_id == scanned.line("a.m4a").recording_id


@pytest.mark.slow
def test_a_changed_file_alone_is_analysed_again(tmp_path):
    folder = tmp_path / "in"
    make_recording(folder / "one.wav", "wav", 1.0, freq=440)
    make_recording(folder / "two.wav", "wav", 1.0, freq=550)
    _config, db, store = make_library(tmp_path / "lib")
    first = scan_folder(db, store, folder, workers=1)
    assert first.count("added") == 2
    make_recording(folder / "two.wav", "wav", 1.0, freq=880)  # new content, same name
    calls = tools.CALLS["libav"]
    second = scan_folder(db, store, folder, workers=1)
    by_name = {Path(line.path).name: line for line in second.lines}
    assert by_name["one.wav"].status == "unchanged"
    assert by_name["two.wav"].status == "added"
    assert tools.CALLS["libav"] > calls
    with db.session() as session:
        assert session.scalar(select(func.count(Recording.id))) == 3


def _assert_nothing_half_ingested(db, store) -> None:
    with db.session() as session:
        recordings = session.scalars(select(Recording).options(selectinload(Recording.files))).all()
        for rec in recordings:
            assert any(f.kind == "original" for f in rec.files), rec.id
            for f in rec.files:
                assert store.path(f.store_path).is_file(), (rec.id, f.kind)
        ids = {r.id for r in recordings}
        for row in session.scalars(select(ScannedFile).where(ScannedFile.status == "added")):
            assert row.recording_id in ids, row.path
    assert not list(store.root.rglob("*.part"))
    tmp = store.root.parent / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())


@pytest.mark.slow
def test_an_interrupted_scan_resumes(tmp_path):
    folder = tmp_path / "in"
    for i, freq in enumerate((440, 550, 660)):
        make_recording(folder / f"{i}.wav", "wav", 1.0, freq=freq)
    _config, db, store = make_library(tmp_path / "lib")
    seen: list[ReportLine] = []

    def interrupt(line: ReportLine) -> None:
        seen.append(line)
        if line.status == "added":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan_folder(db, store, folder, workers=1, progress=interrupt)
    assert [line.status for line in seen] == ["added"]
    _assert_nothing_half_ingested(db, store)
    with db.session() as session:
        assert session.scalar(select(func.count(Recording.id))) == 1

    report = scan_folder(db, store, folder, workers=1)
    assert sorted(line.status for line in report.lines) == ["added", "added", "unchanged"]
    _assert_nothing_half_ingested(db, store)
    with db.session() as session:
        assert session.scalar(select(func.count(Recording.id))) == 3
    again = scan_folder(db, store, folder, workers=1)
    assert {line.status for line in again.lines} == {"unchanged"}


# --- near-duplicates --------------------------------------------------------------------------

MELODY = (262, 330, 392, 523, 440, 392, 330, 294)  # do mi sol do' la sol mi re
OTHER = (349, 466, 311, 415, 277, 370, 494, 233)


def _melody(path: Path, notes: tuple[int, ...], *args: str, note_s: float = 0.5) -> Path:
    terms = "+".join(
        rf"between(t\,{i * note_s}\,{(i + 1) * note_s})*sin(2*PI*{f}*t)"
        for i, f in enumerate(notes)
    )
    graph = f"aevalsrc=0.4*({terms}):s=44100:d={len(notes) * note_s}"
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", graph, *args, f"file:{path}")
    return path


@pytest.mark.slow
def test_the_same_take_twice_is_flagged_once_and_both_kept(tmp_path):
    folder = tmp_path / "in"
    _melody(folder / "phone-a.mp3", MELODY, "-c:a", "libmp3lame", "-b:a", "64k")
    _melody(
        folder / "phone-b.m4a",
        MELODY,
        "-ss",
        "0.5",
        "-af",
        "volume=-3dB",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
    )
    _melody(folder / "another.mp3", OTHER, "-c:a", "libmp3lame", "-b:a", "64k")
    _config, db, store = make_library(tmp_path / "lib")
    report = scan_folder(db, store, folder, workers=2)
    assert report.count("added") == 3
    ids = {Path(line.path).name: line.recording_id for line in report.lines}
    assert len(report.near_duplicates) == 1
    a, b, score = report.near_duplicates[0]
    assert {a, b} == {ids["phone-a.mp3"], ids["phone-b.m4a"]}
    assert score >= 0.6
    with db.session() as session:
        (row,) = session.scalars(select(NearDuplicate)).all()
        pair = {session.get(MediaFile, row.file_a_id), session.get(MediaFile, row.file_b_id)}
        assert {f.original_name for f in pair} == {"phone-a.mp3", "phone-b.m4a"}
        assert {f.kind for f in pair} == {"original"}
        assert row.decision == "pending"
        assert session.scalar(select(func.count(Recording.id))) == 3


# --- one file with metadata -------------------------------------------------------------------


@pytest.mark.slow
def test_add_file_with_metadata_and_a_duplicate_refused(tmp_path):
    source = make_recording(tmp_path / "dage.wav", "wav", 1.0, freq=392)
    _config, db, store = make_library(tmp_path / "lib")
    meta = RecordingMeta(
        titles={"zh-Hans": "蝉之歌", "kmc-Latn": "Kgal Leengc"},
        genre="大歌",
        village="榕溪村",
        date="2019-07",
        performers=[("吴培三", "lead"), ("杨秀珠", "chorus")],
        protocol="public",
    )
    line = add_file(db, store, source, meta)
    assert line.status == "added" and line.recording_id
    with db.session() as session:
        rec = get_recording(session, line.recording_id)
        titles = {t.lang: t.value for t in rec.texts if t.field == "title"}
        assert titles == {"zh-Hans": "蝉之歌", "kmc-Latn": "Kgal Leengc"}
        assert rec.genre.name_zh == "大歌"
        assert (rec.date_year, rec.date_month, rec.date_day) == (2019, 7, None)
        assert format_date(rec) == "2019-07"
        assert sorted((p.performer.name, p.role) for p in rec.performers) == [
            ("吴培三", "lead"),
            ("杨秀珠", "chorus"),
        ]
        assert rec.protocol == "public" and rec.village == "榕溪村"
        assert {f.kind for f in rec.files} == {"original", "waveform", "peaks"}
        (original,) = [f for f in rec.files if f.kind == "original"]
        assert original.copies == "pending"
    made = make_pending_copies(db, store, workers=1)
    assert [(line.recording_id, line.status) for line in made.lines] == [
        (line.recording_id, "done")
    ]
    with db.session() as session:
        rec = get_recording(session, line.recording_id)
        assert {f.kind for f in rec.files} == {
            "original",
            "waveform",
            "peaks",
            "web",
            "loudspeaker",
        }
        (original,) = [f for f in rec.files if f.kind == "original"]
        assert original.copies == "done"
    assert make_pending_copies(db, store, workers=1).lines == []  # nothing left to do

    again = add_file(db, store, source, RecordingMeta(titles={"zh-Hans": "另一个"}))
    assert again.status == "duplicate" and again.recording_id == line.recording_id
    with db.session() as session:
        assert session.scalar(select(func.count(Recording.id))) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "meta",
    [
        pytest.param(RecordingMeta(date="2019-13"), id="bad-date"),
        pytest.param(RecordingMeta(genre="摇滚"), id="unknown-genre"),
        pytest.param(RecordingMeta(titles={"en": "x"}), id="unknown-language"),
    ],
)
def test_bad_metadata_leaves_nothing_in_the_store(tmp_path, meta):
    source = make_recording(tmp_path / "a.wav", "wav", 1.0)
    _config, db, store = make_library(tmp_path / "lib")
    with pytest.raises(LibraryError):
        add_file(db, store, source, meta)
    assert not [p for p in store.root.rglob("*") if p.is_file()]
    _assert_nothing_half_ingested(db, store)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        pytest.param("empty", "empty", id="empty"),
        pytest.param("text", "not an audio or video file", id="text"),
    ],
)
def test_add_file_refuses_what_is_not_a_recording(tmp_path, kind, message):
    bad = make_broken(tmp_path / f"{kind}.mp3", kind)
    _config, db, store = make_library(tmp_path / "lib")
    with pytest.raises(LibraryError, match=message):
        add_file(db, store, bad, RecordingMeta())
    _assert_nothing_half_ingested(db, store)
    with db.session() as session:
        assert session.scalar(select(func.count(Recording.id))) == 0
