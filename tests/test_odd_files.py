"""Odd entries in a scanned folder never hang or stop a scan (issue 8, item 3).

FIFOs, devices, sockets, links to /dev/zero and /proc/self, hidden entries, unreadable
folders, symlink loops and links out of the folder: each gets a report line saying why it
was skipped, and every good file beside them is catalogued. Scans that meet a FIFO run in
a subprocess with a timeout, so a regression fails the test instead of hanging the run.
File names in any bytes are stored and shown escaped; manifests cannot reach outside their
folder; and the analysis of a ten-hour file takes no more memory than that of a minute.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from library.catalogue.ingest import add_file, scan_folder
from library.catalogue.manifest import import_sheet
from library.catalogue.recordings import RecordingMeta, get_recording, title
from library.errors import LibraryError
from library.models import MediaFile, ScannedFile
from library.store import sha256_file
from media_pipeline.errors import MediaError
from media_pipeline.files import NotRegularFile
from media_pipeline.recordings import libav
from tests.conftest import make_library
from tests.media import ffmpeg
from tests.recordings import make_recording

REPO = Path(__file__).resolve().parent.parent
BAD = b"bad\xff\xfe.mp3"  # a name from an old GBK USB stick: not UTF-8

# Runs scan_folder in a fresh process and prints each run's lines as JSON.
_SCAN = """
import json, sys
from pathlib import Path
from library.catalogue.ingest import scan_folder
from tests.conftest import make_library
_config, db, store = make_library(Path(sys.argv[2]))
for _ in range(int(sys.argv[4])):
    report = scan_folder(db, store, Path(sys.argv[1]), workers=2, follow_links=sys.argv[3] == "1")
    print(json.dumps([[ln.path, ln.status, ln.reason] for ln in report.lines]))
