"""Video: frame timing and argv as pure functions; real renders probed, parsed and played."""

from __future__ import annotations

import re
import shutil
import struct
from pathlib import Path

import pytest

from media_pipeline.clip_layout import hold_cues
from media_pipeline.errors import PipelineError
from media_pipeline.recordings.probe import (
    duration_s,
    probe,
    stream_duration_s,
    streams,
    video_size,
)
from media_pipeline.subtitles import Cue, build_cues
from media_pipeline.video import (
    FRAME_MS,
    KEYFRAME_MAX_MS,
    REPEAT_MS,
    Picture,
    TitleCard,
    _setpts_expr,
    background_frame,
    build_piped_argvs,
    build_renders_argv,
    frame_times,
    render_video,
    render_videos,
    repeat_times,
)
from tests.media import ffmpeg, run

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


@pytest.mark.parametrize(
    ("changes", "repeat_ms", "expected"),
    [
        pytest.param([0, 960], 250, [0, 240, 480, 720, 960], id="even-repeats"),
        pytest.param([0, 1000, 1100, 1500], 250, [0, 250, 500, 750, 1000, 1100, 1300, 1500],
                     id="uneven-gap-spread-evenly"),
        pytest.param([0, 100, 140], 250, [0, 100, 140], id="short-gaps-no-repeats"),
        pytest.param([0, 90], 40, [0, 45, 90], id="never-closer-than-a-frame"),
        pytest.param([0, 2960], 10**6, [0, 2960], id="repeats-off"),
    ],
)  # fmt: skip
def test_repeat_times(changes, repeat_ms, expected):
    assert repeat_times(changes, repeat_ms) == expected


def test_repeat_times_bounds_every_gap():
    changes = frame_times(
        [_cue(s, s + 700 + s % 900) for s in range(500, 60_000, 1700)], 1200, 61_000
    )
    times = repeat_times(changes)
    assert set(changes) <= set(times) and times == sorted(times)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= FRAME_MS and max(gaps) <= REPEAT_MS


@pytest.mark.slow
def test_setpts_expr_gives_ffmpeg_the_repeat_times(tmp_path):
    """ffmpeg itself evaluates the expression: every frame lands on repeat_times(), even for
    hundreds of changes (a flat sum of one term per frame broke ffmpeg's parser at ~100)."""
    changes = frame_times([_cue(s, s + 900) for s in range(300, 120_000, 1100)], 0, 121_000)
    times = repeat_times(changes)
    assert len(changes) > 200 and len(times) > 500
    out = tmp_path / "pts.mkv"  # Matroska keeps millisecond timestamps
    ffmpeg("-f", "lavfi", "-i", "color=s=16x16:r=25:d=0.04", "-vf",
           f"loop={len(times) - 1}:1:0,settb=1/1000,setpts='{_setpts_expr(changes, REPEAT_MS)}'",
           "-fps_mode", "passthrough", "-enc_time_base:v", "1:1000", "-c:v", "rawvideo",
           str(out))  # fmt: skip
    probed = run(["ffprobe", "-v", "error", "-show_entries", "packet=pts", "-of", "csv=p=0",
                  str(out)])  # fmt: skip
    pts = [int(p) for p in probed.stdout.decode().split()]
    assert pts == times


def test_frame_times_rejects_too_short_audio():
    with pytest.raises(PipelineError, match="/"):
        frame_times([], 0, FRAME_MS)


