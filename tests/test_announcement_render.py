"""Rendering announcements (media_pipeline.announcement): real espeak-ng and ffmpeg, generated
media only. Renders ask for few profiles and one video size where more would prove nothing."""

from __future__ import annotations

import dataclasses
import os
import re
import threading
from pathlib import Path

import numpy as np
import pysubs2
import pytest

from media_pipeline import announcement
from media_pipeline.announcement import (
    AnnouncementJob,
    decode_voice_args,
    render_announcement,
    spread_timings,
)
from media_pipeline.audio import CHIME_GAP_MS, assemble_narration, make_ding_dong, make_gong
from media_pipeline.errors import PipelineError
from media_pipeline.jobs import ClauseJob, RenderOptions
from media_pipeline.recordings.probe import duration_s, probe
from media_pipeline.text import split_phrases
from tests.media import ffmpeg, read_wav, rms_db, speech, tone, write_wav

TEXT = "今晚轮到杨老三家鸣锣喊寨，请各家各户检查火塘，出门前关好电源。"
DONG = "Weex meec dih bix jenc"
HANZI = re.compile(r"[\u4e00-\u9fff]")
# Only the lossless file: enough to measure, one encoder.
ARCHIVE_ONLY = RenderOptions(profiles=("archive",), video_sizes=())
# Assembly's fixed layout (audio.assemble_narration's defaults), in seconds.
LEAD_IN_S, TAIL_S, GAP_S = 0.3, 0.6, CHIME_GAP_MS / 1000
INTRO_S = {"gong": 2.2 + GAP_S, "chime": 1.7 + GAP_S, "none": 0.0}


def job(**changes: object) -> AnnouncementJob:
    """A gong-round call; `changes` replace its fields."""
    base = AnnouncementJob(
        key="announcement-1",
        text_zh=TEXT,
        heading="鸣锣喊寨",
        village="高定村",
        kind_label="鸣锣喊寨 / gong round",
        options=ARCHIVE_ONLY,
    )
    return dataclasses.replace(base, **changes)


def voice_job(voice: Path, **changes: object) -> AnnouncementJob:
    """`job` made from the recording `voice` (its sha256 a stand-in: nothing reads it here)."""
    return job(voice=str(voice), voice_sha256="a" * 64, **changes)


def render(j: AnnouncementJob, tmp_path: Path, name: str = "out"):  # noqa: ANN201
    return render_announcement(j, tmp_path / "cache", tmp_path / name)


def by_kind(out) -> dict:  # noqa: ANN001
    return {f.kind: f for f in out.files}


def decoded(path: Path, tmp_path: Path) -> tuple[np.ndarray, int]:
    """Any audio file as mono 48 kHz samples."""
    wav = tmp_path / f"{path.stem}-decoded.wav"
    ffmpeg("-i", str(path), "-ac", "1", "-ar", "48000", "-c:a", "pcm_s16le", str(wav))
    return read_wav(wav)


def window(samples: np.ndarray, rate: int, start_s: float, end_s: float) -> np.ndarray:
    return samples[round(start_s * rate) : round(end_s * rate)]


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def probed_s(path: Path) -> float:
    return duration_s(probe(path))


# ---------------------------------------------------------------------------- pure parts


def test_clause_keys_are_what_they_were_before_intros() -> None:
    # Digests computed with the code before `intro` existed: stored clauses keep their media.
    plain = ClauseJob("k", 1, "不得倒入河中", None, "村", "公约", "第一条", "环境", RenderOptions())
    assert plain.inputs_hash() == "8d3d7546ec0a9dc208b1dfa4632cc9ca0376a976dcbe1daff5a415b106c6d8c5"
    quiet = ClauseJob(
        "clause-3", 3, "每户每晚须熄灭火塘。", "Dong wenp", "高定村", "高定村村规民约", "第三条",
        "消防安全", RenderOptions(chime=False, profiles=("web",), video_sizes=()),
        readings=(("火塘", "huo3 tang2"),), chapter="第一章 消防",
    )  # fmt: skip
    assert quiet.inputs_hash() == "00735a84045bd094d9197b4750775c5193d398bf11c6f8ec50fa5c20838ecd1c"
    gong = dataclasses.replace(plain, options=RenderOptions(intro="gong"))
    chime = dataclasses.replace(plain, options=RenderOptions(intro="chime"))
    assert gong.inputs_hash() == plain.inputs_hash() != chime.inputs_hash()
    # No intro at all sounds the same whichever kind it names.
    off = dataclasses.replace(plain, options=RenderOptions(chime=False))
    off_chime = dataclasses.replace(plain, options=RenderOptions(chime=False, intro="chime"))
    assert off.inputs_hash() == off_chime.inputs_hash()


