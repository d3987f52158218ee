"""Benchmark: `kuanyue catalogue scan` against beets' import with ReplayGain, on one folder.

Generates a folder of recordings (mixed formats and lengths, 5 s to 3 min, tones of varied
pitch and level, in village sub-folders), then in one run:

1. ingests it with the real `kuanyue catalogue scan --later` CLI on a fresh KUANYUE_HOME, both
   cores (probe, loudness, silence, waveform, fingerprint, original stored: the catalogue), and
   prints files per second, seconds of media analysed per wall second and peak memory; then
   `kuanyue catalogue copies` makes the web and loudspeaker copies and posters (the encoding,
   which beets does not do), timed on its own;
2. re-scans the unchanged folder, and re-scans a folder of 1,000 distinct tiny WAV files
   (0.5 s each, ingested once first) — the goal is under 5 s for 1,000 unchanged files;
3. imports the same folder with beets (`beet import -A -s -q`, no autotagging, ReplayGain
   on the ffmpeg backend, copying into its library as we copy originals into our store),
   checks it computed a gain for every file, and prints the same figures;
4. prints the ratio of throughputs, with the goals beside the figures: cataloguing against
   beets (the goal), and cataloguing plus copies against beets (for the record).

Figures only, no assertions. No network: beets runs with -A and only its replaygain plugin.

    .venv/bin/python scripts/bench_catalogue.py [--count 300] [--quick] [--keep DIR]

--keep DIR generates the recordings (and the tiny files, with their ingested catalogue)
into DIR once and reuses them on later runs; the main ingest and beets always start fresh.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.recordings import FORMATS, make_recording  # noqa: E402

BIN = Path(sys.executable).parent
FORMAT_NAMES = ("m4a", "mp3", "wav", "flac", "ogg", "opus", "mp4", "mov", "3gp")
VILLAGES = ("肇兴", "堂安", "三宝", "小黄", "高增", "岜沙", "占里", "地扪", "黄岗", "银潭")
GENRES = ("大歌", "琵琶歌", "牛腿琴歌", "踩堂歌", "拦路歌", "酒歌", "叙事歌", "侗戏")
TINY_COUNT = 1000
GOAL_RATIO = 2.0
GOAL_RESCAN_S = 5.0


@dataclass(frozen=True)
class Spec:
    """One recording to generate."""

    rel: str
    fmt: str
    seconds: float
    freq: float
    amplitude: float


def plan(count: int, seed: int = 2024) -> list[Spec]:
    """`count` recordings: formats in equal shares, lengths log-uniform over 5 s – 3 min."""
    rng = random.Random(seed)
    fmts = [FORMAT_NAMES[i % len(FORMAT_NAMES)] for i in range(count)]
    rng.shuffle(fmts)
    specs = []
    for i, fmt in enumerate(fmts):
        seconds = round(math.exp(rng.uniform(math.log(5), math.log(180))), 1)
        freq = round(110 * 2 ** rng.uniform(0, 4), 1)  # 110 Hz – 1.76 kHz
        village = VILLAGES[i % len(VILLAGES)]
        name = f"{rng.choice(GENRES)}-{i:04d}{FORMATS[fmt].suffix}"
        specs.append(
            Spec(f"{village}/{name}", fmt, seconds, freq, round(rng.uniform(0.15, 0.8), 2))
        )
    return specs


def _make(folder: Path, spec: Spec) -> None:
    path = folder / spec.rel
    if path.exists():
        return
    # A hidden part file, renamed when complete: an interrupted run leaves nothing half-made.
    part = path.with_name(f".part-{path.name}")
    make_recording(part, spec.fmt, spec.seconds, freq=spec.freq, amplitude=spec.amplitude)
    part.rename(path)


def generate(folder: Path, specs: list[Spec], workers: int) -> None:
    """Encode every missing recording, `workers` ffmpeg processes at a time."""
    started = time.perf_counter()
    missing = [s for s in specs if not (folder / s.rel).exists()]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda spec: _make(folder, spec), missing))
    total = sum(s.seconds for s in specs)
    print(
        f"folder: {folder}  {len(specs)} recordings, {total / 60:.0f} min of media"
        f" ({len(missing)} generated in {time.perf_counter() - started:.0f} s)"
    )


def make_tiny(folder: Path, count: int) -> None:
    """`count` distinct 0.5 s mono WAV tones (written in code), 100 to a sub-folder."""
    rate, n = 16000, 8000
    for i in range(count):
        path = folder / f"t{i // 100:02d}" / f"tiny-{i:04d}.wav"
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        freq = 200 + 1.7 * i  # every file has its own pitch: no exact duplicates
        frames = struct.pack(
            f"<{n}h", *(round(9000 * math.sin(2 * math.pi * freq * k / rate)) for k in range(n))
        )
        part = path.with_name(f".part-{path.name}")
        with wave.open(str(part), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(frames)
        part.rename(path)


# --- running a command and measuring it --------------------------------------------------


def _tree_rss(root: int) -> int:
    """Resident memory (bytes) of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry}/statm", "rb") as f:
                resident = int(f.read().split()[1])
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = resident * page
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


