"""Waveform of a recording: peaks JSON (audiowaveform v2 format) and a PNG, from one decode.

The audio is decoded once to mono samples at 11025 Hz (libav.RATE), which pass through a
`PeakBins` as they come: a running minimum and maximum in a fixed number of bins, so memory
stays the same for a minute or for ten hours (an hour of samples would be 160 MB). The
drawing and the peaks group those bins: plenty for what a waveform can show at 1,000–2,000
columns. Cataloguing fills its bins in its analysis pass (media_pipeline.recordings.ingest);
`waveform` decodes a file for itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from ..files import atomic_output

PCM_RATE = 11025  # the samples' rate; libav.RATE decodes at it
# Indigo (#4f46e5) bars on a transparent background read on light and dark pages alike.
COLOUR = (79, 70, 229, 255)


# PeakBins keeps about this many bins (between it and twice it): a 1,200-column drawing
# then loses under 0.5% of its width to rounding, and the bins take 4 MB at most.
BINS = 1 << 18
# Samples are binned this many at a time (a frame is ~1,100): numpy's per-call cost, paid
# once per block instead of once per frame, no longer shows in a profile.
_BLOCK = 1 << 16


def min_max(samples: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-bucket minimum and maximum of `samples`, and the samples per bucket.

    Buckets hold an equal whole number of samples (audiowaveform's samples_per_pixel), the
    last one padded with zeros; so there are at most `buckets` of them.
    """
    return _group(samples, samples, buckets)


def _group(low: np.ndarray, high: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray, int]:
    """min_max over consecutive (low, high) pairs: the bins per bucket instead of samples."""
    per = max(1, math.ceil(len(low) / max(1, buckets)))
    count = max(1, math.ceil(len(low) / per))
    lows = np.zeros(count * per, dtype=np.float32)
    highs = np.zeros(count * per, dtype=np.float32)
    lows[: len(low)], highs[: len(high)] = low, high
    return lows.reshape(count, per).min(axis=1), highs.reshape(count, per).max(axis=1), per


class PeakBins:
    """The running minimum and maximum of mono samples, in bins of `unit` samples.

    Memory is fixed whatever the length: `expected` (the probed sample count) sizes the
    bins to about BINS of them; when more samples come than expected, or none were (an
    unknown duration), adjacent bins are merged in pairs whenever 2 × BINS are full, and
    `unit` doubles. Grouped into buckets they give what min_max gives of all the samples.
    """

    def __init__(self, expected: int | None = None, *, bins: int = BINS) -> None:
        self.capacity = 2 * max(1, bins)
        self.unit = max(1, math.ceil(expected / bins)) if expected and expected > 0 else 1
        self.low = np.zeros(self.capacity, dtype=np.float32)
        self.high = np.zeros(self.capacity, dtype=np.float32)
        self.count = 0  # full bins
        self.fill = 0  # samples in the bin being filled
        self.open_low = self.open_high = 0.0
        self.total = 0  # samples seen
        self._block = np.zeros(_BLOCK, dtype=np.float32)  # samples not binned yet
        self._queued = 0

    def add(self, samples: np.ndarray) -> None:
        """Take the next samples (any number)."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.total += len(x)
        if self._queued + len(x) > _BLOCK:
            self._flush()
        if len(x) >= _BLOCK:
            self._bin(x)
        else:
            self._block[self._queued : self._queued + len(x)] = x
            self._queued += len(x)

    def _flush(self) -> None:
        queued, self._queued = self._queued, 0
        self._bin(self._block[:queued])

    def _bin(self, x: np.ndarray) -> None:
        i = 0
        while i < len(x):
            if self.fill:  # top up the open bin first
                part = x[i : i + self.unit - self.fill]
                self.open_low = min(self.open_low, float(part.min()))
                self.open_high = max(self.open_high, float(part.max()))
                self.fill += len(part)
                i += len(part)
                if self.fill == self.unit:
                    self._close()
                continue
            if self.count == self.capacity:
                self._halve()
            whole = min((len(x) - i) // self.unit, self.capacity - self.count)
            if whole:
                grid = x[i : i + whole * self.unit].reshape(whole, self.unit)
                self.low[self.count : self.count + whole] = grid.min(axis=1)
                self.high[self.count : self.count + whole] = grid.max(axis=1)
                self.count += whole
                i += whole * self.unit
            else:  # less than a bin left: it opens one
                part = x[i:]
                self.open_low, self.open_high = float(part.min()), float(part.max())
                self.fill, i = len(part), len(x)

    def _close(self) -> None:
        if self.count == self.capacity:
            self._halve()  # the open bin is now half full: it stays open
            return
        self.low[self.count], self.high[self.count] = self.open_low, self.open_high
        self.count += 1
        self.fill = 0

    def _halve(self) -> None:
        half = self.count // 2  # count == capacity, which is even
        self.low[:half] = np.minimum(self.low[0 : 2 * half : 2], self.low[1 : 2 * half : 2])
        self.high[:half] = np.maximum(self.high[0 : 2 * half : 2], self.high[1 : 2 * half : 2])
        self.count, self.unit = half, 2 * self.unit

    def buckets(self, buckets: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Per-bucket minimum and maximum, and the samples per bucket (as min_max)."""
        self._flush()
        low, high = self.low[: self.count], self.high[: self.count]
        if self.fill:  # the open bin, padded with zeros as min_max pads the last bucket
            low = np.append(low, np.float32(min(self.open_low, 0.0)))
            high = np.append(high, np.float32(max(self.open_high, 0.0)))
        lows, highs, per = _group(low, high, buckets)
        return lows, highs, per * self.unit


