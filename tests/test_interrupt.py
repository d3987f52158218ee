"""Ctrl-C in the middle of a real `kuanyue render` (two worker processes): nothing half-written."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[1] / "library/samples/rongxi-covenant.yaml"


def segments(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM segment").fetchone()[0]


def test_ctrl_c_keeps_finished_clauses_and_resumes(tmp_path):
    kuanyue = str(Path(sys.executable).with_name("kuanyue"))
    env = {**os.environ, "KUANYUE_HOME": str(tmp_path / "home"), "KUANYUE_WORKERS": "2"}
    subprocess.run(
        [kuanyue, "covenant", "import", str(SAMPLE), "--slug", "rongxi"],
        env=env,
        check=True,
        capture_output=True,
    )
    render = [kuanyue, "render", "--covenant", "rongxi", "--profile", "web", "--video", "none"]
    # A terminal's Ctrl-C sends SIGINT to the whole foreground process group.
    proc = subprocess.Popen(
        render,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    db = tmp_path / "home" / "kuanyue.db"
    deadline = time.monotonic() + 120
    while segments(db) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 130, output
    assert "Interrupted" in output and "Traceback" not in output
    saved = segments(db)
    assert 1 <= saved < 14
    home = tmp_path / "home"
    assert not [p for p in home.rglob("*") if ".part" in p.name or p.name.startswith(".synth-")]
    assert not any((home / "tmp").iterdir())
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    resumed = subprocess.run(render, env=env, capture_output=True, text=True, check=True)
    assert f"跳过 skipped {saved}" in resumed.stdout and segments(db) == 14


def children(pid: int) -> set[int]:
    """The direct children of `pid` that are Python (the render's pool workers, not espeak)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Field 4, after the parenthesised command name, is the parent pid.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and "kuanyue" in stat:
                found.add(int(entry.name))
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGKILL, -9), (signal.SIGTERM, 143)])
def test_killed_render_takes_its_workers_and_leaves_nothing_for_long(tmp_path, sig, code):
    kuanyue = str(Path(sys.executable).with_name("kuanyue"))
    home = tmp_path / "home"
    env = {**os.environ, "KUANYUE_HOME": str(home), "KUANYUE_WORKERS": "2"}
    subprocess.run(
        [kuanyue, "covenant", "import", str(SAMPLE), "--slug", "rongxi"], env=env, check=True
    )
    render = [kuanyue, "render", "--covenant", "rongxi", "--profile", "web", "--video", "none"]
    proc = subprocess.Popen(render, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(workers := children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(workers) == 2, "the render never started its workers"
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == code
    deadline = time.monotonic() + 10
    while alive(workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(workers), "workers outlived their parent"
    if sig == signal.SIGTERM:  # unwound like Ctrl-C: no scratch folder left at all
        assert "Traceback" not in proc.stderr.read().decode()
        assert not any((home / "tmp").iterdir())
    # The next run removes what a kill -9 left, and finishes the work.
    resumed = subprocess.run(render, env=env, capture_output=True, text=True, check=True)
    assert segments(home / "kuanyue.db") == 14, resumed.stdout
    assert not any((home / "tmp").iterdir())
