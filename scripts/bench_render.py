"""Benchmark: render_video against a moviepy baseline on the same 30 s, 8-cue, 720p clip.

Prints each renderer's multiple of real time (media seconds / wall seconds) and their ratio.
The narration is espeak-ng speech (tones if espeak-ng is missing), made here in code.
Then renders the whole sample covenant through the real `kuanyue` CLI, cold and warm
(nothing changed), and prints wall time, multiple of real time and peak memory. Last, a
per-stage profile: the sample covenant rendered cold once more, clause after clause in this
one process (workers=1), with the wall and CPU time (programs it starts included) of each
stage and of each kind of program run, and what starting a worker and a program costs.

    .venv/bin/python scripts/bench_render.py [--quick] [--keep DIR] [--no-covenant] [--no-profile]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pydub import AudioSegment
from pydub.generators import Sine
from pypinyin import Style, lazy_pinyin

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media_pipeline.errors import ToolMissing  # noqa: E402
from media_pipeline.recordings.probe import duration_s, probe  # noqa: E402
from media_pipeline.subtitles import Cue, build_cues  # noqa: E402
from media_pipeline.tools import DEFAULT_TOOLS  # noqa: E402
from media_pipeline.video import TitleCard, render_video  # noqa: E402

CLIP_MS = 30_000
CHIME_MS = 2_000
SIZE = (1280, 720)
SAMPLE = Path(__file__).resolve().parent.parent / "library/samples/rongxi-covenant.yaml"
FONT_FILE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
PHRASES = [
    "第三条 消防安全",
    "严禁在山林、田边野外用火，",
    "不得乱扔烟头。",
    "寨内禁止燃放孔明灯，",
    "家中用火用电要有人看管。",
    "发现火情立即鸣锣喊寨，",
    "全寨村民都要出力扑救。",
    "消防安全，人人有责！",
]
DONG = "Jiv sams tiul weex bens lix nyaoh jingv dogl xaih gaos maenl nyinc bens lix"
TITLE = TitleCard("榕溪村", "榕溪村村规民约", "第三条", "消防安全", card_ms=CHIME_MS)


def _speak(text: str, wav: Path) -> AudioSegment:
    """One phrase as speech (espeak-ng's pinyin voice), or a tone of similar length."""
    pinyin = " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))
    try:
        DEFAULT_TOOLS.run(
            ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "210", "-w", str(wav), pinyin]
        )
    except ToolMissing:
        return Sine(330).to_audio_segment(duration=len(text) * 220, volume=-18)
    return AudioSegment.from_wav(wav)


def make_clip(workdir: Path) -> tuple[Path, list[Cue]]:
    """Chime, eight phrases with even pauses, silence to exactly 30 s; the cues that match."""
    speech = [_speak(p, workdir / f"phrase{i}.wav") for i, p in enumerate(PHRASES)]
    speech = [s.set_frame_rate(48000).set_channels(1) for s in speech]
    spoken = sum(len(s) for s in speech)
    pause = (CLIP_MS - CHIME_MS - spoken - 1_000) // len(speech)
    if pause < 100:
        raise SystemExit(f"speech too long for a {CLIP_MS / 1000:.0f} s clip: {spoken} ms")
    clip = Sine(880).to_audio_segment(duration=CHIME_MS - 500, volume=-12).fade_out(1200)
    clip = clip.set_frame_rate(48000).set_channels(1) + AudioSegment.silent(500, 48000)
    timings = []
    for segment in speech:
        timings.append((len(clip), len(clip) + len(segment)))
        clip += segment + AudioSegment.silent(pause, 48000)
    clip += AudioSegment.silent(CLIP_MS - len(clip), 48000)
    wav = workdir / "narration.wav"
    clip[:CLIP_MS].export(wav, format="wav")
    return wav, build_cues(PHRASES, timings, DONG)


