"""Analysis of a recording: the rules for silence and lost endings, and the poster frame.

The decode that measures loudness and silence runs in-process (libav.py); the rules it
applies to silencedetect's marks and to the decoded length live here, beside the poster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import MediaError, ToolFailed
from ..files import atomic_output
from ..tools import DEFAULT_TOOLS, Tools
from .probe import media_url, probe_media

# Quieter than this counts as silence: below a phone's noise floor in a quiet room, above
# digital silence and dither. Gaps shorter than SILENCE_MIN_S are pauses, not silence.
SILENCE_NOISE_DB = -50
SILENCE_MIN_S = 0.25
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


def check_decoded(path: Path, decoded_s: float, duration_s: float | None) -> None:
    """Raise MediaError("corrupt") when decoding ended well short of the probed duration."""
    if duration_s and decoded_s < duration_s - max(_SHORTFALL_S, _SHORTFALL_RATIO * duration_s):
        raise MediaError(
            path,
            "corrupt",
            f"只能解码 {decoded_s:.2f} 秒，应为 {duration_s:.2f} 秒 / "
            f"decodes to {decoded_s:.2f} s of {duration_s:.2f} s",
        )


def poster_input_args(path: Path, at_s: float) -> list[str]:
    """ffmpeg input arguments reading path's video from `at_s` on, for _POSTER_SEARCH_S."""
    return [
        "-ss", f"{at_s:.3f}", "-t", str(_POSTER_SEARCH_S), "-an", "-sn", "-dn",
        "-i", media_url(path),
    ]  # fmt: skip


def poster_output_args(width: int, *, skip_black: bool, source: int = 0) -> list[str]:
    """ffmpeg output arguments (the file's URL to follow) writing one JPEG frame of input
    `source`, at most `width` wide."""
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
        "-map", f"{source}:v:0", "-vf", chain, "-frames:v", "1",
        "-q:v", "3", "-update", "1", "-f", "image2",
    ]  # fmt: skip


def poster_argv(path: Path, out: Path, at_s: float, width: int, *, skip_black: bool) -> list[str]:
    """ffmpeg arguments that write one JPEG frame of path's video from `at_s` on."""
    return [
        *poster_input_args(path, at_s),
        *poster_output_args(width, skip_black=skip_black),
        media_url(out),
    ]


def poster_time_s(duration_s: float) -> float:
    """Where a poster is looked for by default: 10% into the recording."""
    return 0.1 * duration_s


def poster_frame(
    path: Path,
    out: Path,
    *,
    at_s: float | None = None,
    width: int = 1280,
    duration_s: float | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> None:
    """A JPEG of a representative frame (default 10% in, skipping black), at most `width` wide.

    Pass `duration_s` (from probe_media) to spare a probe when `at_s` is not given.
    """
    path, out = Path(path), Path(out)
    if at_s is None:
        at_s = poster_time_s(
            duration_s if duration_s is not None else probe_media(path, tools).duration_s
        )
    with atomic_output(out) as tmp:
        for skip_black in (True, False):
            try:
                tools.ffmpeg(*poster_argv(path, tmp, at_s, width, skip_black=skip_black))
            except ToolFailed as exc:
                raise decode_error(path, exc) from None
            # Every frame searched was black: take the frame at `at_s` as it is.
            if tmp.exists() and tmp.stat().st_size:
                return
        raise MediaError(path, "corrupt", "没有可解码的画面 / no decodable video frame")


def decode_error(path: Path, exc: ToolFailed) -> MediaError:
    """The MediaError for a failed decode of `path` (no audio stream, or broken data)."""
    if "matches no streams" in exc.stderr:
        return MediaError(path, "not-media", "没有音频流 / no audio stream")
    lines = exc.stderr.strip().splitlines()
    return MediaError(path, "corrupt", lines[-1] if lines else f"exit {exc.returncode}")
