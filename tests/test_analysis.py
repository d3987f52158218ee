"""Probe, loudness and silence analysis, poster frames: parsers alone, then real generated media."""

from __future__ import annotations

import pytest
from PIL import Image

from media_pipeline.errors import MediaError
from media_pipeline.loudness import measure_loudness
from media_pipeline.recordings import libav
from media_pipeline.recordings.analysis import Silence, poster_frame, silence_bounds
from media_pipeline.recordings.probe import (
    container_name,
    media_url,
    parse_decoders,
    probe,
    probe_media,
    streams,
)
from tests.media import ffmpeg
from tests.recordings import FORMATS, make_amr, make_broken, make_recording, make_with_cover

# The start of `ffmpeg -decoders` (5.1).
DECODERS = """\
Decoders:
 V..... = Video
 ------
 V....D h264                 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10
 A....D libopus              libopus Opus (codec opus)
 A....D amrnb                AMR-NB (Adaptive Multi-Rate NarrowBand) (codec amr_nb)
"""

# A name with spaces, Chinese and shell/ffmpeg metacharacters (":" reads as a protocol).
AWKWARD = "侗族大歌 it's $HOME; a&b (1) %d:x|`y`"


@pytest.mark.parametrize(
    ("spans", "duration", "expected"),
    [
        pytest.param([], 5.0, Silence(0.0, 0.0), id="no-silence"),
        pytest.param([(0.0, 1.5), (4.0, None)], 6.0, Silence(1.5, 2.0), id="both-open-end"),
        pytest.param([(0.0, 1.0), (2.0, 3.0)], 3.0, Silence(1.0, 1.0), id="both-closed-end"),
        pytest.param([(1.0, 2.0)], 5.0, Silence(0.0, 0.0), id="pause-in-middle"),
        pytest.param([(0.0, None)], 4.0, Silence(4.0, 4.0), id="all-silent"),
    ],
)
def test_silence_bounds(spans, duration, expected):
    assert silence_bounds(spans, duration) == expected


def test_parse_decoders():
    assert parse_decoders(DECODERS) == {"h264", "opus", "amr_nb"}


@pytest.mark.parametrize(
    ("format_name", "brand", "kinds", "expected"),
    [
        pytest.param("mov,mp4,m4a,3gp,3g2,mj2", "M4A ", ["audio"], "m4a", id="m4a"),
        pytest.param("mov,mp4,m4a,3gp,3g2,mj2", "mp42", ["audio"], "m4a", id="android-m4a"),
        pytest.param("mov,mp4,m4a,3gp,3g2,mj2", "isom", ["audio", "video"], "mp4", id="mp4"),
        pytest.param("mov,mp4,m4a,3gp,3g2,mj2", "qt  ", ["video"], "mov", id="mov"),
        pytest.param("mov,mp4,m4a,3gp,3g2,mj2", "3gp5", ["video"], "3gp", id="3gp"),
        pytest.param("mp3", "", ["audio"], "mp3", id="mp3"),
    ],
)
def test_container_name(format_name, brand, kinds, expected):
    raw = {
        "format": {"format_name": format_name, "tags": {"major_brand": brand}},
        "streams": [{"codec_type": k, "codec_name": "x"} for k in kinds],
    }
    assert container_name(raw) == expected


def test_media_url_keeps_names_literal(tmp_path):
    assert media_url(tmp_path / "-a:b%d.mp3") == f"file:{tmp_path}/-a:b%d.mp3"


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in FORMATS])
def test_probe_each_format(tmp_path, name):
    fmt = FORMATS[name]
    info = probe_media(make_recording(tmp_path / f"take{fmt.suffix}", fmt, 2.0))
    assert info.container == fmt.container
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    assert info.size == info.path.stat().st_size
    assert info.raw["format"]["format_name"]
    audio = info.audio
    assert audio is not None
    assert (audio.codec, audio.sample_rate, audio.channels) == (
        fmt.audio_codec, fmt.sample_rate, fmt.channels,
    )  # fmt: skip
    assert info.is_video == bool(fmt.video_codec)
    if fmt.video_codec:
        video = info.video
        assert video is not None
        assert (video.codec, (video.width, video.height)) == (fmt.video_codec, fmt.size)
        assert video.fps == pytest.approx(fmt.fps)


def test_probe_amr(tmp_path):
    info = probe_media(make_amr(tmp_path / "phone.amr", 2.0))
    assert info.container == "amr"
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("amr_nb", 8000, 1)


def test_cover_picture_is_not_video(tmp_path):
    info = probe_media(make_with_cover(tmp_path / "song.mp3"))
    assert info.has_video and info.has_audio
    assert not info.is_video
    assert info.video is None


