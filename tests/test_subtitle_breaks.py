"""Subtitle breaks like a broadcaster's: lines and cues never break inside a word, a 《title》
that fits a line or a number, and no line starts with a particle or a closing mark.

A table of covenant sentences with the cues expected from `build_cues` (the path a clause
takes), then properties checked on every cue line of the sample covenant and of the table,
against jieba with the covenant terms as its user dictionary.
"""

from __future__ import annotations

import re
from pathlib import Path

import jieba
import pytest
import yaml

from media_pipeline.covenant_terms import COVENANT_TERMS
from media_pipeline.jieba_dict import load_default_dictionary
from media_pipeline.linebreak import DROP_TRAILING, PARTICLES
from media_pipeline.subtitles import (
    CLOSING,
    OPENING,
    Cue,
    build_cues,
    cue_text,
    text_width,
    wrap_zh,
)
from media_pipeline.text import split_phrases

SAMPLE = Path(__file__).resolve().parent.parent / "library" / "samples" / "rongxi-covenant.yaml"
WIDTH, MAX_LINES = 16, 2


def _cues(text: str) -> list[tuple[str, ...]]:
    return [cue.lines for cue in build_cues([text], [(0, 4000)])]


# Each case: a sentence as one phrase, and the lines of each cue it becomes.
BREAKS = [
    # Words of the covenant vocabulary stay whole.
    pytest.param("本村规民约未尽事宜则由村民自治委员会研究决定",
                 [("本村规民约未尽事宜", "则由村民自治委员会研究决定")], id="no-comma-则由-not-dangling"),
    pytest.param("凡本村规民约未尽事宜，则由村民自治委员会讨论决定",
                 [("凡本村规民约未尽事宜，", "则由村民自治委员会讨论决定")], id="自治委员会-whole"),
    pytest.param("村民小组长由村民小组会议推选产生",
                 [("村民小组长由村民小组会议推选产生",)], id="one-line-fits"),
    pytest.param("红白理事会负责监督婚丧喜事从简办理",
                 [("红白理事会负责监督", "婚丧喜事从简办理")], id="红白理事会"),
    pytest.param("村务监督委员会每季度公开一次村务财务",
                 [("村务监督委员会每季度", "公开一次村务财务")], id="村务监督委员会"),
    pytest.param("村内重大事项实行一事一议，由村民代表会议讨论决定",
                 [("村内重大事项实行一事一议，", "由村民代表会议讨论决定")], id="一事一议"),
    pytest.param("执委会成员由村民代表大会选举产生，每届任期五年",
                 [("执委会成员由村民代表大会", "选举产生，每届任期五年")], id="执委会"),
    pytest.param("森林防火期内严禁携带火种进山，违者没收火种并处罚款",
                 [("森林防火期内严禁携带火种进山，", "违者没收火种并处罚款")], id="森林防火"),
    pytest.param("宅基地审批须经村民小组同意后报乡镇人民政府审核",
                 [("宅基地审批须经村民小组", "同意后报乡镇人民政府审核")], id="宅基地"),
    pytest.param("倡导移风易俗，红白喜事不得大操大办，不得索要高价彩礼",
                 [("倡导移风易俗，红白喜事", "不得大操大办，不得索要高价彩礼")], id="移风易俗"),
    pytest.param("寨老和执委会共同负责本村规民约的宣传和监督执行",
                 [("寨老和执委会共同负责", "本村规民约的宣传和监督执行")], id="本-not-dangling"),
    pytest.param("每年冬季由寨老和执委会组织鸣锣喊寨，提醒各户注意防火",
                 [("每年冬季由寨老和执委会组织", "鸣锣喊寨，提醒各户注意防火")], id="鸣锣喊寨"),
    pytest.param("自治章程与村规民约不一致的，以自治章程为准",
                 [("自治章程与村规民约不一致的，", "以自治章程为准")], id="自治章程"),
    pytest.param("每户每年应当清理房前屋后的杂草和垃圾不少于四次",
                 [("每户每年应当清理", "房前屋后的杂草和垃圾不少于四次")], id="房前屋后"),
    pytest.param("严禁在风雨桥上生火做饭、吸烟、燃放鞭炮",
                 [("严禁在风雨桥上生火做饭、", "吸烟、燃放鞭炮")], id="风雨桥-生火做饭"),
    pytest.param("侗族大歌和侗戏是本村的文化遗产，村民应当积极传承",
                 [("侗族大歌和侗戏是本村的文化遗产，", "村民应当积极传承")], id="侗族大歌"),
    # 《titles》: whole when they fit a line, else broken once, between words.
    pytest.param("依据《中华人民共和国村民委员会组织法》制定本公约",
                 [("依据《中华人民共和国", "村民委员会组织法》制定本公约")], id="long-title-at-word"),
    pytest.param("根据《中华人民共和国森林法》和《村规民约》的规定",
                 [("根据《中华人民共和国森林法》", "和《村规民约》的规定")], id="two-titles-whole"),
    pytest.param("按照《村规民约》的规定，由寨老主持调解",
                 [("按照《村规民约》的规定，", "由寨老主持调解")], id="short-title"),
    pytest.param("村民应当学习《中华人民共和国森林法》的有关规定",
                 [("村民应当学习",), ("《中华人民共和国森林法》的", "有关规定")],
                 id="title-whole-in-two-cues"),
    pytest.param("依照《森林防火条例》和本村规民约，护林员有权制止野外用火",
                 [("依照《森林防火条例》和本村规民约",), ("护林员有权制止野外用火",)],
                 id="title-and-term-whole-in-two-cues"),
    # Particles end the line before; localisers stay with their noun.
    pytest.param("消防设施应符合GB50016的要求，不得擅自拆除",
                 [("消防设施应符合GB50016的要求，", "不得擅自拆除")], id="的-not-first"),
    pytest.param("侗族大歌是我们祖先留下的宝贵财富，人人都要学唱",
                 [("侗族大歌是我们祖先", "留下的宝贵财富，人人都要学唱")], id="的-stays-with-留下"),
    pytest.param("在风雨桥和鼓楼内乱涂乱画的，责令其清洗干净",
                 [("在风雨桥和鼓楼内乱涂乱画的，", "责令其清洗干净")], id="的-before-comma"),
    pytest.param("严禁在饮用水源上游300米内放养畜禽、洗涤农药器具",
                 [("严禁在饮用水源上游300米内", "放养畜禽、洗涤农药器具")], id="米内-localiser"),
    # Numbers, codes and dates are never cut.
    pytest.param("发现火情请立即拨打119报警，并鸣锣喊寨通知全寨",
                 [("发现火情请立即拨打119报警，", "并鸣锣喊寨通知全寨")], id="119"),
    pytest.param("本公约自2023年1月1日起施行，由村民委员会负责解释",
                 [("本公约自2023年1月1日起施行，", "由村民委员会负责解释")], id="date"),
    pytest.param("违者由村委会责令改正，并处以100~500元罚款",
                 [("违者由村委会责令改正，", "并处以100~500元罚款")], id="range"),
    pytest.param("婚事酒席不超过20桌，丧事不超过3天，彩礼不超过3万元",
                 [("婚事酒席不超过20桌，", "丧事不超过3天，彩礼不超过3万元")], id="counts"),
    pytest.param("每户每年义务投工投劳不少于5个工日，不出工的每天缴纳80元",
                 [("每户每年义务投工投劳不少于", "5个工日，不出工的每天缴纳80元")], id="5个-whole"),
    pytest.param("本公约经2023年村民代表大会第三次会议讨论通过",
                 [("本公约经2023年村民代表大会", "第三次会议讨论通过")], id="2023年"),
    # Lists keep their 、, at the end of a line too.
    pytest.param("严禁在鼓楼、风雨桥、禾晾、粮仓周边燃放烟花爆竹",
                 [("严禁在鼓楼、风雨桥、", "禾晾、粮仓周边燃放烟花爆竹")], id="list-、"),
    pytest.param("孝敬老人、关爱儿童、邻里和睦是每个村民的责任",
                 [("孝敬老人、关爱儿童、", "邻里和睦是每个村民的责任")], id="list-then-predicate"),
    pytest.param("饮用水源保护区内禁止洗衣、洗菜、饲养畜禽和倾倒垃圾",
                 [("饮用水源保护区内禁止洗衣、", "洗菜、饲养畜禽和倾倒垃圾")], id="list-after-verb"),
    pytest.param("提倡喜事新办、丧事简办、小事不办",
                 [("提倡喜事新办、丧事简办、小事不办",)], id="list-one-line"),
    # Punctuation first, then balance: a comma wins over equal lines, a widow does not.
    pytest.param("网格员和护林员应当做好防火宣传，每月入户不少于两次",
                 [("网格员和护林员应当做好防火宣传，", "每月入户不少于两次")], id="comma-over-balance"),
    pytest.param("村民外出务工的，家中老人应当托付给亲属照看好了",
                 [("村民外出务工的，", "家中老人应当托付给亲属照看好了")], id="comma-8-15"),
    pytest.param("各家各户都要认真做好冬季森林防火工作",
                 [("各家各户都要认真", "做好冬季森林防火工作")], id="balanced-no-comma"),
    pytest.param("护林员发现火情后应当立即鸣锣喊寨，组织村民扑救",
                 [("护林员发现火情后应当立即", "鸣锣喊寨，组织村民扑救")], id="no-widow"),
    pytest.param("村民之间发生纠纷的，先由寨老调解，调解不成的报调解委员会",
                 [("村民之间发生纠纷的，先由寨老", "调解，调解不成的报调解委员会")],
                 id="only-fit-at-word"),
    # An unpunctuated lyric too long for one cue: cut where a clause opens (违者).
    pytest.param("每晚由轮值户鸣锣喊寨提醒各家熄灭火塘严禁在木楼旁堆放柴草违者罚款二百元",
                 [("每晚由轮值户鸣锣喊寨", "提醒各家熄灭火塘"), ("严禁在木楼旁堆放柴草", "违者罚款二百元")],
                 id="long-lyric-two-cues"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), BREAKS)
