"""Clip layout: the whole clause large, the spoken phrase lit, legible when scaled down."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pysubs2
import pytest

from media_pipeline.clip_background import pan_size, photo_frame
from media_pipeline.clip_layout import (
    SPOKEN,
    ClipLayout,
    Header,
    clip_ass,
    cue_pieces_in,
    heading_count,
    hold_cues,
    paginate,
)
from media_pipeline.subtitles import Cue, build_cues
from media_pipeline.video import TitleCard, render_videos
from tests.media import ffmpeg, run

PHRASES = ["第五条", "严禁在山林、田边野外用火，", "不得乱扔烟头。", "寨内禁止燃放孔明灯，",
           "家中用火用电要有人看管。", "违者罚款二百元，", "并承担全部损失。"]  # fmt: skip
TIMINGS = [(1500, 2200), (2400, 4200), (4400, 5600), (5800, 7600), (7800, 9800),
           (10000, 11200), (11400, 12800)]  # fmt: skip
DONG = "Jiv sams tiul weex bens lix nyaoh jingv dogl xaih gaos maenl nyinc bens lix"
TEXT = "".join(PHRASES[1:])
TITLE = TitleCard("榕溪村", "榕溪村村规民约", "第五条", "消防安全", card_ms=1500,
                  chapter="第二章 安全", section="防火")  # fmt: skip
AMBER = f"\\c&H{SPOKEN.b:02X}{SPOKEN.g:02X}{SPOKEN.r:02X}&"


def _cues() -> list[Cue]:
    heading = build_cues(PHRASES[:1], TIMINGS[:1])
    return [*heading, *build_cues(PHRASES[1:], TIMINGS[1:], DONG)]


def test_hold_cues_lights_a_phrase_until_the_next_starts():
    cues = [Cue(100, 500, ("甲",)), Cue(800, 900, ("乙",), "a")]
    assert hold_cues(cues, 2000) == [Cue(100, 800, ("甲",)), Cue(800, 2000, ("乙",), "a")]


@pytest.mark.parametrize(
    ("texts", "label", "expected"),
    [
        pytest.param(["第三条", "严禁用火"], "第三条", 1, id="label-cue"),
        pytest.param(["第三", "条", "严禁"], "第三条", 2, id="label-in-two-cues"),
        pytest.param(["严禁用火"], "第三条", 0, id="no-heading"),
        pytest.param(["第三条"], "", 0, id="no-label"),
    ],
)
def test_heading_count(texts, label, expected):
    cues = [Cue(i * 100, i * 100 + 50, (t,)) for i, t in enumerate(texts)]
    assert heading_count(cues, label) == expected


def test_cue_pieces_in_gives_each_cue_its_punctuation():
    cues = build_cues(PHRASES[1:], TIMINGS[1:])
    pieces = cue_pieces_in(TEXT, cues)
    assert "".join(pieces) == TEXT
    assert pieces[0] == "严禁在山林、田边野外用火，" and pieces[-1] == "并承担全部损失。"
    # Text that does not hold the cues: the cues' own text.
    assert cue_pieces_in("别的文字", cues) == ["".join(c.lines) for c in cues]
    assert cue_pieces_in(None, cues) == ["".join(c.lines) for c in cues]


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280)], ids=["16x9", "9x16"])
def test_a_short_clause_is_one_page_and_a_long_one_pages_of_whole_phrases(size):
    layout = ClipLayout.for_size(size)
    cues = build_cues(PHRASES[1:], TIMINGS[1:], DONG)
    zh_size, pages = paginate(layout, cue_pieces_in(TEXT, cues), cues)
    assert len(pages) == 1 and zh_size >= layout.zh_sizes[1]
    long_phrases = PHRASES[1:] * 5
    starts = range(0, 100_000, 2000)
    long_cues = build_cues(long_phrases, [(s, s + 1500) for s in starts[: len(long_phrases)]])
    zh_size, pages = paginate(layout, cue_pieces_in("".join(long_phrases), long_cues), long_cues)
    assert len(pages) > 1 and zh_size == layout.zh_sizes[1]
    assert [i for p in pages for i in p.cues] == list(range(len(long_cues)))
    for page in pages:
        assert "".join(t for line in page.zh for _, t in line) == "".join(
            long_phrases[i] for i in page.cues
        )


def test_clip_ass_lights_the_phrase_being_spoken():
    cues = hold_cues(_cues(), 13000)
    subs = pysubs2.SSAFile.from_string(
        clip_ass(
            cues,
            size=(1280, 720),
            header=Header("第五条", "消防安全", "第二章 安全"),
            card_ms=1500,
            text=TEXT,
        )
    )

    def lit_at(ms: int) -> str:
        out = ""
        for event in subs.events:
            if event.start <= ms < event.end:
                for part in event.text.split("{")[1:]:
                    tags, _, text = part.partition("}")
                    if AMBER in tags and "\\p1" not in tags:
                        out += text
        return out

    assert lit_at(1800) == "第五条"  # the heading is being read: the label is lit
    lit = lit_at(3000)  # the first phrase and its Dong words
    assert lit.startswith("严禁在山林、田边野外用火，") and "不得" not in lit
    assert cues[1].dong and lit.endswith(cues[1].dong.split()[-1])
    assert lit_at(4300).startswith("严禁在山林、田边野外用火，")  # held through the pause
    assert lit_at(6000).startswith("寨内禁止燃放孔明灯，")
    assert "第二章 安全" in subs.to_string("ass") and "消防安全" in subs.to_string("ass")


def test_photo_frame_is_darkened_and_larger_for_the_pan(tmp_path):
    from PIL import Image

    photo = tmp_path / "village.jpg"
    Image.new("RGB", (800, 600), (255, 255, 255)).save(photo)
    w, h = pan_size((1280, 720))
    assert w > 1280 and h > 720
    planes = np.frombuffer(photo_frame(photo, (1280, 720)), np.uint8).reshape(3, h, w)
    assert planes.max() <= 110  # a white photo becomes a dark grey-indigo: type stays legible


def _frame(video: Path, t: float, out: Path, scale: str | None = None) -> np.ndarray:
    from PIL import Image

    ffmpeg("-ss", str(t), "-i", str(video), *(["-vf", scale] if scale else []),
           "-frames:v", "1", str(out))  # fmt: skip
    return np.asarray(Image.open(out).convert("RGB"))


def _text_bands(picture: np.ndarray) -> list[int]:
    """Heights (px) of the runs of rows that hold type: bright pixels on the dark background."""
    rows = (picture.max(axis=2) > 150).any(axis=1)
    bands, start = [], None
    for y, lit in enumerate([*rows, False]):
        if lit and start is None:
            start = y
        elif not lit and start is not None:
            bands.append(y - start)
            start = None
    return bands


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    out = tmp_path_factory.mktemp("clips")
    wav = out / "narration.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=f=330:d=13:sample_rate=48000", "-ac", "1", str(wav))
    outputs = [((1280, 720), out / "wide.mp4", out / "wide.jpg"),
               ((720, 1280), out / "tall.mp4", out / "tall.jpg")]  # fmt: skip
    render_videos(wav, _cues(), TITLE, outputs, text=TEXT)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["wide", "tall"])
def test_hanzi_are_at_least_a_fourteenth_of_720_px_high(clips, tmp_path, name):
    """Geometry: each line of the clause, measured in the rendered picture, is at least
    720/14 px high: 1/14 of the height of the 16:9 frame, 1/14 of the width of the 9:16."""
    picture = _frame(clips / f"{name}.mp4", 6.0, tmp_path / "f.png")
    h = picture.shape[0]
    body = picture[round(h * 0.2) :]
    # The first three lines of the body are the clause's Chinese (the Dong comes after).
    hanzi_lines = [b for b in _text_bands(body) if b > 20][:3]
    assert len(hanzi_lines) == 3
    assert min(hanzi_lines) >= 720 / 14


def _ocr(png: Path) -> str:
    proc = run(["tesseract", str(png), "-", "-l", "chi_sim", "--psm", "6"])
    return proc.stdout.decode()


def _has_chi_sim() -> bool:
    if shutil.which("tesseract") is None:
        return False
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True)
    return "chi_sim" in langs.stdout.split()


@pytest.mark.slow
@pytest.mark.skipif(not _has_chi_sim(), reason="tesseract-ocr-chi-sim is not installed")
@pytest.mark.parametrize(("name", "scale"), [("wide", "640:360"), ("tall", "360:640")])
def test_the_clause_reads_by_ocr_at_a_reduced_size(clips, tmp_path, name, scale):
    """A frame scaled to 640×360 (a far screen; a phone for the 9:16 at 360×640): tesseract
    reads at least 95 % of the clause's hanzi, the spoken phrase lit among them."""
    png = tmp_path / "small.png"
    _frame(clips / f"{name}.mp4", 6.0, png, f"scale={scale}:flags=area")
    read = Counter(_ocr(png))
    wanted = Counter(ch for ch in TEXT + TITLE.clause_label + TITLE.topic if ch.isalnum())
    found = sum(min(n, read[ch]) for ch, n in wanted.items())
    assert found / sum(wanted.values()) >= 0.95