@dataclass
class Run:
    """A finished command: wall seconds, output, and peak memory two ways (MiB)."""

    wall: float
    stdout: str
    stderr: str
    largest_mib: float  # ru_maxrss from wait4: the largest single process of the tree
    tree_mib: float  # the whole process tree's resident memory, sampled every 0.1 s


def measure(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> Run:
    """Run `cmd` to the end, timing it and measuring its memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        peak, done = [0], threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                peak[0] = max(peak[0], _tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        run = Run(
            wall,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            usage.ru_maxrss / 1024,
            peak[0] / 2**20,
        )
    if proc.returncode:
        sys.stderr.write(run.stdout + run.stderr)
        raise SystemExit(f"{cmd[0]} failed with exit code {proc.returncode}: {' '.join(cmd)}")
    return run


# --- Kuanyue -----------------------------------------------------------------------------


def kuanyue(home: Path, workers: int, *args: str) -> Run:
    """`kuanyue catalogue ARGS --quiet --workers N` with KUANYUE_HOME=home."""
    env = {**os.environ, "KUANYUE_HOME": str(home), "KUANYUE_WORKERS": str(workers)}
    cmd = [str(BIN / "kuanyue"), "catalogue", *args, "--quiet", "--workers", str(workers)]
    return measure(cmd, env)


def kuanyue_scan(home: Path, folder: Path, workers: int) -> Run:
    """`kuanyue catalogue scan FOLDER --later` (catalogue now, copies later)."""
    return kuanyue(home, workers, "scan", str(folder), "--later")


def scan_seconds(run: Run) -> str:
    """The scan's own time from its summary line (without the CLI's start-up)."""
    found = re.search(r"；([\d.]+) s", run.stdout)
    return f"{found.group(1)} s" if found else "?"


def catalogue_figures(home: Path) -> tuple[int, float, dict[str, int]]:
    """Recordings catalogued, their seconds of media, and scanned files by status."""
    with sqlite3.connect(home / "kuanyue.db") as conn:
        files, media_s = conn.execute(
            "SELECT count(*), coalesce(sum(duration_s), 0) FROM media_file WHERE kind = 'original'"
        ).fetchone()
        statuses = dict(conn.execute("SELECT status, count(*) FROM scanned_file GROUP BY status"))
    return files, media_s, statuses


# --- beets -------------------------------------------------------------------------------

BEETS_CONFIG = """\
directory: {dir}/music
library: {dir}/library.db
plugins: replaygain
replaygain:
  backend: ffmpeg
  auto: yes
  parallel_on_import: yes
  threads: {workers}
import:
  copy: yes
  write: no
  quiet: yes
  duplicate_action: keep
  log: {dir}/import.log
