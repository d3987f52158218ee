"""Loudness: EBU R128 measurement with ffmpeg's ebur128, and mastering to a target.

How mastering works (`master`, one output). ffmpeg's `loudnorm` is not used: in linear mode
it falls back to its dynamic mode whenever the gain would push the true peak over the ceiling
(the usual case for TTS speech, whose peaks sit near 0 dBFS), and the dynamic mode adapts
over 3 s windows, which suits neither 2 s clips nor exact, repeatable levels. Instead:

1. meter the source (after the downmix/resample the output needs) → one gain to target;
2. if the profile has filters (band limit, compressor), or the limiter will have work to
   do, meter the whole chain and set a makeup gain from it (again if that step was over
   1 dB). The gain comes first, so a compressor always sees speech at the target level
   and acts the same however loud the TTS engine speaks;
3. render `gain → filters → makeup → limiter` and encode. The limiter (alimiter, its
   lookahead delay compensated) runs at 4× the sample rate, so it limits true peak, not
   sample peak. What encoders are known to do to level (_ENCODER_GAIN_DB, …) is planned for;
4. meter the written output: lossless outputs inside the render run (an `asplit` branch
   sees the samples written, before their final 16-bit rounding), lossy ones by decoding the file once more;
5. if it is more than _TOLERANCE_LU off target or over the true-peak ceiling, correct the
   makeup gain and limiter ceiling from the measured error and render once more.
ffmpeg runs on espeak speech: loudspeaker 4, web 4, archive 3, video WAV 3 (+2 for a
correction). Nothing adds delay or changes length (decoded MP3/Opus durations match the
source to < 1 ms), so subtitle cue times made from the narration hold for every copy.

`master_many` makes every output of one clause's narration the same way in three ffmpeg
runs in all, where `master` would take four per output (each run spends ~70 ms loading 200
shared libraries before it reads a byte):
1. the source loudness comes from the caller, who holds the samples (dsp.integrated_loudness,
   BS.1770 in numpy: within ebur128's 0.1 LU display), else from one meter run;
2. outputs that share shaping, format and aim share one chain ("branch"; web, archive and the
   video's AAC are one branch: one master, three encodes, limited to the lowest ceiling among
   them). ONE run renders every branch's chain at once (an `asplit` per branch) and writes
   its samples, whose loudness is computed here (dsp.integrated_loudness) → makeup gains;
3. ONE run renders every branch and writes every file (one `asplit` per branch to its
   encoders), metering the lossless outputs in-pass. A branch with filters starts from its
   shaped signal, which the meter run wrote, so its filters run once. The limiter runs at
   the sample rate (_MANY_OVERSAMPLE: see there), in both runs, so the render has the chain
   that was metered, plus the makeup gain;
4. ONE run decodes and meters (ebur128, true peak) every lossy output that reports its
   loudness; or the caller's next run does (`meter`: a clause's video run), one start fewer;
5. an output off target is corrected alone, as in `master` step 5.
"""

from __future__ import annotations

import functools
import re
import tempfile
import wave
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from .errors import PipelineError
from .files import atomic_output
from .tools import DEFAULT_TOOLS, Tools

# framelog=verbose keeps the per-100 ms lines out of stderr; the summary is always logged.
METER = "ebur128=peak=true:framelog=verbose"

# Correct once when the output is further than this from target. Half the ±1 LU promise,
# so another meter (or a rounding of ebur128's 0.1 LU display) still finds it in tolerance.
_TOLERANCE_LU = 0.5
# The limiter's ceiling sits this far under the true-peak target: coming back down from 4×
# oversampling adds up to ~0.1 dB of inter-sample peak.
_LIMIT_MARGIN_DB = 0.3
# master_many limits at the sample rate itself: on speech at 44.1/48 kHz the true peak then
# comes out at most 0.1 dB over the limit (the sample covenant; 4× oversampling: 0.0 dB),
# inside _LIMIT_MARGIN_DB, and at a fifth of the cost. A file that still exceeds its
# ceiling is corrected like any other (a lower ceiling, rendered again).
_MANY_OVERSAMPLE = 1
# What lossy encoders do to level, measured on espeak speech and tones here: LAME's output
# decodes 0.4 dB quieter across the board (peaks included); Opus at 40 kb/s keeps the level
# but adds up to ~0.9 dB of true peak. Planning for it saves a correction round (two ffmpeg
# runs) on almost every file; the verification still catches an encoder that differs.
_ENCODER_GAIN_DB = {"libmp3lame": -0.4}
_ENCODER_OVERSHOOT_DB = {"libopus": 1.0, "libvorbis": 1.0, "aac": 0.5}
# ebur128 reports -70 LUFS (its absolute gate) for silence; nothing to normalise there.
_SILENCE_LUFS = -69.0
_LOSSLESS_CODECS = ("pcm_", "flac", "alac", "wavpack", "tta")
# The encoder ffmpeg picks when codec_args name none.
_DEFAULT_ENCODERS = {
    ".wav": "pcm_s16le", ".flac": "flac", ".mp3": "libmp3lame",
    ".opus": "libopus", ".ogg": "libvorbis", ".m4a": "aac",
}  # fmt: skip


