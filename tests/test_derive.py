"""Derived web and loudspeaker copies: remux when compliant, encode otherwise (real ffmpeg)."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from media_pipeline import tools
from media_pipeline.errors import PipelineError
from media_pipeline.loudness import Loudness, measure_loudness
from media_pipeline.recordings import libav
from media_pipeline.recordings.copy_rules import (
    SourceLevel,
    first_stream,
    peak_may_decide,
    rotation,
    target_short_side,
    web_gain_db,
    web_video_filters,
)
from media_pipeline.recordings.derive import (
    CopiesRequest,
    DerivedCopies,
    derive_copies,
    derive_loudspeaker,
    derive_many,
    derive_web,
)
from media_pipeline.recordings.ingest import make_copies
from media_pipeline.recordings.probe import duration_s, probe
from tests.media import decode_wav, ffmpeg, speech, tone, write_wav
from tests.recordings import FORMATS, make_recording

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


@pytest.mark.parametrize(
    ("level", "decides"),
    [
        # Opus's ceiling is −2 dBTP: peaks 3 dB over −6 dBFS stay under it.
        pytest.param(SourceLevel(-25.0, 8.0, -6.0), False, id="quiet-peaks"),
        pytest.param(SourceLevel(-25.0, 8.0, -4.0), True, id="peaks-near-the-ceiling"),
        # A loud master is turned down 9 dB by the loudness cap: its peaks end far under.
        pytest.param(SourceLevel(-5.0, 2.0, -0.5), False, id="capped-far-under"),
        pytest.param(SourceLevel(-11.0, 2.0, -0.5), True, id="capped-not-far-enough"),
        pytest.param(SourceLevel(-20.0, 8.0, None), True, id="no-peak-known"),
        pytest.param(SourceLevel(-20.0, 8.0, -0.5, -0.2), False, id="true-peak-known"),
    ],
)
def test_the_true_peak_is_metered_only_where_it_could_decide_the_gain(level, decides):
    assert peak_may_decide(level, "libopus") is decides


# ---- web audio ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "codec", "mime"),
    [
        pytest.param(".m4a", ("-c:a", "aac", "-b:a", "128k"), "audio/mp4", id="aac-m4a"),
        pytest.param(".aac", ("-c:a", "aac", "-b:a", "96k"), "audio/mp4", id="aac-adts"),
        pytest.param(".opus", ("-c:a", "libopus", "-b:a", "64k"), "audio/ogg", id="opus-ogg"),
        pytest.param(".webm", ("-c:a", "libopus", "-b:a", "64k"), "audio/ogg", id="opus-webm"),
        pytest.param(".mp3", ("-c:a", "libmp3lame", "-b:a", "128k"), "audio/mpeg", id="mp3"),
    ],
)
def test_compliant_audio_is_remuxed_not_reencoded(tmp_path, suffix, codec, mime):
    src = make_audio(tmp_path / f"{ODD_NAME}{suffix}", *codec)
    derived = derive_web(src, tmp_path / "out")
    assert derived.reencoded is False
    assert derived.mime == mime
    assert Path(derived.path).name.startswith(ODD_NAME)
    codec_name = {"libmp3lame": "mp3"}.get(codec[1], codec[1].removeprefix("lib"))
    assert first_stream(probe(Path(derived.path)), "audio")["codec_name"] == codec_name
    # ADTS packets carry a 7-byte header that MP4 keeps in its sample description instead.
    bsf = ("-bsf:a", "aac_adtstoasc") if suffix == ".aac" else ()
    assert packet_hash(Path(derived.path)) == packet_hash(src, "a", *bsf)
    assert derived.duration_s == pytest.approx(3.0, abs=0.1)
    if Path(derived.path).suffix == ".m4a":
        assert_faststart(Path(derived.path))


@pytest.mark.parametrize(
    ("suffix", "codec", "channels"),
    [
        pytest.param(".wav", ("-c:a", "pcm_s16le"), 2, id="wav"),
        pytest.param(".flac", ("-c:a", "flac"), 2, id="flac"),
        pytest.param(".mp3", ("-c:a", "libmp3lame", "-b:a", "192k"), 2, id="mp3-over-160k"),
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
    assert (Path(derived.path).suffix, derived.mime) == (".opus", "audio/ogg")
    audio = first_stream(probe(Path(derived.path)), "audio")
    assert (audio["codec_name"], audio["channels"]) == ("opus", channels)
    assert derived.duration_s == pytest.approx(3.0, abs=0.1)
    assert Path(derived.path) != src and src.exists()


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
    after = measure_loudness(Path(derive_web(src, tmp_path / "out").path))
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
    assert_faststart(Path(derived.path))
    assert packet_hash(Path(derived.path), "v") == packet_hash(src, "v")
    assert packet_hash(Path(derived.path), "a") == packet_hash(src, "a")


def test_compliant_mov_is_remuxed_into_mp4(tmp_path):
    src = make_video(tmp_path / "phone.mov", "640x360", *H264)
    derived = derive_web(src, tmp_path)
    assert (derived.reencoded, Path(derived.path).suffix) == (False, ".mp4")
    assert "mp4" in probe(Path(derived.path))["format"]["format_name"]
    assert_faststart(Path(derived.path))


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
    info = probe(Path(derived.path))
    video = first_stream(info, "video")
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert (video["width"], video["height"]) == expected
    assert first_stream(info, "audio")["codec_name"] == "aac"
    assert_faststart(Path(derived.path))
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
    video = first_stream(probe(Path(derived.path)), "video")
    assert (video["width"], video["height"]) == (360, 640)
    assert rotation(video) == 0
    # The audio was compliant, so it was copied rather than encoded again.
    assert packet_hash(Path(derived.path), "a") == packet_hash(src, "a")


@pytest.mark.slow
def test_silent_video_gets_a_video_only_copy(tmp_path):
    src = make_video(tmp_path / "silent.mp4", "640x360", "-c:v", "mpeg4", audio=("-an",))
    derived = derive_web(src, tmp_path)
    assert first_stream(probe(Path(derived.path)), "audio") is None
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
    assert (derived.reencoded, derived.mime) == (True, "audio/mpeg")
    assert_loudspeaker_spec(Path(derived.path))
    assert derived.duration_s > 0.9


def assert_loudspeaker_spec(path: Path) -> None:
    """Mono 44.1 kHz MP3, −16 ± 1 LUFS, true peak ≤ −1 dBTP (ffmpeg's ebur128 on the file)."""
    assert path.suffix == ".mp3"
    audio = first_stream(probe(path), "audio")
    assert (audio["codec_name"], audio["channels"], audio["sample_rate"]) == ("mp3", 1, "44100")
    level = measure_loudness(path)
    assert level.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    assert level.true_peak_dbtp <= -1.0


@pytest.mark.slow
def test_hot_speech_goes_through_the_limiter_and_stays_on_target(tmp_path):
    # Speech with peaks at −0.1 dBTP and a loudness near −18 LUFS: the peaks must be limited.
    base = measure_loudness(speech(tmp_path / "base.wav", repeat=2))
    src = speech(tmp_path / "hot.wav", repeat=2, gain_db=-0.1 - base.true_peak_dbtp)
    assert measure_loudness(src).true_peak_dbtp > -0.5
    assert_loudspeaker_spec(Path(derive_loudspeaker(src, tmp_path / "out").path))


def band_levels(path: Path, freqs: tuple[float, ...], tmp_path: Path) -> list[float]:
    """The level (dB) of each frequency in the decoded file's spectrum."""
    samples, rate = decode_wav(path, tmp_path / "decoded.wav", sample_rate=44100)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    bins = np.fft.rfftfreq(len(samples), 1 / rate)
    return [
        20 * np.log10(spectrum[(bins > f * 0.97) & (bins < f * 1.03)].max() + 1e-12) for f in freqs
    ]


@pytest.mark.slow
def test_loudspeaker_copy_is_band_limited(tmp_path):
    # Equal tones below, inside and above the horn's band: only the middle one gets through.
    src = write_wav(
        tmp_path / "bands.wav",
        tone(60, 3000, amplitude=0.2) + tone(1000, 3000, amplitude=0.2)
        + tone(3000, 3000, amplitude=0.2) + tone(12000, 3000, amplitude=0.2),
    )  # fmt: skip
    made = derive_loudspeaker(src, tmp_path / "out")
    low, mid, high, above = band_levels(Path(made.path), (60, 1000, 3000, 12000), tmp_path)
    assert abs(mid - high) < 3  # the band is flat
    assert low < mid - 30 and above < mid - 30


@pytest.mark.slow
def test_loudspeaker_copy_of_a_loudspeaker_copy_is_not_reencoded(tmp_path):
    src = make_audio(tmp_path / "song.wav", "-c:a", "pcm_s16le")
    first = derive_loudspeaker(src, tmp_path / "first")
    again = derive_loudspeaker(Path(first.path), tmp_path / "again")
    assert again.reencoded is False
    assert packet_hash(Path(again.path)) == packet_hash(Path(first.path))


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


# ---- all the copies from one decode (make_copies) -------------------------------------


def catalogued(src: Path) -> SourceLevel:
    """The level cataloguing stores for `src`: libav's ebur128, sample peak, no true peak."""
    info = libav.probe_media(src)
    found = libav.analyse(src, info.audio_duration_s)
    return SourceLevel(found.integrated_lufs, found.loudness_range_lu, found.sample_peak_dbfs)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["wav", "m4a", "mp3", "flac", "ogg", "opus", "mp4", "3gp"])
