"""Waveform: peaks and drawing from samples, then real decodes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from media_pipeline.errors import MediaError
from media_pipeline.recordings.waveform import (
    COLOUR,
    PCM_RATE,
    PeakBins,
    draw,
    min_max,
    peaks_document,
    waveform,
)
from tests.recordings import make_broken, make_recording


def test_min_max_buckets():
    low, high, per = min_max(np.array([0.1, -0.5, 0.3, 0.2, -0.1], dtype=np.float32), 2)
    assert per == 3
    assert low.tolist() == pytest.approx([-0.5, -0.1])
    assert high.tolist() == pytest.approx([0.3, 0.2])


def test_peaks_document_shape():
    samples = np.tile(np.array([0.5, -0.5], dtype=np.float32), 4000)
    doc = peaks_document(samples, 100)
    assert {k: doc[k] for k in ("version", "channels", "bits", "sample_rate")} == {
        "version": 2, "channels": 1, "bits": 8, "sample_rate": PCM_RATE,
    }  # fmt: skip
    assert doc["samples_per_pixel"] == 80
    assert doc["length"] == 100
    assert doc["data"][:4] == [-64, 64, -64, 64]
    assert len(doc["data"]) == 2 * doc["length"]


def test_peaks_of_empty_audio():
    doc = peaks_document(np.zeros(0, dtype=np.float32), 10)
    assert (doc["length"], doc["data"]) == (1, [0, 0])


def test_draw_centred_bars():
    samples = np.concatenate([np.zeros(100), np.full(100, 0.5)]).astype(np.float32)
    image = draw(samples, 20, 40)
    assert (image.size, image.mode) == ((20, 40), "RGBA")
    alpha = np.asarray(image)[:, :, 3]
    quiet, loud = alpha[:, 2] > 0, alpha[:, 15] > 0
    assert 1 <= quiet.sum() <= 2  # silence: a centre line
    assert loud.sum() == pytest.approx(20, abs=2)  # half amplitude: half the height
    rows = np.flatnonzero(loud)
    assert rows.min() + rows.max() == pytest.approx(39, abs=1)  # centred
    assert tuple(np.asarray(image)[20, 15]) == COLOUR


@pytest.mark.parametrize(
    ("fmt", "amplitude"),
    [
        pytest.param("wav", 0.5, id="wav-half"),
        pytest.param("m4a", 0.25, id="m4a-quarter"),
        pytest.param("webm", 0.5, id="webm-video"),
    ],
)
def test_waveform_of_a_tone(tmp_path, fmt, amplitude):
    path = make_recording(tmp_path / f"tone 侗歌.{fmt}", fmt, 3.0, amplitude=amplitude)
    png, peaks = tmp_path / "w" / "wave.png", tmp_path / "w" / "peaks.json"
    waveform(path, png, peaks, width=600, height=100, peaks=300)
    with Image.open(png) as image:
        assert image.size == (600, 100)
    doc = json.loads(peaks.read_text())
    assert doc["length"] <= 300
    assert doc["samples_per_pixel"] * doc["length"] >= 3 * PCM_RATE
    data = np.array(doc["data"])
    middle = data[20:-20]  # away from encoder priming at the edges
    assert middle[1::2].max() == pytest.approx(128 * amplitude, abs=4)
    assert middle[0::2].min() == pytest.approx(-128 * amplitude, abs=4)


def test_waveform_of_a_bad_file_writes_nothing(tmp_path):
    path = make_broken(tmp_path / "noise.mp3", "random")
    with pytest.raises(MediaError) as caught:
        waveform(path, tmp_path / "out" / "w.png", tmp_path / "out" / "w.json")
    assert caught.value.reason in ("corrupt", "not-media")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("length", "expected", "bins"),
    [
        pytest.param(100_000, None, 64, id="unknown-length-merged"),
        pytest.param(100_000, 100_000, 64, id="sized-from-the-duration"),
        pytest.param(100_000, 10_000, 64, id="duration-too-short-merged"),
        pytest.param(999, 999, 1 << 18, id="short-one-sample-bins"),
        pytest.param(0, None, 64, id="empty"),
    ],
)
def test_peak_bins_give_what_min_max_gives_in_fixed_memory(length, expected, bins):
    samples = np.random.default_rng(5).uniform(-1, 1, length).astype(np.float32)
    peak_bins = PeakBins(expected, bins=bins)
    sizes = np.random.default_rng(6).integers(1, 3000, size=length // 1000 + 2)
    start = 0
    for size in sizes:  # frames of uneven sizes, as a decoder hands them over
        peak_bins.add(samples[start : start + size])
        start += size
    peak_bins.add(samples[start:])
    assert peak_bins.total == length
    assert peak_bins.low.nbytes == peak_bins.high.nbytes == 2 * bins * 4  # never grows
    for buckets in (1, 10, 300):
        low, high, per = peak_bins.buckets(buckets)
        assert len(low) <= buckets and per * len(low) >= length
        # The same as min_max of all the samples, grouped `per` to a bucket.
        padded = np.zeros(len(low) * per, dtype=np.float32)
        padded[:length] = samples
        grid = padded.reshape(len(low), per)
        assert np.array_equal(low, grid.min(axis=1)) and np.array_equal(high, grid.max(axis=1))
    if bins > length:
        doc = peaks_document(peak_bins, 100)
        assert doc == peaks_document(samples, 100)