"""


def _scan_elsewhere(
    folder: Path,
    library: Path,
    *,
    follow_links: bool = False,
    runs: int = 1,
    prefix: tuple[str, ...] = (),
    timeout: float = 180,
) -> list[dict[str, tuple[str, str]]]:
    """Each run's {path relative to folder: (status, reason)}; fails if the scan hangs."""
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", _SCAN, str(folder), str(library),
             "1" if follow_links else "0", str(runs)],
            cwd=REPO, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"the scan still ran after {timeout} s: it blocked on an odd entry")
    assert done.returncode == 0, done.stderr
    return [
        {
            os.path.relpath(path, folder): (status, reason)
            for path, status, reason in json.loads(out)
        }
        for out in done.stdout.splitlines()
    ]


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail, rather than hang, if the body blocks (an open() of a FIFO) for `seconds`."""

    def stop(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"blocked for {seconds} s: an odd file was opened")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _odd_folder(root: Path) -> tuple[Path, dict[str, str]]:
    """A folder of good files among odd entries; returns it and {entry: expected reason}."""
    folder = root / "in"
    make_recording(folder / "good.mp3", "mp3", 1.0, freq=440)
    make_recording(folder / "sub" / "good.wav", "wav", 1.0, freq=550)
    make_recording(root / "outside" / "x.mp3", "mp3", 1.0, freq=660)
    make_recording(folder / ".hidden.mp3", "mp3", 1.0, freq=770)
    make_recording(folder / ".cache" / "x.mp3", "mp3", 1.0, freq=880)
    (folder / "notes.txt").write_text("录音说明\n", encoding="utf-8")
    os.mkfifo(folder / "f.mp3")
    os.symlink("/dev/zero", folder / "zero.mp3")
    os.symlink("/proc/self", folder / "proc")
    os.symlink("../outside/x.mp3", folder / "out.mp3")
    os.symlink("../outside", folder / "outdir")
    os.symlink("..", folder / "loop")
    os.symlink("selfloop", folder / "selfloop")
    os.symlink("missing.mp3", folder / "dangling.mp3")
    os.symlink("sub", folder / "inlink")
    expected = {
        "f.mp3": "a named pipe (FIFO), not read",
        "zero.mp3": "symlink to outside the scanned folder, not followed",
        "proc": "symlink to outside the scanned folder, not followed",
        "out.mp3": "symlink to outside the scanned folder, not followed",
        "outdir": "symlink to outside the scanned folder, not followed",
        ".hidden.mp3": "hidden file",
        ".cache": "hidden folder",
        "loop": "symlink loop",
        "selfloop": "symlink loop",
        "dangling.mp3": "broken symlink",
        "inlink": "inside the scanned folder, scanned there: sub",
        "notes.txt": "not an audio or video file",
    }
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "s.mp3"))  # left bound: a live socket in the folder
    expected["s.mp3"] = "a socket, not read"
    with contextlib.suppress(PermissionError):  # needs root (CAP_MKNOD)
        os.mknod(folder / "dev.mp3", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
        expected["dev.mp3"] = "a device, not read"
    return folder, expected


@pytest.mark.slow
def test_odd_entries_never_hang_and_each_says_why(tmp_path):
    folder, expected = _odd_folder(tmp_path)
    first, second = _scan_elsewhere(folder, tmp_path / "lib", runs=2)
    assert first.pop("good.mp3")[0] == "added"
    assert first.pop("sub/good.wav")[0] == "added"
    assert set(first) == set(expected)  # one line each, and nothing read through a link
    for name, reason in expected.items():
        assert first[name][0] == "refused", name
        assert reason in first[name][1], (name, first[name])
        assert " / " in first[name][1]  # Chinese, then English
    # The next scan says the same; the good files are unchanged.
    assert second.pop("good.mp3")[0] == second.pop("sub/good.wav")[0] == "unchanged"
    assert {name: line[1] for name, line in second.items() if name != "notes.txt"} == {
        name: line[1] for name, line in first.items() if name != "notes.txt"
    }


@pytest.mark.slow
def test_follow_links_reads_outside_but_never_a_device_or_a_loop(tmp_path):
    folder, _expected = _odd_folder(tmp_path)
    (folder / "proc").unlink()  # followed, /proc/self is a large tree: see the CLI test
    (lines,) = _scan_elsewhere(folder, tmp_path / "lib", follow_links=True)
    assert lines["out.mp3"][0] == "added"
    assert lines["outdir/x.mp3"][0] == "duplicate"  # the same bytes as out.mp3
    assert "a device, not read" in lines["zero.mp3"][1]
    assert "symlink loop" in lines["loop"][1]
    assert "named pipe" in lines["f.mp3"][1]


@pytest.mark.slow
def test_follow_links_on_the_command_line(tmp_path, runner):
    folder = tmp_path / "in"
    folder.mkdir()
    make_recording(tmp_path / "outside" / "x.mp3", "mp3", 1.0)
    os.symlink("../outside/x.mp3", folder / "out.mp3")
    out = str(folder / "out.mp3")
    plain = runner.invoke("catalogue", "scan", "--later", "--workers", "1", folder)
    assert plain.exit_code == 0 and f"× {out}  " in plain.output
    assert "symlink to outside the scanned folder, not followed" in plain.output
    followed = runner.invoke("catalogue", "scan", "--later", "--follow-links", folder)
    assert followed.exit_code == 0 and f"+ {out} #1" in followed.output


@pytest.mark.slow
def test_a_followed_proc_self_finishes(tmp_path):
    folder = tmp_path / "in"
    make_recording(folder / "good.mp3", "mp3", 1.0)
    os.symlink("/proc/self", folder / "proc")
    (lines,) = _scan_elsewhere(folder, tmp_path / "lib", follow_links=True, timeout=300)
    assert lines["good.mp3"][0] == "added"
    assert all(status == "refused" for name, (status, _) in lines.items() if name != "good.mp3")


def test_a_file_swapped_for_a_fifo_after_the_listing_is_never_opened(tmp_path, monkeypatch):
    import library.catalogue.ingest as ingest

    folder = tmp_path / "in"
    make_recording(folder / "a.mp3", "mp3", 1.0)
    make_recording(folder / "b.mp3", "mp3", 1.0, freq=550)
    walk = ingest.walk_media

    def swapping(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        for found in walk(*args, **kwargs):
            if found.path.name == "b.mp3":  # listed as a regular file, then replaced
                found.path.unlink()
                os.mkfifo(found.path)
            yield found

    monkeypatch.setattr(ingest, "walk_media", swapping)
    _config, db, store = make_library(tmp_path / "lib")
    with _deadline(60):
        report = scan_folder(db, store, folder, workers=1)
    lines = {Path(line.path).name: line for line in report.lines}
    assert lines["a.mp3"].status == "added"
    assert lines["b.mp3"].status == "refused" and "named pipe" in lines["b.mp3"].reason


def test_fifos_and_devices_are_refused_where_files_are_read(tmp_path):
    fifo = tmp_path / "f.mp3"
    os.mkfifo(fifo)
    _config, db, store = make_library(tmp_path / "lib")
    with _deadline(60):
        for odd in (fifo, Path("/dev/zero")):
            with pytest.raises(NotRegularFile):
                sha256_file(odd)
            with pytest.raises(MediaError) as caught:
                libav.probe_media(odd)
            assert caught.value.reason == "unreadable"
            with pytest.raises(MediaError):
                libav.analyse(odd)
            with pytest.raises(LibraryError, match="not a regular file"):
                add_file(db, store, odd, RecordingMeta())


@pytest.mark.slow
def test_unreadable_folder_is_reported_and_the_rest_catalogued(tmp_path):
    """chmod 000 stops only a process without CAP_DAC_OVERRIDE: as root (CI), the scan
    runs under setpriv with those capabilities dropped, and is skipped without setpriv."""
    folder = tmp_path / "in"
    make_recording(folder / "good.mp3", "mp3", 1.0)
    make_recording(folder / "locked" / "x.mp3", "mp3", 1.0, freq=550)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("root reads a chmod 000 folder, and setpriv is missing to drop that")
        prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
        probe = subprocess.run([*prefix, "true"], capture_output=True)
        if probe.returncode:
            pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr!r}")
    (folder / "locked").chmod(0)
    try:
        (lines,) = _scan_elsewhere(folder, tmp_path / "lib", prefix=prefix)
    finally:
        (folder / "locked").chmod(0o755)
    assert lines["good.mp3"][0] == "added"
    assert lines["locked"][0] == "refused"
    assert "unreadable folder, skipped: Permission denied" in lines["locked"][1]
    assert "locked/x.mp3" not in lines


def test_unreadable_folder_by_any_error(tmp_path, monkeypatch):
    """The same without permissions (they do not stop root): listing the folder fails."""
    import library.catalogue.ingest as ingest

    folder = tmp_path / "in"
    make_recording(folder / "good.mp3", "mp3", 1.0)
    make_recording(folder / "gone" / "x.mp3", "mp3", 1.0, freq=550)
    real = os.scandir

    def scandir(path="."):  # noqa: ANN001, ANN202 - os.scandir for everyone (shutil too)
        if not isinstance(path, int) and Path(path).name == "gone":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(ingest.os, "scandir", scandir)
    _config, db, store = make_library(tmp_path / "lib")
    report = scan_folder(db, store, folder, workers=1)
    lines = {os.path.relpath(line.path, folder): line for line in report.lines}
    assert set(lines) == {"good.mp3", "gone"}
    assert lines["good.mp3"].status == "added"
    assert "unreadable folder" in lines["gone"].reason


# --- names in any bytes -----------------------------------------------------------------------


def _bad_named(folder: Path, name: bytes, freq: float) -> Path:
    made = make_recording(folder / f"tmp-{freq}.mp3", "mp3", 1.0, freq=freq)
    path = Path(os.fsdecode(os.fsencode(folder) + b"/" + name))
    made.rename(path)
    return path


@pytest.mark.slow
def test_a_name_that_is_not_utf8_is_catalogued_shown_and_found_again(tmp_path, runner, db, client):
    folder = tmp_path / "in"
    folder.mkdir()
    _bad_named(folder, BAD, 440)
    make_recording(folder / "good.mp3", "mp3", 1.0, freq=550)
    first = runner.invoke("catalogue", "scan", "--later", "--workers", "1",
                          "--protocol", "public", folder)  # fmt: skip
    assert first.exit_code == 0, first.output
    assert "+ " + str(folder / "bad\\xff\\xfe.mp3") in first.output
    second = runner.invoke("catalogue", "scan", "--later", "--workers", "1", folder)
    assert second.exit_code == 0, second.output
    assert "= " + str(folder / "bad\\xff\\xfe.mp3") in second.output
    assert "新增 added 0，未变 unchanged 2" in second.output
    with db.session() as session:
        paths = set(session.scalars(select(ScannedFile.path)))
        assert paths == {str(folder / "bad\\xff\\xfe.mp3"), str(folder / "good.mp3")}
        (file,) = session.scalars(
            select(MediaFile).where(MediaFile.original_name == "bad\\xff\\xfe.mp3")
        ).all()
        assert title(get_recording(session, file.recording_id)) == "bad\\xff\\xfe"
        recording_id = file.recording_id
    page = client.get(f"/recordings/{recording_id}")
    assert page.status_code == 200 and "bad\\xff\\xfe" in page.get_data(as_text=True)
    assert "bad\\xff\\xfe" in client.get("/recordings").get_data(as_text=True)
    shown = runner.invoke("catalogue", "show", recording_id)
    assert shown.exit_code == 0 and "bad\\xff\\xfe.mp3" in shown.output

    # `catalogue add` of another such name: no traceback, the name escaped.
    other = _bad_named(tmp_path, b"\xb8\xe8 song.mp3", 660)  # GBK 歌
    added = runner.invoke("catalogue", "add", "--later", other)
    assert added.exit_code == 0, added.output
    assert "\\xb8\\xe8 song.mp3" in added.output


def test_names_that_print_alike_are_not_confused(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    make_recording(folder / "a\\xff.mp3", "mp3", 1.0, freq=440)  # a backslash, then "xff"
    _bad_named(folder, b"a\xff.mp3", 550)  # the byte 0xff
    _config, db, store = make_library(tmp_path / "lib")
    report = scan_folder(db, store, folder, workers=1)
    statuses = sorted((line.status, line.reason) for line in report.lines)
    assert statuses[0] == ("added", "")
    assert statuses[1][0] == "refused" and "same as another file's" in statuses[1][1]


# --- manifests --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_manifest_cannot_reach_outside_its_folder(tmp_path):
    folder = tmp_path / "歌 archive"
    make_recording(folder / "one.mp3", "mp3", 1.0, freq=440)
    make_recording(tmp_path / "outside" / "x.mp3", "mp3", 1.0, freq=550)
    os.symlink("../outside/x.mp3", folder / "link.mp3")
    os.mkfifo(folder / "pipe.mp3")
    sheet = Path(os.fsdecode(os.fsencode(folder) + b"/\xb8\xe8.csv"))  # GBK 歌
    sheet.write_text(
        "file,title_zh\n"
        "one.mp3,一\n"
        "../outside/x.mp3,外\n"
        f"{tmp_path / 'outside' / 'x.mp3'},绝对\n"
        "link.mp3,链接\n"
        "pipe.mp3,管道\n"
        "./one.mp3,同一个\n",
        encoding="utf-8",
    )
    _config, db, store = make_library(tmp_path / "lib")
    with _deadline(120):
        report = import_sheet(db, store, sheet)
    lines = [(line.path, line.status, line.reason) for line in report.lines]
    where = "\\xb8\\xe8.csv"
    assert lines[0][:2] == (f"{where}:2 one.mp3", "added")
    assert lines[1][:2] == (f"{where}:3", "refused") and "outside the sheet's folder" in lines[1][2]
    assert lines[2][:2] == (f"{where}:4", "refused") and "an absolute path" in lines[2][2]
    assert lines[3][:2] == (f"{where}:5", "refused") and "a symlink to outside" in lines[3][2]
    assert lines[4][:2] == (f"{where}:6", "refused") and "named pipe" in lines[4][2]
    assert lines[5][1] == "updated"  # inside after all: the same file as row 2


# --- memory -----------------------------------------------------------------------------------

# Catalogues a one-minute file (every library and thread the work needs is then loaded),
# caps the address space a little above what that took, and catalogues the long file.
_MEMORY = """
import json, resource, sys
from pathlib import Path
from library.catalogue.ingest import add_file
from library.catalogue.recordings import RecordingMeta
from tests.conftest import make_library