def test_copies_take_two_ffmpeg_runs_and_meet_their_specs(tmp_path, fmt):
    spec = FORMATS[fmt]
    src = make_recording(tmp_path / f"{ODD_NAME}{spec.suffix}", fmt, 3.0, freq=440)
    level = catalogued(src)
    tools.CALLS.clear()
    made = make_copies(src, tmp_path / "out", level=level)
    # One run decodes the source for every copy and the poster; one more finishes the
    # loudspeaker copy. No ffprobe, no metering run.
    assert tools.CALLS["ffmpeg"] <= 2 and tools.CALLS["ffprobe"] == 0
    kinds = {f.kind: f for f in made.produced}
    assert set(kinds) == {"web", "loudspeaker"} | ({"poster"} if spec.video_codec else set())
    assert all(Path(f.path).stat().st_size for f in made.produced)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    # These tones are capped at −14 LUFS far under the ceiling: their true peak cannot decide
    # the web gain, and is not metered (that would cost a third of the run).
    assert made.source is None
    assert_loudspeaker_spec(Path(kinds["loudspeaker"].path))
    for kind in ("web", "loudspeaker"):
        written = duration_s(probe(Path(kinds[kind].path)))
        assert kinds[kind].duration_s == pytest.approx(written, abs=0.1), kind
        assert kinds[kind].duration_s == pytest.approx(3.0, abs=0.1), kind
    assert kinds["web"].reencoded is (fmt in ("wav", "flac", "ogg", "3gp"))


