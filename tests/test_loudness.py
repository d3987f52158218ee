"""media_pipeline.loudness and .profiles: EBU R128 measurement and mastering (real ffmpeg)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from media_pipeline import loudness, tools
from media_pipeline.dsp import integrated_loudness
from media_pipeline.errors import PipelineError, ToolFailed
from media_pipeline.loudness import (
    Loudness,
    encoder_name,
    measure_argv,
    measure_loudness,
    normalise,
    parse_ebur128_summary,
    parse_input_sample_rate,
    parse_out_time_s,
    video_audio_wav,
)
from media_pipeline.master_many import Target, master_many
from media_pipeline.profiles import PROFILES
from media_pipeline.recordings.probe import probe, streams

from . import media

# Recorded from `ffmpeg -i s.wav -af ebur128=peak=true:framelog=verbose -f null -` (ffmpeg 5.1).
RECORDED_STDERR = """\
Input #0, wav, from 's.wav':
  Duration: 00:00:06.33, bitrate: 352 kb/s
  Stream #0:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 22050 Hz, mono, s16, 352 kb/s
Stream mapping:
  Stream #0:0 -> #0:0 (pcm_s16le (native) -> pcm_s16le (native))
Output #0, null, to 'pipe:':
size=N/A time=00:00:06.32 bitrate=N/A speed= 107x
video:0kB audio:273kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: unknown
[Parsed_ebur128_0 @ 0x55829fbb1980] Summary:

  Integrated loudness:
    I:         -18.8 LUFS
    Threshold: -28.9 LUFS

  Loudness range:
    LRA:         1.1 LU
    Threshold: -39.0 LUFS
    LRA low:   -19.5 LUFS
    LRA high:  -18.4 LUFS

  True peak:
    Peak:        0.0 dBFS
"""

SILENCE_SUMMARY = """\
[Parsed_ebur128_0 @ 0x5581] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS

  Loudness range:
    LRA:         0.0 LU
    Threshold:   0.0 LUFS
    LRA low:     0.0 LUFS
    LRA high:    0.0 LUFS

  True peak:
    Peak:       -inf dBFS