def test_build_piped_argvs_is_pure_and_complete():
    """A render whose audio still needs encoding: the videos and posters from one ffmpeg,
    written to a pipe as Matroska, the AAC encoded and muxed by a second one reading it."""
    picture = Picture((720, 1280), Path("/t/burn.ass"), Path("/t/background.gbrp"),
                      Path("/o/clip.mp4"), Path("/o/poster.jpg"))  # fmt: skip
    render, mux = build_piped_argvs(
        Path("/a/narration.wav"), [picture], changes=[0, 1500, 4000, 9960]
    )
    assert (render, mux) == build_piped_argvs(
        Path("/a/narration.wav"), [picture], changes=[0, 1500, 4000, 9960]
    )
    assert render[0] != "ffmpeg" and mux[0] != "ffmpeg"  # tools adds the program and its flags
    graph = render[render.index("-filter_complex") + 1]

    def opt(argv: list[str], name: str) -> str:
        return argv[argv.index(name) + 1]

    # The background: one raw frame at quarter size, scaled up.
    assert (opt(render, "-f"), opt(render, "-pix_fmt"), opt(render, "-s")) == (
        "rawvideo", "gbrp", "180x320",
    )  # fmt: skip
    assert render[render.index("-s") + 2 : render.index("-s") + 4] == ["-i", "/t/background.gbrp"]
    assert "/a/narration.wav" not in render  # the audio is the second run's
    assert "scale=720:1280" in graph
    # One frame per change at the change's instant, drawn once by libass...
    assert "loop=loop=3:size=1:start=0" in graph
    assert "setpts=eq(N\\,1)*1500+eq(N\\,2)*4000+eq(N\\,3)*9960" in graph
    assert "ass=/t/burn.ass" in graph
    # ...then each picture repeated (6, 10 and 24 frames) and every frame moved to its instant.
    # (`loop` counts its start from 1: start=7 loops the frame at index 6.)
    repeats = ["loop=loop=5:size=1:start=1", "loop=loop=9:size=1:start=7",
               "loop=loop=23:size=1:start=17"]  # fmt: skip
    assert all(graph.index("ass=") < graph.index(r) for r in repeats)
    assert len(repeat_times([0, 1500, 4000, 9960])) == 6 + 10 + 24 + 1
    assert "setpts=between(N\\,0\\,5)*(trunc((N-0)*1500/6))+between(N\\,6\\,15)*" in graph
    assert "trim=end_frame=1" in graph

    assert render.index("pipe:1") < render.index("/o/poster.jpg")
    assert opt(render, "-c:v") == "libx264" and opt(render, "-profile:v") == "high"
    assert opt(render, "-level:v") == "4.0"
    assert opt(render, "-force_key_frames") == "0.000,1.500,4.000,9.960"
    assert opt(render, "-forced-idr") == "1"
    assert int(opt(render, "-g")) * REPEAT_MS <= KEYFRAME_MAX_MS
    assert opt(render, "-fps_mode") == "passthrough" and opt(render, "-tune") == "stillimage"
    assert opt(render, "-qp") == "20"  # constant QP: repeats of an unchanged picture are all skip
    assert opt(render, "-q:v") == "2"  # JPEG poster quality

    assert mux[mux.index("/a/narration.wav") - 1] == "-i" and opt(mux, "-f") == "matroska"
    assert mux[mux.index("pipe:0") - 1] == "-i"
    assert opt(mux, "-c:v") == "copy" and opt(mux, "-c:a") == "aac"
    assert opt(mux, "-ar") == "48000" and opt(mux, "-b:a") == "96k"
    assert opt(mux, "-movflags") == "+faststart" and mux[-1] == "/o/clip.mp4"


def test_build_renders_argv_two_sizes_one_audio_copied():
    pictures = [
        Picture(size, Path(f"/t/{k}.ass"), Path(f"/t/{k}.gbrp"), Path(f"/o/{k}.mp4"),
                Path(f"/o/{k}.png"))
        for k, size in enumerate([(1280, 720), (720, 1280)])
    ]  # fmt: skip
    argv = build_renders_argv(Path("/a/audio.m4a"), pictures, changes=[0, 960])
    assert argv.count("-i") == 3 and argv.count("/a/audio.m4a") == 1
    assert argv.count("libx264") == 2 and "aac" not in argv
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-c:a"] == ["copy", "copy"]
    graph = argv[argv.index("-filter_complex") + 1]
    assert "ass=/t/0.ass" in graph and "ass=/t/1.ass" in graph
    assert "scale=1280:720" in graph and "scale=720:1280" in graph
    assert "-q:v" not in argv  # PNG posters: no JPEG quality


def test_background_frame():
    """Indigo, lighter at the top, a faint diamond lattice; planes G, B, R at quarter size."""
    import numpy as np

    g, b, r = np.frombuffer(background_frame((1280, 720)), np.uint8).reshape(3, 180, 320)
    assert (r[0, 0], g[0, 0], b[0, 0]) == (34, 40, 80)
    assert (r[-1, 0], g[-1, 0], b[-1, 0]) == (20, 24, 50)
    assert b[3, 3] == b[3, 4] + 7  # (3, 3) lies on the lattice (x + y ≡ 6 mod 12)
    assert b.shape == (180, 320) and len(background_frame((720, 1280))) == 3 * 320 * 180


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
def test_render_video_is_faststart_with_keyframes_at_the_changes(rendered, clip):
    result, _ = rendered
    boxes = _top_level_boxes(result.path)
    assert boxes.index("moov") < boxes.index("mdat")
    packets = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                   "packet=pts,flags,size", "-of", "csv=p=0", str(result.path)])  # fmt: skip
    rows = [line.split(",") for line in packets.stdout.decode().split()]
    pts = [int(p) for p, _, _ in rows]
    keys = [int(p) for p, _, flags in rows if "K" in flags]
    # A phrase stays lit until the next starts: the changes are the card's end and cue starts.
    changes = frame_times(hold_cues(clip[1], 6500), TITLE.card_ms, 6500)
    assert changes == [0, 1500, 2400, 4900, 6460]
    assert pts == repeat_times(changes)  # a frame at every change, repeats in between
    assert set(changes) <= set(keys)  # every change is a keyframe (exact cue boundaries)
    assert max(b - a for a, b in zip(keys, keys[1:], strict=False)) <= KEYFRAME_MAX_MS
    repeats = [int(size) for p, size, flags in rows if "K" not in flags]
    assert repeats and max(repeats) < 1_000  # repeats of an unchanged picture: skip blocks


