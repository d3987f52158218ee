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
