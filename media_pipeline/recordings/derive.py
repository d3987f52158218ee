"""Derived copies of a recording: a `web` copy for phones and a `loudspeaker` copy for horns.

The original is never touched; each copy is written atomically into `out_dir` as
`<stem>.web.<ext>` or `<stem>.loudspeaker.mp3`. Where a source already complies, its
streams are copied (no re-encode, so no generation loss and no time spent).

One decode. `derive_copies` builds one ffmpeg command that reads the source once and writes
every copy from it: the web copy (remuxed or encoded), the loudspeaker copy's shaped signal,
the poster of a video, and, where a gain depends on it, an EBU R128 meter of the source
(true peak 4× oversampled) on a branch of its own. The loudspeaker copy is finished by a
second, short run (copy_rules.py, "Loudspeaker"); a correction, when one is needed, adds a run. Nothing is probed
or metered apart from that: the caller passes the probe and the loudness cataloguing
measured (`SourceLevel`), and the copies' durations are read from the files (libav).

Several sources at once. `derive_many` puts many sources' work in the same two runs (each
ffmpeg start spends ~70 ms resolving the symbols of 200 shared libraries, which is more than
the copies of a short recording cost); every label and meter carries the source's tag. The
audio is decoded by `amovie` filters inside the graph, not by `-i` inputs, which ffmpeg 5.1
reads in a thread each when there are several, handing every packet over (see ffmpeg_run.SourcePart). A
source's own failure (silence, a black video) fails only it; a shared run that fails is run
again source by source, so each error names its file. Measured on the benchmark's 40
recordings in one process (CPU seconds): 2 runs each with `-i` 24.6, with `amovie` 23.0,
shared by 4 recordings on average 19.8. In-process encoding through PyAV was tried: its
bundled LAME and Opus ran 2–3× slower than Debian's ffmpeg.

What each copy must be is in copy_rules.py.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import MediaError, PipelineError, ToolFailed
from ..files import MadeFile, atomic_output
from ..loudness import Loudness, measure_loudness
from ..profiles import PROFILES
from ..tools import DEFAULT_TOOLS, Tools
from .analysis import (
    decode_error,
    poster_argv,
    poster_input_args,
    poster_output_args,
    poster_time_s,
)
from .copy_rules import (
    LOUDSPEAKER_TOLERANCE_LU,
    WEB_GAIN_TOLERANCE_DB,
    SourceLevel,
    SpeakerFinish,
    audio_copy_target,
    first_stream,
    gain_filter,
    loudspeaker_format_matches,
    loudspeaker_level_matches,
    loudspeaker_shaping,
    meter_summary,
    peak_may_decide,
    remux_args,
    require_sound,
    speaker_aim,
    video_complies,
    web_audio_args,
    web_audio_encoder,
    web_gain_db,
    web_video_args,
)
from .ffmpeg_run import FfmpegRun, SourcePart
from .probe import duration_s, probe


@dataclass(frozen=True)
class DerivedCopies:
    """The copies made in one go, and the source's loudness as metered while making them."""

    made: tuple[MadeFile, ...]
    source: Loudness | None = None  # None when the source was not metered (or has no audio)


@dataclass(frozen=True)
class CopiesRequest:
    """What to make of one source: its web and/or loudspeaker copy in `out_dir`, a poster of
    a video at `poster`. `info` (ffprobe's shape) and `level` are measured when not given;
    `meter_source` asks for the source's true peak and loudness in the result."""

    src: Path
    out_dir: Path
    info: dict | None = None
    level: SourceLevel | None = None
    web: bool = True
    loudspeaker: bool = True
    poster: Path | None = None
    meter_source: bool = False


def derive_copies(
    src: Path,
    out_dir: Path,
    *,
    info: dict | None = None,
    level: SourceLevel | None = None,
    web: bool = True,
    loudspeaker: bool = True,
    poster: Path | None = None,
    meter_source: bool = False,
    threads: int = 0,
    tools: Tools = DEFAULT_TOOLS,
) -> DerivedCopies:
    """The web and/or loudspeaker copies of `src` in `out_dir`, and a poster of a video at
    `poster`, from one decode (see module doc and CopiesRequest). Returns them poster, web,
    loudspeaker. `threads` (0: ffmpeg's choice) caps the threads of each decoder, encoder
    and filter graph."""
    request = CopiesRequest(
        Path(src), Path(out_dir), info, level, web, loudspeaker, poster, meter_source
    )
    (result,) = derive_many([request], threads=threads, tools=tools)
    if isinstance(result, PipelineError):
        raise result
    return result