"""


def beets_import(beetsdir: Path, folder: Path, workers: int) -> Run:
    """`beet import -A -s -q FOLDER` on a fresh beets library in `beetsdir`."""
    beetsdir.mkdir(parents=True, exist_ok=True)
    config = BEETS_CONFIG.format(dir=beetsdir, workers=workers)
    (beetsdir / "config.yaml").write_text(config, encoding="utf-8")
    env = {**os.environ, "BEETSDIR": str(beetsdir)}
    return measure([str(BIN / "beet"), "import", "-A", "-s", "-q", str(folder)], env, beetsdir)


def beets_figures(beetsdir: Path) -> tuple[int, float, int, dict[str, int], int, list[str]]:
    """Items imported, their seconds, items with a gain, by format, copies made, sample lines."""
    with sqlite3.connect(beetsdir / "library.db") as conn:
        items, media_s, gained = conn.execute(
            "SELECT count(*), coalesce(sum(length), 0),"
            " sum(rg_track_gain IS NOT NULL OR r128_track_gain IS NOT NULL) FROM items"
        ).fetchone()
        formats = dict(conn.execute("SELECT format, count(*) FROM items GROUP BY format"))
    copies = sum(1 for p in (beetsdir / "music").rglob("*") if p.is_file())
    env = {**os.environ, "BEETSDIR": str(beetsdir)}
    listing = subprocess.run(
        [str(BIN / "beet"), "ls", "-f", "$format $length rg=$rg_track_gain r128=$r128_track_gain"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return items, media_s, gained or 0, formats, copies, listing


# --- the run -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Generate, ingest with Kuanyue, re-scan, import with beets; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="recordings to generate (300)")
    parser.add_argument("--quick", action="store_true", help="40 recordings (overrides --count)")
    parser.add_argument("--keep", type=Path, help="generate into DIR and reuse it on later runs")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="processes")
    parser.add_argument(
        "--tiny", type=int, default=TINY_COUNT, help="tiny files for the re-scan test (1000)"
    )
    parser.add_argument("--no-beets", action="store_true", help="skip the beets import")
    args = parser.parse_args(argv)
    count, workers = (40 if args.quick else args.count), args.workers
    if not args.no_beets and not (BIN / "beet").exists():
        raise SystemExit(f"beets is not installed in {BIN.parent}: pip install beets")

    with tempfile.TemporaryDirectory(prefix="kuanyue-bench-") as tmp:
        keep = args.keep or Path(tmp)
        keep.mkdir(parents=True, exist_ok=True)
        folder = keep / f"recordings-{count}"
        specs = plan(count)
        generate(folder, specs, workers)

        # 1. Ingest with Kuanyue, as a user runs it.
        home = Path(tmp) / "home"
        first = kuanyue_scan(home, folder, workers)
        files, media_s, statuses = catalogue_figures(home)
        refused = statuses.get("refused", 0)
        print(
            f"\nKuanyue `catalogue scan` ({workers} workers): {files} recordings catalogued"
            f" ({statuses}), {media_s / 60:.1f} min of media"
        )
        if refused:
            print(
                "  refused:\n"
                + "\n".join(line for line in first.stdout.splitlines() if "×" in line)
            )
        k_files, k_media = files / first.wall, media_s / first.wall
        print(f"  wall            : {first.wall:8.1f} s (scan's own: {scan_seconds(first)})")
        print(f"  files per second: {k_files:8.2f}")
        print(f"  media s / wall s: {k_media:8.1f}× real time")
        print(
            f"  peak memory     : {first.tree_mib:6.0f} MiB whole process tree (sampled /proc),"
            f" {first.largest_mib:.0f} MiB largest single process (wait4 ru_maxrss)"
        )

        copies = kuanyue(home, workers, "copies")
        made = re.search(r"完成 done (\d+)，失败 failed (\d+)", copies.stdout)
        print(
            f"\nKuanyue `catalogue copies` (web + loudspeaker copies, posters; {workers} workers):"
            f" {made.group(1) if made else '?'} made, {made.group(2) if made else '?'} failed"
        )
        print(f"  wall            : {copies.wall:8.1f} s")
        print(f"  files per second: {files / copies.wall:8.2f}")
        print(f"  media s / wall s: {media_s / copies.wall:8.1f}× real time")
        print(
            f"  peak memory     : {copies.tree_mib:6.0f} MiB whole process tree,"
            f" {copies.largest_mib:.0f} MiB largest single process"
        )
        both = first.wall + copies.wall

        # 2. Re-scans of unchanged folders.
        again = kuanyue_scan(home, folder, workers)
        print(
            f"  re-scan, {count} unchanged: {again.wall:6.2f} s wall"
            f" (scan's own {scan_seconds(again)}; rest is CLI start-up)"
        )
        tiny = keep / f"tiny-{args.tiny}"
        tiny_home = keep / f"tiny-{args.tiny}-home"
        make_tiny(tiny, args.tiny)
        ingest = kuanyue_scan(tiny_home, tiny, workers)
        tiny_files, _, _ = catalogue_figures(tiny_home)
        print(
            f"\n{args.tiny} tiny files (0.5 s WAV, distinct): catalogue holds {tiny_files};"
            f" first scan {ingest.wall:.1f} s"
            + (" (already ingested, --keep)" if "新增 added 0" in ingest.stdout else "")
        )
        rescans = [kuanyue_scan(tiny_home, tiny, workers) for _ in range(3)]
        walls = sorted(r.wall for r in rescans)
        print(
            f"  re-scan, {args.tiny} unchanged: {walls[0]:.2f} s best of 3"
            f" ({', '.join(f'{w:.2f}' for w in walls)} s wall; scan's own"
            f" {scan_seconds(rescans[0])})  goal < {GOAL_RESCAN_S:.0f} s:"
            f" {'yes' if walls[0] < GOAL_RESCAN_S else 'NO'}"
        )
        if args.no_beets:
            return 0

        # 3. The same folder with beets.
        beetsdir = Path(tmp) / "beets"
        imported = beets_import(beetsdir, folder, workers)
        items, b_media_s, gained, formats, copies, listing = beets_figures(beetsdir)
        print(
            f"\nbeets {beets_version()} `beet import -A -s -q` + replaygain (ffmpeg backend,"
            f" {workers} threads): {items} of {count} files imported"
            f" ({', '.join(f'{k} {v}' for k, v in sorted(formats.items()))}),"
            f" {copies} copied, {gained} with a track gain, {b_media_s / 60:.1f} min of media"
        )
        for line in listing[:3]:
            print(f"  beet ls: {line}")
        b_files, b_media = items / imported.wall, b_media_s / imported.wall
        print(f"  wall            : {imported.wall:8.1f} s")
        print(f"  files per second: {b_files:8.2f}")
        print(f"  media s / wall s: {b_media:8.1f}× real time")
        print(
            f"  peak memory     : {imported.tree_mib:6.0f} MiB whole process tree,"
            f" {imported.largest_mib:.0f} MiB largest single process"
        )

        # 4. The ratio, each side counting what it actually processed.
        met = min(k_files / b_files, k_media / b_media) >= GOAL_RATIO
        print(
            f"\nratio Kuanyue catalogue / beets import: {k_files / b_files:.2f}× per file,"
            f" {k_media / b_media:.2f}× per media second"
            f"  (goal ≥ {GOAL_RATIO:.0f}×: {'yes' if met else 'NO'})"
        )
        print(
            f"ratio Kuanyue catalogue + copies / beets import: {files / both / b_files:.2f}× per file"
            f" ({both:.1f} s against {imported.wall:.1f} s; the copies are encoding beets does not do)"
        )
    return 0


def beets_version() -> str:
    """The installed beets version."""
    from importlib.metadata import version

    return version("beets")


if __name__ == "__main__":
    raise SystemExit(main())
