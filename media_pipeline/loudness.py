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
   sample peak. What encoders are known to do to level (ENCODER_GAIN_DB, …) is planned for;
4. meter the written output: lossless outputs inside the render run (an `asplit` branch
   sees the samples written, before their final 16-bit rounding), lossy ones by decoding the file once more;
5. if it is more than TOLERANCE_LU off target or over the true-peak ceiling, correct the
   makeup gain and limiter ceiling from the measured error and render once more.
ffmpeg runs on espeak speech: loudspeaker 4, web 4, archive 3, video WAV 3 (+2 for a
correction). Nothing adds delay or changes length (decoded MP3/Opus durations match the
source to < 1 ms), so subtitle cue times made from the narration hold for every copy.

Several outputs of one narration at once: master_many.py.
"""

from __future__ import annotations

import functools
import re
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import PipelineError
from .files import atomic_output
from .tools import DEFAULT_TOOLS, Tools

# framelog=verbose keeps the per-100 ms lines out of stderr; the summary is always logged.
METER = "ebur128=peak=true:framelog=verbose"

# Correct once when the output is further than this from target. Half the ±1 LU promise,
# so another meter (or a rounding of ebur128's 0.1 LU display) still finds it in tolerance.
TOLERANCE_LU = 0.5
# The limiter's ceiling sits this far under the true-peak target: coming back down from 4×
# oversampling adds up to ~0.1 dB of inter-sample peak.
LIMIT_MARGIN_DB = 0.3
# What lossy encoders do to level, measured on espeak speech and tones here: LAME's output
# decodes 0.4 dB quieter across the board (peaks included); Opus at 40 kb/s keeps the level
# but adds up to ~0.9 dB of true peak. Planning for it saves a correction round (two ffmpeg
# runs) on almost every file; the verification still catches an encoder that differs.
ENCODER_GAIN_DB = {"libmp3lame": -0.4}
ENCODER_OVERSHOOT_DB = {"libopus": 1.0, "libvorbis": 1.0, "aac": 0.5}
# ebur128 reports -70 LUFS (its absolute gate) for silence; nothing to normalise there.
SILENCE_LUFS = -69.0
LOSSLESS_CODECS = ("pcm_", "flac", "alac", "wavpack", "tta")
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
    return measure_source(Path(path), tools)[0]


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
    source, rate = measure_source(src, tools)
    _require_sound(source, src)
    working_rate = sample_rate or rate or 48000
    encoder = encoder_name(out, codec_args)
    lossless = encoder.startswith(LOSSLESS_CODECS)
    # Aim the signal fed to the encoder so that what decodes is on target.
    codec_gain = ENCODER_GAIN_DB.get(encoder, 0.0)
    aim = target_lufs - codec_gain
    ceiling = true_peak_dbtp - LIMIT_MARGIN_DB - ENCODER_OVERSHOOT_DB.get(encoder, 0.0)
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
            if attempt or (abs(error) <= TOLERANCE_LU and overshoot <= 0):
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


def measure_source(path: Path, tools: Tools) -> tuple[Loudness, int | None]:
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
    if not loudness.integrated_lufs > SILENCE_LUFS:
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


def meter_inputs(paths: Sequence[Path], first_input: int) -> tuple[list[str], list[str]]:
    """Inputs and filter-graph chains that meter `paths` (true peak included) inside another
    ffmpeg run that has `first_input` inputs of its own and outputs of its own; the run
    must log at info level, and `parse_meters` reads the results from its stderr."""
    inputs = [arg for path in paths for arg in ("-i", str(path))]
    chains = [f"[{first_input + k}:a:0]{METER},anullsink" for k in range(len(paths))]
    return inputs, chains


def parse_meters(stderr: str) -> list[Loudness]:
    """Every ebur128 summary in an ffmpeg run's stderr, in the order of the graph's meters."""
    return [loudness_of(fields) for fields in ebur128_summaries(stderr)]


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


def ebur128_summaries(stderr: str) -> list[dict[str, float]]:
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


def loudness_of(fields: dict[str, float]) -> Loudness:
    return Loudness(
        fields["integrated_lufs"],
        fields.get("loudness_range_lu", 0.0),
        fields.get("true_peak_dbtp", float("nan")),
    )


def wav_duration_s(path: Path) -> float | None:
    """Length of a PCM WAV from its header, or None if it is not one Python's wave reads."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError):
        return None