def derive_many(
    requests: Sequence[CopiesRequest], *, threads: int = 0, tools: Tools = DEFAULT_TOOLS
) -> list[DerivedCopies | PipelineError]:
    """Every request's copies (see derive_copies), in the same two ffmpeg runs for all of
    them: each run spends ~70 ms loading ffmpeg's libraries, more than a short recording's
    copies cost. A source that cannot be copied gets its error in its place; when it makes
    a shared run fail, each source is run again alone."""
    results: list[DerivedCopies | PipelineError | None] = [None] * len(requests)
    jobs: list[tuple[int, _Job]] = []
    for i, request in enumerate(requests):
        try:
            jobs.append((i, _Job.prepare(request, str(i), threads, tools)))
        except PipelineError as exc:
            results[i] = exc
    try:
        together = _derive_together([job for _i, job in jobs])
    except PipelineError as exc:
        if len(jobs) == 1:
            together = [exc]  # alone: the failure is the source's own
        else:
            together = [
                derive_many([requests[i]], threads=threads, tools=tools)[0] for i, _ in jobs
            ]
    for (i, _job), result in zip(jobs, together, strict=True):
        results[i] = result
    return [r for r in results if r is not None]


def _derive_together(jobs: list[_Job]) -> list[DerivedCopies | PipelineError]:
    """The decode run and the finishing run shared by `jobs`. A job's own failure after the
    decode run is its result; a failure before, or of a shared run, is raised, every job's
    files discarded (a job's part of a run is all or nothing, so planning is not split)."""
    outcome: dict[int, DerivedCopies | PipelineError] = {}

    def each(step: Callable[[_Job], DerivedCopies | None]) -> None:
        for n, job in enumerate(jobs):
            if n in outcome:
                continue
            try:
                made = step(job)
            except PipelineError as exc:
                job.discard(exc)
                outcome[n] = exc
            else:
                if made is not None:
                    outcome[n] = made

    if not jobs:
        return []
    tools, threads = jobs[0].tools, jobs[0].threads
    try:
        decode = FfmpegRun(threads)
        for job in jobs:
            job.plan(decode)
        kinds = "、".join(dict.fromkeys(k for job in jobs for k in job.kinds())) or "poster"
        stderr = _run_shared(decode, jobs, kinds, tools)
        each(lambda job: job.after_decode(stderr))
        finish = FfmpegRun(threads)
        each(lambda job: job.plan_finish(finish))
        if any(job.finishing for n, job in enumerate(jobs) if n not in outcome):
            stderr = _run_shared(finish, jobs, "loudspeaker", tools)
            each(lambda job: job.after_finish(stderr))
        each(lambda job: job.complete())
    except BaseException as exc:
        for n, job in enumerate(jobs):
            if n not in outcome:
                job.discard(exc)
        raise
    return [outcome[n] for n in range(len(jobs))]


def _run_shared(run: FfmpegRun, jobs: list[_Job], kind: str, tools: Tools) -> str:
    """Run a shared ffmpeg; its stderr. A failure is the source's own when it is alone."""
    try:
        return tools.ffmpeg(*run.argv()).stderr.decode("utf-8", "replace")
    except ToolFailed as exc:
        src = jobs[0].src if len(jobs) == 1 else Path(f"{len(jobs)} sources")
        raise _failed(src, kind, exc) from exc


@dataclass
class _Web:
    """The plan for a web copy."""

    path: Path
    mime: str
    reencoded: bool
    muxer: tuple[str, ...] = ()
    encoder: str | None = None  # of the audio, when it is encoded
    gain_db: float = 0.0


