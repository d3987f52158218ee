"""Video: frame timing and argv as pure functions; real renders probed, parsed and played."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from media_pipeline.errors import PipelineError
from media_pipeline.probe import duration_s, probe, stream_duration_s, streams, video_size
from media_pipeline.subtitles import Cue, build_cues
from media_pipeline.tools import ffmpeg, run
from media_pipeline.video import (
    FRAME_MS,
    TitleCard,
    build_render_argv,
    frame_times,
    render_video,
)

TITLE = TitleCard("榕溪村", "榕溪村村规民约", "第三条", "消防安全", card_ms=1500)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _cue(start: int, end: int) -> Cue:
    return Cue(start, end, ("字幕",))


@pytest.mark.parametrize(
    ("cues", "card_ms", "duration_ms", "expected"),
    [
        pytest.param([], 0, 5000, [0, 4960], id="no-cues-no-card"),
        pytest.param([_cue(1000, 2000)], 500, 3000, [0, 500, 1000, 2000, 2960], id="one-cue"),
        pytest.param([_cue(1004, 2006)], 0, 3000, [0, 1000, 2010, 2960], id="rounded-like-ass"),
        pytest.param([_cue(1000, 2000), _cue(2020, 2500)], 0, 3000, [0, 1000, 2020, 2500, 2960],
                     id="close-changes-keep-the-later"),
        pytest.param([_cue(1000, 2990)], 0, 3000, [0, 1000, 2960], id="change-in-last-frame-dropped"),
        pytest.param([_cue(0, 800)], 0, 1000, [0, 800, 960], id="cue-at-zero"),
    ],
)  # fmt: skip
def test_frame_times(cues, card_ms, duration_ms, expected):
    times = frame_times(cues, card_ms, duration_ms)
    assert times == expected
    assert times[-1] == duration_ms - FRAME_MS  # the closing frame makes video = audio
    assert all(b - a >= FRAME_MS for a, b in zip(times[1:], times[2:], strict=False))


def test_frame_times_rejects_too_short_audio():
    with pytest.raises(PipelineError, match="/"):
        frame_times([], 0, FRAME_MS)


def test_build_render_argv_is_pure_and_complete():
    argv = build_render_argv(
        Path("/a/narration.wav"),
        Path("/t/burn.ass"),
        Path("/o/clip.mp4"),
        Path("/o/poster.jpg"),
        size=(720, 1280),
        times=[0, 1500, 4000, 9960],
    )
    assert argv == build_render_argv(
        Path("/a/narration.wav"), Path("/t/burn.ass"), Path("/o/clip.mp4"), Path("/o/poster.jpg"),
        size=(720, 1280), times=[0, 1500, 4000, 9960],
    )  # fmt: skip
    assert argv[0] != "ffmpeg"  # tools.ffmpeg adds the program and its quiet flags
    graph = argv[argv.index("-filter_complex") + 1]
    assert "s=180x320" in argv[argv.index("-f") + 3]  # background computed at quarter size
    assert "scale=720:1280" in graph
    assert "loop=loop=3" in graph
    assert "setpts=1500*eq(N\\,1)+4000*eq(N\\,2)+9960*eq(N\\,3)" in graph
    assert "ass=/t/burn.ass" in graph
    assert "trim=end_frame=1" in graph

    def opt(name: str) -> str:
        return argv[argv.index(name) + 1]

    assert argv.index("/o/clip.mp4") < argv.index("/o/poster.jpg")
    assert opt("-c:v") == "libx264" and opt("-profile:v") == "high" and opt("-level:v") == "4.0"
    assert opt("-g") == "1" and opt("-fps_mode") == "passthrough" and opt("-tune") == "stillimage"
    assert opt("-c:a") == "aac" and opt("-ar") == "48000" and opt("-b:a") == "96k"
    assert opt("-movflags") == "+faststart"
    assert opt("-q:v") == "2"  # JPEG poster quality


def test_build_render_argv_png_poster_has_no_jpeg_quality():
    argv = build_render_argv(Path("a.wav"), Path("b.ass"), Path("c.mp4"), Path("d.png"),
                             size=(1280, 720), times=[0, 960])  # fmt: skip
    assert "-q:v" not in argv


def _top_level_boxes(path: Path) -> list[str]:
    """Names of an MP4 file's top-level boxes, in file order."""
    names = []
    with path.open("rb") as f:
        while header := f.read(8):
            size, name = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                f.seek(size - 16, 1)
            elif size == 0:
                names.append(name.decode("latin-1"))
                break
            else:
                f.seek(size - 8, 1)
            names.append(name.decode("latin-1"))
    return names


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, list[Cue]]:
    """A 6.5 s narration (tones) and the cues of three phrases."""
    wav = tmp_path_factory.mktemp("clip") / "narration.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=f=330:d=6.5:sample_rate=48000", "-ac", "1", str(wav))
    cues = build_cues(
        ["第三条", "严禁在山林、田边野外用火，不得乱扔烟头。", "消防安全，人人有责！"],
        [(1500, 2200), (2400, 4700), (4900, 6300)],
        "Jiv sams tiul weex bens lix",
    )
    return wav, cues


