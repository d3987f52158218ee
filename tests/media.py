"""Small generators of test media shared by tests: tones, noise and espeak-ng speech.

Everything is made on the spot (numpy + the stdlib `wave` module, or espeak-ng through
media_pipeline.tools), so no binary fixtures live in the repository.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from media_pipeline.tools import DEFAULT_TOOLS

# The programs on PATH, for making test media.
ffmpeg = DEFAULT_TOOLS.ffmpeg
run = DEFAULT_TOOLS.run

# Tone-numbered pinyin for espeak-ng's cmn-latn-pinyin voice (Debian's `cmn` voice is broken).
SENTENCE = (
    "mei3 wan3 you2 lun2 zhi2 hu4 ming2 luo2 han3 zhai4, ti2 xing3 ge4 jia1 xi1 mie4 huo3 tang2."
)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = 48000) -> Path:
    """Write float samples in [-1, 1] (mono) as a 16-bit PCM WAV."""
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples of a 16-bit PCM WAV as floats in [-1, 1] (channels averaged), and its rate."""
    with wave.open(str(path), "rb") as wav:
        raw = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        data = raw.reshape(-1, wav.getnchannels()).mean(axis=1) / 32768
        return data, wav.getframerate()


def tone(freq: float, ms: int, *, amplitude: float = 0.5, sample_rate: int = 48000) -> np.ndarray:
    """A sine tone with 5 ms raised-cosine edges (no clicks)."""
    n = round(sample_rate * ms / 1000)
    out = amplitude * np.sin(2 * np.pi * freq * np.arange(n) / sample_rate)
    edge = min(n // 2, sample_rate // 200)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge))
    out[:edge] *= ramp
    out[n - edge :] *= ramp[::-1]
    return out


def silence(ms: int, sample_rate: int = 48000) -> np.ndarray:
    """Digital silence."""
    return np.zeros(round(sample_rate * ms / 1000))


def speech(path: Path, *, repeat: int = 1, gain_db: float = 0.0) -> Path:
    """espeak-ng Mandarin speech (22.05 kHz mono), the sentence said `repeat` times, scaled."""
    raw = path.with_name(f"{path.stem}-raw.wav")
    run(["espeak-ng", "-v", "cmn-latn-pinyin", "-w", str(raw), " ".join([SENTENCE] * repeat)])
    if gain_db:
        ffmpeg("-i", str(raw), "-af", f"volume={gain_db}dB", "-c:a", "pcm_s16le", str(path))
        raw.unlink()
    else:
        raw.rename(path)
    return path


def rms_db(samples: np.ndarray) -> float:
    """RMS level in dBFS (−200 for digital silence)."""
    value = float(np.sqrt(np.mean(np.square(samples)))) if len(samples) else 0.0
    return 20 * np.log10(value) if value > 0 else -200.0


def decode_wav(src: Path, out: Path, sample_rate: int = 48000) -> tuple[np.ndarray, int]:
    """Decode any audio file to mono 16-bit PCM with ffmpeg and read it back."""
    ffmpeg("-i", str(src), "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", str(out))
    return read_wav(out)
