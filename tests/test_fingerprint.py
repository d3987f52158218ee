"""Chromaprint fingerprints and near-duplicate detection (real libav and libchromaprint)."""

from __future__ import annotations

import numpy as np
import pytest

from media_pipeline.errors import PipelineError
from media_pipeline.recordings.fingerprint import (
    NEAR_DUPLICATE,
    RATE,
    Fingerprint,
    fingerprint,
    is_near_duplicate,
    raw_values,
    similarity,
    value_count,
)
from tests.media import ffmpeg, write_wav

SONG_S = 40
SAMPLE_RATE = 22050
# Each side of the threshold must stay this far from it.
MARGIN = 0.2
ODD_NAME = "侗歌 $(x) 'a'; b & c"


def melody(seed: int, *, held: bool = False) -> np.ndarray:
    """A song-like signal: pentatonic notes with harmonics over steady noise (or one held note)."""
    rng = np.random.default_rng(seed)
    scale = 220 * 2 ** (np.array([0, 2, 4, 7, 9, 12, 14, 16]) / 12)
    notes, total = [], 0
    while total < SONG_S * SAMPLE_RATE:
        n = int(SAMPLE_RATE * rng.choice([0.25, 0.5, 0.75]))
        freq = scale[0] if held else rng.choice(scale)
        t = np.arange(n) / SAMPLE_RATE
        envelope = np.minimum(1, np.minimum(t / 0.01, (n / SAMPLE_RATE - t) / 0.05))
        notes.append(0.3 * envelope * sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3)))
        total += n
    signal = np.concatenate(notes)[: SONG_S * SAMPLE_RATE]
    return signal + np.random.default_rng(99).normal(0, 0.02, len(signal))


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> dict[str, Fingerprint]:
    """Fingerprints of one take copied two ways, its master, another melody and a held note."""
    d = tmp_path_factory.mktemp("songs")
    take = write_wav(d / "take.wav", melody(1), SAMPLE_RATE)
    write_wav(d / "other.wav", melody(2), SAMPLE_RATE)
    write_wav(d / "held.wav", melody(1, held=True), SAMPLE_RATE)
    # Phone A: MP3 64k. Phone B: AAC, started 1.5 s later, 3 dB quieter.
    ffmpeg("-i", str(take), "-c:a", "libmp3lame", "-b:a", "64k", str(d / "phone a.mp3"))
    ffmpeg(
        "-ss", "1.5", "-i", str(take), "-af", "volume=-3dB", "-c:a", "aac", "-b:a", "96k",
        str(d / f"{ODD_NAME}.m4a"),
    )  # fmt: skip
    ffmpeg("-i", str(d / "other.wav"), "-c:a", "aac", "-b:a", "96k", str(d / "other.m4a"))
    files = {
        "take": take,
        "phone_a": d / "phone a.mp3",
        "phone_b": d / f"{ODD_NAME}.m4a",
        "other": d / "other.m4a",
        "held": d / "held.wav",
    }
    return {name: fingerprint(path) for name, path in files.items()}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("a", "b", "duplicate"),
    [
        pytest.param("phone_a", "phone_b", True, id="two-phones-trimmed-quieter"),
        pytest.param("phone_a", "take", True, id="mp3-vs-master"),
        pytest.param("phone_b", "take", True, id="trimmed-aac-vs-master"),
        pytest.param("phone_a", "other", False, id="another-melody"),
        pytest.param("phone_b", "other", False, id="another-melody-aac"),
        pytest.param("held", "phone_a", False, id="held-note"),
    ],
)
def test_near_duplicates_are_separated_with_margin(songs, a, b, duplicate):
    score = similarity(songs[a], songs[b])
    assert score == pytest.approx(similarity(songs[b], songs[a]))
    assert is_near_duplicate(songs[a], songs[b]) is duplicate
    if duplicate:
        assert score >= NEAR_DUPLICATE + MARGIN
    else:
        assert score <= NEAR_DUPLICATE - MARGIN


@pytest.mark.slow
def test_fingerprint_reads_any_format_and_reports_duration(songs):
    assert songs["phone_a"].duration_s == pytest.approx(SONG_S, abs=0.1)
    assert songs["phone_b"].duration_s == pytest.approx(SONG_S - 1.5, abs=0.1)
    assert len(songs["take"].values) == value_count(SONG_S * RATE)
    assert similarity(songs["take"], songs["take"]) == 1.0


def test_length_limits_the_fingerprint_not_the_duration(tmp_path):
    path = write_wav(tmp_path / "song.wav", melody(3), SAMPLE_RATE)
    short = fingerprint(path, length_s=10)
    assert short.duration_s == pytest.approx(SONG_S, abs=0.01)
    assert len(short.values) == value_count(10 * RATE)
    # The first ten seconds fingerprint the same whether or not more follows.
    assert short.values == fingerprint(path).values[: len(short.values)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "找不到媒体文件.*not found", id="missing"),
        pytest.param(b"", "无法解码音频.*cannot decode", id="empty"),
        pytest.param(b"not media\n" * 100, "无法解码音频.*cannot decode", id="text"),
    ],
)
def test_unreadable_files_are_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / f"{ODD_NAME}.mp3"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PipelineError, match=message) as caught:
        fingerprint(path)
    assert ODD_NAME in str(caught.value)


def test_too_short_audio_is_refused(tmp_path):
    path = tmp_path / "blip.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=2", str(path))
    with pytest.raises(PipelineError, match="音频太短.*too short"):
        fingerprint(path)


def test_video_without_audio_is_refused(tmp_path):
    path = tmp_path / "mute.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:d=1", "-c:v", "mpeg4", str(path))
    with pytest.raises(PipelineError, match="没有音轨|cannot decode"):
        fingerprint(path)


# ---- pure parts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        # Counted from fpcalc 1.5.1 on raw input of these lengths.
        pytest.param(30000, 0, id="under-3s"),
        pytest.param(44100, 11, id="4s"),
        pytest.param(110250, 59, id="10s"),
        pytest.param(1323000, 948, id="120s"),
        pytest.param(0, 0, id="empty"),
    ],
)
def test_value_count(samples, expected):
    assert value_count(samples) == expected


def test_raw_values_are_unsigned_and_counted_as_chromaprint_does():
    rng = np.random.default_rng(5)
    pcm = (rng.standard_normal(10 * RATE) * 6000).astype("<i2").tobytes()
    values = raw_values(pcm)
    assert len(values) == value_count(10 * RATE)
    assert all(0 <= v <= 0xFFFFFFFF for v in values)
    assert any(v > 0x7FFFFFFF for v in values)  # the sign bit is kept as a value bit


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param((5, 6, 7, 8), (5, 6, 7, 8), 1.0, id="identical"),
        pytest.param((0,) * 8, (0xFFFFFFFF,) * 8, 0.0, id="opposite"),
        pytest.param((0,) * 8, (0x0000FFFF,) * 8, 0.0, id="half-the-bits-is-unrelated"),
        pytest.param((9, 1, 2, 3, 4, 5, 6), (1, 2, 3, 4, 5, 6), 1.0, id="shifted-by-one"),
        pytest.param((), (1, 2), 0.0, id="empty"),
    ],
)
def test_similarity_of_values(a, b, expected):
    assert similarity(Fingerprint(1.0, a), Fingerprint(1.0, b)) == pytest.approx(expected)
