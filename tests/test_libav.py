"""The in-process libav reading agrees with the ffprobe and ffmpeg programs (real files).

Bad files are refused alike by both probes: tests/test_analysis.py runs its cases on each.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from media_pipeline.errors import MediaError
from media_pipeline.loudness import measure_loudness
from media_pipeline.recordings import libav
from media_pipeline.recordings.probe import media_url, probe_media
from tests.media import ffmpeg
from tests.recordings import FORMATS, make_amr, make_broken, make_recording, make_with_cover

ODD_NAME = "侗歌 $(x) 'a'; b & c:d"


def _streams(info):
    return [
        (s.kind, s.codec, s.sample_rate, s.channels, s.width, s.height, s.fps) for s in info.streams
    ]


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in FORMATS])
def test_probe_agrees_with_ffprobe(tmp_path, name):
    fmt = FORMATS[name]
    path = make_recording(tmp_path / f"{ODD_NAME}{fmt.suffix}", fmt, 2.0)
    ours, theirs = libav.probe_media(path), probe_media(path)
    assert ours.container == theirs.container == fmt.container
    # MP3: ffmpeg 5 counts the encoder's padding in the duration, libav 8 does not.
    assert ours.duration_s == pytest.approx(theirs.duration_s, abs=0.05)
    assert ours.audio_duration_s == pytest.approx(theirs.audio_duration_s, abs=0.05)
    assert _streams(ours) == _streams(theirs)
    assert ours.is_video == theirs.is_video == bool(fmt.video_codec)
    assert ours.raw["format"]["probed_by"].startswith("libav")


def test_probe_amr_and_cover_picture(tmp_path):
    amr = libav.probe_media(make_amr(tmp_path / "phone.amr", 2.0))
    assert (amr.container, amr.audio.codec, amr.audio.sample_rate) == ("amr", "amr_nb", 8000)
    cover = libav.probe_media(make_with_cover(tmp_path / "song.mp3"))
    assert cover.has_video and not cover.is_video


@pytest.mark.parametrize(
    "name", [pytest.param(n, id=n) for n in ("m4a", "wav", "mp3", "opus", "mov")]
)
def test_analysis_agrees_with_the_ffmpeg_program_and_the_signal(tmp_path, name):
    fmt = FORMATS[name]
    path = make_recording(
        tmp_path / f"s{fmt.suffix}", fmt, 3.0, lead_s=1.5, trail_s=2.0, amplitude=0.4
    )
    info = libav.probe_media(path)
    ours = libav.analyse(path, info.audio_duration_s)
    loudness = measure_loudness(path)
    # The same ebur128 filter (PyAV's libavfilter against Debian's ffmpeg).
    assert ours.integrated_lufs == pytest.approx(loudness.integrated_lufs, abs=0.1)
    assert ours.loudness_range_lu == pytest.approx(loudness.loudness_range_lu, abs=0.2)
    # The sample peak is never above the true peak, and close to it for a pure tone.
    assert loudness.true_peak_dbtp - 1.0 <= ours.sample_peak_dbfs <= loudness.true_peak_dbtp + 0.05
    # Silence is found on the mono 11025 Hz signal, where the generator put it.
    assert ours.silence.leading_s == pytest.approx(1.5, abs=0.05)
    # MP3 adds up to a frame of padding at the end, which is silence too.
    assert ours.silence.trailing_s == pytest.approx(2.0, abs=0.05 if name != "mp3" else 0.08)
    assert ours.decoded_s == pytest.approx(info.audio_duration_s, abs=0.05)
    assert ours.peaks.total == pytest.approx(ours.decoded_s * libav.RATE, abs=1)
    assert len(ours.head) == ours.peaks.total  # all of it: shorter than the fingerprint's 120 s


def test_silence_in_the_middle_is_not_leading_or_trailing(tmp_path):
    path = tmp_path / "gap.wav"
    graph = "sine=f=440:d=1,apad=pad_dur=1[a];sine=f=660:d=1[b];[a][b]concat=n=2:v=0:a=1"
    ffmpeg("-filter_complex", graph, media_url(path))
    found = libav.analyse(path)
    assert (found.silence.leading_s, found.silence.trailing_s) == (0.0, 0.0)


def test_digital_silence_has_no_peak(tmp_path):
    path = tmp_path / "hush.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono:d=2", media_url(path))
    found = libav.analyse(path)
    assert found.sample_peak_dbfs is None
    assert found.silence.leading_s == pytest.approx(2.0, abs=0.05)


def test_truncated_flac_is_caught_by_the_decode(tmp_path):
    path = make_broken(tmp_path / "cut.flac", "truncated")
    info = libav.probe_media(path)
    with pytest.raises(MediaError) as caught:
        libav.analyse(path, info.duration_s)
    assert caught.value.reason == "corrupt"


def test_video_without_audio_is_not_media(tmp_path):
    path = tmp_path / "film.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:d=1", "-c:v", "libx264",
           "-preset", "ultrafast", media_url(path))  # fmt: skip
    with pytest.raises(MediaError) as caught:
        libav.analyse(path)
    assert caught.value.reason == "not-media"


def test_decode_mono_stops_where_asked(tmp_path):
    path = make_recording(tmp_path / "long.flac", "flac", 4.0)
    assert len(libav.decode_mono(path, seconds=1.5)) == pytest.approx(1.5 * libav.RATE, abs=2)
    assert len(libav.decode_mono(path)) == pytest.approx(4.0 * libav.RATE, abs=2)


def test_analysis_keeps_only_the_fingerprints_head_and_fixed_bins(tmp_path):
    path = make_recording(tmp_path / "long.flac", "flac", 4.0, lead_s=0.5)
    found = libav.analyse(path, libav.probe_media(path).audio_duration_s, head_s=1.0)
    assert len(found.head) == libav.RATE  # the first second only
    assert found.peaks.total == pytest.approx(4.5 * libav.RATE, abs=2)  # all of it binned
    assert found.decoded_s == pytest.approx(4.5, abs=0.01)
    assert found.silence.leading_s == pytest.approx(0.5, abs=0.05)
    assert np.abs(found.head[: libav.RATE // 4]).max() < 0.01  # it is the start: silence


def test_silence_marks_keep_the_first_and_the_last_span_only():
    spans: list = []
    for i in range(1000):  # a long file of many pauses
        libav._note_silence({"lavfi.silence_start": str(10 * i)}, spans)
        libav._note_silence({"lavfi.silence_end": str(10 * i + 1)}, spans)
    libav._note_silence({"lavfi.silence_start": "10000"}, spans)
    assert spans == [(0.0, 1.0), (10000.0, None)]


def test_a_name_in_any_bytes_is_read(tmp_path):
    made = make_recording(tmp_path / "tone.mp3", "mp3", 1.0)
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/\xb8\xe8.mp3"))  # GBK 歌
    made.rename(path)
    assert libav.probe_media(path).duration_s == pytest.approx(1.0, abs=0.1)
    assert libav.analyse(path).decoded_s == pytest.approx(1.0, abs=0.1)