class _Job:
    """The work for one source: its part of the decode run, the runs that correct it (alone,
    rarely), its part of the finishing run, and the files made (kept only when complete)."""

    def __init__(
        self, request: CopiesRequest, info: dict[str, Any], tag: str, threads: int, tools: Tools
    ) -> None:
        self.src, self.out_dir, self.info = request.src, request.out_dir, info
        self.level, self.tag, self.threads, self.tools = request.level, tag, threads, tools
        self.request = request
        self.stack = contextlib.ExitStack()
        self.finishing: SpeakerFinish | None = None
        self.made: list[MadeFile] = []
        self.source: Loudness | None = None

    @classmethod
    def prepare(cls, request: CopiesRequest, tag: str, threads: int, tools: Tools) -> _Job:
        """Check the request, probing and metering what it does not give."""
        src = Path(request.src)
        info = request.info if request.info is not None else _probe(src, tools)
        audio, video = first_stream(info, "audio"), first_stream(info, "video")
        if audio is None and video is None:
            raise PipelineError(f"没有音频或视频流：{src} / no audio or video stream in {src}")
        if request.loudspeaker and audio is None:
            raise PipelineError(f"没有音轨：{src} / no audio stream in {src}")
        job = cls(request, info, tag, threads, tools)
        encoder = web_audio_encoder(info) if request.web else None
        if request.level is None and (request.loudspeaker or encoder):
            job.level = SourceLevel.metered(measure_loudness(src, tools))
        if request.loudspeaker:
            # Checked here, not while planning: a job's part of a shared run is all or nothing.
            assert job.level is not None
            require_sound(job.level.integrated_lufs, src)
        return job

    def kinds(self) -> list[str]:
        on = (("web", self.request.web), ("loudspeaker", self.request.loudspeaker))
        return [kind for kind, wanted in on if wanted]

    def plan(self, run: FfmpegRun) -> None:
        """Add this source's decode, copies, poster and meters to the decode run."""
        request, info, level, tag = self.request, self.info, self.level, self.tag
        self.plan_web = self._plan_web() if request.web else None
        self.remux_speaker = (
            request.loudspeaker
            and level is not None
            and loudspeaker_format_matches(info)
            and loudspeaker_level_matches(level.planned())
        )
        # A gain planned from the sample peak is checked against the true peak in the run,
        # where the true peak could decide it; so is a loudspeaker copy taken as it is.
        unsure = level is not None and level.true_peak_dbtp is None
        plan = self.plan_web
        self.check_web = bool(
            level is not None and plan is not None and plan.encoder
            and peak_may_decide(level, plan.encoder)
        )  # fmt: skip
        self.meter = request.meter_source or self.check_web or (unsure and self.remux_speaker)
        self.poster = request.poster if first_stream(info, "video") is not None else None
        part = SourcePart(run, self.src, info, tag)
        if self.meter:
            # To a null output, not a sink in the graph: ffmpeg pulls frames from outputs,
            # and a meter may be the only branch of an `amovie` (the copies being remuxed).
            part.tap(f"ebur128@source{tag}=peak=true:framelog=verbose[meter{tag}]")
            run.output(["-map", f"[meter{tag}]", "-f", "null"], Path(os.devnull))
        if self.poster is not None:
            # Posters' outputs come first: listed after the others, ffmpeg 5.1 goes on
            # decoding a poster's input long after its one frame (measured on a 12 s
            # clip: 0.36 s of CPU for the run instead of 0.11 s).
            self.poster_tmp = self.stack.enter_context(atomic_output(self.poster))
            self.poster_at_s = poster_time_s(duration_s(info))
            index = run.add_input(poster_input_args(self.src, self.poster_at_s))
            poster_args = poster_output_args(1280, skip_black=True, source=index)
            run.output(poster_args, self.poster_tmp, first=True)
        if plan is not None:
            self.web_tmp = self.stack.enter_context(atomic_output(plan.path))
            self._add_web(part, plan, self.web_tmp)
        if request.loudspeaker:
            profile = PROFILES["loudspeaker"]
            self.speaker = self.out_dir / f"{self.src.stem}.loudspeaker.{profile.extension}"
            self.speaker_tmp = self.stack.enter_context(atomic_output(self.speaker))
            self.shaped = self.stack.enter_context(
                _scratch_file(self.out_dir, self.src.stem, ".w64")
            )
            if self.remux_speaker:
                run.output(remux_args(info, ("audio",), (), part.input), self.speaker_tmp)
            else:
                self._add_shaping(part, self.shaped)
        part.close()

    def after_decode(self, stderr: str) -> None:
        """Read this source's meters; make what the decode run could not (alone)."""
        tag = self.tag
        self.source = meter_summary(stderr, f"source{tag}") if self.meter else None
        if self.poster is not None:
            self._ensure_poster(self.poster_tmp, self.poster_at_s)
            self.made.append(MadeFile("poster", str(self.poster), "image/jpeg"))
        plan = self.plan_web
        if plan is not None:
            if self.check_web and self.source is not None:
                self._correct_web(plan, self.web_tmp, self.source)
            self.made.append(MadeFile("web", str(plan.path), plan.mime, reencoded=plan.reencoded))
        if not self.request.loudspeaker:
            return
        if (
            self.remux_speaker
            and self.source is not None
            and not loudspeaker_level_matches(self.source)
        ):
            # Metered, the source is not at the profile's level after all: master it from
            # the level just metered, in a run of its own.
            self.remux_speaker = False
            self.level = SourceLevel.metered(self.source)
            again = FfmpegRun(self.threads)
            part = SourcePart(again, self.src, self.info, tag)
            self._add_shaping(part, self.shaped)
            part.close()
            stderr = self._run(again, "loudspeaker")
        if not self.remux_speaker:
            shaped = meter_summary(stderr, f"shaped{tag}")
            require_sound(shaped.integrated_lufs, self.src)
            self.finishing = SpeakerFinish.plan(shaped)

    def plan_finish(self, run: FfmpegRun) -> None:
        """Add the loudspeaker copy's finishing to the finishing run (see module doc)."""
        if self.finishing is not None:
            self._add_finish(run)

    def after_finish(self, stderr: str) -> None:
        """Correct the makeup once (alone) where the limiter took more than the tolerance."""
        finishing = self.finishing
        if finishing is None or finishing.ceiling_dbtp is None:
            return
        # The limiter lowers the loudness a little where it works.
        error = speaker_aim() - meter_summary(stderr, f"output{self.tag}").integrated_lufs
        if abs(error) > LOUDSPEAKER_TOLERANCE_LU:
            finishing.makeup_db += error
            again = FfmpegRun(self.threads)
            self._add_finish(again)
            self._run(again, "loudspeaker")

    def _add_finish(self, run: FfmpegRun) -> None:
        assert self.finishing is not None
        run.add_chains(self.finishing.chains(self.shaped, self.tag, run.threads))
        run.output(self.finishing.output_args(self.tag), self.speaker_tmp)

    def complete(self) -> DerivedCopies:
        """Keep the files made (renamed into place), with their durations as written."""
        if self.request.loudspeaker:
            self.made.append(
                MadeFile(
                    "loudspeaker",
                    str(self.speaker),
                    PROFILES["loudspeaker"].mime,
                    reencoded=not self.remux_speaker,
                )
            )
        durations = {}
        if self.plan_web is not None:
            durations["web"] = _written_s(self.web_tmp)
        if self.request.loudspeaker:
            durations["loudspeaker"] = _written_s(self.speaker_tmp)
        made = [
            replace(f, duration_s=durations[f.kind]) if f.kind in durations else f
            for f in self.made
        ]
        self.stack.close()
        return DerivedCopies(tuple(made), self.source)

    def discard(self, exc: BaseException) -> None:
        """Remove every file this job began (a job that failed, or a run interrupted)."""
        self.stack.__exit__(type(exc), exc, exc.__traceback__)

    def _correct_web(self, plan: _Web, out: Path, source: Loudness) -> None:
        """Encode the web copy once more (alone) if its true peak, metered, asks for a lower
        gain than was planned from the sample peak."""
        assert plan.encoder is not None
        exact = web_gain_db(source, plan.encoder)
        if exact >= plan.gain_db - WEB_GAIN_TOLERANCE_DB:
            return
        plan.gain_db = exact
        again = FfmpegRun(self.threads)
        part = SourcePart(again, self.src, self.info, self.tag)
        self._add_web(part, plan, out)
        part.close()
        self._run(again, "web")

    def _plan_web(self) -> _Web:
        src, info, out_dir = self.src, self.info, self.out_dir
        encoder = web_audio_encoder(info)
        gain = web_gain_db(self.level.planned(), encoder) if encoder and self.level else 0.0
        if first_stream(info, "video") is not None:
            path = out_dir / f"{src.stem}.web.mp4"
            return _Web(
                path,
                "video/mp4",
                not video_complies(info),
                ("-movflags", "+faststart"),
                encoder,
                gain,
            )
        copy = audio_copy_target(info)
        if copy is not None:
            ext, mime, muxer = copy
            return _Web(out_dir / f"{src.stem}.web{ext}", mime, False, muxer)
        return _Web(out_dir / f"{src.stem}.web.opus", "audio/ogg", True, (), encoder, gain)

    def _add_web(self, part: SourcePart, plan: _Web, out: Path) -> None:
        info, run, n = self.info, part.run, part.input
        video = first_stream(info, "video") is not None
        if not plan.reencoded:
            kinds = ("video", "audio") if video else ("audio",)
            run.output(remux_args(info, kinds, plan.muxer, n), out)
            return
        label = f"[web{self.tag}]"
        if plan.encoder:
            part.tap(f"{gain_filter(plan.gain_db)}{label}")
        if video:
            run.output(web_video_args(info, label if plan.encoder else None, n), out)
        else:
            run.output(web_audio_args(info, label), out)

    def _add_shaping(self, part: SourcePart, shaped: Path) -> None:
        """Step 1 of the loudspeaker copy on a branch of the decode (see module doc)."""
        assert self.level is not None
        require_sound(self.level.integrated_lufs, self.src)
        gain = speaker_aim() - self.level.integrated_lufs
        chain, tag = ",".join(loudspeaker_shaping(gain)), self.tag
        part.tap(
            f"{chain},asplit[shaped{tag}][m{tag}];"
            f"[m{tag}]ebur128@shaped{tag}=peak=sample:framelog=verbose,anullsink"
        )
        # Wave64: float samples with a header `amovie` reads, and sizes past 4 GB.
        part.run.output(["-map", f"[shaped{tag}]", "-c:a", "pcm_f32le", "-f", "w64"], shaped)

    def _ensure_poster(self, tmp: Path, at_s: float) -> None:
        """Every frame searched was black (or none decoded): take the frame at `at_s` as it is."""
        if tmp.exists() and tmp.stat().st_size:
            return
        try:
            self.tools.ffmpeg(*poster_argv(self.src, tmp, at_s, 1280, skip_black=False))
        except ToolFailed as exc:
            raise decode_error(self.src, exc) from None
        if not (tmp.exists() and tmp.stat().st_size):
            raise MediaError(self.src, "corrupt", "没有可解码的画面 / no decodable video frame")

    def _run(self, run: FfmpegRun, kind: str) -> str:
        try:
            return self.tools.ffmpeg(*run.argv()).stderr.decode("utf-8", "replace")
        except ToolFailed as exc:
            raise _failed(self.src, kind, exc) from exc


