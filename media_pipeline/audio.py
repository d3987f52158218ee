"""Narration assembly: an opening gong or chime, phrases and pauses, a music bed ducked under speech.

Layout: [lead-in silence][intro][gap][phrase 1][pause 1][phrase 2]…[phrase n][tail]. Each TTS
phrase is trimmed to its audible speech first, so the timings returned are where speech is
heard — exact sample positions in the written file, rounded to ms — and subtitle cues made
from them need no alignment. The assembly itself is numpy arithmetic on sample arrays (exact
positions, deterministic ducking); pydub is the container for the gong and writes the WAV.
16-bit mono PCM phrases at another rate (espeak-ng writes 22.05 kHz) are resampled here
(dsp.resample); ffmpeg (through tools) only converts phrases in other formats, and decodes
the music bed — one run each at most. The narration's integrated loudness is computed from
the samples (dsp.integrated_loudness), so mastering need not decode and meter it again.
"""

from __future__ import annotations

import functools
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydub import AudioSegment

from .dsp import integrated_loudness, resample
from .errors import PipelineError
from .files import atomic_output
from .jobs import check_intro
from .tools import DEFAULT_TOOLS, Tools

CHIME_GAP_MS = 300
# Samples quieter than this relative to the phrase's peak count as silence when trimming
# (espeak-ng pads its phrases with ~100 ms of digital silence and soft breath).
_TRIM_DB = -40.0
# The gong's peak relative to the speech peak: a struck gong's energy is all in the attack,
# so at −4 dB it sounds about as loud as the voice after it.
_CHIME_DB = -4.0
# The ding-dong's peak relative to the speech peak: its tones ring on at near their peak
# level (a gong's energy is gone within a second), so it sits lower to sound as loud.
_DING_DONG_DB = -7.0
# Music bed: its RMS sits this far under the speech RMS, dips _DUCK_DB further under each
# phrase, starting _DUCK_ATTACK_MS before the speech and recovering over _DUCK_RELEASE_MS.
_BED_DB = -15.0
_DUCK_DB = -13.0
_DUCK_ATTACK_MS = 80
_DUCK_RELEASE_MS = 250
_BED_FADE_IN_MS = 1000
_BED_FADE_OUT_MS = 1500