"""


def test_parse_recorded_summary():
    assert parse_ebur128_summary(RECORDED_STDERR) == Loudness(-18.8, 1.1, 0.0)
    silent = parse_ebur128_summary(SILENCE_SUMMARY)
    assert silent.integrated_lufs == -70.0 and silent.true_peak_dbtp == float("-inf")
    # Two meters in one graph: the last summary is the one that counts.
    assert parse_ebur128_summary(RECORDED_STDERR + SILENCE_SUMMARY).integrated_lufs == -70.0
    with pytest.raises(PipelineError, match="no ebur128 summary"):
        parse_ebur128_summary(RECORDED_STDERR.split("[Parsed")[0])


def test_parse_progress_and_stream_rate():
    progress = "out_time_us=100000\nprogress=continue\nout_time_us=6328798\nprogress=end\n"
    assert parse_out_time_s(progress) == pytest.approx(6.328798)
    assert parse_out_time_s("") == 0.0
    assert parse_input_sample_rate(RECORDED_STDERR) == 22050
    assert parse_input_sample_rate("no streams") is None


def test_argv_and_encoder():
    assert measure_argv("in.wav", ["aresample=48000"]) == [
        "-nostats", "-progress", "pipe:1", "-i", "in.wav", "-map", "0:a:0",
        "-af", "aresample=48000,ebur128=peak=true:framelog=verbose", "-f", "null", "-",
    ]  # fmt: skip
    assert encoder_name("x.mp3", ("-c:a", "libmp3lame", "-b:a", "64k")) == "libmp3lame"
    assert encoder_name(Path("x.flac"), ()) == "flac"


def test_measure_a_known_tone(tmp_path):
    # A 1 kHz sine peaking at −20 dBFS reads −23.0 LUFS (BS.1770's calibration), TP −20.
    wav = media.write_wav(tmp_path / "tone.wav", media.tone(1000, 3000, amplitude=0.1))
    result = measure_loudness(wav)
    assert result.integrated_lufs == pytest.approx(-23.0, abs=0.1)
    assert result.true_peak_dbtp == pytest.approx(-20.0, abs=0.1)


def test_errors_name_the_file_and_keep_stderr(tmp_path):
    missing = tmp_path / "nowhere.wav"
    with pytest.raises(PipelineError, match="nowhere.wav") as info:
        normalise(missing, tmp_path / "out.wav")
    assert "找不到" in str(info.value)
    with pytest.raises(PipelineError, match="nowhere.wav"):
        measure_loudness(missing)
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio at all")
    with pytest.raises(ToolFailed) as failed:
        normalise(junk, tmp_path / "out.wav")
    assert "Invalid data" in failed.value.stderr
    assert not (tmp_path / "out.wav").exists()
    quiet = media.write_wav(tmp_path / "quiet.wav", media.silence(3000))
    with pytest.raises(PipelineError, match="silent"):
        normalise(quiet, tmp_path / "out.wav")


@pytest.fixture(scope="module")
def speech_inputs(tmp_path_factory):
    """espeak-ng speech: quiet (≈ −35 LUFS), hot (peaks ≈ 0 dBFS), 3 s, and 40 s."""
    d = tmp_path_factory.mktemp("speech")
    media.speech(d / "base.wav")
    base = measure_loudness(d / "base.wav")
    short = d / "short.wav"
    tools.DEFAULT_TOOLS.ffmpeg(
        "-i", str(d / "base.wav"), "-t", "3", "-c:a", "pcm_s16le", str(short)
    )
    return {
        "quiet": media.speech(d / "quiet.wav", gain_db=-35 - base.integrated_lufs),
        "hot": media.speech(d / "hot.wav", gain_db=-0.1 - base.true_peak_dbtp),
        "3s": short,
        "40s": media.speech(d / "long.wav", repeat=8),
    }


EXPECTED_FORMAT = {
    "loudspeaker": ("mp3", 44100),
    "web": ("opus", 48000),
    "archive": ("flac", 48000),
}


@pytest.mark.slow
@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("clip", ["quiet", "hot", "3s", "40s"])
def test_profile_output_meets_its_target(tmp_path, speech_inputs, profile, clip):
    spec = PROFILES[profile]
    src = speech_inputs[clip]
    assert clip != "quiet" or measure_loudness(src).integrated_lufs == pytest.approx(-35, abs=0.5)
    assert clip != "hot" or measure_loudness(src).true_peak_dbtp > -0.5
    out = tmp_path / f"out.{spec.extension}"
    mastered = spec.apply(src, out)
    assert mastered.path == out and out.is_file()

    info = probe(out)
    (stream,) = streams(info, "audio")
    assert (stream["codec_name"], int(stream["sample_rate"]), stream["channels"]) == (
        *EXPECTED_FORMAT[profile],
        1,
    )
    # Measured independently of the value `apply` returned: decode and meter once more.
    proc = tools.DEFAULT_TOOLS.ffmpeg("-i", str(out), "-af", "ebur128=peak=true", "-f", "null", "-")
    measured = parse_ebur128_summary(proc.stderr.decode())
    assert measured == mastered.loudness
    assert abs(measured.integrated_lufs - spec.target_lufs) <= 1.0
    assert measured.true_peak_dbtp <= spec.true_peak_dbtp
    with wave.open(str(src)) as wav:
        assert mastered.duration_s == pytest.approx(wav.getnframes() / wav.getframerate(), abs=0.03)


@pytest.mark.slow
def test_ffmpeg_runs_per_profile(speech_inputs, tmp_path):
    # measure, meter the chain (filters/limiter), render (+meter), decode-and-meter if lossy.
    budget = {"loudspeaker": 4, "web": 4, "archive": 3}
    loudness._measure_source_cached.cache_clear()
    for name, spec in PROFILES.items():
        tools.CALLS.clear()
        spec.apply(speech_inputs["hot"], tmp_path / f"o.{spec.extension}")
        assert tools.CALLS["ffmpeg"] <= budget[name], name
    tools.CALLS.clear()
    video_audio_wav(speech_inputs["hot"], tmp_path / "v.wav")
    assert tools.CALLS["ffmpeg"] <= 2  # the source was measured once, for the first profile


@pytest.mark.slow
def test_unknown_encoder_is_corrected_once(speech_inputs, tmp_path):
    # libshine decodes ~1 dB louder than it was fed and is not in the encoder table: the
    # verification sees it and one correction round brings it back.
    loudness._measure_source_cached.cache_clear()
    tools.CALLS.clear()
    result = normalise(
        speech_inputs["hot"],
        tmp_path / "shine.mp3",
        codec_args=("-c:a", "libshine", "-b:a", "64k"),
        sample_rate=48000,
        channels=1,
    )
    assert tools.CALLS["ffmpeg"] == 6
    assert abs(result.integrated_lufs + 16) <= 0.5 and result.true_peak_dbtp <= -1.0


def test_video_audio_wav(tmp_path):
    out = tmp_path / "video.wav"
    result = video_audio_wav(media.speech(tmp_path / "speech.wav"), out)
    with wave.open(str(out)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (1, 48000, 2)
    assert abs(result.integrated_lufs + 16) <= 1.0 and result.true_peak_dbtp <= -1.5
    assert measure_loudness(out) == result


def tone_levels(samples: np.ndarray, rate: int, freqs) -> list[float]:
    """Spectral level (dB) at each frequency, from one windowed FFT."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    bins = np.fft.rfftfreq(len(samples), 1 / rate)
    return [20 * np.log10(spectrum[np.abs(bins - f) < 15].max()) for f in freqs]