def test_covenant_sentences_break_like_a_broadcaster(text, expected):
    assert _cues(text) == expected


def test_wrap_zh_breaks_inside_a_title_only_when_nothing_else_fits():
    # One cue cannot hold this with 《…》 whole (build_cues makes two); wrap_zh must use two
    # lines, so the title breaks once, between its words.
    text = "村民应当学习《中华人民共和国森林法》的有关规定"
    assert wrap_zh(text) == ["村民应当学习《中华人民共和国", "森林法》的有关规定"]


# ---------------------------------------------------------------------- properties


@pytest.fixture(scope="module")
def tokenizer() -> jieba.Tokenizer:
    """jieba with the covenant terms as its user dictionary, apart from the one under test."""
    tk = jieba.Tokenizer()
    load_default_dictionary(tk)
    for word in COVENANT_TERMS:
        tk.add_word(word)
    return tk


def _sample_texts() -> list[str]:
    doc = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    return [doc["preamble"], *(clause["zh"] for clause in doc["clauses"])]


TEXTS = [
    *(pytest.param(text, id=f"sample-{n}") for n, text in enumerate(_sample_texts())),
    *(pytest.param(case.values[0], id=f"table-{case.id}") for case in BREAKS),
]

# A run of Latin letters and digits, with the measure word that ends it (2023年, 7天, 3万元).
_RUN = re.compile(
    r"[A-Za-z0-9]+(?:[.:~\-/][A-Za-z0-9]+)*(?:万?[年月日号元天晚个桌米亩株人户次岁])?"
)