@pytest.mark.slow
def test_a_photo_background_drifts_one_step_per_change(tmp_path):
    """A photo background moves at each change only: repeats stay skip blocks."""
    from PIL import Image

    y, x = np.mgrid[0:900, 0:1200]
    stripes = np.stack([x % 255, y % 255, ((x + y) % 90 > 45) * 255], axis=2).astype(np.uint8)
    photo = tmp_path / "village.png"
    Image.fromarray(stripes).save(photo)
    wav = tmp_path / "narration.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=f=330:d=13:sample_rate=48000", "-ac", "1", str(wav))
    out = tmp_path / "clip.mp4"
    render_videos(wav, _cues(), TITLE, [((1280, 720), out, tmp_path / "p.jpg")], text=TEXT,
                  background=photo)  # fmt: skip
    early, late = _frame(out, 3.0, tmp_path / "a.png"), _frame(out, 12.0, tmp_path / "b.png")
    # The bottom-right corner holds no type: only the background, which has moved.
    corner = (slice(700, 720), slice(1240, 1280))
    assert np.abs(early[corner].astype(int) - late[corner].astype(int)).mean() > 5
    packets = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                   "packet=size,flags", "-of", "csv=p=0", str(out)])  # fmt: skip
    repeats = [int(s) for s, f in (r.split(",") for r in packets.stdout.decode().split())
               if "K" not in f]  # fmt: skip
    assert repeats and max(repeats) < 1_000