Peaks = np.ndarray | PeakBins  # all the samples, or their bins


def _buckets(source: Peaks, buckets: int) -> tuple[np.ndarray, np.ndarray, int]:
    if isinstance(source, PeakBins):
        return source.buckets(buckets)
    return min_max(source, buckets)


def peaks_document(samples: Peaks, peaks: int, sample_rate: int = PCM_RATE) -> dict:
    """The audiowaveform v2 JSON (8-bit) that wavesurfer.js and peaks.js load."""
    low, high, per = _buckets(samples, peaks)
    pairs = np.empty(2 * len(low), dtype=np.int64)
    pairs[0::2] = np.clip(np.floor(low * 128), -128, 127)
    pairs[1::2] = np.clip(np.ceil(high * 128), -128, 127)
    return {
        "version": 2,
        "channels": 1,
        "sample_rate": sample_rate,
        "samples_per_pixel": per,
        "bits": 8,
        "length": len(low),
        "data": pairs.tolist(),
    }


def draw(samples: Peaks, width: int, height: int) -> Image.Image:
    """Bars centred on the middle line, one per column, as tall as that column's peak."""
    low, high, _ = _buckets(samples, width)
    peak = np.zeros(width, dtype=np.float32)
    peak[: len(low)] = np.maximum(np.abs(low), np.abs(high))
    middle = (height - 1) / 2
    # At least one pixel, so silence still shows as a line.
    half = np.maximum(np.minimum(peak, 1.0) * height / 2, 0.5)
    rows = np.arange(height, dtype=np.float32)[:, None]
    mask = np.abs(rows - middle) <= half[None, :]
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    pixels[mask] = COLOUR
    return Image.fromarray(pixels)  # (h, w, 4) uint8 → RGBA


def write_waveform(
    samples: Peaks,
    png: Path,
    peaks_json: Path,
    *,
    width: int,
    height: int,
    peaks: int,
    rate: int = PCM_RATE,
) -> None:
    """Write the PNG and the peaks JSON of `samples` (mono at `rate`, or their bins), each
    atomically."""
    with atomic_output(png) as tmp:
        draw(samples, width, height).save(tmp, format="PNG", optimize=False)
    with atomic_output(peaks_json) as tmp:
        tmp.write_text(json.dumps(peaks_document(samples, peaks, rate), separators=(",", ":")))


def waveform(
    path: Path,
    png: Path,
    peaks_json: Path,
    *,
    width: int = 1200,
    height: int = 160,
    peaks: int = 1000,
) -> None:
    """Draw path's waveform to `png` and write its peaks to `peaks_json` (one decode)."""
    from .libav import RATE, peak_bins

    bins = peak_bins(Path(path))
    write_waveform(
        bins, Path(png), Path(peaks_json), width=width, height=height, peaks=peaks, rate=RATE
    )
