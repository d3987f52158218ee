"""media_pipeline.audio: the opening gong and narration assembly (real ffmpeg, generated media)."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from media_pipeline.audio import CHIME_GAP_MS, assemble_narration, duck_envelope, make_chime
from media_pipeline.errors import PipelineError
from tests.media import ffmpeg

from .media import read_wav, rms_db, silence, tone, write_wav

SR = 48000


def ms(n: float) -> int:
    """Samples in n ms at 48 kHz."""
    return round(n * SR / 1000)


def padded_tone(path, tone_ms, *, freq=1000.0, pad_ms=100, sample_rate=SR):
    """A tone with silence either side, like a TTS phrase (the padding must be trimmed)."""
    samples = np.concatenate(
        [silence(pad_ms, sample_rate), tone(freq, tone_ms, amplitude=0.3, sample_rate=sample_rate),
         silence(pad_ms, sample_rate)]
    )  # fmt: skip
    return write_wav(path, samples, sample_rate)


def hard_tone(path, tone_ms, *, pad_ms=100):
    """Whole cycles of a 1 kHz cosine (loud from its first to its last sample), padded."""
    n = ms(tone_ms)
    body = 0.3 * np.cos(2 * np.pi * 1000 * np.arange(n) / SR)
    return write_wav(path, np.concatenate([silence(pad_ms), body, silence(pad_ms)]))


def test_chime_is_deterministic_and_decays():
    chime = make_chime()
    assert chime.raw_data == make_chime().raw_data
    assert (len(chime), chime.frame_rate, chime.channels, chime.sample_width) == (2200, SR, 1, 2)
    samples = np.array(chime.get_array_of_samples()) / 32768
    assert -4 < chime.max_dBFS < -2
    # Soft attack: the first millisecond is much quieter than the ring 20–40 ms in.
    assert rms_db(samples[: ms(1)]) < rms_db(samples[ms(20) : ms(40)]) - 15
    # The ring decays (the detuned partials beat, so compare windows longer than a beat).
    windows = [rms_db(samples[ms(t) : ms(t + 700)]) for t in (0, 700, 1400)]
    assert windows[0] > windows[1] + 3 > windows[2] + 6 and windows[0] > -20
    # Inharmonic partials, not one beep: several strong spectral peaks.
    spectrum = np.abs(np.fft.rfft(samples[: ms(500)]))
    strong = np.flatnonzero(spectrum > spectrum.max() * 0.2)
    assert len(np.unique(strong // 10)) >= 3
    assert len(make_chime(800, 22050)) == 800


def test_timings_are_exact_sample_positions(tmp_path):
    phrases = [hard_tone(tmp_path / f"{i}.wav", length) for i, length in enumerate((500, 800, 300))]
    out = tmp_path / "narration.wav"
    narration = assemble_narration(
        phrases, [400, 700, 250], out, chime=False, lead_in_ms=300, tail_ms=600
    )
    assert [(t.start_ms, t.end_ms) for t in narration.phrases] == [
        (300, 800), (1200, 2000), (2700, 3000),
    ]  # fmt: skip
    assert narration.speech_start_ms == 300
    assert narration.duration_ms == 3600 and narration.wav == out

    with wave.open(str(out), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (1, SR, 2)
        assert wav.getnframes() == ms(3600)
    samples, _ = read_wav(out)
    edges = [0, *[x for t in narration.phrases for x in (t.start_ms, t.end_ms)], 3600]
    for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False)):
        segment = samples[ms(a) : ms(b)]
        if i % 2:  # inside a phrase: loud from the first sample to the last
            assert abs(segment[0]) > 0.29 and abs(segment[-1]) > 0.29
            assert rms_db(segment) > -14
        else:  # lead-in, pauses, tail: digital silence
            assert not np.any(segment)


def test_phrases_in_other_formats_are_converted(tmp_path):
    # espeak-ng writes 22.05 kHz PCM (resampled here); a stereo 44.1 kHz FLAC goes to ffmpeg.
    first = padded_tone(tmp_path / "a.wav", 800, freq=700, sample_rate=22050)
    second = tmp_path / "b.flac"
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=0.5:r=44100", "-ac", "2", str(second))
    narration = assemble_narration(
        [first, second], [500], tmp_path / "n.wav", chime=False, lead_in_ms=300
    )
    (a, b) = narration.phrases
    # Sine edges: the −40 dB trim point lies within a cycle (≤ 2 ms) of the tone's ends.
    assert abs(a.start_ms - 300) <= 2 and abs(a.end_ms - 1100) <= 2
    assert abs(b.start_ms - (a.end_ms + 500)) <= 1 and abs(b.end_ms - b.start_ms - 500) <= 2


def test_pcm_at_another_rate_is_resampled_without_ffmpeg(tmp_path):
    from media_pipeline import tools

    phrase = padded_tone(tmp_path / "a.wav", 800, freq=700, sample_rate=22050)
    tools.CALLS.clear()
    narration = assemble_narration([phrase], [], tmp_path / "n.wav", chime=False, lead_in_ms=300)
    assert tools.CALLS["ffmpeg"] == 0
    (a,) = narration.phrases
    assert abs(a.start_ms - 300) <= 2 and abs(a.end_ms - 1100) <= 2
    samples, _ = read_wav(tmp_path / "n.wav")
    spoken = samples[ms(400) : ms(1000)]
    # Still a 700 Hz tone of the same level: band-limited resampling, no pitch change.
    spectrum = np.abs(np.fft.rfft(spoken * np.hanning(len(spoken))))
    assert np.fft.rfftfreq(len(spoken), 1 / SR)[np.argmax(spectrum)] == pytest.approx(700, abs=2)
    assert rms_db(spoken) == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=0.1)


def test_resample_keeps_length_and_band():
    from media_pipeline.dsp import resample

    x = tone(1000, 1000, amplitude=0.5, sample_rate=22050)
    y = resample(x, 22050, SR)
    assert len(y) == SR and np.array_equal(resample(y, SR, SR), y)
    assert (
        np.max(np.abs(y[ms(100) : ms(900)] - tone(1000, 1000, amplitude=0.5)[ms(100) : ms(900)]))
        < 1e-3
    )


@pytest.mark.slow
def test_narration_loudness_is_computed_from_its_samples(tmp_path):
    from media_pipeline.loudness import measure_loudness

    from .media import speech

    narration = assemble_narration([speech(tmp_path / "s.wav")], [], tmp_path / "n.wav")
    assert narration.integrated_lufs == pytest.approx(
        measure_loudness(narration.wav).integrated_lufs, abs=0.1
    )


def test_chime_comes_first_and_speech_after_gap(tmp_path):
    phrase = padded_tone(tmp_path / "a.wav", 400)
    narration = assemble_narration([phrase], [], tmp_path / "n.wav", lead_in_ms=200, tail_ms=300)
    assert abs(narration.speech_start_ms - (200 + 2200 + CHIME_GAP_MS)) <= 1
    assert abs(narration.duration_ms - (200 + 2200 + CHIME_GAP_MS + 400 + 300)) <= 1
    samples, _ = read_wav(narration.wav)
    assert not np.any(samples[: ms(200)])
    gong = samples[ms(200) : ms(2400)]
    # The gong peaks 4 dB under the speech peak (0.3 here).
    assert 0.3 * 10 ** (-5 / 20) < np.max(np.abs(gong)) < 0.3 * 10 ** (-3 / 20)


def test_music_bed_is_looped_and_ducked_under_speech(tmp_path):
    bed = tmp_path / "bed.mp3"  # any format ffmpeg reads; shorter than the narration
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=1.3:c=pink:a=0.5:r=44100:seed=3", str(bed))
    phrases = [padded_tone(tmp_path / f"{i}.wav", 1000) for i in range(3)]
    pauses = [1500, 1500]
    dry = assemble_narration(phrases, pauses, tmp_path / "dry.wav")
    wet = assemble_narration(phrases, pauses, tmp_path / "wet.wav", music_bed=bed)
    assert wet.phrases == dry.phrases
    dry_samples, _ = read_wav(dry.wav)
    wet_samples, _ = read_wav(wet.wav)
    bed_part = wet_samples - dry_samples

    under = [rms_db(bed_part[ms(t.start_ms + 100) : ms(t.end_ms - 100)]) for t in wet.phrases]
    gaps = [
        rms_db(bed_part[ms(a.end_ms + 500) : ms(b.start_ms - 300)])
        for a, b in zip(wet.phrases, wet.phrases[1:], strict=False)
    ]
    for level in under:
        assert 11 <= min(gaps) - level <= 16  # ducked ~13 dB under speech
    speech = rms_db(dry_samples[ms(wet.phrases[0].start_ms) : ms(wet.phrases[0].end_ms)])
    assert 12 <= speech - max(gaps) <= 19  # a modest bed even where it is not ducked
    # Faded in from nothing and out to nothing.
    assert rms_db(bed_part[: ms(20)]) < max(gaps) - 20
    assert rms_db(bed_part[-ms(20) :]) < max(gaps) - 20


def test_duck_envelope_ramps():
    env = duck_envelope(ms(2000), [(ms(500), ms(1000))], SR)
    assert env[0] == 1 and env[-1] == 1
    assert np.allclose(env[ms(500) : ms(1000)], 10 ** (-13 / 20))
    assert 10 ** (-13 / 20) < env[ms(460)] < 1  # ramping down before the speech
    assert 10 ** (-13 / 20) < env[ms(1100)] < 1  # and back up after it
    assert np.all(np.diff(env[: ms(500)]) <= 0)


@pytest.mark.parametrize(
    ("pauses", "message"),
    [
        pytest.param([100], "pauses do not match", id="too-few"),
        pytest.param([100, 100, 100, 100], "pauses do not match", id="too-many"),
        pytest.param([100, -5], "negative", id="negative"),
    ],
)
def test_bad_pauses_are_refused(tmp_path, pauses, message):
    phrases = [padded_tone(tmp_path / f"{i}.wav", 200) for i in range(3)]
    with pytest.raises(PipelineError, match=message) as info:
        assemble_narration(phrases, pauses, tmp_path / "n.wav")
    assert str(info.value)[0] > "\u2e80"  # Chinese first
    assert not (tmp_path / "n.wav").exists()


def test_no_phrases_missing_or_silent_phrase(tmp_path):
    with pytest.raises(PipelineError, match="no phrases"):
        assemble_narration([], [], tmp_path / "n.wav")
    missing = tmp_path / "missing.wav"
    with pytest.raises(PipelineError, match="missing.wav"):
        assemble_narration([missing], [0], tmp_path / "n.wav")
    quiet = write_wav(tmp_path / "quiet.wav", silence(300))
    with pytest.raises(PipelineError, match="silent"):
        assemble_narration([quiet], [0], tmp_path / "n.wav")
    with pytest.raises(PipelineError, match="music bed not found"):
        assemble_narration(
            [padded_tone(tmp_path / "a.wav", 200)], [0], tmp_path / "n.wav", music_bed=missing
        )
    assert not (tmp_path / "n.wav").exists()