def _differs(a: Path, b: Path) -> float:
    """Share of pixels whose colour differs clearly between two images of the same size."""
    import numpy as np
    from PIL import Image

    pa, pb = (np.asarray(Image.open(p).convert("RGB"), dtype=np.int16) for p in (a, b))
    # Above 80 levels: mpv and ffmpeg upsample chroma differently, and at the edges of amber
    # type on indigo that alone reaches ~70; a lit phrase against an unlit one differs by ~180.
    return float((np.abs(pa - pb).max(axis=2) > 80).mean())


def _mpv_frame(video: Path, t: float, out: Path) -> Path:
    """The frame mpv shows after `--start` (a precise hr-seek, mpv's default for --start)."""
    out.mkdir(parents=True)
    run(["mpv", "--no-config", "--vo=image", "--vo-image-format=png", f"--vo-image-outdir={out}",
         "--ao=null", f"--start={t}", "--frames=1", str(video)], timeout=60)  # fmt: skip
    (png,) = out.glob("*.png")
    return png


def _ffmpeg_frame(video: Path, t: float, out: Path) -> Path:
    """The frame ffmpeg decodes after an accurate input seek (`-ss` before `-i`)."""
    ffmpeg("-ss", str(t), "-i", str(video), "-frames:v", "1", str(out))
    return out