@pytest.mark.slow
def test_a_true_peak_above_the_plan_gets_the_web_copy_encoded_again(tmp_path):
    src = speech(tmp_path / "speech.wav")  # peaks at 0 dBTP, about −18 LUFS
    level = catalogued(src)
    # As if the true peak stood 2.5 dB over the sample peak (which, 3 dB short of the
    # ceiling, could decide the gain): the planned gain is too high.
    told = replace(level, sample_peak_dbfs=level.sample_peak_dbfs - 2.5)
    assert peak_may_decide(told, "libopus")
    tools.CALLS.clear()
    made = make_copies(src, tmp_path / "out", level=told)
    assert tools.CALLS["ffmpeg"] == 3  # the decode run, the web copy again, the loudspeaker
    # The true peak metered in the run is what a metering of its own finds.
    assert made.source is not None
    assert made.source.true_peak_dbtp == pytest.approx(
        measure_loudness(src).true_peak_dbtp, abs=0.05
    )
    web = next(f for f in made.produced if f.kind == "web")
    assert measure_loudness(Path(web.path)).true_peak_dbtp <= -1.0


@pytest.mark.slow
def test_a_loudspeaker_format_mp3_at_another_level_is_mastered_after_all(tmp_path):
    # A mono 44.1 kHz 64 kb/s MP3 (the profile's format) at about −9 LUFS, with a stale level
    # that says it is at −16: the true peak metered in the run shows otherwise.
    src = make_recording(tmp_path / "phone.mp3", "mp3", 3.0)
    copies = derive_copies(src, tmp_path / "out", level=SourceLevel(-16.0, 0.0, -3.0), web=False)
    (speaker,) = copies.made
    assert speaker.reencoded is True
    assert_loudspeaker_spec(Path(speaker.path))


