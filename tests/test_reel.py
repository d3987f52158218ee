"""Teaching reel: lyric timing, frame rate and gain as pure functions; real reels probed and looked at."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pysubs2
import pytest

from media_pipeline.errors import PipelineError, SubtitleError
from media_pipeline.loudness import (
    Loudness,
    measure_loudness,
    parse_ebur128_summary,
    video_audio_wav,
)
from media_pipeline.recordings.probe import (
    duration_s,
    probe,
    stream_duration_s,
    streams,
    video_size,
)
from media_pipeline.recordings.reel import (
    AUDIO_ONLY_FPS,
    MAX_LIMITING_DB,
    TRUE_PEAK_DBTP,
    Excerpt,
    LyricLine,
    _load_moviepy,
    excerpt_gain_db,
    lyric_cues,
    make_reel,
    measure_span_argv,
    reel_fps,
)
from media_pipeline.subtitles import build_cues, to_ass
from media_pipeline.tools import DEFAULT_TOOLS, Tools
from media_pipeline.video import TitleCard, render_video
from tests.media import ffmpeg, silence, tone, write_wav

CARD_S, GAP_S, START_S, END_S = 3.0, 0.5, 2.0, 6.0
REEL_S = CARD_S + GAP_S + (END_S - START_S)
EXCERPT_AT = CARD_S + GAP_S  # where the excerpt starts in the reel
LYRICS = [
    LyricLine(0.5, 1.5, "不在片段内", "Ai"),  # before the span: left out
    LyricLine(1.5, 3.0, "每晚鸣锣喊寨", "Kgal nyenc lagx xaih"),  # clipped to start at 2.0
    LyricLine(4.5, 5.0, None, "Weex bix wul"),  # Dong only
]
# Reel instants: a lyric is on screen 3.5–4.5 s (from the line 1.5–3.0 s, clipped at 2.0),
# nothing between 4.5 s and 6.0 s (the Dong line 4.5–5.0 s → 6.0–6.5 s).
WITH_LYRIC_T, WITHOUT_LYRIC_T = 4.2, 5.5


def test_lyric_cues_clip_shift_and_filter():
    cues = lyric_cues(LYRICS, START_S, END_S, EXCERPT_AT)
    assert [(c.start_ms, c.end_ms, c.lines, c.dong) for c in cues] == [
        (3500, 4500, ("每晚鸣锣喊寨",), "Kgal nyenc lagx xaih"),
        (6000, 6500, ("Weex bix wul",), None),
    ]
    events = pysubs2.SSAFile.from_string(to_ass(cues)).events
    assert [(e.start, e.end) for e in events] == [(3500, 4500), (6000, 6500)]
    assert events[0].text.startswith("{\\rDong}Kgal nyenc lagx xaih\\N")


def test_lyric_cues_clip_at_span_end_and_split_long_lines():
    long = "每晚由轮值户鸣锣喊寨提醒各家熄灭火塘严禁在木楼旁堆放柴草违者罚款二百元"
    cues = lyric_cues([LyricLine(5.0, 9.0, long, None)], START_S, END_S, 0.0)
    assert cues[0].start_ms == 3000 and cues[-1].end_ms == 4000  # clipped to 6.0 s → 4.0 s
    assert len(cues) >= 2 and all(len(c.lines) <= 2 for c in cues)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(LyricLine(3.0, 3.0, "字", None), id="empty"),
        pytest.param(LyricLine(3.0, 2.0, "字", None), id="backwards"),
    ],
)
def test_lyric_cues_refuse_bad_lines(line):
    with pytest.raises(SubtitleError, match="lyric line ends before it starts"):
        lyric_cues([line], START_S, END_S, 0.0)


@pytest.mark.parametrize(
    ("video", "expected"),
    [
        pytest.param({"avg_frame_rate": "25/1"}, 25.0, id="pal"),
        pytest.param({"avg_frame_rate": "30000/1001"}, 29.97, id="ntsc"),
        pytest.param({"avg_frame_rate": "60/1"}, 30.0, id="60-halved"),
        pytest.param({"avg_frame_rate": "50/1"}, 25.0, id="50-halved"),
        pytest.param({"avg_frame_rate": "0/0", "r_frame_rate": "24/1"}, 24.0, id="avg-unknown"),
        pytest.param({"avg_frame_rate": "0/0"}, AUDIO_ONLY_FPS, id="unknown"),
        pytest.param(None, AUDIO_ONLY_FPS, id="audio-only"),
    ],
)
def test_reel_fps(video, expected):
    info = {"streams": [{"codec_type": "video", **video}] if video else []}
    assert reel_fps(info) == expected


@pytest.mark.parametrize(
    ("card", "excerpt", "expected"),
    [
        pytest.param(-16.0, (-26.0, -12.0), 10.0, id="quiet-raised"),
        pytest.param(-16.0, (-10.0, -0.5), -6.0, id="loud-lowered"),
        pytest.param(-16.0, (-30.0, -3.0), TRUE_PEAK_DBTP + MAX_LIMITING_DB + 3.0, id="peaks-cap"),
        pytest.param(-70.0, (-20.0, -8.0), 4.0, id="silent-card-default-target"),
        pytest.param(-16.0, (-70.0, -90.0), 0.0, id="silent-span"),
    ],
)
def test_excerpt_gain_db(card, excerpt, expected):
    gain = excerpt_gain_db(Loudness(card, 5.0, -2.0), Loudness(excerpt[0], 5.0, excerpt[1]))
    assert gain == pytest.approx(expected)


def test_moviepy_runs_our_ffmpeg(tmp_path, monkeypatch):
    """moviepy is pointed at the ffmpeg `Tools` names (KUANYUE_FFMPEG), not imageio's bundled one."""
    mp = _load_moviepy(DEFAULT_TOOLS)
    writer = sys.modules["moviepy.video.io.ffmpeg_writer"]
    assert shutil.which("ffmpeg") == writer.FFMPEG_BINARY
    clip_path = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=160x90:r=10:d=1", "-pix_fmt", "yuv420p", str(clip_path))
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "my-ffmpeg"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {shutil.which("ffmpeg")} "$@"\n')
    wrapper.chmod(0o755)
    try:
        mp = _load_moviepy(Tools(ffmpeg_program=str(wrapper)))
        with mp.VideoFileClip(str(clip_path)) as clip:
            clip.get_frame(0.5)
        assert "image2pipe" in log.read_text()
    finally:
        _load_moviepy(
            DEFAULT_TOOLS
        )  # rebind Debian's ffmpeg for whatever runs next in this process


