"""Analysis of a recording: loudness and silence from one decode, waveform, poster frame.

`analyse_audio` runs ebur128 (true peak) and silencedetect in one ffmpeg program run and
parses both from the same stderr; inputs are opened with -vn/-sn/-dn, so the demuxer drops
a video file's video packets instead of decoding them. Cataloguing does the same work
in-process (libav.py) and shares the silence rules here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import MediaError, ToolFailed
from .files import atomic_output
from .loudness import METER, Loudness, parse_ebur128_summary, parse_out_time_s
from .probe import media_url, probe_media
from .tools import ffmpeg
from .waveform import decode_error

# Quieter than this counts as silence: below a phone's noise floor in a quiet room, above
# digital silence and dither. Gaps shorter than SILENCE_MIN_S are pauses, not silence.
SILENCE_NOISE_DB = -50
SILENCE_MIN_S = 0.25
SILENCE_FILTER = f"silencedetect=noise={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_S}"
# A silence that starts or ends this close to an edge of the file touches it.
_EDGE_S = 0.02
# Decoding that ends this much before the probed duration means the file lost its end.
_SHORTFALL_S = 0.5
_SHORTFALL_RATIO = 0.02
# Poster frames: frames darker than this mean luma (0–255) are skipped as black, looking
# at most _POSTER_SEARCH_S of video after the chosen point.
_BLACK_YAVG = 24
_POSTER_SEARCH_S = 10


@dataclass(frozen=True)
class Silence:
    """Silence at the start and at the end of a recording, in seconds."""

    leading_s: float
    trailing_s: float


_SILENCE_RE = re.compile(r"silence_(start|end): (-?\d+(?:\.\d+)?(?:e-?\d+)?)")


def parse_silences(stderr: str) -> list[tuple[float, float | None]]:
    """(start, end) of every silence silencedetect logged; end is None if it ran to EOF."""
    spans: list[tuple[float, float | None]] = []
    for kind, value in _SILENCE_RE.findall(stderr):
        if kind == "start":
            spans.append((max(0.0, float(value)), None))
        elif spans and spans[-1][1] is None:
            spans[-1] = (spans[-1][0], float(value))
    return spans


def silence_bounds(spans: list[tuple[float, float | None]], duration_s: float) -> Silence:
    """Leading and trailing silence from silencedetect spans; a silent file is all of both."""
    if not spans:
        return Silence(0.0, 0.0)
    first_start, first_end = spans[0]
    last_start, last_end = spans[-1]
    leading = (
        (first_end if first_end is not None else duration_s) if first_start <= _EDGE_S else 0.0
    )
    reaches_end = last_end is None or last_end >= duration_s - _EDGE_S
    trailing = max(0.0, duration_s - last_start) if reaches_end else 0.0
    return Silence(round(min(leading, duration_s), 3), round(trailing, 3))


def analysis_argv(path: Path) -> list[str]:
    """ffmpeg arguments for one decode that meters loudness and silence.

    `-progress` on stdout gives the decoded duration, to tell a file that lost its end.
    """
    meter = f"{SILENCE_FILTER},{METER}"
    return [
        "-nostats", "-vn", "-sn", "-dn", "-i", media_url(path),
        "-progress", "pipe:1", "-map", "0:a:0", "-af", meter, "-f", "null", "-",
    ]  # fmt: skip


def analyse_audio(path: Path, duration_s: float | None = None) -> tuple[Loudness, Silence]:
    """Loudness (EBU R128, true peak) and leading/trailing silence, from one ffmpeg decode.

    `duration_s` is the audio's probed duration: when decoding ends well short of it, the
    file has lost its end and MediaError("corrupt") is raised.
    """
    path = Path(path)
    stdout, stderr = _run(path, analysis_argv(path))
    decoded = parse_out_time_s(stdout.decode("utf-8", "replace"))
    return _results(path, stderr, decoded, duration_s)


def _run(path: Path, argv: list[str]) -> tuple[bytes, str]:
    """Run one analysis decode; its stdout and its stderr as text."""
    try:
        proc = ffmpeg(*argv)
    except ToolFailed as exc:
        raise decode_error(path, exc) from None
    return proc.stdout, proc.stderr.decode("utf-8", "replace")


def check_decoded(path: Path, decoded_s: float, duration_s: float | None) -> None:
    """Raise MediaError("corrupt") when decoding ended well short of the probed duration."""
    if duration_s and decoded_s < duration_s - max(_SHORTFALL_S, _SHORTFALL_RATIO * duration_s):
        raise MediaError(
            path,
            "corrupt",
            f"只能解码 {decoded_s:.2f} 秒，应为 {duration_s:.2f} 秒 / "
            f"decodes to {decoded_s:.2f} s of {duration_s:.2f} s",
        )


def _results(
    path: Path, stderr: str, decoded_s: float, duration_s: float | None
) -> tuple[Loudness, Silence]:
    """Loudness and silence parsed from one run's stderr, after checking nothing was lost."""
    check_decoded(path, decoded_s, duration_s)
    silence = silence_bounds(parse_silences(stderr), decoded_s)
    return parse_ebur128_summary(stderr), silence


def poster_argv(path: Path, out: Path, at_s: float, width: int, *, skip_black: bool) -> list[str]:
    """ffmpeg arguments that write one JPEG frame of path's video from `at_s` on."""
    scale = f"scale=w='min({width},iw)':h=-2"
    if skip_black:
        # signalstats measures each frame's mean luma; metadata passes only brighter frames.
        keep = (
            f"metadata=mode=select:key=lavfi.signalstats.YAVG:value={_BLACK_YAVG}:function=greater"
        )
        chain = f"signalstats,{keep},{scale}"
    else:
        chain = scale
    return [
        "-ss", f"{at_s:.3f}", "-t", str(_POSTER_SEARCH_S), "-an", "-sn", "-dn",
        "-i", media_url(path), "-map", "0:v:0", "-vf", chain, "-frames:v", "1",
        "-q:v", "3", "-update", "1", "-f", "image2", media_url(out),
    ]  # fmt: skip


def poster_frame(
    path: Path,
    out: Path,
    *,
    at_s: float | None = None,
    width: int = 1280,
    duration_s: float | None = None,
) -> None:
    """A JPEG of a representative frame (default 10% in, skipping black), at most `width` wide.

    Pass `duration_s` (from probe_media) to spare a probe when `at_s` is not given.
    """
    path, out = Path(path), Path(out)
    if at_s is None:
        at_s = 0.1 * (duration_s if duration_s is not None else probe_media(path).duration_s)
    with atomic_output(out) as tmp:
        for skip_black in (True, False):
            try:
                ffmpeg(*poster_argv(path, tmp, at_s, width, skip_black=skip_black))
            except ToolFailed as exc:
                raise decode_error(path, exc) from None
            # Every frame searched was black: take the frame at `at_s` as it is.
            if tmp.exists() and tmp.stat().st_size:
                return
        raise MediaError(path, "corrupt", "没有可解码的画面 / no decodable video frame")