def test_an_unknown_intro_is_refused_clearly() -> None:
    for make in (
        lambda: RenderOptions(intro="bell"),
        lambda: job(intro="bell"),
        lambda: assemble_narration([Path("x.wav")], [], Path("n.wav"), intro="bell"),
    ):
        with pytest.raises(
            PipelineError, match=r"未知的开场音.*'bell'.*gong、chime、none.*unknown intro"
        ):
            make()


def test_announcement_key_follows_text_intro_and_voice_bytes_not_path() -> None:
    base = voice_job(Path("/a/voice.wav"))
    same = [
        dataclasses.replace(base, voice="/elsewhere/copy.m4a"),  # the path does not count
        dataclasses.replace(base, key="announcement-99"),
        # A recording is not synthesised: the engine settings change nothing.
        dataclasses.replace(base, options=dataclasses.replace(ARCHIVE_ONLY, engine="gtts")),
        # The job's intro decides, not the options'.
        dataclasses.replace(base, options=dataclasses.replace(ARCHIVE_ONLY, intro="chime")),
    ]
    different = [
        dataclasses.replace(base, text_zh=TEXT + "谢谢。"),
        dataclasses.replace(base, intro="chime"),
        dataclasses.replace(base, intro="none"),
        dataclasses.replace(base, voice_sha256="b" * 64),
        dataclasses.replace(base, text_dong=DONG),
        dataclasses.replace(base, heading="紧急通知"),
        dataclasses.replace(base, voice=None, voice_sha256=None),  # synthesised instead
        dataclasses.replace(base, options=dataclasses.replace(ARCHIVE_ONLY, profiles=("web",))),
    ]
    assert {j.inputs_hash() for j in same} == {base.inputs_hash()}
    hashes = [j.inputs_hash() for j in different]
    assert base.inputs_hash() not in hashes and len(set(hashes)) == len(hashes)
    synthesised = job()
    assert dataclasses.replace(synthesised, options=RenderOptions()).inputs_hash() != (
        synthesised.inputs_hash()
    )
    # An announcement never shares a key with a clause of the same words.
    assert synthesised.inputs_hash() != synthesised.clause_job().inputs_hash()


def test_a_voice_needs_its_hash_and_a_text() -> None:
    with pytest.raises(PipelineError, match="sha256"):
        job(voice="/a/voice.wav")
    with pytest.raises(PipelineError, match="通知内容为空 / the announcement text is empty"):
        job(text_zh="  ")


def test_ding_dong_is_two_bell_tones_a_third_apart() -> None:
    ding = make_ding_dong()
    assert ding.raw_data == make_ding_dong().raw_data  # deterministic
    samples = np.array(ding.get_array_of_samples(), dtype=float) / 32768
    rate = ding.frame_rate
    assert 1.2 < len(samples) / rate < 2.0  # short: an intro, not a tune
    first, second = window(samples, rate, 0.05, 0.45), window(samples, rate, 0.55, 0.95)
    assert abs(dominant_hz(first, rate) - 659.3) < 5  # E5, then
    assert abs(dominant_hz(second, rate) - 523.3) < 5  # C5: a major third below
    # A soft attack (no click), and it decays to nothing at the end.
    assert np.max(np.abs(samples[:48])) < 0.3 * np.max(np.abs(samples))
    assert rms_db(samples[-480:]) < rms_db(samples) - 30
    assert dominant_hz(np.array(make_gong().get_array_of_samples(), float), rate) < 400


def test_spread_timings_share_the_span_by_characters() -> None:
    spans = spread_timings(["一二三四，", "五六。", "七八九十"], 1000, 2000)
    assert spans == [(1000, 1400), (1400, 1600), (1600, 2000)]
    assert spread_timings(["甲", "乙", "丙"], 0, 3) == [(0, 1), (1, 2), (2, 3)]
    with pytest.raises(PipelineError, match="too short"):
        spread_timings(["甲", "乙", "丙"], 0, 2)