# --- real reels --------------------------------------------------------------------------


def _card(tmp: Path) -> Path:
    """A 3 s clause card the way the pipeline makes it: VFR, mastered to −16 LUFS, subtitled."""
    raw = write_wav(
        tmp / "narration.wav", np.concatenate([tone(440, 2800, amplitude=0.3), silence(200)])
    )
    video_audio_wav(raw, tmp / "narration16.wav")
    cues = build_cues(["严禁在木楼旁堆放柴草"], [(1000, 2800)])
    title = TitleCard("榕溪村", "榕溪村村规民约", "第三条", "消防安全", card_ms=900)
    render_video(tmp / "narration16.wav", cues, title, tmp / "card.mp4", tmp / "card.png")
    return tmp / "card.mp4"


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """The card, three video recordings of other shapes, an audio recording and its still."""
    tmp = tmp_path_factory.mktemp("reel-media")
    out = {"card": _card(tmp)}
    for name, size in (("wide", "640x360"), ("four-three", "720x540"), ("portrait", "720x1280")):
        out[name] = tmp / f"{name}.mp4"
        # Quiet (a sine at −30 dB, ~−51 LUFS), stereo, 30 fps: the reel must raise it to the card.
        ffmpeg(
            "-f", "lavfi", "-i", f"testsrc2=s={size}:r=30:d=8",
            "-f", "lavfi", "-i", "sine=f=330:d=8:sample_rate=44100",
            "-af", "volume=-30dB", "-ac", "2", "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out[name]),
        )  # fmt: skip
    out["song"] = tmp / "song.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=f=550:d=8", "-af", "volume=-6dB", str(out["song"]))
    out["still"] = tmp / "still.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=0x303848:s=400x300", "-frames:v", "1", str(out["still"]))
    return out