@pytest.mark.slow
def test_rotated_phone_video_copies_come_out_upright(tmp_path):
    plain = make_video(tmp_path / "plain.mp4", "640x360", *H264)
    src = tmp_path / "rotated.mp4"
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(src))
    made = make_copies(src, tmp_path / "out", level=catalogued(src))
    # libav's probe has no display matrix; make_copies reads it from the first frame.
    (stream,) = [s for s in made.probe["streams"] if s["codec_type"] == "video"]
    assert rotation(stream) in (90, 270)
    web = next(f for f in made.produced if f.kind == "web")
    video = first_stream(probe(Path(web.path)), "video")
    assert (web.reencoded, video["width"], video["height"], rotation(video)) == (True, 360, 640, 0)


def test_silence_gets_no_loudspeaker_copy(tmp_path):
    src = write_wav(tmp_path / "silence.wav", np.zeros(48000))
    with pytest.raises(PipelineError, match="无声.*silent"):
        derive_copies(src, tmp_path / "out", level=SourceLevel(-70.0, 0.0, None))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ---- several sources in the same runs (derive_many) -----------------------------------


def _request(src: Path, out: Path) -> CopiesRequest:
    info = probe(src)
    video = first_stream(info, "video") is not None
    return CopiesRequest(
        src, out, info, catalogued(src), poster=out / "poster.jpg" if video else None
    )


@pytest.mark.slow
def test_many_sources_share_two_runs_and_fail_alone(tmp_path):
    srcs = [
        make_recording(tmp_path / f"{ODD_NAME}-{i}{FORMATS[fmt].suffix}", fmt, 3.0, freq=f)
        for i, (fmt, f) in enumerate([("wav", 330), ("mp3", 440), ("3gp", 550)])
    ]
    requests = [_request(src, tmp_path / "out" / str(i)) for i, src in enumerate(srcs)]
    tools.CALLS.clear()
    results = derive_many(requests)
    # One run decodes all three for every copy and the poster; one finishes the horns' MP3s.
    assert tools.CALLS["ffmpeg"] == 2
    assert all(isinstance(r, DerivedCopies) for r in results)
    kinds = [[f.kind for f in r.made] for r in results]  # type: ignore[union-attr]
    assert kinds == [["web", "loudspeaker"]] * 2 + [["poster", "web", "loudspeaker"]]
    for result in results:
        for made in result.made:  # type: ignore[union-attr]
            assert Path(made.path).stat().st_size
            if made.kind != "poster":
                assert made.duration_s == pytest.approx(3.0, abs=0.1)
                written = duration_s(probe(Path(made.path)))
                assert made.duration_s == pytest.approx(written, abs=0.05)
        assert_loudspeaker_spec(Path(result.made[-1].path))  # type: ignore[union-attr]

    # Silence fails on its own (before any run); a source gone since it was probed makes the
    # shared run fail, and is then run alone, as is each other source: each error in place.
    silent = write_wav(tmp_path / "silence.wav", np.zeros(48000))
    gone = tmp_path / "gone.mp3"
    gone.write_bytes(srcs[1].read_bytes())
    last = tmp_path / "again"
    requests = [
        _request(srcs[0], last / "0"),
        CopiesRequest(silent, last / "1", level=SourceLevel(-70.0, 0.0, None)),
        _request(gone, last / "2"),
    ]
    gone.unlink()
    first, quiet, missing = derive_many(requests)
    assert isinstance(first, DerivedCopies) and len(first.made) == 2
    assert isinstance(quiet, PipelineError) and "silent" in str(quiet)
    assert isinstance(missing, PipelineError) and "gone.mp3" in str(missing)
    # Nothing half-made is left: only the first source's two copies.
    left = sorted(p.name for p in last.rglob("*") if p.is_file())
    assert left == sorted(Path(f.path).name for f in first.made)
