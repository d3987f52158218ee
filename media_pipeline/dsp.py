"""Signal arithmetic on samples already in memory (numpy): loudness and resampling.

For work on samples the pipeline holds anyway (the narration it assembles), where starting
an ffmpeg run (~50 ms of library loading, then a decode) would cost more than the sums.
"""

from __future__ import annotations

import functools
import math

import numpy as np


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) of mono samples in [-1, 1]: ITU-R BS.1770-4, computed here.

    For the caller that already holds the samples (the narration it just assembled), so a
    meter run need not decode them again. The usual 400 ms blocks every 100 ms, absolute
    gate −70 LUFS, relative gate −10 LU; each 100 ms step's K-weighted energy comes from its
    spectrum (Parseval), weighted by |H|² of the K-filter. That filters each step on its own
    (circularly), which moves a few ms of the filters' response between neighbouring steps:
    on the sample covenant within 0.01 LU of filtering the whole signal, and within ebur128's
    0.1 LU display. Returns −70.0 for silence or less than one block, like ebur128.
    """
    step = sample_rate // 10
    count = len(samples) // step
    if count < 4:
        return -70.0
    frames = np.asarray(samples[: count * step], dtype=np.float32).reshape(count, step)
    spectrum = np.fft.rfft(frames, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    # Σ x² of each K-weighted step. (Not `power @ weights`: BLAS would start threads that
    # spin on other cores for a product this small.)
    energy = (power * _step_weights(step, sample_rate)).sum(axis=1)
    blocks = np.convolve(energy, np.ones(4), "valid") / (4 * step)
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(blocks)
    blocks = blocks[levels > -70.0]
    if not len(blocks):
        return -70.0
    relative = -0.691 + 10 * math.log10(float(blocks.mean())) - 10.0
    blocks = blocks[-0.691 + 10 * np.log10(blocks) > relative]
    return -0.691 + 10 * math.log10(float(blocks.mean()))


@functools.lru_cache(maxsize=4)
def _step_weights(step: int, sample_rate: int) -> np.ndarray:
    """Per rfft bin of a `step`-sample frame: |K|², times 2/step for Parseval (DC, Nyquist once)."""
    weights = _k_weighting(step, sample_rate) ** 2 * (2.0 / step)
    weights[0] /= 2
    if step % 2 == 0:
        weights[-1] /= 2
    return weights.astype(np.float32)


def _k_weighting(size: int, sample_rate: int) -> np.ndarray:
    """|H| of BS.1770's K-weighting (high shelf, then RLB high-pass) at each rfft bin of `size`."""
    # The two biquads designed for any rate as libebur128 (and ffmpeg's ebur128) do.
    k = math.tan(math.pi * 1681.974450955533 / sample_rate)
    q = 0.7071752369554196
    vh = 10 ** (3.999843853973347 / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = (
        ((vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0),
        (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0),
    )
    k = math.tan(math.pi * 38.13547087602444 / sample_rate)
    q = 0.5003270373238773
    a0 = 1 + k / q + k * k
    highpass = ((1.0, -2.0, 1.0), (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0))
    w = 2 * np.pi * np.arange(size // 2 + 1) / size
    cos1, cos2 = np.cos(w), np.cos(2 * w)

    def power(c: tuple[float, float, float]) -> np.ndarray:  # |c0 + c1 z⁻¹ + c2 z⁻²|² on |z| = 1
        return (
            c[0] ** 2 + c[1] ** 2 + c[2] ** 2
            + 2 * (c[0] * c[1] + c[1] * c[2]) * cos1 + 2 * c[0] * c[2] * cos2
        )  # fmt: skip

    gain = np.ones_like(w)
    for b, a in (shelf, highpass):
        gain *= power(b) / power(a)
    return np.sqrt(np.maximum(gain, 0.0))


def fft_size(n: int) -> int:
    """The smallest 2^a·3^b·5^c ≥ n (sizes numpy's FFT handles fastest)."""
    best = 1 << (n - 1).bit_length()
    five = 1
    while five < best:
        three = five
        while three < best:
            m = three
            while m < n:
                m *= 2
            best = min(best, m)
            three *= 3
        five *= 5
    return best


def resample(samples: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """Mono samples at `rate` → `to_rate`, band-limited (an ideal low-pass at the lower Nyquist).

    Done in the frequency domain over the whole signal, which treats it as periodic: exact for
    a phrase that starts and ends in silence, as TTS phrases do. The result has
    round(len × to_rate / rate) samples, so positions scale exactly.
    """
    if rate == to_rate:
        return np.asarray(samples, dtype=np.float64)
    g = math.gcd(rate, to_rate)
    up, down = to_rate // g, rate // g
    # Zero-pad to whole resampling periods (integer lengths both sides), of a size FFTs like.
    periods = fft_size(-(-len(samples) // down))
    n_in, n_out = periods * down, periods * up
    # Single precision: ~150 dB of dynamic range, far beyond 16-bit audio, at half the cost.
    spectrum = np.fft.rfft(np.asarray(samples, dtype=np.float32), n_in)
    bins = n_out // 2 + 1
    if bins > len(spectrum):
        spectrum = np.concatenate([spectrum, np.zeros(bins - len(spectrum), spectrum.dtype)])
    else:
        spectrum = spectrum[:bins]
    out = np.fft.irfft(spectrum, n_out)[: round(len(samples) * up / down)]
    return out.astype(np.float64) * (n_out / n_in)