@pytest.mark.slow
def test_loudspeaker_band_limit(tmp_path):
    # Equal 60 Hz, 1 kHz and 10 kHz tones in; the horn band keeps only the 1 kHz one.
    t = np.arange(48000 * 4) / 48000
    mix = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (60, 1000, 10000))
    src = media.write_wav(tmp_path / "tones.wav", mix)
    out = PROFILES["loudspeaker"].apply(src, tmp_path / "tones.mp3").path
    decoded, rate = media.decode_wav(out, tmp_path / "decoded.wav", 44100)
    low, mid, high = tone_levels(decoded[rate : 3 * rate], rate, (60, 1000, 10000))
    assert low < mid - 40
    assert high < mid - 20


@pytest.mark.slow
def test_mastering_keeps_timing(tmp_path):
    # Tone bursts at known instants must still start there in every mastered copy
    # (subtitle cues are made from the narration's timings).
    onsets_ms = (500, 1700, 2900)
    samples = media.silence(4000)
    for start in onsets_ms:
        burst = media.tone(1000, 400, amplitude=0.5)
        samples[start * 48 : start * 48 + len(burst)] = burst
    src = media.write_wav(tmp_path / "bursts.wav", samples)
    for name, spec in PROFILES.items():
        out = spec.apply(src, tmp_path / f"b.{spec.extension}").path
        decoded, rate = media.decode_wav(out, tmp_path / f"{name}.wav")
        loud = np.abs(decoded) > 0.05
        found = [
            int(np.flatnonzero(loud[round((t - 200) * rate / 1000) :])[0]) * 1000 / rate + t - 200
            for t in onsets_ms
        ]
        for expected, got in zip(onsets_ms, found, strict=True):
            assert abs(got - expected) <= 5, (name, expected, got)


# ------------------------------------------------------------------ several outputs at once


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["quiet", "hot", "40s"])
def test_integrated_loudness_computed_here_agrees_with_ebur128(speech_inputs, clip):
    samples, rate = media.read_wav(speech_inputs[clip])
    assert integrated_loudness(samples, rate) == pytest.approx(
        measure_loudness(speech_inputs[clip]).integrated_lufs, abs=0.1
    )


def test_integrated_loudness_of_a_tone_and_of_silence():
    # BS.1770's calibration: a 1 kHz sine peaking at −20 dBFS reads −23.0 LUFS, at any rate.
    for rate in (48000, 44100, 22050):
        tone = media.tone(1000, 3000, amplitude=0.1, sample_rate=rate)
        assert integrated_loudness(tone, rate) == pytest.approx(-23.0, abs=0.05)
    assert integrated_loudness(media.silence(3000), 48000) == -70.0
    assert integrated_loudness(media.tone(1000, 300), 48000) == -70.0  # shorter than a block