def bench_ours(wav: Path, cues: list[Cue], workdir: Path, repeats: int) -> tuple[float, float]:
    """Best wall time of `repeats` renders, and the media seconds of one render."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        result = render_video(
            wav, cues, TITLE, workdir / "ours.mp4", workdir / "ours.jpg", size=SIZE
        )
        best = min(best, time.perf_counter() - started)
    media = duration_s(probe(result.path))
    return media, best


def bench_moviepy(wav: Path, cues: list[Cue], workdir: Path, seconds: float) -> tuple[float, float]:
    """The usual moviepy way: ImageClip background, a TextClip per cue, CompositeVideoClip."""
    import numpy as np
    from moviepy import AudioFileClip, CompositeVideoClip, ImageClip, TextClip

    started = time.perf_counter()
    w, h = SIZE
    background = ImageClip(np.full((h, w, 3), (27, 33, 69), dtype=np.uint8)).with_duration(seconds)
    texts = []
    for cue in cues:
        if cue.start_ms / 1000 >= seconds:
            break
        text = "\n".join([cue.dong, *cue.lines] if cue.dong else cue.lines)
        # PIL opens face 0 of the .ttc (the JP face); its Han glyphs still cover the text.
        clip = TextClip(
            font=FONT_FILE,
            text=text,
            font_size=44,
            color="white",
            stroke_color="black",
            stroke_width=2,
            method="label",
            text_align="center",
        )
        texts.append(
            clip.with_start(cue.start_ms / 1000)
            .with_end(min(cue.end_ms / 1000, seconds))
            .with_position(("center", h - 80 - clip.h))
        )
    audio = AudioFileClip(str(wav)).subclipped(0, seconds)
    video = CompositeVideoClip([background, *texts], size=SIZE).with_audio(audio)
    out = workdir / "moviepy.mp4"
    video.write_videofile(str(out), fps=25, codec="libx264", audio_codec="aac", logger=None)
    return duration_s(probe(out)), time.perf_counter() - started


def bench_covenant(sample: Path, workers: int) -> None:
    """Render the whole sample covenant cold, then warm (nothing changed), through the CLI."""
    with tempfile.TemporaryDirectory(prefix="kuanyue-bench-") as tmp:
        env = {**os.environ, "KUANYUE_HOME": tmp, "KUANYUE_WORKERS": str(workers)}
        kuanyue = str(Path(sys.executable).with_name("kuanyue"))
        subprocess.run(
            [kuanyue, "covenant", "import", str(sample), "--slug", "bench"],
            env=env,
            check=True,
            capture_output=True,
        )
        walls = {}
        for label in ("cold", "warm"):
            started = time.perf_counter()
            subprocess.run(
                [kuanyue, "render", "--covenant", "bench"], env=env, check=True, capture_output=True
            )
            walls[label] = time.perf_counter() - started
        # ru_maxrss of waited-for children: the largest single process (KiB on Linux).
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with sqlite3.connect(Path(tmp) / "kuanyue.db") as conn:
            clauses, media_s = conn.execute(
                "SELECT count(*), sum(duration_s) FROM segment"
            ).fetchone()
    print(
        f"\nsample covenant: {clauses} clauses, {media_s:.0f} s of narration, every audio profile"
        f" and both video formats, {workers} workers"
    )
    for label, wall in walls.items():
        print(f"  {label:5s}: {wall:6.2f} s wall = {media_s / wall:7.1f}× real time")
    print(f"  peak memory (largest process): {peak_mib:.0f} MiB")
    verdict = "yes" if walls["warm"] < 1.0 else "NO"
    print(f"  warm run with nothing changed under 1 s: {verdict}")


def _cpu_s() -> float:
    """CPU seconds of this process and of every program it started and waited for."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class StageClock:
    """Wall and CPU time per stage (programs it starts included), exclusive of the stages
    called inside it, so the stages add up to the whole; a `part` (one kind of program run,
    one step of a stage) is counted inclusively, and inside its stage as well."""

    def __init__(self) -> None:
        self.wall: collections.Counter[str] = collections.Counter()
        self.cpu: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self.parts: set[str] = set()
        self._inner: list[list[float]] = []  # per open stage: wall and CPU of stages inside

    @contextlib.contextmanager
    def stage(self, name: str, *, part: bool = False) -> Iterator[None]:
        wall, cpu = time.perf_counter(), _cpu_s()
        if part:
            self.parts.add(name)
        else:
            self._inner.append([0.0, 0.0])
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - wall, _cpu_s() - cpu
            self.calls[name] += 1
            if part:
                self.wall[name] += wall
                self.cpu[name] += cpu
            else:
                inner_wall, inner_cpu = self._inner.pop()
                self.wall[name] += wall - inner_wall
                self.cpu[name] += cpu - inner_cpu
                if self._inner:
                    self._inner[-1][0] += wall
                    self._inner[-1][1] += cpu

    def wrap(self, owner: object, attr: str, name: str, *, part: bool = False) -> None:
        inner = getattr(owner, attr)

        @functools.wraps(inner)
        def timed(*args: object, **kwargs: object) -> object:
            with self.stage(name, part=part):
                return inner(*args, **kwargs)

        setattr(owner, attr, timed)


def _start_up_costs() -> tuple[float, float, float]:
    """Seconds to import the clause pipeline and to load its dictionaries in a fresh
    process (a worker's start-up without a parent to fork from), and for ffmpeg to start."""
    code = (
        "import time; t = time.perf_counter(); import media_pipeline.render as r; "
        "u = time.perf_counter(); r.prepare(); print(u - t, time.perf_counter() - u)"
    )
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    imports, dictionaries = map(float, out.stdout.split())
    starts = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run(["ffmpeg", "-version"], capture_output=True, check=True)
        starts.append(time.perf_counter() - started)
    return imports, dictionaries, statistics.median(starts)