def status(key):
    with open("/proc/self/status") as fh:
        return next(int(ln.split()[1]) << 10 for ln in fh if ln.startswith(key + ":"))

_config, db, store = make_library(Path(sys.argv[3]))
add_file(db, store, Path(sys.argv[1]), RecordingMeta())
warm = {"vm_peak": status("VmPeak"), "rss_peak": status("VmHWM")}
cap = warm["vm_peak"] + int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
line = add_file(db, store, Path(sys.argv[2]), RecordingMeta())
print(json.dumps({"status": line.status, "cap": cap, "warm": warm,
                  "vm_peak": status("VmPeak"), "rss_peak": status("VmHWM")}))
"""
_HEADROOM = 300 << 20  # bytes of address space above the one-minute file's peak


def _silent_flac(path: Path, seconds: int) -> Path:
    # FLAC stores digital silence in almost nothing: three hours are 2 MB, made in seconds.
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(seconds),
           "-c:a", "flac", f"file:{path}")  # fmt: skip
    return path


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/self/status")
def test_a_three_hour_file_is_catalogued_in_the_memory_of_a_one_minute_one(tmp_path):
    short = _silent_flac(tmp_path / "minute.flac", 60)
    long = _silent_flac(tmp_path / "three hours.flac", 3 * 3600)
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY, str(short), str(long), str(tmp_path / "lib"),
         str(_HEADROOM)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    assert found["status"] == "added"
    # Samples kept whole would be 3 h × 11025 Hz × 4 B = 476 MB (twice that while joined);
    # what is kept instead (bins, two minutes for the fingerprint) is a few MB.
    assert found["rss_peak"] - found["warm"]["rss_peak"] < 100 << 20, found