@dataclass(frozen=True)
class PhraseTiming:
    """Where one phrase's audible speech starts and ends in the assembled narration (ms)."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Narration:
    """The assembled narration WAV, its length, the phrase timings and when speech starts.

    `integrated_lufs`: its loudness (BS.1770, computed from the samples before writing).
    """

    wav: Path
    duration_ms: int
    phrases: tuple[PhraseTiming, ...]
    speech_start_ms: int
    integrated_lufs: float | None = None


@functools.lru_cache(maxsize=4)
def make_gong(duration_ms: int = 2200, sample_rate: int = 48000) -> AudioSegment:
    """An opening gong (after the Dong 鸣锣喊寨 round): inharmonic partials, soft attack, decay.

    Made once per process and size (AudioSegments are immutable): it is the same every time.
    """
    n = round(sample_rate * duration_ms / 1000)
    t = np.arange(n) / sample_rate
    # A small flat gong: partials at the inharmonic ratios of a circular plate, each paired
    # with a slightly detuned twin so they beat (the gong's shimmer); higher ones die faster.
    # (ratio, amplitude, decay time constant in s)
    partials = (
        (1.00, 1.00, 0.90), (1.52, 0.60, 0.60), (2.16, 0.45, 0.42),
        (2.78, 0.30, 0.30), (3.43, 0.22, 0.20), (4.21, 0.15, 0.12),
    )  # fmt: skip
    # The pitch sinks a little as the strike's energy ebbs, as a gong's does.
    base = 330.0 * (1 + 0.015 * np.exp(-t / 0.25))
    phase = 2 * np.pi * np.cumsum(base) / sample_rate
    ring = np.zeros(n)
    for ratio, amp, tau in partials:
        decay = np.exp(-t / tau)
        ring += amp * decay * (np.sin(ratio * phase) + 0.5 * np.sin(ratio * 1.004 * phase + 1.0))
    # A soft mallet: 12 ms raised-cosine attack instead of a click, and a 150 ms fade at the
    # end so a short duration does not cut the ring off abruptly.
    attack = min(n, round(0.012 * sample_rate))
    ring[:attack] *= 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, attack))
    fade = min(n - attack, round(0.15 * sample_rate))
    if fade > 0:
        ring[n - fade :] *= np.linspace(1, 0, fade)
    peak = float(np.max(np.abs(ring))) or 1.0
    return _segment(ring * (10 ** (-3 / 20) / peak), sample_rate)


# The name it had before there was a second intro: the clauses' "chime" is this gong.
make_chime = make_gong


@functools.lru_cache(maxsize=4)
def make_ding_dong(sample_rate: int = 48000) -> AudioSegment:
    """A public-address 叮咚: two bell tones a major third apart (E5 then C5), soft attack, decay.

    Made once per process and rate, from fixed numbers only: the same samples every time.
    """
    strike_s, duration_s = 0.5, 1.7  # the second tone sounds this long after the first
    n = round(sample_rate * duration_s)
    t = np.arange(n) / sample_rate
    # A small bell's partials (ratio, amplitude, decay time constant in s): near-harmonic,
    # with one inharmonic "tierce" partial that makes it a bell rather than a sine.
    partials = ((1.00, 1.00, 0.60), (2.00, 0.25, 0.30), (2.76, 0.10, 0.18), (4.07, 0.05, 0.10))
    ring = np.zeros(n)
    for onset, pitch in ((0.0, 659.26), (strike_s, 523.25)):
        start = round(onset * sample_rate)
        local = t[: n - start]
        tone = np.zeros(len(local))
        for ratio, amp, tau in partials:
            tone += amp * np.exp(-local / tau) * np.sin(2 * np.pi * pitch * ratio * local)
        # A felt hammer: 8 ms raised-cosine attack, no click.
        attack = round(0.008 * sample_rate)
        tone[:attack] *= 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, attack))
        ring[start:] += tone
    fade = round(0.15 * sample_rate)  # the last of the ring fades rather than stops
    ring[n - fade :] *= np.linspace(1, 0, fade)
    peak = float(np.max(np.abs(ring))) or 1.0
    return _segment(ring * (10 ** (-3 / 20) / peak), sample_rate)


def intro_samples(intro: str, sample_rate: int = 48000) -> tuple[np.ndarray, float] | None:
    """The intro's float samples and its peak relative to speech (dB), or None for "none"."""
    check_intro(intro)
    if intro == "gong":
        return _samples(make_gong(sample_rate=sample_rate)), _CHIME_DB
    if intro == "chime":
        return _samples(make_ding_dong(sample_rate)), _DING_DONG_DB
    return None


