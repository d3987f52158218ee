"""Derived web and loudspeaker copies: remux when compliant, encode otherwise (real ffmpeg)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from media_pipeline.errors import PipelineError
from media_pipeline.loudness import Loudness, measure_loudness
from media_pipeline.recordings.derive import (
    derive_loudspeaker,
    derive_web,
    first_stream,
    rotation,
    target_short_side,
    web_gain_db,
    web_video_filters,
)
from media_pipeline.recordings.probe import probe
from tests.media import ffmpeg

# Quotes, dollar, semicolon, ampersand, spaces and Chinese: all must pass through argv intact.
ODD_NAME = "侗歌 大歌 $(x) 'a'; b & c"
MUSIC = "sine=f=330:d=3,aformat=channel_layouts=stereo"
VIDEO_SECONDS = "1"


def make_audio(path: Path, *codec: str, source: str = MUSIC, volume_db: float = -12) -> Path:
    """A 3 s stereo tone encoded with `codec` arguments into `path`."""
    ffmpeg(
        "-f", "lavfi", "-i", source, "-af", f"volume={volume_db}dB", *codec, str(path)
    )  # fmt: skip
    return path


def make_video(
    path: Path, size: str, *codec: str, audio: tuple[str, ...] = ("-c:a", "aac", "-b:a", "96k")
) -> Path:
    """A short testsrc2 video with a tone, encoded with `codec` (+ `audio`) arguments."""
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s={size}:r=25:d={VIDEO_SECONDS}",
        "-f", "lavfi", "-i", f"sine=f=440:d={VIDEO_SECONDS}",
        *codec, *audio, "-shortest", str(path),
    )  # fmt: skip
    return path


def packet_hash(path: Path, kind: str = "a", *bsf: str) -> str:
    """SHA-256 of the packet payloads of the first stream of a kind (timestamps left out)."""
    out = ffmpeg("-i", str(path), "-map", f"0:{kind}:0", "-c", "copy", *bsf, "-f", "hash",
                 "-hash", "sha256", "-")  # fmt: skip
    return out.stdout.decode().strip()


def top_level_boxes(path: Path) -> list[str]:
    """The top-level ISO-BMFF box types of an MP4/M4A file, in file order."""
    boxes, data, pos = [], path.read_bytes(), 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        boxes.append(kind.decode("latin-1"))
        pos += size if size else len(data)
    return boxes


def assert_faststart(path: Path) -> None:
    """The index (moov) comes before the media data (mdat), so playback starts at once."""
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat"), boxes


# ---- pure decisions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("short", "expected"),
    [
        pytest.param(2160, 720, id="4k"),
        pytest.param(1080, 720, id="1080p"),
        pytest.param(720, 720, id="720p"),
        pytest.param(719, 480, id="just-under-720"),
        pytest.param(480, 480, id="480p"),
        pytest.param(360, 360, id="360p-never-upscaled"),
        pytest.param(361, 360, id="odd-rounded-down"),
    ],
)
def test_target_short_side(short, expected):
    assert target_short_side(short) == expected


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        pytest.param({}, 0, id="none"),
        pytest.param({"side_data_list": [{"rotation": -90}]}, 90, id="matrix-minus-90"),
        pytest.param({"side_data_list": [{"rotation": 90}]}, 270, id="matrix-90"),
        pytest.param({"side_data_list": [{"rotation": 180}]}, 180, id="matrix-180"),
        pytest.param({"tags": {"rotate": "90"}}, 90, id="old-rotate-tag"),
    ],
)
def test_rotation(stream, expected):
    assert rotation(stream) == expected


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        pytest.param(
            {"width": 1920, "height": 1080, "avg_frame_rate": "60/1"},
            ["scale=-2:720:flags=bicubic", "fps=30", "format=yuv420p"],
            id="1080p60",
        ),
        pytest.param(
            {"width": 1920, "height": 1080, "side_data_list": [{"rotation": -90}]},
            ["scale=720:-2:flags=bicubic", "format=yuv420p"],
            id="rotated-portrait",
        ),
        pytest.param(
            {"width": 640, "height": 360, "avg_frame_rate": "30000/1001"},
            ["scale=-2:360:flags=bicubic", "format=yuv420p"],
            id="360p-kept",
        ),
    ],
)
def test_web_video_filters(stream, expected):
    assert web_video_filters(stream) == expected


@pytest.mark.parametrize(
    ("loudness", "encoder", "expected"),
    [
        pytest.param(Loudness(-30.0, 8.0, -12.0), "libopus", 0.0, id="quiet-left-alone"),
        pytest.param(Loudness(-18.0, 8.0, -1.5), "libopus", -0.5, id="hot-peaks-trimmed"),
        pytest.param(Loudness(-9.0, 4.0, -3.0), "libopus", -5.0, id="loud-master-capped"),
        pytest.param(Loudness(-18.0, 8.0, -1.2), "aac", -0.3, id="aac-overshoot"),
        pytest.param(Loudness(-70.0, 0.0, float("-inf")), "libopus", 0.0, id="silence"),
    ],
)
def test_web_gain_db(loudness, encoder, expected):
    assert web_gain_db(loudness, encoder) == pytest.approx(expected)


# ---- web audio ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "codec", "mime"),
    [
        pytest.param(".m4a", ("-c:a", "aac", "-b:a", "128k"), "audio/mp4", id="aac-m4a"),
        pytest.param(".aac", ("-c:a", "aac", "-b:a", "96k"), "audio/mp4", id="aac-adts"),
        pytest.param(".opus", ("-c:a", "libopus", "-b:a", "64k"), "audio/ogg", id="opus-ogg"),
        pytest.param(".webm", ("-c:a", "libopus", "-b:a", "64k"), "audio/ogg", id="opus-webm"),
    ],
)
def test_compliant_audio_is_remuxed_not_reencoded(tmp_path, suffix, codec, mime):
    src = make_audio(tmp_path / f"{ODD_NAME}{suffix}", *codec)
    derived = derive_web(src, tmp_path / "out")
    assert derived.reencoded is False
    assert derived.mime == mime
    assert derived.path.name.startswith(ODD_NAME)
    assert first_stream(probe(derived.path), "audio")["codec_name"] == codec[1].removeprefix("lib")
    # ADTS packets carry a 7-byte header that MP4 keeps in its sample description instead.
    bsf = ("-bsf:a", "aac_adtstoasc") if suffix == ".aac" else ()
    assert packet_hash(derived.path) == packet_hash(src, "a", *bsf)
    assert derived.duration_s == pytest.approx(3.0, abs=0.1)
    if derived.path.suffix == ".m4a":
        assert_faststart(derived.path)


@pytest.mark.parametrize(
    ("suffix", "codec", "channels"),
    [
        pytest.param(".wav", ("-c:a", "pcm_s16le"), 2, id="wav"),
        pytest.param(".flac", ("-c:a", "flac"), 2, id="flac"),
        pytest.param(".mp3", ("-c:a", "libmp3lame", "-b:a", "128k"), 2, id="mp3"),
        pytest.param(".ogg", ("-c:a", "libvorbis"), 2, id="vorbis-ogg"),
        pytest.param(".m4a", ("-c:a", "aac", "-b:a", "256k"), 2, id="aac-over-160k"),
        pytest.param(".wav", ("-c:a", "pcm_s16le", "-ac", "1"), 1, id="mono-stays-mono"),
        pytest.param(".wav", ("-c:a", "pcm_s16le", "-ac", "6"), 2, id="surround-downmixed"),
    ],
)
def test_other_audio_is_encoded_to_opus(tmp_path, suffix, codec, channels):
    src = make_audio(tmp_path / f"{ODD_NAME}{suffix}", *codec)
    derived = derive_web(src, tmp_path)
    assert derived.reencoded is True
    assert (derived.path.suffix, derived.mime) == (".opus", "audio/ogg")
    audio = first_stream(probe(derived.path), "audio")
    assert (audio["codec_name"], audio["channels"]) == ("opus", channels)
    assert derived.duration_s == pytest.approx(3.0, abs=0.1)
    assert derived.path != src and src.exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("volume_db", "expect"),
    [
        # A tone 12 dB down (≈ −15 LUFS, peaks −12 dBTP) must keep its level exactly.
        pytest.param(-12, "kept", id="quiet-kept"),
        # A full-scale tone (peaks 0 dBTP, ≈ −3 LUFS) is turned down to ≤ −14 LUFS, ≤ −1 dBTP.
        pytest.param(0, "capped", id="loud-capped"),
    ],
)
def test_web_audio_loudness_policy(tmp_path, volume_db, expect):
    src = make_audio(tmp_path / "song.wav", "-c:a", "pcm_s16le", volume_db=volume_db)
    before = measure_loudness(src)
    after = measure_loudness(derive_web(src, tmp_path / "out").path)
    if expect == "kept":
        assert after.integrated_lufs == pytest.approx(before.integrated_lufs, abs=0.3)
    else:
        assert after.integrated_lufs <= -14.0 + 0.3
        assert after.true_peak_dbtp <= -1.0


# ---- web video ------------------------------------------------------------------------


H264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")


def test_compliant_mp4_is_remuxed_with_faststart(tmp_path):
    # ffmpeg writes moov at the end unless told otherwise: the source is not faststart.
    src = make_video(tmp_path / f"{ODD_NAME}.mp4", "640x360", *H264)
    assert top_level_boxes(src).index("moov") > top_level_boxes(src).index("mdat")
    derived = derive_web(src, tmp_path / "out")
    assert (derived.reencoded, derived.mime) == (False, "video/mp4")
    assert_faststart(derived.path)
    assert packet_hash(derived.path, "v") == packet_hash(src, "v")
    assert packet_hash(derived.path, "a") == packet_hash(src, "a")


def test_compliant_mov_is_remuxed_into_mp4(tmp_path):
    src = make_video(tmp_path / "phone.mov", "640x360", *H264)
    derived = derive_web(src, tmp_path)
    assert (derived.reencoded, derived.path.suffix) == (False, ".mp4")
    assert "mp4" in probe(derived.path)["format"]["format_name"]
    assert_faststart(derived.path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("size", "codec", "expected"),
    [
        pytest.param("1920x1080", H264, (1280, 720), id="1080p-to-720p"),
        pytest.param("640x360", ("-c:v", "mpeg4"), (640, 360), id="360p-never-upscaled"),
        pytest.param(
            "640x360", ("-c:v", "libx264", "-pix_fmt", "yuv444p"), (640, 360), id="yuv444-fixed"
        ),
        pytest.param("854x480", ("-c:v", "mpeg4"), (854, 480), id="480p-kept"),
    ],
)
def test_other_video_is_encoded_to_h264(tmp_path, size, codec, expected):
    src = make_video(tmp_path / f"{ODD_NAME}.mkv", size, *codec)
    derived = derive_web(src, tmp_path / "out")
    assert derived.reencoded is True
    info = probe(derived.path)
    video = first_stream(info, "video")
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert (video["width"], video["height"]) == expected
    assert first_stream(info, "audio")["codec_name"] == "aac"
    assert_faststart(derived.path)
    assert derived.duration_s == pytest.approx(float(VIDEO_SECONDS), abs=0.15)


@pytest.mark.slow
def test_rotated_phone_video_comes_out_upright(tmp_path):
    plain = make_video(tmp_path / "plain.mp4", "640x360", *H264)
    # A phone held upright stores landscape pixels plus a 90° display matrix.
    src = tmp_path / "rotated.mp4"
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(src))
    assert rotation(first_stream(probe(src), "video")) in (90, 270)
    derived = derive_web(src, tmp_path / "out")
    assert derived.reencoded is True
    video = first_stream(probe(derived.path), "video")
    assert (video["width"], video["height"]) == (360, 640)
    assert rotation(video) == 0
    # The audio was compliant, so it was copied rather than encoded again.
    assert packet_hash(derived.path, "a") == packet_hash(src, "a")


@pytest.mark.slow
def test_silent_video_gets_a_video_only_copy(tmp_path):
    src = make_video(tmp_path / "silent.mp4", "640x360", "-c:v", "mpeg4", audio=("-an",))
    derived = derive_web(src, tmp_path)
    assert first_stream(probe(derived.path), "audio") is None
    with pytest.raises(PipelineError, match="没有音轨.*no audio stream"):
        derive_loudspeaker(src, tmp_path)


# ---- loudspeaker ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda d: make_audio(d / f"{ODD_NAME}.m4a", "-c:a", "aac", volume_db=-25),
            id="quiet-stereo-m4a",
        ),
        pytest.param(
            lambda d: make_audio(
                d / "noise.flac", "-c:a", "flac", source="anoisesrc=d=3:c=pink", volume_db=0
            ),
            id="loud-pink-noise-flac",
        ),
        pytest.param(lambda d: make_video(d / "drama.mp4", "320x240", *H264), id="video"),
    ],
)
def test_loudspeaker_copy_is_mastered(tmp_path, make):
    src = make(tmp_path)
    derived = derive_loudspeaker(src, tmp_path / "out")
    assert (derived.reencoded, derived.mime, derived.path.suffix) == (True, "audio/mpeg", ".mp3")
    audio = first_stream(probe(derived.path), "audio")
    assert (audio["codec_name"], audio["channels"], audio["sample_rate"]) == ("mp3", 1, "44100")
    level = measure_loudness(derived.path)
    assert level.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    assert level.true_peak_dbtp <= -1.0
    assert derived.duration_s > 0.9


@pytest.mark.slow
def test_loudspeaker_copy_of_a_loudspeaker_copy_is_not_reencoded(tmp_path):
    src = make_audio(tmp_path / "song.wav", "-c:a", "pcm_s16le")
    first = derive_loudspeaker(src, tmp_path / "first")
    again = derive_loudspeaker(first.path, tmp_path / "again")
    assert again.reencoded is False
    assert packet_hash(again.path) == packet_hash(first.path)


# ---- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("derive", [derive_web, derive_loudspeaker], ids=["web", "loudspeaker"])
@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="missing"),
        pytest.param(b"", id="empty"),
        pytest.param(b"not media at all\n" * 50, id="text"),
    ],
)
def test_unreadable_input_is_refused_naming_the_file(tmp_path, derive, content):
    src = tmp_path / f"{ODD_NAME}.m4a"
    if content is not None:
        src.write_bytes(content)
    with pytest.raises(PipelineError, match=r"媒体文件.*/ .*" + r"侗歌 大歌 \$\(x\)"):
        derive(src, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