def test_decode_arguments_take_the_first_audio_stream_as_mono_48k() -> None:
    argv = decode_voice_args("file:/proc/1/fd/3", Path("/w/voice.wav"))
    assert argv[:3] == ["-nostats", "-i", "file:/proc/1/fd/3"]
    assert argv[argv.index("-map") + 1] == "0:a:0"
    assert argv[argv.index("-t") + 1] == "601"
    tail = ["-ac", "1", "-ar", "48000", "-c:a", "pcm_s16le", "-f", "wav", "/w/voice.wav"]
    assert argv[-len(tail) :] == tail


# ---------------------------------------------------------------------------- rendering


@pytest.mark.slow
def test_synthesised_announcement_renders_every_requested_file(tmp_path) -> None:
    options = RenderOptions(video_sizes=("16x9",))  # every audio profile, one video size
    out = render(job(intro="gong", text_dong=DONG, options=options), tmp_path)
    files = by_kind(out)
    assert set(files) == {
        "audio-loudspeaker", "audio-web", "audio-archive", "subtitles-srt", "subtitles-vtt",
        "subtitles-ass", "video-16x9", "poster-16x9",
    }  # fmt: skip
    for made in files.values():
        assert Path(made.path).is_file() and Path(made.path).stat().st_size > 0, made.kind
    # The gong, the heading and three phrases of espeak speech.
    assert 6 < out.duration_s < 20
    assert out.engine == "espeak" and out.key == "announcement-1" and out.synthesised > 0
    for kind in ("audio-loudspeaker", "audio-web", "audio-archive", "video-16x9"):
        assert files[kind].duration_s == pytest.approx(out.duration_s, abs=0.1), kind
        assert probed_s(Path(files[kind].path)) == pytest.approx(out.duration_s, abs=0.15), kind
    for kind in ("audio-loudspeaker", "audio-web", "audio-archive"):
        assert files[kind].integrated_lufs == pytest.approx(-16, abs=1), kind
        assert files[kind].true_peak_dbtp <= -0.9, kind
    subs = pysubs2.load(files["subtitles-srt"].path)
    assert subs[0].plaintext == "鸣锣喊寨"  # the heading is said and shown first
    assert DONG.split()[0] in Path(files["subtitles-vtt"].path).read_text(encoding="utf-8")
    assert all(0 <= a.start < a.end <= b.start for a, b in zip(subs, subs[1:], strict=False))


@pytest.mark.slow
def test_gong_chime_and_none_open_differently(tmp_path) -> None:
    heard = {}
    for intro in ("gong", "chime", "none"):
        out = render(job(intro=intro), tmp_path, intro)
        files = by_kind(out)
        samples, rate = decoded(Path(files["audio-archive"].path), tmp_path)
        first_cue_s = pysubs2.load(files["subtitles-srt"].path)[0].start / 1000
        heard[intro] = (out.duration_s, first_cue_s, samples, rate)
    # The same speech after each: only the intro (and its gap) differs in length.
    none_s, none_cue_s, none_samples, rate = heard["none"]
    for intro in ("gong", "chime"):
        assert heard[intro][0] - none_s == pytest.approx(INTRO_S[intro], abs=0.02), intro
        assert heard[intro][1] - none_cue_s == pytest.approx(INTRO_S[intro], abs=0.02), intro
    assert none_cue_s < LEAD_IN_S + 0.1  # no intro: speech right after the lead-in
    for intro, (_, _, samples, rate) in heard.items():
        assert rms_db(window(samples, rate, 0, LEAD_IN_S - 0.05)) < -60, intro  # the lead-in
    # Before the first word, the intro sounds: the gong's 330 Hz, the chime's E5.
    for intro, expected_hz in (("gong", 330), ("chime", 659.3)):
        _, _, samples, rate = heard[intro]
        opening = window(samples, rate, LEAD_IN_S + 0.05, LEAD_IN_S + 0.45)
        assert rms_db(opening) > -35, intro
        assert dominant_hz(opening, rate) == pytest.approx(expected_hz, abs=15), intro