def assemble_narration(
    phrase_wavs: Sequence[Path],
    pauses_ms: Sequence[int],
    out_wav: Path,
    *,
    chime: bool = True,
    intro: str = "gong",
    music_bed: Path | None = None,
    lead_in_ms: int = 300,
    tail_ms: int = 600,
    sample_rate: int = 48000,
    tools: Tools = DEFAULT_TOOLS,
) -> Narration:
    """Assemble phrases (with pauses, intro and music bed) into a mono 16-bit WAV; return timings.

    `pauses_ms` holds the pause after each phrase; the one after the last phrase may be
    given or left out, and is not used: the tail follows the last phrase.
    `intro`: the sound before the first phrase, "gong", "chime" (a two-tone 叮咚) or "none";
    `chime=False` (the clauses' older switch) means no intro whatever `intro` says.
    """
    if not phrase_wavs:
        raise PipelineError("没有可合成的语句 / no phrases to assemble")
    if len(pauses_ms) not in (len(phrase_wavs), len(phrase_wavs) - 1):
        raise PipelineError(
            f"停顿数 {len(pauses_ms)} 与语句数 {len(phrase_wavs)} 不符 / "
            f"{len(pauses_ms)} pauses do not match {len(phrase_wavs)} phrases"
        )
    if min((*pauses_ms, lead_in_ms, tail_ms)) < 0:
        raise PipelineError("停顿不能为负 / pauses must not be negative")
    opening = intro_samples(intro, sample_rate) if chime else None
    if music_bed is not None and not Path(music_bed).is_file():
        raise PipelineError(f"找不到背景音乐：{music_bed} / music bed not found: {music_bed}")

    phrases = [
        _trim(samples, path)
        for samples, path in zip(
            _read_phrases(phrase_wavs, sample_rate, tools), phrase_wavs, strict=True
        )
    ]
    speech_peak = max(float(np.max(np.abs(p))) for p in phrases)

    def samples(ms: int) -> int:
        return round(ms * sample_rate / 1000)

    pieces: list[tuple[int, np.ndarray]] = []  # (start sample, samples)
    cursor = samples(lead_in_ms)
    if opening is not None:
        sound, level_db = opening
        pieces.append(
            (cursor, sound * (speech_peak * 10 ** (level_db / 20) / np.max(np.abs(sound))))
        )
        cursor += len(sound) + samples(CHIME_GAP_MS)
    intervals: list[tuple[int, int]] = []
    for i, phrase in enumerate(phrases):
        pieces.append((cursor, phrase))
        intervals.append((cursor, cursor + len(phrase)))
        cursor += len(phrase)
        if i < len(phrases) - 1:
            cursor += samples(pauses_ms[i])
    total = cursor + samples(tail_ms)

    mix = np.zeros(total)
    for start, piece in pieces:
        mix[start : start + len(piece)] += piece
    if music_bed is not None:
        speech_rms = float(np.sqrt(np.mean(np.square(np.concatenate(phrases)))))
        mix += _music_bed(Path(music_bed), total, sample_rate, speech_rms, intervals, tools)
    peak = float(np.max(np.abs(mix)))
    if peak > 0.999:  # only the bed on top of speech can get here; keep it from clipping
        mix *= 0.999 / peak

    with atomic_output(out_wav) as tmp:
        _segment(mix, sample_rate).export(str(tmp), format="wav")
    timings = tuple(
        PhraseTiming(round(a * 1000 / sample_rate), round(b * 1000 / sample_rate))
        for a, b in intervals
    )
    return Narration(
        wav=Path(out_wav),
        duration_ms=round(total * 1000 / sample_rate),
        phrases=timings,
        speech_start_ms=timings[0].start_ms,
        integrated_lufs=integrated_loudness(mix, sample_rate),
    )


def duck_envelope(
    length: int, intervals: Sequence[tuple[int, int]], sample_rate: int
) -> np.ndarray:
    """Gain per sample for the music bed: 1, dipping by _DUCK_DB around each speech interval."""
    attack = round(_DUCK_ATTACK_MS * sample_rate / 1000)
    release = round(_DUCK_RELEASE_MS * sample_rate / 1000)
    depth = np.zeros(length)  # 0 = full level, 1 = fully ducked
    for start, end in intervals:
        shape = np.concatenate(
            [np.linspace(0, 1, attack, endpoint=False), np.ones(end - start),
             np.linspace(1, 0, release)]
        )  # fmt: skip
        lo = start - attack
        a, b = max(lo, 0), min(lo + len(shape), length)
        depth[a:b] = np.maximum(depth[a:b], shape[a - lo : b - lo])
    return 1 - depth * (1 - 10 ** (_DUCK_DB / 20))


