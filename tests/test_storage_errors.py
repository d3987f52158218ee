"""A full disk, a read-only data folder and a read-only media folder: one bilingual line that
says what to do, no traceback, nothing already stored lost, and the same command finishes
once the disk has room again.

The disks are small tmpfs mounts (remounted read-only where needed), so these tests need
root and a kernel that lets it mount; CI runs as root. Elsewhere they are skipped.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from media_pipeline.speech.cache import is_complete_wav

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mounts")]

SAMPLE = Path(__file__).resolve().parents[1] / "library/samples/rongxi-covenant.yaml"
KUANYUE = str(Path(sys.executable).with_name("kuanyue"))


def _mount(args: list[str]) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where`, unmounted afterwards."""
    where.mkdir(parents=True, exist_ok=True)
    try:
        _mount(
            [
                "-t",
                "tmpfs",
                "-o",
                f"size={size}",
                f"kuanyue-test-{uuid.uuid4().hex[:6]}",
                str(where),
            ]
        )
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def kuanyue(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUANYUE_HOME": str(home), "KUANYUE_WORKERS": "2"}
    return subprocess.run([KUANYUE, *args], env=env, capture_output=True, text=True, timeout=600)


def one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and fragment in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("错误 / Error:")]
    assert len(errors) == 1 and " / " in errors[0]  # Chinese, then English


def segments(home: Path) -> int:
    with sqlite3.connect(home / "kuanyue.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT count(*) FROM segment").fetchone()[0]


def test_full_disk_during_render_stops_cleanly_and_resumes(tmp_path):
    with small_disk(tmp_path / "disk", "1500k") as disk:
        home = disk / "home"
        assert kuanyue(home, "covenant", "import", str(SAMPLE), "--slug", "rongxi").returncode == 0
        full = kuanyue(home, "render", "--covenant", "rongxi")
        one_line_error(full, "the disk is full")
        done = segments(home)
        assert done < 14
        assert not [p for p in home.rglob("*") if ".part" in p.name or p.name.startswith(".synth-")]
        # A phrase written to a full disk is never kept in the synthesis cache.
        assert all(is_complete_wav(wav) for wav in (home / "cache").rglob("*.wav"))
        _mount(["-o", "remount,size=300m", str(disk)])
        again = kuanyue(home, "render", "--covenant", "rongxi")
        assert again.returncode == 0, again.stderr
        assert segments(home) == 14


@pytest.fixture(scope="module")
def rendered_home(tmp_path_factory) -> Path:
    """A data folder with a small covenant imported and rendered (audio only)."""
    home = tmp_path_factory.mktemp("rendered") / "home"
    source = home.parent / "c.txt"
    source.write_text("榕溪村村规民约\n第一条 严禁野外用火。\n", encoding="utf-8")
    assert kuanyue(home, "covenant", "import", str(source), "--slug", "c").returncode == 0
    assert kuanyue(home, "render", "--covenant", "c", "--video", "none").returncode == 0
    return home


@pytest.mark.parametrize(
    "command",
    [("covenant", "list"), ("serve", "--port", "0"), ("render", "--covenant", "c")],
    ids=["list", "serve", "render"],
)
def test_read_only_data_folder(tmp_path, rendered_home, command):
    with small_disk(tmp_path / "ro", "20m") as disk:
        subprocess.run(["cp", "-a", str(rendered_home), str(disk)], check=True)
        _mount(["-o", "remount,ro", str(disk)])
        result = kuanyue(disk / "home", *command)
        one_line_error(result, "is on a read-only file system: set KUANYUE_HOME")


def test_read_only_media_folder(tmp_path, rendered_home):
    home = tmp_path / "data"  # (tmp_path/home is the test's own KUANYUE_HOME)
    subprocess.run(["cp", "-a", str(rendered_home), str(home)], check=True)
    media = home / "media"
    before = sorted(p.name for p in media.rglob("*") if p.is_file())
    subprocess.run(["mv", str(media), str(tmp_path / "media-was")], check=True)
    with small_disk(media, "20m"):
        subprocess.run(f"cp -a {tmp_path / 'media-was'}/. {media}/", shell=True, check=True)  # noqa: S602 - test set-up
        _mount(["-o", "remount,ro", str(media)])
        source = tmp_path / "d.txt"
        source.write_text("榕溪村村规民约\n第一条 爱护河道。\n", encoding="utf-8")
        assert kuanyue(home, "covenant", "import", str(source), "--slug", "d").returncode == 0
        result = kuanyue(home, "render", "--covenant", "d", "--video", "none")
        one_line_error(result, "read-only file system")
        assert sorted(p.name for p in media.rglob("*") if p.is_file()) == before
        assert segments(home) == 1
