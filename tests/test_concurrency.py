"""Several commands on one data folder: they share the work, never crash, never duplicate a
row and never leave a stored file that no row refers to."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from library.claims import claim, release
from library.parallel import RunScratch, run_alive
from library.store_gc import collect

SAMPLE = Path(__file__).resolve().parents[1] / "library/samples/rongxi-covenant.yaml"
KUANYUE = str(Path(sys.executable).with_name("kuanyue"))


def test_a_claim_is_held_until_its_run_ends_then_taken_over(db, tmp_path):
    root = tmp_path / "runs"
    with RunScratch(root) as first:
        assert claim(db, first, "render", ["a", "b"]) == {"a", "b"}
        with RunScratch(root) as second:
            assert run_alive(root, first.name)
            assert claim(db, second, "render", ["b", "c"]) == {"c"}
            release(db, first, "render", ["b"])
            assert claim(db, second, "render", ["b"]) == {"b"}
    # Both runs are over (as after a kill -9: the lock goes with the process).
    assert not run_alive(root, first.name)
    with RunScratch(root) as third:
        assert claim(db, third, "render", ["a", "b", "c"]) == {"a", "b", "c"}


def test_a_killed_runs_lock_is_gone_with_it(tmp_path):
    root = tmp_path / "runs"
    code = (
        "import sys, time\nfrom library.parallel import RunScratch\n"
        f"run = RunScratch({str(root)!r}).__enter__()\nprint(run.name, flush=True)\ntime.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    name = proc.stdout.readline().strip()
    assert run_alive(root, name)
    proc.kill()
    proc.wait()
    assert not run_alive(root, name)


@pytest.mark.slow
def test_two_renders_at_once_share_the_work(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "KUANYUE_HOME": str(home), "KUANYUE_WORKERS": "1"}
    subprocess.run(
        [KUANYUE, "covenant", "import", str(SAMPLE), "--slug", "rongxi"],
        env=env,
        check=True,
        capture_output=True,
    )
    render = [KUANYUE, "render", "--covenant", "rongxi", "--profile", "web", "--video", "none"]
    runs = [
        subprocess.Popen(render, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out + err
        assert "Traceback" not in err
    with sqlite3.connect(home / "kuanyue.db") as conn:
        assert conn.execute("SELECT count(*) FROM segment").fetchone()[0] == 14
        assert conn.execute("SELECT count(*) FROM work_claim").fetchone()[0] == 0
    # Every clause was rendered once, by one run or the other (the rest counted elsewhere).
    rendered = sum(int(out.split("rendered ")[1].split("，")[0]) for out, _ in outputs)
    assert rendered == 14
    from library.db import open_database
    from library.store import MediaStore

    orphans = collect(
        open_database(f"sqlite:///{home / 'kuanyue.db'}"), MediaStore(home / "media"), grace_s=0
    )
    assert orphans.files == []


def test_store_gc_lists_then_removes_only_what_no_row_refers_to(db, store, runner, tmp_path):
    from library.models import Recording

    def stored(data: bytes, age_s: float) -> Path:
        src = tmp_path / f"{len(data)}.bin"
        src.write_bytes(data)
        entry = store.put(src)
        path = store.path(entry.store_path)
        os.utime(path, (time.time() - age_s,) * 2)
        return path

    kept = stored(b"referenced", 7200)
    orphan = stored(b"nobody refers to this", 7200)
    young = stored(b"just stored, row not yet committed", 10)
    with db.session() as session:
        from library.models import MediaFile

        rel = kept.relative_to(store.root).as_posix()
        recording = Recording()
        recording.files.append(
            MediaFile(kind="web", sha256=kept.stem, store_path=rel, mime="audio/ogg", size=10)
        )
        session.add(recording)
    listed = runner.invoke("store", "gc")
    assert listed.exit_code == 0 and str(orphan) in listed.output
    assert str(kept) not in listed.output and str(young) not in listed.output
    assert orphan.exists()
    removed = runner.invoke("store", "gc", "--delete")
    assert removed.exit_code == 0 and "removed 1 files" in removed.output
    assert not orphan.exists() and kept.exists() and young.exists()


@pytest.mark.slow
def test_two_scans_of_one_folder_catalogue_each_file_once(tmp_path):
    from tests.recordings import make_recording

    folder = tmp_path / "songs"
    for n in range(10):
        make_recording(folder / f"song-{n}.flac", "flac", 4.0, freq=220.0 + 40 * n)
    make_recording(folder / "copy" / "song-0.flac", "flac", 4.0, freq=220.0)  # same bytes
    home = tmp_path / "home"
    env = {**os.environ, "KUANYUE_HOME": str(home), "KUANYUE_WORKERS": "1"}
    scan = [KUANYUE, "catalogue", "scan", str(folder), "--later"]
    runs = [
        subprocess.Popen(scan, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, out + err
        assert "Traceback" not in err
    with sqlite3.connect(home / "kuanyue.db") as conn:
        assert conn.execute("SELECT count(*) FROM recording").fetchone()[0] == 10
        assert conn.execute("SELECT count(*) FROM work_claim").fetchone()[0] == 0
    # A third scan finds every file catalogued: added by one run, or an exact duplicate.
    again = subprocess.run(scan, env=env, capture_output=True, text=True, check=True)
    assert "+ " not in again.stdout


@pytest.mark.slow
def test_two_copies_runs_at_once_make_each_copy_once(tmp_path):
    from tests.recordings import make_recording

    folder = tmp_path / "songs"
    for n in range(6):
        make_recording(folder / f"song-{n}.wav", "wav", 4.0, freq=300.0 + 50 * n)
    home = tmp_path / "home"
    env = {**os.environ, "KUANYUE_HOME": str(home), "KUANYUE_WORKERS": "1"}
    subprocess.run(
        [KUANYUE, "catalogue", "scan", str(folder), "--later", "--protocol", "village"],
        env=env,
        check=True,
        capture_output=True,
    )
    copies = [KUANYUE, "catalogue", "copies"]
    runs = [
        subprocess.Popen(copies, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, out + err
        assert "Traceback" not in err
    with sqlite3.connect(home / "kuanyue.db") as conn:
        kinds = conn.execute(
            "SELECT kind, count(*) FROM media_file GROUP BY kind ORDER BY kind"
        ).fetchall()
        assert dict(kinds)["web"] == 6 and dict(kinds)["loudspeaker"] == 6
        pending = "SELECT count(*) FROM media_file WHERE kind = 'original' AND copies != 'done'"
        assert conn.execute(pending).fetchone()[0] == 0
    from library.db import open_database
    from library.store import MediaStore

    orphans = collect(
        open_database(f"sqlite:///{home / 'kuanyue.db'}"), MediaStore(home / "media"), grace_s=0
    )
    assert orphans.files == []