def _gray_frame(path: Path, t: float, size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    """The luma plane of the frame shown at `t` seconds."""
    raw = ffmpeg(
        "-ss", f"{t}", "-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.uint8).reshape(size[1], size[0])


def _span_lufs(path: Path, start: float, end: float) -> float:
    proc = ffmpeg(*measure_span_argv(path, start, end, 2))
    return parse_ebur128_summary(proc.stderr.decode()).integrated_lufs


def _check_outputs(result, out_mp4: Path, out_mp3: Path) -> None:
    assert result.video == out_mp4 and result.audio == out_mp3
    assert result.duration_s == pytest.approx(REEL_S, abs=0.15)
    info = probe(out_mp4)
    (video,), (audio,) = streams(info, "video"), streams(info, "audio")
    assert (video["codec_name"], video["pix_fmt"], audio["codec_name"]) == (
        "h264",
        "yuv420p",
        "aac",
    )
    assert video_size(info) == (1280, 720)
    for seconds in (duration_s(info), stream_duration_s(video), stream_duration_s(audio)):
        assert seconds == pytest.approx(REEL_S, abs=0.15)
    data = out_mp4.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "not faststart"
    # Loudspeakers: mono MP3 at −16 LUFS.
    (mp3,) = streams(probe(out_mp3), "audio")
    assert (mp3["codec_name"], mp3["channels"]) == ("mp3", 1)
    assert measure_loudness(out_mp3).integrated_lufs == pytest.approx(-16.0, abs=1.0)
    # Screens: the excerpt (recorded ~35 LU quieter) plays as loud as the card.
    card = _span_lufs(out_mp4, 0.3, CARD_S - 0.3)
    excerpt = _span_lufs(out_mp4, EXCERPT_AT + 0.4, REEL_S - 0.4)
    assert excerpt == pytest.approx(card, abs=1.0)
    assert not list(out_mp4.parent.glob(".*.part*")), "temporary files left behind"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("recording", "bars"),
    [
        pytest.param("wide", 0, id="16x9-fills"),
        pytest.param("four-three", 160, id="4x3-pillarbox"),
        pytest.param("portrait", 437, id="portrait-pillarbox"),
    ],
)
def test_reel_of_a_video_recording(media, tmp_path, recording, bars):
    out_mp4, out_mp3 = tmp_path / "out" / "reel.mp4", tmp_path / "out" / "reel.mp3"
    excerpt = Excerpt(media[recording], START_S, END_S, is_video=True)
    result = make_reel(media["card"], excerpt, LYRICS, out_mp4, out_mp3, gap_s=GAP_S)
    _check_outputs(result, out_mp4, out_mp3)
    frame = _gray_frame(out_mp4, EXCERPT_AT + 1.5).astype(float)
    left = frame[:, : max(bars - 8, 0)]
    assert bars == 0 or left.max() < 24, "letterbox bars should be black"
    assert frame[:, bars + 8 : bars + 40].mean() > 40, "the picture should start after the bars"
    assert _gray_frame(out_mp4, CARD_S + GAP_S / 2).max() < 24, "the pause should be black"


@pytest.mark.slow
def test_reel_of_an_audio_recording_shows_its_still_and_lyrics(media, tmp_path):
    out_mp4, out_mp3 = tmp_path / "reel.mp4", tmp_path / "reel.mp3"
    excerpt = Excerpt(media["song"], START_S, END_S, is_video=False, still=media["still"])
    result = make_reel(media["card"], excerpt, LYRICS, out_mp4, out_mp3, gap_s=GAP_S)
    _check_outputs(result, out_mp4, out_mp3)
    with_lyric = _gray_frame(out_mp4, WITH_LYRIC_T).astype(float)
    without = _gray_frame(out_mp4, WITHOUT_LYRIC_T).astype(float)
    lower, upper = slice(480, 720), slice(100, 400)
    # The still (flat slate, letterboxed 4:3) fills the picture; only lyrics change it.
    assert np.abs(with_lyric[upper] - without[upper]).max() < 8
    assert without[lower, 200:1080].std() < 3, "no subtitle expected here"
    bright = (with_lyric[lower] > 180).sum()
    assert bright > 800, f"expected subtitle glyphs in the lower third, found {bright} pixels"


# --- refused input -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict[str, Path]:
    """A 1 s card and a 2 s audio recording: enough to be probed, too small to matter."""
    tmp = tmp_path_factory.mktemp("reel-small")
    card, song = tmp / "card.mp4", tmp / "song.m4a"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=s=320x180:r=10:d=1", "-f", "lavfi", "-i", "sine=d=1",
        "-pix_fmt", "yuv420p", "-shortest", str(card),
    )  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "sine=d=2", str(song))
    return {"card": card, "song": song, "missing": tmp / "nope.mp4"}


@pytest.mark.parametrize(
    ("card", "recording", "start", "end", "is_video", "lyrics", "message"),
    [
        pytest.param("missing", "song", 0, 1, False, [], "clause video not found", id="no-card"),
        pytest.param("card", "missing", 0, 1, False, [], "recording not found", id="no-recording"),
        pytest.param("card", "song", 1.5, 1.5, False, [], "must end after it starts", id="empty-span"),
        pytest.param("card", "song", 1.5, 1.0, False, [], "must end after it starts", id="backwards"),
        pytest.param("card", "song", 1.0, 3.0, False, [], "outside the recording", id="past-end"),
        pytest.param("card", "song", -1.0, 1.0, False, [], "outside the recording", id="before-start"),
        pytest.param("card", "song", 0, 1, True, [], "no video stream", id="audio-as-video"),
        pytest.param("song", "song", 0, 1, False, [], "needs video and audio", id="card-without-video"),
        pytest.param("card", "song", 0, 1, False, [LyricLine(0.5, 0.2, "字", None)],
                     "lyric line ends before it starts", id="bad-lyric"),
    ],
)  # fmt: skip
def test_refused_input(small, tmp_path, card, recording, start, end, is_video, lyrics, message):
    out_mp4, out_mp3 = tmp_path / "reel.mp4", tmp_path / "reel.mp3"
    excerpt = Excerpt(small[recording], start, end, is_video)
    with pytest.raises(PipelineError, match=message) as info:
        make_reel(small[card], excerpt, lyrics, out_mp4, out_mp3)
    assert " / " in str(info.value)  # Chinese, then English
    assert not out_mp4.exists() and not out_mp3.exists()


def test_refused_missing_still_and_bad_size(small, tmp_path):
    excerpt = Excerpt(small["song"], 0, 1, False, still=tmp_path / "poster.png")
    with pytest.raises(PipelineError, match="still image not found"):
        make_reel(small["card"], excerpt, [], tmp_path / "r.mp4", tmp_path / "r.mp3")
    with pytest.raises(PipelineError, match="frame size must be even"):
        make_reel(
            small["card"], Excerpt(small["song"], 0, 1, False), [], tmp_path / "r.mp4",
            tmp_path / "r.mp3", size=(1281, 720),
        )  # fmt: skip