@pytest.mark.slow
def test_voice_announcement_puts_the_intro_before_the_recording(tmp_path) -> None:
    voice = speech(tmp_path / "voice.wav", repeat=2)  # espeak-ng, 22.05 kHz, ~9 s
    samples, rate = read_wav(voice)
    loud = np.flatnonzero(np.abs(samples) > 0.01 * np.max(np.abs(samples)))
    audible_s = (loud[-1] - loud[0]) / rate
    options = RenderOptions(profiles=("archive", "loudspeaker"), video_sizes=("9x16",))
    out = render(voice_job(voice, intro="chime", text_dong=DONG, options=options), tmp_path)
    files = by_kind(out)
    assert set(files) == {
        "audio-archive", "audio-loudspeaker", "subtitles-srt", "subtitles-vtt", "subtitles-ass",
        "video-9x16", "poster-9x16",
    }  # fmt: skip
    assert (out.engine, out.voice, out.synthesised) == ("recording", "a" * 64, 0)
    expected_s = LEAD_IN_S + INTRO_S["chime"] + audible_s + TAIL_S
    assert out.duration_s == pytest.approx(expected_s, abs=0.1)
    for kind in ("audio-archive", "audio-loudspeaker", "video-9x16"):
        assert probed_s(Path(files[kind].path)) == pytest.approx(out.duration_s, abs=0.15), kind
    assert files["audio-archive"].integrated_lufs == pytest.approx(-16, abs=1)

    # The cues follow the typed text in order and cover the voice from its first sound to
    # its last, one after another (spread by characters: no alignment).
    subs = pysubs2.load(files["subtitles-srt"].path)
    voice_start_s = LEAD_IN_S + INTRO_S["chime"]
    assert subs[0].start / 1000 == pytest.approx(voice_start_s, abs=0.05)
    assert subs[-1].end / 1000 == pytest.approx(voice_start_s + audible_s, abs=0.05)
    assert all(a.end == b.start for a, b in zip(subs, subs[1:], strict=False))
    shown = "".join(event.plaintext for event in subs)
    assert HANZI.findall(shown) == HANZI.findall(TEXT)  # every character, in order
    assert len(subs) >= len(split_phrases(TEXT))
    assert all(word in shown for word in DONG.split())  # the Dong line, spread over the cues


@pytest.mark.slow
def test_a_video_recording_is_used_for_its_sound(tmp_path) -> None:
    clip = tmp_path / "phone.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "color=c=gray:s=160x120:d=3", "-f", "lavfi",
        "-i", "sine=frequency=220:duration=3", "-shortest", "-c:v", "libx264", "-c:a", "aac",
        str(clip),
    )  # fmt: skip
    out = render(voice_job(clip, intro="none"), tmp_path)
    assert out.duration_s == pytest.approx(LEAD_IN_S + 3 + TAIL_S, abs=0.1)


def assert_refused(tmp_path: Path, voice: Path, *words: str) -> None:
    """Rendering with `voice` fails within seconds, naming the file and saying why."""
    caught: list[BaseException] = []

    def attempt() -> None:
        try:
            render(voice_job(voice), tmp_path)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            caught.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "blocked on the voice file"
    assert caught, "not refused"
    error = caught[0]
    assert isinstance(error, PipelineError), error
    message = str(error)
    assert str(voice) in message
    for word in words:
        assert word in message
    assert not (tmp_path / "out" / "audio-archive.flac").exists()


@pytest.mark.slow
def test_a_fifo_is_refused_without_blocking(tmp_path) -> None:
    fifo = tmp_path / "voice.wav"
    os.mkfifo(fifo)
    assert_refused(tmp_path, fifo, "命名管道（FIFO）", "a named pipe (FIFO)")


@pytest.mark.slow
def test_a_text_file_named_wav_is_refused(tmp_path) -> None:
    fake = tmp_path / "喊寨.wav"
    fake.write_text("这不是录音 / not a recording\n" * 20, encoding="utf-8")
    assert_refused(tmp_path, fake, "不是音频或视频文件", "not an audio or video file")


@pytest.mark.slow
def test_unusable_recordings_are_refused(tmp_path, monkeypatch) -> None:
    silent_video = tmp_path / "no-sound.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=160x120:d=1", "-c:v", "libx264", str(silent_video))
    assert_refused(tmp_path, silent_video, "没有音频流", "no audio stream")
    assert_refused(tmp_path, tmp_path / "missing.wav", "文件不存在", "file not found")
    silent = write_wav(tmp_path / "silent.wav", np.zeros(48000))
    assert_refused(tmp_path, silent, "录音没有声音", "the voice recording is silent")
    empty = tmp_path / "empty.wav"
    empty.touch()
    assert_refused(tmp_path, empty, "文件为空", "file is empty")
    # Over the limit (lowered here: a real 10-minute file would take a while to make).
    long_tone = write_wav(tmp_path / "long.wav", tone(440, 3000))
    monkeypatch.setattr(announcement, "MAX_VOICE_S", 2.0)
    assert_refused(tmp_path, long_tone, "录音太长", "0:03", "voice recording too long")
