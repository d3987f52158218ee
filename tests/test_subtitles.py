"""Subtitles: Chinese line breaking, cue timing, Dong placement, and SRT/VTT/ASS round trips."""

from __future__ import annotations

import io
from pathlib import Path

import pysubs2
import pytest
import srt
import webvtt

from media_pipeline.errors import SubtitleError
from media_pipeline.subtitles import (
    CLOSING,
    OPENING,
    Cue,
    ass_time,
    build_cues,
    text_width,
    to_ass,
    to_srt,
    to_vtt,
    wrap_zh,
    write_subtitles,
)
from media_pipeline.video import TitleCard

NOTO_SANS_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TITLE = TitleCard("榕溪村", "榕溪村村规民约", "第三条", "消防安全", card_ms=2000)
DONG = "Jiv sams tiul weex bens lix nyaoh jingv"


def _check_rules(text: str, lines: list[str], width: int, max_lines: int) -> None:
    assert 1 <= len(lines) <= max_lines
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines:
        assert text_width(line) <= width, line
        assert line[0] not in CLOSING, f"line starts with closing punctuation: {line!r}"
        assert line[-1] not in OPENING, f"line ends with opening punctuation: {line!r}"


@pytest.mark.parametrize(
    ("text", "width", "max_lines", "expected"),
    [
        pytest.param("消防安全人人有责", 16, 2, ["消防安全人人有责"], id="short-one-line"),
        pytest.param("严禁在山林、田边野外用火，不得乱扔烟头。", 16, 2,
                     ["严禁在山林、田边野外用火，", "不得乱扔烟头。"], id="break-after-comma"),
        pytest.param("寨内严禁燃放孔明灯和鞭炮以确保村寨的消防安全", 16, 2,
                     ["寨内严禁燃放孔明灯和鞭炮", "以确保村寨的消防安全"], id="balanced-word-boundaries"),
        pytest.param("火警请拨打119或13800138000", 16, 2,
                     ["火警请拨打119或13800138000"], id="ascii-counts-half"),
        pytest.param("他说：“不许在寨子里燃放孔明灯！”", 10, 2, None, id="quotes-stay-with-words"),
        pytest.param("村民应当爱护公共设施，维护村寨的生态环境。", 8, 3, None, id="three-narrow-lines"),
        pytest.param("不得在寨内乱搭乱建，（违者限期拆除）。", 12, 2, None, id="brackets"),
        pytest.param("消防安全消防安全消防安全消防安全消防安全", 16, 2, None, id="repeated-words"),
    ],
)  # fmt: skip
def test_wrap_zh_rules(text, width, max_lines, expected):
    lines = wrap_zh(text, width, max_lines)
    _check_rules(text, lines, width, max_lines)
    if expected is not None:
        assert lines == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("村里组织青年开展消防安全演练和巡逻", id="消防安全-line-1"),
        pytest.param("每月初一十五开展一次消防安全大检查", id="消防安全-line-2"),
        pytest.param("各户要配备灭火器并学习消防安全知识技能", id="消防安全-middle"),
    ],
)
def test_wrap_zh_keeps_words_whole(text):
    lines = wrap_zh(text)
    assert len(lines) == 2
    assert any("消防安全" in line for line in lines), lines


def test_wrap_zh_never_starts_a_line_with_closing_punctuation():
    # No split between words fits 2 × 6, so it breaks between characters; the split 6 + 5
    # would start line two with "，", so the comma stays with 头 instead.
    lines = wrap_zh("不得乱扔烟头，违者罚款", width=6)
    assert lines == ["不得乱扔烟", "头，违者罚款"]


@pytest.mark.parametrize(
    ("text", "width", "max_lines"),
    [
        pytest.param("一" * 33, 16, 2, id="33-chars"),
        pytest.param("消防安全人人有责", 3, 2, id="narrow"),
    ],
)
def test_wrap_zh_raises_when_it_cannot_fit(text, width, max_lines):
    with pytest.raises(SubtitleError, match="/"):
        wrap_zh(text, width, max_lines)


