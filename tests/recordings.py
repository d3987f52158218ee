"""Generated test recordings in the formats phones and cameras make, and broken files.

Used by the tests and by scripts/bench_catalogue.py. Sound comes from lavfi (tones, with
optional silence around them) or espeak-ng speech; video from lavfi's testsrc2. AMR cannot
be encoded by Debian's ffmpeg (no libopencore-amrnb), so `make_amr` writes AMR-NB frames
in code. Broken files (empty, truncated, text, random bytes, unknown codec) are made in code.
"""

from __future__ import annotations

import os
import random
import struct
from dataclasses import dataclass
from pathlib import Path

from tests.media import SENTENCE, ffmpeg, run


@dataclass(frozen=True)
class Format:
    """How one kind of recording is encoded, and what a probe of it should report."""

    name: str
    suffix: str
    container: str
    audio_codec: str
    sample_rate: int
    channels: int
    audio_args: tuple[str, ...]
    video_codec: str | None = None
    size: tuple[int, int] | None = None
    fps: float | None = None
    video_args: tuple[str, ...] = ()


FORMATS = {
    f.name: f
    for f in (
        Format("m4a", ".m4a", "m4a", "aac", 44100, 2, ("-c:a", "aac", "-b:a", "96k")),
        Format("mp3", ".mp3", "mp3", "mp3", 44100, 1, ("-c:a", "libmp3lame", "-b:a", "64k")),
        Format("wav", ".wav", "wav", "pcm_s16le", 48000, 1, ("-c:a", "pcm_s16le")),
        Format("flac", ".flac", "flac", "flac", 48000, 2, ("-c:a", "flac")),
        Format("ogg", ".ogg", "ogg", "vorbis", 44100, 2, ("-c:a", "libvorbis", "-q:a", "2")),
        Format("opus", ".opus", "ogg", "opus", 48000, 1, ("-c:a", "libopus", "-b:a", "32k")),
        Format(
            "mp4", ".mp4", "mp4", "aac", 48000, 2, ("-c:a", "aac", "-b:a", "64k"),
            "h264", (320, 240), 25.0,
            ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
        ),
        Format(
            "mov", ".mov", "mov", "aac", 48000, 2, ("-c:a", "aac", "-b:a", "64k"),
            "h264", (320, 180), 30.0,
            ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
        ),
        # Old phones: MPEG-4 Part 2 at QCIF, mono AAC (AMR audio cannot be encoded here).
        Format(
            "3gp", ".3gp", "3gp", "aac", 16000, 1, ("-c:a", "aac", "-b:a", "24k"),
            "mpeg4", (176, 144), 15.0, ("-c:v", "mpeg4", "-q:v", "8"),
        ),
        Format(
            "webm", ".webm", "webm", "opus", 48000, 2, ("-c:a", "libopus", "-b:a", "48k"),
            "vp8", (320, 240), 25.0,
            ("-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k"),
        ),
    )
}  # fmt: skip

BROKEN = ("empty", "truncated", "text", "random", "unknown-codec")


def audio_graph(
    seconds: float,
    *,
    freq: float = 440.0,
    amplitude: float = 0.5,
    lead_s: float = 0.0,
    trail_s: float = 0.0,
) -> str:
    """A lavfi source: `lead_s` of silence, a tone of `seconds`, then `trail_s` of silence."""
    # aevalsrc rather than sine: sine's amplitude is fixed at 1/8.
    graph = f"aevalsrc={amplitude}*sin(2*PI*{freq}*t):s=48000:d={seconds}"
    if lead_s:
        graph += f",adelay={round(lead_s * 1000)}:all=1"
    if trail_s:
        graph += f",apad=pad_dur={trail_s}"
    return graph


def make_recording(
    path: Path,
    fmt: Format | str,
    seconds: float = 2.0,
    *,
    speech: bool = False,
    lead_s: float = 0.0,
    trail_s: float = 0.0,
    **tone: float,
) -> Path:
    """Encode a recording of `fmt` at `path`: a tone (see audio_graph) or espeak-ng speech."""
    fmt = FORMATS[fmt] if isinstance(fmt, str) else fmt
    path.parent.mkdir(parents=True, exist_ok=True)
    if speech:
        raw = path.with_name(f".{path.stem}-speech.wav")
        text = " ".join([SENTENCE] * max(1, round(seconds / 7)))
        run(["espeak-ng", "-v", "cmn-latn-pinyin", "-w", str(raw), text])
        source = ["-i", f"file:{raw}"]
    else:
        source = ["-f", "lavfi", "-i", audio_graph(seconds, lead_s=lead_s, trail_s=trail_s, **tone)]
    args = [*source]
    maps = ["-map", "0:a"]
    if fmt.video_codec:
        width, height = fmt.size or (320, 240)
        args += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fmt.fps}"]
        maps += ["-map", "1:v", "-t", str(seconds + lead_s + trail_s), *fmt.video_args]
    args += [*maps, *fmt.audio_args, "-ar", str(fmt.sample_rate), "-ac", str(fmt.channels)]
    ffmpeg(*args, "-map_metadata", "-1", f"file:{path}")
    if speech:
        raw.unlink()
    return path


def make_with_cover(path: Path, seconds: float = 2.0) -> Path:
    """An MP3 with an embedded cover picture (a video stream that is not a video)."""
    ffmpeg(
        "-f", "lavfi", "-i", audio_graph(seconds), "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=1:duration=1",
        "-map", "0:a", "-map", "1:v", "-frames:v", "1", "-c:a", "libmp3lame", "-c:v", "mjpeg",
        "-disposition:v", "attached_pic", f"file:{path}",
    )  # fmt: skip
    return path


def make_amr(path: Path, seconds: float = 2.0, *, seed: int = 3) -> Path:
    """An AMR-NB file (.amr, 8 kHz mono) of 12.2 kbit/s frames with random payload.

    AMR has no checksum in its file format, so any payload bits decode (to noise): enough to
    test that phone recordings in AMR are probed and analysed.
    """
    rng = random.Random(seed)
    # Frame header: type 7 (12.2 kbit/s, 31 payload bytes), quality bit set; 20 ms per frame.
    frames = (b"\x3c" + rng.randbytes(31) for _ in range(round(seconds * 50)))
    path.write_bytes(b"#!AMR\n" + b"".join(frames))
    return path


def make_broken(path: Path, kind: str) -> Path:
    """A file that is not usable media, of one of the BROKEN kinds (suffix chosen by caller)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        # A whole recording cut in half, as an interrupted copy leaves it.
        whole = make_recording(path.with_name(f".{path.stem}-whole{path.suffix}"), _by_suffix(path))
        data = whole.read_bytes()
        whole.unlink()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "text":
        path.write_text("这不是录音 / this is not a recording\n" * 20, encoding="utf-8")
    elif kind == "random":
        path.write_bytes(random.Random(7).randbytes(64 * 1024))
    elif kind == "unknown-codec":
        path.write_bytes(_wav_with_format_tag(0x7A7A, seconds=1.0))
    else:
        raise ValueError(f"unknown broken kind {kind!r}")
    return path


def _by_suffix(path: Path) -> Format:
    """The format that writes files with path's suffix."""
    return next(f for f in FORMATS.values() if f.suffix == path.suffix.lower())


def _wav_with_format_tag(tag: int, *, seconds: float, rate: int = 8000) -> bytes:
    """A well-formed RIFF/WAVE file whose audio is in a codec (format tag) nobody decodes."""
    data = os.urandom(round(rate * seconds))
    fmt = struct.pack("<HHIIHH", tag, 1, rate, rate, 1, 8)
    chunks = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(chunks)) + chunks