def _music_bed(
    path: Path,
    length: int,
    sample_rate: int,
    speech_rms: float,
    intervals: Sequence[tuple[int, int]],
    tools: Tools = DEFAULT_TOOLS,
) -> np.ndarray:
    """The bed looped/cut to `length`, faded, levelled under the speech and ducked."""
    with tempfile.TemporaryDirectory(prefix="kuanyue-bed-") as tmp:
        decoded = Path(tmp) / "bed.wav"
        tools.ffmpeg(
            "-stream_loop", "-1", "-i", str(path), "-map", "0:a:0",
            "-t", f"{length / sample_rate + 0.1:.3f}",
            "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", str(decoded),
        )  # fmt: skip
        bed = _read_pcm(decoded, sample_rate)
    if bed is None or not len(bed):
        raise PipelineError(f"背景音乐无法读取：{path} / cannot read music bed: {path}")
    bed = np.pad(bed, (0, max(0, length - len(bed))))[:length]
    rms = float(np.sqrt(np.mean(np.square(bed))))
    if rms == 0:
        return bed
    bed *= speech_rms * 10 ** (_BED_DB / 20) / rms
    fade_in = min(length // 4, round(_BED_FADE_IN_MS * sample_rate / 1000))
    fade_out = min(length // 4, round(_BED_FADE_OUT_MS * sample_rate / 1000))
    bed[:fade_in] *= np.linspace(0, 1, fade_in)
    bed[length - fade_out :] *= np.linspace(1, 0, fade_out)
    return bed * duck_envelope(length, intervals, sample_rate)


def _read_phrases(
    paths: Sequence[Path], sample_rate: int, tools: Tools = DEFAULT_TOOLS
) -> list[np.ndarray]:
    """Every phrase as float samples, converting (in one ffmpeg run) those that need it."""
    for path in paths:
        if not Path(path).is_file():
            raise PipelineError(f"找不到语句音频：{path} / phrase audio not found: {path}")
    out: list[np.ndarray | None] = [_read_pcm(Path(p), sample_rate) for p in paths]
    todo = [i for i, samples in enumerate(out) if samples is None]
    if todo:
        with tempfile.TemporaryDirectory(prefix="kuanyue-phrases-") as tmp:
            args: list[str] = []
            for i in todo:
                args += ["-i", str(paths[i])]
            for k, i in enumerate(todo):
                args += ["-map", f"{k}:a:0", "-ac", "1", "-ar", str(sample_rate)]
                args += ["-c:a", "pcm_s16le", str(Path(tmp) / f"{i}.wav")]
            tools.ffmpeg(*args)
            for i in todo:
                out[i] = _read_pcm(Path(tmp) / f"{i}.wav", sample_rate)
    unreadable = [str(p) for p, samples in zip(paths, out, strict=True) if samples is None]
    if unreadable:
        raise PipelineError(
            f"语句音频无法读取：{unreadable} / unreadable phrase audio: {unreadable}"
        )
    return [samples for samples in out if samples is not None]


def _read_pcm(path: Path, sample_rate: int) -> np.ndarray | None:
    """Samples of a 16-bit mono PCM WAV as floats at `sample_rate`, or None if it is not one."""
    try:
        with wave.open(str(path), "rb") as wav:
            if (wav.getsampwidth(), wav.getnchannels()) != (2, 1):
                return None
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError):
        return None
    return resample(np.frombuffer(raw, dtype="<i2") / 32768.0, rate, sample_rate)


def _trim(samples: np.ndarray, path: Path) -> np.ndarray:
    """The phrase cut to its audible part (first to last sample above the trim threshold)."""
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if peak < 10 ** (-60 / 20):
        raise PipelineError(f"语句音频无声：{path} / phrase audio is silent: {path}")
    loud = np.flatnonzero(np.abs(samples) >= peak * 10 ** (_TRIM_DB / 20))
    return samples[loud[0] : loud[-1] + 1]


def _segment(samples: np.ndarray, sample_rate: int) -> AudioSegment:
    """Float samples in [-1, 1] as a 16-bit mono pydub segment."""
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    return AudioSegment(data=pcm.tobytes(), sample_width=2, frame_rate=sample_rate, channels=1)


def _samples(segment: AudioSegment) -> np.ndarray:
    """A 16-bit mono pydub segment as float samples."""
    return np.array(segment.get_array_of_samples(), dtype=np.float64) / 32768.0