def _break_offsets(shown: str, cues: list[Cue]) -> list[int]:
    """Where each line but the last ends in `shown`, matching lines to the text in order."""
    offsets, pos = [], 0
    lines = [line for cue in cues for line in cue.lines]
    for line in lines:
        start = shown.index(line, pos)
        # Only what a cue drops (spaces, a trailing comma) may lie between two lines.
        assert all(ch in DROP_TRAILING for ch in shown[pos:start]), (shown, lines)
        pos = start + len(line)
        offsets.append(pos)
    assert shown[pos:] == "", (shown, lines)
    return offsets[:-1]


def _phrase_cues(text: str) -> list[tuple[str, list[Cue]]]:
    """Each phrase of `text` as shown, with its cues, the way a clause is rendered."""
    out = []
    for phrase in split_phrases(text):
        shown = cue_text(phrase.display)
        if shown:
            out.append((shown, build_cues([phrase.display], [(0, 1000)])))
    return out


@pytest.mark.parametrize("text", TEXTS)
def test_every_line_obeys_the_rules(text):
    for shown, cues in _phrase_cues(text):
        for cue in cues:
            assert 1 <= len(cue.lines) <= MAX_LINES, cue
            for line in cue.lines:
                assert text_width(line) <= WIDTH, line
                assert line[0] not in PARTICLES, f"line starts with a particle: {line!r}"
                assert line[0] not in CLOSING, f"line starts with closing punctuation: {line!r}"
                assert line[-1] not in OPENING, f"line ends with an opening bracket: {line!r}"
        shown_lines = "".join(line for cue in cues for line in cue.lines)
        assert shown_lines.count("、") == shown.count("、"), "an enumeration comma was dropped"


@pytest.mark.parametrize("text", TEXTS)
def test_no_word_is_split_across_lines_or_cues(text, tokenizer):
    for shown, cues in _phrase_cues(text):
        bounds, pos = set(), 0
        for word in tokenizer.lcut(shown):
            pos += len(word)
            bounds.add(pos)
        for offset in _break_offsets(shown, cues):
            assert offset in bounds, f"break inside a word: {shown[:offset]!r} | {shown[offset:]!r}"


@pytest.mark.parametrize("text", TEXTS)
def test_titles_and_numbers_are_never_cut(text):
    for shown, cues in _phrase_cues(text):
        offsets = _break_offsets(shown, cues)
        spans = [m.span() for m in re.finditer(r"《[^《》]*》", shown)]
        fitting = [(a, b) for a, b in spans if text_width(shown[a:b]) <= WIDTH]
        spans = fitting + [m.span() for m in _RUN.finditer(shown)]
        for a, b in spans:
            assert not any(a < offset < b for offset in offsets), (shown[a:b], cues)


def test_the_sample_is_checked():
    # The properties above run over every clause of the sample covenant, titles included.
    texts = _sample_texts()
    assert len(texts) >= 10 and any("、" in t for t in texts)
    assert sum("《" in case.values[0] for case in BREAKS) >= 5