@pytest.mark.parametrize(
    ("kind", "suffix", "reason"),
    [
        pytest.param("empty", ".mp3", "empty", id="zero-length"),
        pytest.param("text", ".mp3", "not-media", id="text-named-mp3"),
        pytest.param("random", ".m4a", "not-media", id="random-bytes"),
        pytest.param("truncated", ".m4a", "corrupt", id="truncated-m4a"),
        pytest.param("truncated", ".mp3", "corrupt", id="truncated-mp3"),
        pytest.param("truncated", ".mov", "corrupt", id="truncated-mov"),
        pytest.param("unknown-codec", ".wav", "unsupported", id="unknown-codec"),
    ],
)
@pytest.mark.parametrize("prober", [probe_media, libav.probe_media], ids=["ffprobe", "libav"])
def test_probe_refuses_bad_files(tmp_path, kind, suffix, reason, prober):
    path = make_broken(tmp_path / f"bad {kind}{suffix}", kind)
    with pytest.raises(MediaError) as caught:
        prober(path)
    assert caught.value.reason == reason
    assert str(path) in str(caught.value)
    assert " / " in str(caught.value)  # Chinese, then English


@pytest.mark.parametrize("prober", [probe_media, libav.probe_media], ids=["ffprobe", "libav"])
def test_probe_missing_file(tmp_path, prober):
    with pytest.raises(MediaError) as caught:
        prober(tmp_path / "gone.m4a")
    assert caught.value.reason == "missing"


def test_probe_faststart_mp4_cut_in_half_is_corrupt(tmp_path):
    whole = make_recording(tmp_path / "whole.mp4", "mp4", 2.0)
    fast = tmp_path / "fast.mp4"
    ffmpeg("-i", media_url(whole), "-c", "copy", "-movflags", "+faststart", media_url(fast))
    data = fast.read_bytes()
    fast.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError) as caught:
        probe_media(fast)
    assert caught.value.reason == "corrupt"


def test_analyse_video_file_uses_its_audio(tmp_path):
    path = make_recording(tmp_path / "drama.mp4", "mp4", 2.0, amplitude=0.5)
    found = libav.analyse(path, probe_media(path).audio_duration_s)
    assert found.sample_peak_dbfs == pytest.approx(-6.0, abs=0.5)
    assert found.silence == Silence(0.0, 0.0)


def test_analyse_speech(tmp_path):
    path = make_recording(tmp_path / "speech.m4a", "m4a", 7.0, speech=True)
    found = libav.analyse(path)
    assert found.integrated_lufs == pytest.approx(measure_loudness(path).integrated_lufs, abs=0.1)
    assert -40 < found.integrated_lufs < -5


@pytest.mark.parametrize(
    ("name", "width", "size"),
    [
        pytest.param("mp4", 1280, (320, 240), id="mp4-not-upscaled"),
        pytest.param("mov", 160, (160, 90), id="mov-scaled-down"),
        pytest.param("3gp", 1280, (176, 144), id="3gp"),
    ],
)
def test_poster_frame_size(tmp_path, name, width, size):
    fmt = FORMATS[name]
    path = make_recording(tmp_path / f"v{fmt.suffix}", fmt, 2.0)
    out = tmp_path / "poster.jpg"
    poster_frame(path, out, width=width)
    with Image.open(out) as image:
        assert (image.format, image.size) == ("JPEG", size)


def test_poster_frame_skips_black_and_falls_back(tmp_path):
    fade = tmp_path / "fade.mp4"
    # 1 s of black, then colour: the frame at 10% (0.2 s) is black, a later one is not.
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:d=2,fade=in:st=1:d=0.04",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           media_url(fade))  # fmt: skip
    poster_frame(fade, tmp_path / "p.jpg")
    with Image.open(tmp_path / "p.jpg") as image:
        assert max(image.convert("L").getextrema()) > 100
    black = tmp_path / "black.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=black:size=160x120:d=1", "-c:v", "libx264",
           "-preset", "ultrafast", media_url(black))  # fmt: skip
    poster_frame(black, tmp_path / "b.jpg", at_s=0.5)
    assert Image.open(tmp_path / "b.jpg").size == (160, 120)
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


def test_awkward_file_names(tmp_path):
    path = make_recording(tmp_path / f"{AWKWARD}.mp4", "mp4", 2.0, lead_s=0.5)
    info = probe_media(path)
    assert info.is_video
    found = libav.analyse(path, info.duration_s)
    assert found.silence.leading_s == pytest.approx(0.5, abs=0.05)
    poster_frame(path, tmp_path / f"{AWKWARD}.jpg", duration_s=info.duration_s)
    assert (tmp_path / f"{AWKWARD}.jpg").stat().st_size > 0
    assert streams(probe(media_url(path)), "video")