def test_wrap_zh_empty_text_has_no_lines():
    assert wrap_zh("  ") == []


def test_build_cues_uses_exact_timings_and_display_text():
    cues = build_cues(
        ["第三条", "严禁野外用火，", "谁来扑救？", "“人人有责！”", "不得乱扔烟头。"],
        [(0, 812), (1003, 2507), (2600, 3333), (3400, 4001), (4500, 6789)],
    )
    assert [(c.start_ms, c.end_ms) for c in cues] == [
        (0, 812), (1003, 2507), (2600, 3333), (3400, 4001), (4500, 6789),
    ]  # fmt: skip
    assert [c.lines for c in cues] == [
        ("第三条",), ("严禁野外用火",), ("谁来扑救？",), ("“人人有责！”",), ("不得乱扔烟头",),
    ]  # fmt: skip
    assert all(c.dong is None for c in cues)


def test_build_cues_splits_long_phrase_by_character_count():
    phrase = "村民应当遵守村规民约，爱护公共设施，维护村寨的消防安全和生态环境。"
    cues = build_cues([phrase], [(1000, 9000)])
    assert len(cues) == 2
    assert cues[0].start_ms == 1000 and cues[-1].end_ms == 9000
    assert cues[0].end_ms == cues[1].start_ms  # consecutive, no gap
    chars = [len("".join(c.lines)) for c in cues]
    share = 8000 * chars[0] / sum(chars)
    assert abs((cues[0].end_ms - 1000) - share) <= 1
    assert "".join(line for c in cues for line in c.lines) == phrase.replace(
        "，维护", "维护"
    ).rstrip("。")
    for cue in cues:
        assert len(cue.lines) <= 2 and all(text_width(line) <= 16 for line in cue.lines)


def test_build_cues_spreads_dong_in_proportion():
    # Chinese lengths 4 : 4 : 8, eight Dong words of equal length → 2 : 2 : 4 words.
    cues = build_cues(
        ["消防安全", "人人有责", "严禁野外用火乱扔烟头"[:8]],
        [(0, 1000), (1000, 2000), (2000, 4000)],
        "aaa bbb ccc ddd eee fff ggg hhh",
    )
    assert [c.dong for c in cues] == ["aaa bbb", "ccc ddd", "eee fff ggg hhh"]


def test_build_cues_dong_keeps_every_word_in_order():
    cues = build_cues(
        ["第三条", "严禁野外用火，", "不得乱扔烟头。"], [(0, 800), (900, 2000), (2100, 3000)], DONG
    )
    assert " ".join(c.dong for c in cues if c.dong) == DONG


@pytest.mark.parametrize(
    ("phrases", "timings"),
    [
        pytest.param(["一", "二"], [(0, 100)], id="count-mismatch"),
        pytest.param(["一"], [(500, 500)], id="empty-span"),
        pytest.param(["一", "二"], [(0, 600), (500, 900)], id="overlap"),
        pytest.param(["一"], [(-10, 100)], id="negative"),
    ],
)
def test_build_cues_rejects_bad_timings(phrases, timings):
    with pytest.raises(SubtitleError):
        build_cues(phrases, timings)


def _cues() -> list[Cue]:
    return build_cues(
        ["第三条", "严禁在山林、田边野外用火，不得乱扔烟头。", "消防安全，人人有责！"],
        [(2000, 2805), (3012, 7499), (7800, 9994)],
        DONG,
    )


def _plain_lines(cue: Cue) -> list[str]:
    return [cue.dong, *cue.lines] if cue.dong else list(cue.lines)


def test_srt_round_trip():
    cues = _cues()
    parsed = list(srt.parse(to_srt(cues)))
    assert len(parsed) == len(cues)
    for sub, cue in zip(parsed, cues, strict=True):
        assert sub.start.total_seconds() * 1000 == pytest.approx(cue.start_ms)
        assert sub.end.total_seconds() * 1000 == pytest.approx(cue.end_ms)
        assert sub.content.split("\n") == _plain_lines(cue)