SIZES = [pytest.param((1280, 720), id="16x9"), pytest.param((720, 1280), id="9x16")]


@pytest.fixture(scope="module", params=SIZES)
def rendered(request, clip, tmp_path_factory):
    wav, cues = clip
    out = tmp_path_factory.mktemp("video")
    size = request.param
    result = render_video(wav, cues, TITLE, out / "clip.mp4", out / "poster.jpg", size=size)
    return result, wav


@pytest.mark.slow
def test_render_video_streams_and_duration(rendered):
    result, wav = rendered
    info = probe(result.path)
    (video,) = streams(info, "video")
    (audio,) = streams(info, "audio")
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert video["profile"] in ("High", "Main") and int(video["level"]) > 0
    assert audio["codec_name"] == "aac" and audio["sample_rate"] == "48000"
    assert int(audio["bit_rate"]) <= 130_000  # 96k asked; a pure tone needs less
    assert video_size(info) == result.size
    audio_s = duration_s(probe(wav))
    assert abs(stream_duration_s(video) - audio_s) <= 0.1
    assert abs(duration_s(info) - audio_s) <= 0.1
    assert result.duration_s == pytest.approx(audio_s, abs=0.01)


@pytest.mark.slow
def test_render_video_is_faststart_and_all_keyframes(rendered):
    result, _ = rendered
    boxes = _top_level_boxes(result.path)
    assert boxes.index("moov") < boxes.index("mdat")
    packets = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                   "packet=pts_time,flags", "-of", "csv=p=0", str(result.path)])  # fmt: skip
    rows = [line.split(",") for line in packets.stdout.decode().split()]
    assert rows and all("K" in flags for _, flags in rows)
    assert float(rows[0][0]) == 0.0


@pytest.mark.slow
def test_render_video_poster_and_no_leftovers(rendered):
    result, _ = rendered
    assert result.poster.stat().st_size > 5_000
    assert video_size(probe(result.poster)) == result.size
    assert sorted(p.name for p in result.path.parent.iterdir()) == ["clip.mp4", "poster.jpg"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("mpv") is None, reason="mpv is not installed")
@pytest.mark.parametrize(
    "start",
    [
        pytest.param(["--start=3", "--frames=1"], id="seek-one-frame"),
        pytest.param(["--start=4", "--length=1"], id="seek-and-play"),
    ],
)
def test_mpv_plays_from_a_seek(rendered, start):
    result, _ = rendered
    run(["mpv", "--no-config", "--vo=null", "--ao=null", *start, str(result.path)], timeout=60)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_chromium_plays_and_seeks(rendered, tmp_path):
    """Headless Chromium decodes, plays and seeks; the seeked frame shows the subtitle."""
    from playwright.sync_api import sync_playwright

    result, _ = rendered
    page_file = result.path.parent / "play.html"
    page_file.write_text(f'<video id="v" src="{result.path.name}" muted preload="auto"></video>')
    script = """async (t) => {
      const v = document.getElementById('v');
      if (v.readyState < 1) await new Promise((ok, bad) => {
        v.onloadedmetadata = ok; v.onerror = () => bad(String(v.error && v.error.message)); });
      await v.play(); await new Promise(r => setTimeout(r, 300)); v.pause();
      const played = v.currentTime;
      v.currentTime = t;
      await new Promise(r => v.onseeked = r);
      const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
      const g = c.getContext('2d'); g.drawImage(v, 0, 0);
      const d = g.getImageData(0, Math.floor(c.height * 0.7), c.width, Math.floor(c.height * 0.25)).data;
      let white = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] > 200 && d[i + 2] > 200) white++;
      return {duration: v.duration, played, time: v.currentTime, ready: v.readyState,
              w: v.videoWidth, h: v.videoHeight, white};
    }"""
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
        "--allow-file-access-from-files",
    ]  # lets the page read its own video's pixels
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            in_cue = page.evaluate(script, 3.0)  # "严禁在山林…" is on screen
            in_gap = page.evaluate(script, 4.8)  # between two cues: background only
        finally:
            browser.close()
    assert in_cue["duration"] == pytest.approx(result.duration_s, abs=0.1)
    assert in_cue["played"] > 0.1  # playback advanced
    assert (in_cue["w"], in_cue["h"]) == result.size
    assert in_cue["time"] == pytest.approx(3.0) and in_cue["ready"] >= 2
    assert in_cue["white"] > 500 and in_gap["white"] == 0


def test_render_video_rejects_bad_input(tmp_path):
    with pytest.raises(PipelineError, match="/"):
        render_video(tmp_path / "missing.wav", [], TITLE, tmp_path / "a.mp4", tmp_path / "a.jpg")
    with pytest.raises(PipelineError, match="/"):
        render_video(tmp_path / "missing.wav", [], TITLE, tmp_path / "a.mp4", tmp_path / "a.jpg",
                     size=(1278, 720))  # fmt: skip