def profile_stages(sample: Path) -> None:
    """Render the sample covenant cold in this process and print where the time went."""
    from library.covenants import rendering
    from library.covenants.versions import import_covenant
    from library.db import open_database
    from library.settings import load_config
    from library.store import MediaStore
    from media_pipeline import loudness, master_many, render, tools
    from media_pipeline.speech.cache import SynthesisCache

    clock = StageClock()
    for attr, name in [
        ("split_phrases", "text: phrases and spoken text"),
        ("assemble_narration", "narration: assembly, resampling, loudness"),
        ("master_many", "audio: every profile and the videos' AAC"),
        ("build_cues", "subtitles"),
        ("write_subtitles", "subtitles"),
        ("render_videos", "video: both sizes, metering the lossy audio"),
    ]:
        clock.wrap(render, attr, name)
    clock.wrap(SynthesisCache, "synthesize", "speech: synthesis, cache misses")
    clock.wrap(rendering, "_record", "store and record (parent)")
    for module, attr, name in [
        (loudness, "_measure", "ffmpeg: meter a source"),
        (master_many, "_meter_chains", "ffmpeg: render every chain, to meter it"),
        (master_many, "_render_branches", "ffmpeg: write every audio file"),
    ]:
        clock.wrap(module, attr, name, part=True)
    run = tools.Tools.run

    def counted(self: tools.Tools, argv: list[str], **kwargs: object) -> object:
        with clock.stage(f"every {argv[0]} run", part=True):
            return run(self, argv, **kwargs)

    tools.Tools.run = counted  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory(prefix="kuanyue-profile-") as tmp:
            config = load_config({"HOME": tmp, "KUANYUE_HOME": str(Path(tmp) / "home")})
            db, store = open_database(config.database_url_resolved), MediaStore(config.media_dir)
            slug = import_covenant(db, sample).covenant.slug
            started, cpu = time.perf_counter(), _cpu_s()
            report = rendering.render_covenant(
                db, store, slug, rendering.RenderOptions(), cache_dir=config.cache_dir, workers=1
            )
            wall, cpu = time.perf_counter() - started, _cpu_s() - cpu
    finally:
        tools.Tools.run = run  # type: ignore[method-assign]
    imports, dictionaries, ffmpeg_start = _start_up_costs()
    media = report.media_seconds
    print(
        f"\nper-stage profile: {len(report.rendered)} clauses, {media:.0f} s of narration, in one"
        f" process: {wall:.2f} s wall, {cpu:.2f} s CPU (programs included)"
    )
    print(f"  {'stage':48s} {'calls':>5s} {'wall s':>7s} {'CPU s':>7s} {'CPU %':>6s}")
    stages = sorted(clock.cpu, key=lambda n: (n in clock.parts, -clock.cpu[n]))
    for name in stages:
        if name in clock.parts and name == stages[len(stages) - len(clock.parts)]:
            print("  of which:")
        label = f"  {name}" if name in clock.parts else name
        print(
            f"  {label[:48]:48s} {clock.calls[name]:5d} {clock.wall[name]:7.2f}"
            f" {clock.cpu[name]:7.2f} {100 * clock.cpu[name] / cpu:5.1f}%"
        )
    print(
        f"  start-up, once per process: import the pipeline {imports:.2f} s, load jieba's and"
        f" pypinyin's dictionaries {dictionaries:.2f} s (here inside the first clause's stages;"
        f" a render with workers does it once in the parent, before forking them);"
        f" each ffmpeg run starts in {1000 * ffmpeg_start:.0f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    """Run both renderers and print their speeds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one run of ours (not best of 3); moviepy renders only the first 10 s",
    )
    parser.add_argument("--keep", type=Path, help="render into this directory and keep the files")
    parser.add_argument("--no-covenant", action="store_true", help="skip the whole-covenant runs")
    parser.add_argument("--no-profile", action="store_true", help="skip the per-stage profile")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="render processes")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kuanyue-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        wav, cues = make_clip(workdir)
        print(f"clip: {CLIP_MS / 1000:.0f} s, {len(cues)} cues, {SIZE[0]}×{SIZE[1]}")
        ours_media, ours_wall = bench_ours(wav, cues, workdir, 1 if args.quick else 3)
        mp_media, mp_wall = bench_moviepy(
            wav, cues, workdir, 10.0 if args.quick else CLIP_MS / 1000
        )
    ours_x, mp_x = ours_media / ours_wall, mp_media / mp_wall
    print(
        f"render_video : {ours_media:5.1f} s media in {ours_wall:6.2f} s wall = {ours_x:6.1f}× real time"
    )
    print(
        f"moviepy      : {mp_media:5.1f} s media in {mp_wall:6.2f} s wall = {mp_x:6.2f}× real time"
    )
    print(f"ratio        : render_video is {ours_x / mp_x:.0f}× faster than moviepy")
    if not args.no_covenant:
        bench_covenant(SAMPLE, args.workers)
    if not args.no_profile:
        profile_stages(SAMPLE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