@dataclass(frozen=True)
class Loudness:
    """EBU R128 figures of one file: integrated loudness, loudness range, true peak."""

    integrated_lufs: float
    loudness_range_lu: float
    true_peak_dbtp: float


_NUMBER = r"(-?(?:\d+(?:\.\d+)?|inf)|nan)"
_SUMMARY_FIELDS = {
    "integrated_lufs": re.compile(rf"^\s*I:\s+{_NUMBER} LUFS", re.M),
    "loudness_range_lu": re.compile(rf"^\s*LRA:\s+{_NUMBER} LU\b", re.M),
    "true_peak_dbtp": re.compile(rf"^\s*Peak:\s+{_NUMBER} dBFS", re.M),
}
_OUT_TIME_RE = re.compile(r"^out_time_us=(\d+)\s*$", re.M)
_INPUT_RATE_RE = re.compile(r"Stream #0:\d+.*?: Audio: [^\n]*?, (\d+) Hz")


def parse_ebur128_summary(stderr: str) -> Loudness:
    """Loudness from the last ebur128 "Summary:" block in ffmpeg's stderr."""
    start = stderr.rfind("Summary:")
    values = {}
    for field, pattern in _SUMMARY_FIELDS.items():
        match = pattern.search(stderr, start) if start >= 0 else None
        if not match:
            raise PipelineError(
                f"ffmpeg 输出中没有响度摘要（{field}）/ no ebur128 summary ({field}) in ffmpeg output"
            )
        values[field] = float(match.group(1))
    return Loudness(**values)


def parse_out_time_s(progress: str) -> float:
    """The final position (s) from ffmpeg's `-progress` output: the duration processed."""
    times = _OUT_TIME_RE.findall(progress)
    return int(times[-1]) / 1e6 if times else 0.0


def parse_input_sample_rate(stderr: str) -> int | None:
    """The sample rate of the first input audio stream, from ffmpeg's stream listing."""
    match = _INPUT_RATE_RE.search(stderr)
    return int(match.group(1)) if match else None


def measure_argv(path: Path, filters: Sequence[str] = ()) -> list[str]:
    """ffmpeg arguments that meter `path` (after `filters`) and discard the audio."""
    return [
        "-nostats", "-progress", "pipe:1", "-i", str(path), "-map", "0:a:0",
        "-af", ",".join([*filters, METER]), "-f", "null", "-",
    ]  # fmt: skip


def measure_loudness(path: Path, tools: Tools = DEFAULT_TOOLS) -> Loudness:
    """Integrated loudness, loudness range and true peak of an audio (or video) file.

    Remembered while the file is unchanged, so mastering it afterwards meters it no more.
    """
    return _measure_source(Path(path), tools)[0]


def format_filters(sample_rate: int | None, channels: int | None) -> list[str]:
    """Filters that downmix/resample to the output format (measured before gain is set)."""
    out = []
    if channels:
        layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
        out.append(f"aformat=channel_layouts={layout}")
    if sample_rate:
        out.append(f"aresample={sample_rate}")
    return out


def mastering_filters(
    *,
    gain_db: float,
    pre_filters: Sequence[str],
    makeup_db: float,
    ceiling_dbtp: float,
    sample_rate: int,
    oversample: int = 4,
) -> list[str]:
    """The mastering chain after the format filters: gain, profile filters, makeup, limiter.

    The limiter runs at `oversample` × sample_rate (1: at the sample rate itself).
    """
    chain = [f"volume={gain_db:.2f}dB", *pre_filters]
    if makeup_db:
        chain.append(f"volume={makeup_db:.2f}dB")
    return [*chain, *limiter_filters(ceiling_dbtp, sample_rate, oversample)]