def _targets(tmp_path: Path) -> list[Target]:
    from media_pipeline.video import AUDIO_CODEC_ARGS

    profiles = [
        spec.target(tmp_path / f"{name}.{spec.extension}") for name, spec in PROFILES.items()
    ]
    return [*profiles, Target(tmp_path / "video.m4a", AUDIO_CODEC_ARGS, 48000, verify=False)]


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["quiet", "hot", "3s"])
def test_master_many_meets_every_target_in_three_runs(tmp_path, speech_inputs, clip):
    src = speech_inputs[clip]
    samples, rate = media.read_wav(src)
    targets = _targets(tmp_path)
    tools.CALLS.clear()
    made = master_many(src, targets, source_lufs=integrated_loudness(samples, rate))
    # One run meters every chain, one writes every file, one meters the lossy files.
    assert tools.CALLS["ffmpeg"] == 3
    assert [m.path for m in made] == [t.path for t in targets]
    for (name, spec), result in zip(PROFILES.items(), made, strict=False):
        (stream,) = streams(probe(result.path), "audio")
        assert (stream["codec_name"], int(stream["sample_rate"]), stream["channels"]) == (
            *EXPECTED_FORMAT[name],
            1,
        )
        # Measured independently of the value reported: decode and meter once more.
        proc = tools.DEFAULT_TOOLS.ffmpeg(
            "-i", str(result.path), "-af", "ebur128=peak=true", "-f", "null", "-"
        )
        measured = parse_ebur128_summary(proc.stderr.decode())
        assert measured == result.loudness, name
        assert abs(measured.integrated_lufs - spec.target_lufs) <= 1.0, name
        assert measured.true_peak_dbtp <= spec.true_peak_dbtp, name
        assert result.duration_s == pytest.approx(len(samples) / rate, abs=0.001)
    video = made[-1]
    assert video.loudness is None  # not verified: it shares the web and archive files' chain
    (stream,) = streams(probe(video.path), "audio")
    assert (stream["codec_name"], stream["sample_rate"]) == ("aac", "48000")
    assert not list(tmp_path.glob(".*part*"))


@pytest.mark.slow
def test_master_many_measures_the_source_itself_when_not_told(tmp_path, speech_inputs):
    loudness._measure_source_cached.cache_clear()
    tools.CALLS.clear()
    (made,) = master_many(speech_inputs["hot"], [PROFILES["archive"].target(tmp_path / "a.flac")])
    assert tools.CALLS["ffmpeg"] == 3  # source meter, chain meter, render (metered in-pass)
    assert abs(made.loudness.integrated_lufs + 16) <= 1.0 and made.loudness.true_peak_dbtp <= -1


@pytest.mark.slow
def test_master_many_corrects_an_unknown_encoder_alone(tmp_path, speech_inputs):
    # libshine decodes ~1 dB louder than it was fed and is not in the encoder table: the
    # verification sees it, and that output alone is rendered and verified once more.
    src = speech_inputs["hot"]
    shine = Target(tmp_path / "shine.mp3", ("-c:a", "libshine", "-b:a", "64k"), 48000)
    archive = PROFILES["archive"].target(tmp_path / "a.flac")
    samples, rate = media.read_wav(src)
    tools.CALLS.clear()
    made = master_many(src, [shine, archive], source_lufs=integrated_loudness(samples, rate))
    assert tools.CALLS["ffmpeg"] == 3 + 2
    for result in made:
        assert abs(result.loudness.integrated_lufs + 16) <= 0.5
        assert result.loudness.true_peak_dbtp <= -1.0


def test_master_many_refuses_silence_and_missing_files(tmp_path):
    quiet = media.write_wav(tmp_path / "quiet.wav", media.silence(3000))
    target = PROFILES["web"].target(tmp_path / "out.opus")
    with pytest.raises(PipelineError, match="silent"):
        master_many(quiet, [target], source_lufs=-70.0)
    with pytest.raises(PipelineError, match="nowhere.wav"):
        master_many(tmp_path / "nowhere.wav", [target])
    assert master_many(quiet, []) == []
    assert not (tmp_path / "out.opus").exists()