def _vtt_ms(stamp: str) -> int:
    h, m, s = stamp.split(":")
    return round((int(h) * 3600 + int(m) * 60 + float(s)) * 1000)


def test_vtt_round_trip():
    cues = _cues()
    captions = webvtt.from_buffer(io.StringIO(to_vtt(cues))).captions
    assert len(captions) == len(cues)
    for caption, cue in zip(captions, cues, strict=True):
        assert (_vtt_ms(caption.start), _vtt_ms(caption.end)) == (cue.start_ms, cue.end_ms)
        assert caption.lines == _plain_lines(cue)
    assert cues[0].dong and captions[0].lines[0] == cues[0].dong  # Dong line first


@pytest.mark.parametrize(
    "size", [pytest.param((1280, 720), id="16x9"), pytest.param((720, 1280), id="9x16")]
)
def test_ass_round_trip_with_title(size):
    cues = _cues()
    subs = pysubs2.SSAFile.from_string(to_ass(cues, size=size, title=TITLE))
    assert (int(subs.info["PlayResX"]), int(subs.info["PlayResY"])) == size
    zh, dong = subs.styles["Zh"], subs.styles["Dong"]
    assert zh.fontname == dong.fontname == "Noto Sans CJK SC"
    assert zh.alignment == pysubs2.Alignment.BOTTOM_CENTER and not dong.italic
    assert dong.fontsize < zh.fontsize
    # 16 characters of the Chinese style fit between the side margins.
    assert 16 * zh.fontsize <= size[0] - zh.marginl - zh.marginr
    events = [e for e in subs.events if e.style == "Zh"]
    assert [(e.start, e.end) for e in events] == [
        (ass_time(c.start_ms), ass_time(c.end_ms)) for c in cues
    ]
    for event, cue in zip(events, cues, strict=True):
        lines = event.plaintext.split("\n")
        assert lines == _plain_lines(cue)
        if cue.dong:
            assert event.text.startswith("{\\rDong}")  # Dong above the Chinese block
    titles = [e for e in subs.events if e.style.startswith("Title")]
    assert titles and all(e.start == 0 and e.end == TITLE.card_ms for e in titles)
    (header,) = [e for e in subs.events if e.style == "Header"]
    assert header.start == TITLE.card_ms and header.end > cues[-1].end_ms
    assert "第三条" in header.plaintext and "消防安全" in header.plaintext


def test_ass_without_title_has_only_cues():
    subs = pysubs2.SSAFile.from_string(to_ass(_cues()))
    assert {e.style for e in subs.events} == {"Zh"}


def _sc_cmap() -> dict[int, str]:
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.ttCollection import TTCollection

    count = len(TTCollection(str(NOTO_SANS_CJK), lazy=True).fonts)
    for number in range(count):
        font = TTFont(str(NOTO_SANS_CJK), fontNumber=number, lazy=True)
        if font["name"].getDebugName(1) == "Noto Sans CJK SC":
            return font.getBestCmap()
    raise AssertionError("no Noto Sans CJK SC face in the collection")


@pytest.mark.skipif(not NOTO_SANS_CJK.exists(), reason="fonts-noto-cjk is not installed")
def test_font_covers_every_character():
    cmap = _sc_cmap()
    cues = _cues()
    text = "".join("".join(_plain_lines(c)) for c in cues)
    text += TITLE.village + TITLE.covenant + TITLE.clause_label + TITLE.topic + "　"
    missing = sorted({ch for ch in text if not ch.isspace() or ch == "　"} - {chr(c) for c in cmap})
    assert missing == []


def test_write_subtitles_writes_each_file_atomically(tmp_path):
    cues = _cues()
    srt_path, ass_path = tmp_path / "out" / "c.srt", tmp_path / "out" / "c.ass"
    write_subtitles(cues, srt_path, None, ass_path, size=(720, 1280))
    assert srt_path.read_text(encoding="utf-8") == to_srt(cues)
    assert "PlayResY: 1280" in ass_path.read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c.ass", "c.srt"]