def limiter_filters(ceiling_dbtp: float, sample_rate: int, oversample: int = 4) -> list[str]:
    """The peak limiter at `oversample` × sample_rate (1: at the sample rate itself)."""
    # level=0: alimiter otherwise "auto-levels" its output up to the limit;
    # latency=1 removes its 5 ms lookahead delay, so timing is unchanged.
    limiter = f"alimiter=limit={ceiling_dbtp:.2f}dB:attack=5:release=80:level=0:latency=1"
    if oversample <= 1:
        return [limiter]
    return [f"aresample={oversample * sample_rate}", limiter, f"aresample={sample_rate}"]


def render_argv(
    src: Path, out: Path, filters: Sequence[str], codec_args: Sequence[str], *, meter: bool
) -> list[str]:
    """ffmpeg arguments that write `out` through `filters`, metering the result if asked."""
    chain = ",".join(filters)
    if meter:
        graph = f"[0:a:0]{chain},asplit[out][m];[m]{METER},anullsink"
    else:
        graph = f"[0:a:0]{chain}[out]"
    return [
        "-nostats", "-progress", "pipe:1", "-i", str(src), "-filter_complex", graph,
        "-map", "[out]", "-map_metadata", "-1", *codec_args, str(out),
    ]  # fmt: skip


def encoder_name(out: Path, codec_args: Sequence[str]) -> str:
    """The audio encoder named in codec_args, else the one ffmpeg picks for out's suffix."""
    args = list(codec_args)
    for flag in ("-c:a", "-acodec", "-codec:a", "-c"):
        if flag in args[:-1]:
            return args[args.index(flag) + 1]
    return _DEFAULT_ENCODERS.get(out.suffix.lower(), "")