SEEKERS = [
    pytest.param(_ffmpeg_frame, id="ffmpeg"),
    pytest.param(
        _mpv_frame,
        id="mpv",
        marks=pytest.mark.skipif(shutil.which("mpv") is None, reason="mpv is not installed"),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("grab", SEEKERS)
@pytest.mark.parametrize(
    ("shown", "target", "following"),
    [
        pytest.param(0.0, 0.75, 1.5, id="title-card"),
        pytest.param(1.5, 2.0, 2.4, id="heading-spoken"),
        # A phrase stays lit through the pause after it, until the next one starts.
        pytest.param(2.4, 3.5, 4.9, id="middle-of-cue-2"),
    ],
)
def test_precise_seek_shows_the_current_cue(rendered, tmp_path, grab, shown, target, following):
    """A precise seek into a cue shows that cue's picture, not the next change's: the frame
    at the cue's own start (a keyframe) and the frame at the following change are the
    references, both grabbed the same way."""
    result, _ = rendered
    seeked = grab(result.path, target, tmp_path / "seeked.png")
    current = grab(result.path, shown, tmp_path / "current.png")
    following_png = grab(result.path, following, tmp_path / "following.png")
    assert _differs(current, following_png) > 0.002  # the test can tell the two apart
    assert _differs(seeked, current) < 0.0005
    assert _differs(seeked, following_png) > 0.002


@pytest.mark.slow
def test_render_video_poster_and_no_leftovers(rendered):
    result, _ = rendered
    assert result.poster.stat().st_size > 5_000
    assert video_size(probe(result.poster)) == result.size
    assert sorted(p.name for p in result.path.parent.iterdir()) == ["clip.mp4", "poster.jpg"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("mpv") is None, reason="mpv is not installed")
@pytest.mark.parametrize(
    ("start", "length", "first", "last"),
    [
        # One frame after a seek into cue 2: the cue, not the title card.
        pytest.param(3.0, None, 3.0, 3.0, id="seek-one-frame"),
        # A second played from inside cue 2: it starts there and reaches cue 3 (at 4.9 s).
        pytest.param(4.0, 1.0, 4.0, 4.95, id="seek-and-play"),
    ],
)
def test_mpv_plays_from_a_seek(rendered, tmp_path, start, length, first, last):
    """mpv says it is where it was sent, and the frames it shows (its own, dumped with
    --vo=image) are the pictures ffmpeg decodes at those times: a seek that landed on the
    title card, on the last frame or on another cue fails."""
    result, _ = rendered
    out = tmp_path / "mpv"
    played = ["--frames=1"] if length is None else [f"--length={length}"]
    proc = run(["mpv", "--no-config", "--quiet", "--ao=null", "--vo=image",
                "--vo-image-format=png", f"--vo-image-outdir={out}", f"--start={start}",
                "--term-playing-msg=time-pos=${=time-pos}", *played, str(result.path)],
               timeout=60)  # fmt: skip
    said = re.findall(r"^time-pos=([\d.]+)$", (proc.stdout + proc.stderr).decode(), re.M)
    assert len(said) == 1, proc.stdout
    # A precise seek shows the first frame at or after `start`; one comes every REPEAT_MS.
    assert start <= float(said[0]) < start + REPEAT_MS / 1000
    shown = sorted(out.glob("*.png"))
    assert len(shown) == 1 if length is None else len(shown) > 1

    title_card = _ffmpeg_frame(result.path, 0.75, tmp_path / "title-card.png")
    expected_first = _ffmpeg_frame(result.path, first, tmp_path / "first.png")
    expected_last = _ffmpeg_frame(result.path, last, tmp_path / "last.png")
    assert _differs(expected_first, title_card) > 0.002  # the test can tell a missed seek
    assert _differs(shown[0], expected_first) < 0.0005
    assert _differs(shown[-1], expected_last) < 0.0005
    if length is not None:
        assert _differs(expected_first, expected_last) > 0.002  # playback moved to cue 3


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_chromium_plays_and_seeks(rendered, tmp_path):
    """Headless Chromium decodes, plays and seeks; the seeked frame shows the clause, which
    stays on screen, the same picture, through the pause after a phrase."""
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
      const d = g.getImageData(0, Math.floor(c.height * 0.2), c.width, Math.floor(c.height * 0.75)).data;
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
            in_gap = page.evaluate(script, 4.8)  # between two cues: the clause stays
        finally:
            browser.close()
    assert in_cue["duration"] == pytest.approx(result.duration_s, abs=0.1)
    assert in_cue["played"] > 0.1  # playback advanced
    assert (in_cue["w"], in_cue["h"]) == result.size
    assert in_cue["time"] == pytest.approx(3.0) and in_cue["ready"] >= 2
    assert in_cue["white"] > 5000 and in_gap["white"] == in_cue["white"]


@pytest.mark.slow
def test_render_videos_both_sizes_in_one_run_with_the_aac_copied(clip, tmp_path):
    """As a clause renders: both sizes from one ffmpeg run, the AAC made once beforehand."""
    from media_pipeline import tools
    from media_pipeline.loudness import meter_files
    from media_pipeline.video import AUDIO_CODEC_ARGS

    wav, cues = clip
    m4a = tmp_path / "audio.m4a"
    ffmpeg("-i", str(wav), *AUDIO_CODEC_ARGS, str(m4a))
    outputs = [(size, tmp_path / f"{w}.mp4", tmp_path / f"{w}.jpg") for w, size in
               (("wide", (1280, 720)), ("tall", (720, 1280)))]  # fmt: skip
    tools.CALLS.clear()
    # The run also meters audio files handed to it (a clause's lossy files, in the render).
    made = render_videos(m4a, cues, TITLE, outputs, duration_ms=6500, copy_audio=True, meter=[m4a])
    assert tools.CALLS["ffmpeg"] == 1
    assert made.metered == meter_files([m4a])
    results = made.videos
    (source_audio,) = streams(probe(m4a), "audio")
    for (size, out, poster), result in zip(outputs, results, strict=True):
        assert (result.path, result.poster, result.size) == (out, poster, size)
        info = probe(out)
        (video,) = streams(info, "video")
        (audio,) = streams(info, "audio")
        assert video_size(info) == size == video_size(probe(poster))
        assert audio["codec_name"] == "aac" and audio["bit_rate"] == source_audio["bit_rate"]
        assert abs(stream_duration_s(video) - 6.5) <= 0.1 and abs(duration_s(info) - 6.5) <= 0.1
        packets = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                       "packet=pts", "-of", "csv=p=0", str(out)])  # fmt: skip
        changes = frame_times(hold_cues(cues, 6500), TITLE.card_ms, 6500)
        assert [int(p) for p in packets.stdout.decode().split()] == repeat_times(changes)


def test_render_video_rejects_bad_input(tmp_path):
    with pytest.raises(PipelineError, match="/"):
        render_video(tmp_path / "missing.wav", [], TITLE, tmp_path / "a.mp4", tmp_path / "a.jpg")
    with pytest.raises(PipelineError, match="/"):
        render_video(tmp_path / "missing.wav", [], TITLE, tmp_path / "a.mp4", tmp_path / "a.jpg",
                     size=(1278, 720))  # fmt: skip