def _written_s(path: Path) -> float | None:
    """A made file's duration as its container tells it (read in-process)."""
    from .libav import probe_media

    try:
        return probe_media(path).duration_s
    except PipelineError:
        return None


@contextlib.contextmanager
def _scratch_file(out_dir: Path, stem: str, suffix: str) -> Iterator[Path]:
    """A hidden temporary file beside the copies, removed afterwards whatever happens."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f".{stem}.{uuid.uuid4().hex[:8]}{suffix}"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def derive_web(
    src: Path,
    out_dir: Path,
    *,
    info: dict | None = None,
    level: SourceLevel | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> MadeFile:
    """The web copy of an audio or video file (see module doc); `level` spares a metering."""
    copies = derive_copies(src, out_dir, info=info, level=level, loudspeaker=False, tools=tools)
    return copies.made[0]


def derive_loudspeaker(
    src: Path,
    out_dir: Path,
    *,
    info: dict | None = None,
    level: SourceLevel | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> MadeFile:
    """The loudspeaker copy (mono MP3, band-limited, −16 LUFS) of any audio or video file."""
    copies = derive_copies(src, out_dir, info=info, level=level, web=False, tools=tools)
    return copies.made[0]


def _probe(src: Path, tools: Tools) -> dict[str, Any]:
    """ffprobe JSON of `src`, with a clear error for missing or unreadable files."""
    if not src.is_file():
        raise PipelineError(f"找不到媒体文件：{src} / media file not found: {src}")
    try:
        return probe(src, tools)
    except ToolFailed as exc:
        raise PipelineError(
            f"无法读取媒体文件（不是媒体或已损坏）：{src} / cannot read media file "
            f"(not media, or damaged): {src}"
        ) from exc


def _failed(src: Path, kind: str, exc: ToolFailed) -> PipelineError:
    """A bilingual error naming the source, with ffmpeg's last words."""
    tail = exc.stderr.strip().splitlines()[-1:] or [""]
    return PipelineError(
        f"无法生成 {kind} 副本：{src} / cannot derive the {kind} copy of {src}: {tail[0]}"
    )