def normalise(
    src: Path,
    out: Path,
    *,
    target_lufs: float = -16.0,
    true_peak_dbtp: float = -1.0,
    pre_filters: Sequence[str] = (),
    codec_args: Sequence[str] = (),
    sample_rate: int | None = None,
    channels: int | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> Loudness:
    """Master `src` into `out` at target_lufs with true peak ≤ true_peak_dbtp; measure it."""
    return master(
        src,
        out,
        target_lufs=target_lufs,
        true_peak_dbtp=true_peak_dbtp,
        pre_filters=pre_filters,
        codec_args=codec_args,
        sample_rate=sample_rate,
        channels=channels,
        tools=tools,
    )[0]


def master(
    src: Path,
    out: Path,
    *,
    target_lufs: float = -16.0,
    true_peak_dbtp: float = -1.0,
    pre_filters: Sequence[str] = (),
    codec_args: Sequence[str] = (),
    sample_rate: int | None = None,
    channels: int | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> tuple[Loudness, float]:
    """Like `normalise`, also returning the output's duration in seconds (see module doc)."""
    src, out = Path(src), Path(out)
    if not src.is_file():
        raise PipelineError(f"找不到音频文件：{src} / audio file not found: {src}")
    head = format_filters(sample_rate, channels)
    # Every profile masters the same narration: measure it once (mono → mono and a change of
    # sample rate leave integrated loudness and true peak as they are).
    source, rate = _measure_source(src, tools)
    _require_sound(source, src)
    working_rate = sample_rate or rate or 48000
    encoder = encoder_name(out, codec_args)
    lossless = encoder.startswith(_LOSSLESS_CODECS)
    # Aim the signal fed to the encoder so that what decodes is on target.
    codec_gain = _ENCODER_GAIN_DB.get(encoder, 0.0)
    aim = target_lufs - codec_gain
    ceiling = true_peak_dbtp - _LIMIT_MARGIN_DB - _ENCODER_OVERSHOOT_DB.get(encoder, 0.0)
    ceiling -= codec_gain
    gain = aim - source.integrated_lufs
    makeup = 0.0

    def chain() -> list[str]:
        return [
            *head,
            *mastering_filters(
                gain_db=gain,
                pre_filters=pre_filters,
                makeup_db=makeup,
                ceiling_dbtp=ceiling,
                sample_rate=working_rate,
            ),
        ]

    if pre_filters or source.true_peak_dbtp + gain > ceiling:
        # Filters and limiting change the loudness: meter the whole chain and adjust the
        # makeup gain. A big step means the limiter will see a hotter signal than it was
        # metered with, so meter once more.
        for _ in range(2):
            shaped, _, _ = _measure(src, chain(), tools)
            _require_sound(shaped, src)
            step = aim - shaped.integrated_lufs
            makeup += step
            if abs(step) <= 1.0:
                break
    with atomic_output(out) as tmp:
        for attempt in range(2):
            proc = tools.ffmpeg(*render_argv(src, tmp, chain(), codec_args, meter=lossless))
            if lossless:
                result = parse_ebur128_summary(proc.stderr.decode("utf-8", "replace"))
                duration = parse_out_time_s(proc.stdout.decode("utf-8", "replace"))
            else:
                result, duration, _ = _measure(tmp, tools=tools)
            error = target_lufs - result.integrated_lufs
            overshoot = result.true_peak_dbtp - true_peak_dbtp
            if attempt or (abs(error) <= _TOLERANCE_LU and overshoot <= 0):
                break
            # The loudness error maps onto makeup gain almost 1:1 (the limiter touches only
            # peaks); lower the ceiling by the overshoot plus a little.
            makeup += error
            if overshoot > 0:
                ceiling -= overshoot + 0.2
    return result, duration


def _measure(
    path: Path, filters: Sequence[str] = (), tools: Tools = DEFAULT_TOOLS
) -> tuple[Loudness, float, int | None]:
    """Meter `path` after `filters`: loudness, duration (s), input sample rate."""
    if not path.is_file():
        raise PipelineError(f"找不到音频文件：{path} / audio file not found: {path}")
    proc = tools.ffmpeg(*measure_argv(path, filters))
    stderr = proc.stderr.decode("utf-8", "replace")
    return (
        parse_ebur128_summary(stderr),
        parse_out_time_s(proc.stdout.decode("utf-8", "replace")),
        parse_input_sample_rate(stderr),
    )


def _measure_source(path: Path, tools: Tools) -> tuple[Loudness, int | None]:
    """Meter a source file, remembering the result while the file is unchanged."""
    if not path.is_file():
        raise PipelineError(f"找不到音频文件：{path} / audio file not found: {path}")
    st = path.stat()
    return _measure_source_cached(str(path.resolve()), st.st_size, st.st_mtime_ns, tools)


@functools.lru_cache(maxsize=32)
def _measure_source_cached(
    path: str, _size: int, _mtime_ns: int, tools: Tools
) -> tuple[Loudness, int | None]:
    loudness, _, rate = _measure(Path(path), tools=tools)
    return loudness, rate


def _require_sound(loudness: Loudness, src: Path) -> None:
    """Refuse to master silence (ebur128 gates it all away; any gain would be arbitrary)."""
    if not loudness.integrated_lufs > _SILENCE_LUFS:
        raise PipelineError(
            f"音频无声，无法标准化：{src} / audio is silent, cannot normalise: {src}"
        )


def video_audio_wav(src_wav: Path, out_wav: Path, tools: Tools = DEFAULT_TOOLS) -> Loudness:
    """The narration mastered to −16 LUFS / −1.5 dBTP as 48 kHz mono PCM for the video muxer.

    −1.5 dBTP rather than −1: the AAC encoder that follows adds some overshoot of its own.
    """
    return normalise(
        src_wav,
        out_wav,
        target_lufs=-16.0,
        true_peak_dbtp=-1.5,
        codec_args=("-c:a", "pcm_s16le"),
        sample_rate=48000,
        channels=1,
        tools=tools,
    )


# ------------------------------------------------------------------ several outputs at once


@dataclass(frozen=True)
class Target:
    """One file for master_many to make: where, how encoded, at what level.

    `verify`: meter the file written, report its loudness and correct it if off target;
    False for a file whose level is left to the chain it shares with verified ones (the
    video's AAC, encoded beside the web and archive files from the same samples).
    """

    path: Path
    codec_args: tuple[str, ...]
    sample_rate: int
    channels: int = 1
    target_lufs: float = -16.0
    true_peak_dbtp: float = -1.0
    pre_filters: tuple[str, ...] = ()
    verify: bool = True


@dataclass(frozen=True)
class Made:
    """A file master_many wrote: its loudness as measured (None if not verified), duration (s)."""

    path: Path
    loudness: Loudness | None
    duration_s: float


@dataclass
class _Branch:
    """Targets mastered through one chain: the same shaping, format and aim.

    `shaped`: the chain up to its profile filters (format, gain, filters), written by the
    meter run for a branch with filters, so the render run starts from it.
    """

    pre_filters: tuple[str, ...]
    sample_rate: int
    channels: int
    aim: float
    gain: float
    ceiling: float
    members: list[int]
    makeup: float = 0.0
    shaped: Path | None = None

    def head(self) -> list[str]:
        """Format, gain and profile filters: what the makeup gain and the limiter follow."""
        format_ = format_filters(self.sample_rate, self.channels)
        return [*format_, f"volume={self.gain:.2f}dB", *self.pre_filters]

    def tail(self) -> list[str]:
        """Makeup gain and limiter."""
        makeup = [f"volume={self.makeup:.2f}dB"] if self.makeup else []
        return [*makeup, *limiter_filters(self.ceiling, self.sample_rate, _MANY_OVERSAMPLE)]


def _aim_and_ceiling(target: Target) -> tuple[float, float]:
    """The level to feed the encoder and the limiter's ceiling, planning for the encoder."""
    encoder = encoder_name(target.path, target.codec_args)
    codec_gain = _ENCODER_GAIN_DB.get(encoder, 0.0)
    ceiling = target.true_peak_dbtp - _LIMIT_MARGIN_DB - _ENCODER_OVERSHOOT_DB.get(encoder, 0.0)
    return target.target_lufs - codec_gain, ceiling - codec_gain


def _is_lossless(target: Target) -> bool:
    return encoder_name(target.path, target.codec_args).startswith(_LOSSLESS_CODECS)


def master_many(
    src: Path,
    targets: Sequence[Target],
    *,
    source_lufs: float | None = None,
    meter: Callable[[Sequence[Path]], Sequence[Loudness]] | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> list[Made]:
    """Master `src` into every target (atomically) in three ffmpeg runs; see the module doc.

    `source_lufs`: the source's integrated loudness if the caller knows it (e.g. from
    dsp.integrated_loudness on the samples it wrote), saving a meter run.
    `meter`: meters the written lossy files (decoded, true peak included) and returns their
    loudness in order, e.g. within an ffmpeg run the caller makes next anyway (see
    `meter_inputs`); by default a run of their own (`meter_files`). Corrections, if any,
    are metered by `meter_files`.
    """
    src = Path(src)
    if not src.is_file():
        raise PipelineError(f"找不到音频文件：{src} / audio file not found: {src}")
    targets = list(targets)
    if not targets:
        return []
    if source_lufs is None:
        source_lufs = _measure_source(src, tools)[0].integrated_lufs
    if not source_lufs > _SILENCE_LUFS:
        raise PipelineError(
            f"音频无声，无法标准化：{src} / audio is silent, cannot normalise: {src}"
        )
    branches: dict[tuple, _Branch] = {}
    for i, target in enumerate(targets):
        aim, ceiling = _aim_and_ceiling(target)
        key = (target.pre_filters, target.sample_rate, target.channels, round(aim, 2))
        branch = branches.setdefault(
            key,
            _Branch(
                target.pre_filters, target.sample_rate, target.channels, aim,
                aim - source_lufs, ceiling, [],
            ),
        )  # fmt: skip
        branch.ceiling = min(branch.ceiling, ceiling)
        branch.members.append(i)
    plan = list(branches.values())
    with tempfile.TemporaryDirectory(prefix="kuanyue-master-") as tmp:
        for k, branch in enumerate(plan):
            if branch.pre_filters:
                branch.shaped = Path(tmp) / f"shaped{k}.wav"
        metered_chains = _meter_chains(src, plan, tools, Path(tmp))
        for branch, metered in zip(plan, metered_chains, strict=True):
            if not metered > _SILENCE_LUFS:
                raise PipelineError(
                    f"音频无声，无法标准化：{src} / audio is silent, cannot normalise: {src}"
                )
            branch.makeup = branch.aim - metered
        found, progress_s = _render_branches(src, plan, targets, tools)
    for branch in plan:
        branch.shaped = None  # gone with the directory; a correction starts from the source
    found.update(
        _verify_lossy(targets, found, meter or functools.partial(meter_files, tools=tools))
    )

    # Correct an output that is off target alone (the loudness error maps onto makeup gain
    # almost 1:1; the limiter touches only peaks), lowering its ceiling by any overshoot.
    redo = []
    for branch in plan:
        for i in branch.members:
            if (result := found.get(i)) is None:
                continue
            error = targets[i].target_lufs - result.integrated_lufs
            overshoot = result.true_peak_dbtp - targets[i].true_peak_dbtp
            if abs(error) <= _TOLERANCE_LU and overshoot <= 0:
                continue
            alone = _Branch(**{**branch.__dict__, "members": [i]})
            alone.makeup += error
            if overshoot > 0:
                alone.ceiling -= overshoot + 0.2
            redo.append(alone)
    if redo:
        corrected, _ = _render_branches(src, redo, targets, tools)
        meter_again = functools.partial(meter_files, tools=tools)
        corrected.update(
            _verify_lossy(targets, corrected, meter_again, [b.members[0] for b in redo])
        )
        found.update(corrected)
    duration_s = _wav_duration_s(src) or progress_s
    return [Made(t.path, found.get(i), duration_s) for i, t in enumerate(targets)]


def _split(source: str, labels: Sequence[str]) -> str:
    """`source` fanned out to `labels` (no asplit for one)."""
    if len(labels) == 1:
        return f"{source}anull{labels[0]}"
    return f"{source}asplit={len(labels)}{''.join(labels)}"


def _meter_chains(src: Path, plan: Sequence[_Branch], tools: Tools, tmp: Path) -> list[float]:
    """Integrated loudness at the end of each branch's chain (makeup 0), from one ffmpeg run.

    The run writes each chain's output as raw 32-bit floats and the loudness is computed
    here (dsp.integrated_loudness: BS.1770, within 0.05 LU of ebur128; ebur128 itself would
    cost more than writing and reading the samples). A branch with `shaped` set also writes
    its shaped signal there (32-bit float WAV), for the render run to start from.
    """
    import numpy as np

    from .dsp import integrated_loudness

    inputs = [f"[in{k}]" for k in range(len(plan))]
    graph = [_split("[0:a:0]", inputs)]
    writes: list[str] = []
    for k, branch in enumerate(plan):
        head = f"{inputs[k]}{','.join(branch.head())}"
        tail = ",".join(branch.tail())
        if branch.shaped is None:
            graph.append(f"{head},{tail}[m{k}]")
        else:
            graph += [f"{head},asplit[w{k}][s{k}]", f"[s{k}]{tail}[m{k}]"]
            writes += ["-map", f"[w{k}]", "-c:a", "pcm_f32le", str(branch.shaped)]
        writes += ["-map", f"[m{k}]", "-f", "f32le", "-c:a", "pcm_f32le", str(tmp / f"m{k}.f32")]
    tools.ffmpeg("-nostats", "-i", str(src), "-filter_complex", ";".join(graph), *writes)
    return [
        integrated_loudness(np.fromfile(tmp / f"m{k}.f32", dtype="<f4"), branch.sample_rate)
        for k, branch in enumerate(plan)
    ]


def _render_branches(
    src: Path, plan: Sequence[_Branch], targets: Sequence[Target], tools: Tools
) -> tuple[dict[int, Loudness], float]:
    """Render every branch into its targets in one ffmpeg run; meter lossless ones in-pass.

    Returns the loudness of the lossless verified targets and the duration processed (s).
    """
    files = [] if all(b.shaped for b in plan) else [src]
    sources = {k: f"[in{k}]" for k, branch in enumerate(plan) if branch.shaped is None}
    graph = [_split("[0:a:0]", list(sources.values()))] if files else []
    for k, branch in enumerate(plan):
        if branch.shaped is not None:
            sources[k] = f"[{len(files)}:a:0]"
            files.append(branch.shaped)
    argv = ["-nostats", "-progress", "pipe:1"]
    for path in files:
        argv += ["-i", str(path)]
    outputs: list[tuple[str, int]] = []
    metered: list[list[int]] = []  # per meter, in graph order: the targets it measures
    for k, branch in enumerate(plan):
        labels = [f"[b{k}o{j}]" for j in range(len(branch.members))]
        lossless = [i for i in branch.members if targets[i].verify and _is_lossless(targets[i])]
        if lossless:
            # One meter for the branch: its lossless files hold the same samples.
            labels.append(f"[b{k}m]")
        chain = branch.tail() if branch.shaped else [*branch.head(), *branch.tail()]
        chain_graph = f"{sources[k]}{','.join(chain)}"
        graph.append(
            chain_graph + labels[0] if len(labels) == 1 else _split(f"{chain_graph},", labels)
        )
        if lossless:
            graph.append(f"[b{k}m]{METER},anullsink")
            metered.append(lossless)
        outputs += zip(labels, branch.members, strict=False)
    argv += ["-filter_complex", ";".join(graph)]
    with ExitStack() as stack:
        for label, i in outputs:
            tmp = stack.enter_context(atomic_output(targets[i].path))
            argv += ["-map", label, "-map_metadata", "-1", *targets[i].codec_args, str(tmp)]
        proc = tools.ffmpeg(*argv)
    found: dict[int, Loudness] = {}
    summaries = _summaries(proc.stderr.decode("utf-8", "replace"))
    for members, summary in zip(metered, summaries, strict=True):
        for i in members:
            found[i] = _loudness(summary)
    return found, parse_out_time_s(proc.stdout.decode("utf-8", "replace"))


def _verify_lossy(
    targets: Sequence[Target],
    found: dict[int, Loudness],
    meter: Callable[[Sequence[Path]], Sequence[Loudness]],
    among: Sequence[int] | None = None,
) -> dict[int, Loudness]:
    """Meter the verified (lossy) targets not measured yet."""
    todo = [
        i
        for i in (range(len(targets)) if among is None else among)
        if targets[i].verify and i not in found
    ]
    if not todo:
        return {}
    measured = meter([targets[i].path for i in todo])
    return dict(zip(todo, measured, strict=True))


def meter_inputs(paths: Sequence[Path], first_input: int) -> tuple[list[str], list[str]]:
    """Inputs and filter-graph chains that meter `paths` (true peak included) inside another
    ffmpeg run that has `first_input` inputs of its own and outputs of its own; the run
    must log at info level, and `parse_meters` reads the results from its stderr."""
    inputs = [arg for path in paths for arg in ("-i", str(path))]
    chains = [f"[{first_input + k}:a:0]{METER},anullsink" for k in range(len(paths))]
    return inputs, chains


def parse_meters(stderr: str) -> list[Loudness]:
    """Every ebur128 summary in an ffmpeg run's stderr, in the order of the graph's meters."""
    return [_loudness(fields) for fields in _summaries(stderr)]


def meter_files(paths: Sequence[Path], tools: Tools = DEFAULT_TOOLS) -> list[Loudness]:
    """Loudness of each file (decoded; true peak included), in one ffmpeg run."""
    if not paths:
        return []
    inputs, chains = meter_inputs(paths[:-1], 0)
    last = f"[{len(paths) - 1}:a:0]{METER}[metered]"
    proc = tools.ffmpeg(
        "-nostats", *inputs, "-i", str(paths[-1]), "-filter_complex", ";".join([*chains, last]),
        "-map", "[metered]", "-f", "null", "-",
    )  # fmt: skip
    return parse_meters(proc.stderr.decode("utf-8", "replace"))


_SUMMARY_HEAD = re.compile(r"^\[Parsed_ebur128_(\d+) @ [^\]]*\] Summary:", re.M)


def _summaries(stderr: str) -> list[dict[str, float]]:
    """Every ebur128 instance's summary fields, in the order the instances appear in the graph.

    ffmpeg prints a summary for an instance each time it frees a graph (once more, empty,
    for a graph it configured and replaced), and frees filters in no particular order: the
    last block of each instance counts, ordered by the instance's index in the graph.
    """
    heads = list(_SUMMARY_HEAD.finditer(stderr))
    blocks: dict[int, str] = {}
    for k, head in enumerate(heads):
        end = heads[k + 1].start() if k + 1 < len(heads) else len(stderr)
        blocks[int(head.group(1))] = stderr[head.start() : end]
    out = []
    for index in sorted(blocks):
        fields = {}
        for name, pattern in _SUMMARY_FIELDS.items():
            if match := pattern.search(blocks[index]):
                fields[name] = float(match.group(1))
        if "integrated_lufs" not in fields:
            raise PipelineError("ffmpeg 输出中没有响度摘要 / no ebur128 summary in ffmpeg output")
        out.append(fields)
    return out


def _loudness(fields: dict[str, float]) -> Loudness:
    return Loudness(
        fields["integrated_lufs"],
        fields.get("loudness_range_lu", 0.0),
        fields.get("true_peak_dbtp", float("nan")),
    )


def _wav_duration_s(path: Path) -> float | None:
    """Length of a PCM WAV from its header, or None if it is not one Python's wave reads."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError):
        return None
