"""media_pipeline.text: display text, spoken readings, pinyin for espeak, phrase splitting."""

from __future__ import annotations

import pytest

from media_pipeline.text import (
    PAUSE_COMMA,
    PAUSE_SEMICOLON,
    PAUSE_STOP,
    Phrase,
    display_text,
    pinyin_for_speech,
    split_phrases,
    spoken_text,
)

SPOKEN_CASES = [
    pytest.param("罚款100元", "罚款一百元", id="money"),
    pytest.param("罚款2500元", "罚款两千五百元", id="money-leading-two"),
    pytest.param("200元", "两百元", id="two-hundred"),
    pytest.param("2元", "两元", id="two-yuan"),
    pytest.param("22000元", "两万二千元", id="two-wan-inner-er"),
    pytest.param("2万元", "两万元", id="two-wan"),
    pytest.param("¥200", "两百元", id="yen-sign"),
    pytest.param("罚款1,000元", "罚款一千元", id="thousands-separator"),
    pytest.param("12个", "十二个", id="twelve-stays-er"),
    pytest.param("20人", "二十人", id="twenty-stays-er"),
    pytest.param("编号2", "编号二", id="two-alone"),
    pytest.param("2024年", "二零二四年", id="year"),
    pytest.param("3.5亩", "三点五亩", id="decimal"),
    pytest.param("2.5亩", "二点五亩", id="decimal-two"),
    pytest.param("50%", "百分之五十", id="percent"),
    pytest.param("0.5%", "百分之零点五", id="percent-decimal"),
    pytest.param("10%-20%", "百分之十到百分之二十", id="percent-range"),
    pytest.param("100~200元", "一百到两百元", id="range-tilde"),
    pytest.param("100-200元", "一百到两百元", id="range-hyphen"),
    pytest.param("100至200元", "一百到两百元", id="range-zhi"),
    pytest.param("100～200元", "一百到两百元", id="range-fullwidth-tilde"),
    pytest.param("第9条", "第九条", id="ordinal-9"),
    pytest.param("第10条", "第十条", id="ordinal-10"),
    pytest.param("第2条", "第二条", id="ordinal-two-stays-er"),
    pytest.param("第1-3条", "第一到三条", id="ordinal-range"),
    pytest.param("2024年3月1日", "二零二四年三月一日", id="date-chinese"),
    pytest.param("2024-03-01", "二零二四年三月一日", id="date-iso"),
    pytest.param("2024.3.1", "二零二四年三月一日", id="date-dots"),
    pytest.param("2024/3/1", "二零二四年三月一日", id="date-slashes"),
    pytest.param("2月2日", "二月二日", id="month-day-stay-er"),
    pytest.param("8:30", "八点三十分", id="time"),
    pytest.param("08:05", "八点零五分", id="time-leading-zero"),
    pytest.param("2:00", "两点", id="time-on-the-hour"),
    pytest.param("12:30:15", "十二点三十分十五秒", id="time-seconds"),
    pytest.param("13812345678", "幺三八，幺二三四，五六七八", id="mobile"),
    pytest.param("0855-1234567", "零八五五，幺二三四五六七", id="landline"),
    pytest.param("电话：8221234", "电话：八二二幺二三四", id="phone-after-keyword"),
    pytest.param("热线 96128", "热线 九六幺二八", id="hotline-after-keyword"),
    pytest.param("拨打119报警", "拨打幺幺九报警", id="emergency-number"),
    pytest.param("3次", "三次", id="count"),
    pytest.param("2个月", "两个月", id="two-months-duration"),
    pytest.param("1000平方米", "一千平方米", id="area"),
    pytest.param("10km", "十公里", id="latin-unit"),
    pytest.param("10公里", "十公里", id="chinese-unit"),
    pytest.param("限重5t", "限重五吨", id="tonnes"),
    pytest.param("-3", "负三", id="negative"),
    pytest.param("-5℃", "零下五摄氏度", id="below-zero"),
    pytest.param("1/3", "三分之一", id="fraction"),
    pytest.param("3:1", "三比一", id="ratio"),
    pytest.param("１２３元", "一百二十三元", id="fullwidth-digits"),
    pytest.param("007号", "零零七号", id="leading-zero-code"),
    pytest.param("100000元", "十万元", id="ten-wan"),
    pytest.param("1、不得赌博", "一、不得赌博", id="list-number"),
    pytest.param("村規民約", "村规民约", id="traditional-to-simplified"),
    pytest.param("第1.2条", "第一点二条", id="ordinal-section"),
    pytest.param("3.2.1", "三点二点一", id="dotted-section-number"),
    pytest.param("1,2,3", "一,二,三", id="digits-left-over"),
    pytest.param("每亩100元/年", "每亩一百元每年", id="per-slash"),
    pytest.param("2-3人", "两到三人", id="range-of-people"),
    pytest.param("3~5km", "三到五公里", id="range-latin-unit"),
]


@pytest.mark.parametrize(("text", "expected"), SPOKEN_CASES)
def test_spoken_text(text: str, expected: str) -> None:
    assert spoken_text(text) == expected


def test_spoken_text_leaves_no_digits_in_a_clause() -> None:
    clause = "第3条：2024年起，每户每年交卫生费50元，电话0855-1234567。"
    spoken = spoken_text(clause)
    assert not any(ch.isdigit() for ch in spoken)
    assert spoken == "第三条：二零二四年起，每户每年交卫生费五十元，电话零八五五，幺二三四五六七。"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "村規民約,禁止亂砍濫伐.", "村规民约，禁止乱砍滥伐。", id="t2s-and-punctuation"
        ),
        pytest.param("第一條:村民應當遵守;", "第一条：村民应当遵守；", id="colon-semicolon"),
        pytest.param("真的嗎?好!", "真的吗？好！", id="question-exclamation"),
        pytest.param("村民(包括外出人员)", "村民（包括外出人员）", id="parentheses"),
        pytest.param("(1)不得赌博", "（1）不得赌博", id="parenthesised-number"),
        pytest.param("罚款1,000元, 时间8:30", "罚款1,000元，时间8:30", id="numbers-untouched"),
        pytest.param("  不得 \n\t 赌博  ", "不得 赌博", id="collapse-whitespace"),
        pytest.param("村民 ， 应当", "村民，应当", id="no-space-beside-fullwidth"),
        pytest.param(
            "Dong text, in Latin. 侗文", "Dong text, in Latin. 侗文", id="latin-untouched"
        ),
        pytest.param("1. 不得", "1. 不得", id="list-dot-kept"),
    ],
)
def test_display_text(text: str, expected: str) -> None:
    assert display_text(text) == expected


@pytest.mark.parametrize(
    ("spoken", "expected"),
    [
        pytest.param("村规民约", "cun1 gui1 min2 yue1", id="plain"),
        pytest.param("重新还款", "chong2 xin1 huan2 kuan3", id="chong-huan"),
        # 3rd-tone sandhi is applied (as spoken): 长老 zhang3 lao3 → zhang2 lao3.
        pytest.param("村中长老", "cun1 zhong1 zhang2 lao3", id="zhang-with-sandhi"),
        pytest.param("银行行长", "yin2 hang2 hang2 zhang3", id="hang-zhang"),
        pytest.param("长期", "chang2 qi1", id="chang"),
        pytest.param("不要", "bu2 yao4", id="bu-sandhi"),
        pytest.param("他的", "ta1 de5", id="neutral-tone-5"),
        pytest.param(
            "不得，违者罚款；好。", "bu4 de2, wei2 zhe3 fa2 kuan3, hao3.", id="punctuation-pauses"
        ),
        pytest.param("ABC村", "ABC cun1", id="latin-kept"),
        pytest.param("第一章 总则", "di4 yi1 zhang1, zong3 ze2", id="space-is-pause"),
        pytest.param("罚款5元", "fa2 kuan3 wu3 yuan2", id="stray-digit-read-as-number"),
    ],
)
def test_pinyin_for_speech(spoken: str, expected: str) -> None:
    assert pinyin_for_speech(spoken) == expected


CLAUSE = (
    "第一条：村民应当遵守村规民约，不得在风雨桥和鼓楼附近燃放烟花爆竹；"
    "违者罚款1,000元，时间08:30，电话0855-1234567，面积3.5亩，罚款100~200元，"
    "日期2024.3.1。一、不得赌博。"
)


def test_split_phrases_at_punctuation_with_pauses() -> None:
    phrases = split_phrases(CLAUSE)
    assert [p.display for p in phrases] == [
        "第一条：村民应当遵守村规民约，",
        "不得在风雨桥和鼓楼附近燃放烟花爆竹；",
        "违者罚款1,000元，",
        "时间08:30，",
        "电话0855-1234567，",
        "面积3.5亩，",
        "罚款100~200元，",
        "日期2024.3.1。",
        "一、不得赌博。",
    ]
    assert [p.pause_after_ms for p in phrases] == [
        *[PAUSE_COMMA],
        PAUSE_SEMICOLON,
        *[PAUSE_COMMA] * 5,
        PAUSE_STOP,
        PAUSE_STOP,
    ]
    assert phrases[2] == Phrase("违者罚款1,000元，", "违者罚款一千元，", PAUSE_COMMA)


@pytest.mark.parametrize(
    "number", ["1,000", "3.5", "08:30", "100~200", "0855-1234567", "2024.3.1", "13812345678"]
)
def test_split_phrases_never_splits_a_number(number: str) -> None:
    text = f"村民应当遵守本公约的全部规定违者按照有关规定处以罚款{number}元并通报全村"
    phrases = split_phrases(text, max_chars=12)
    assert sum(number in p.display for p in phrases) == 1
    assert "".join(p.display for p in phrases) == text


def test_split_phrases_respects_max_chars_at_word_boundaries() -> None:
    text = "村民应当遵守村规民约不得在风雨桥和鼓楼附近燃放烟花爆竹违者罚款一千元并鸣锣喊寨一次"
    phrases = split_phrases(text, max_chars=16)
    assert len(phrases) > 1
    assert all(sum(ch.isalnum() for ch in p.display) <= 16 for p in phrases)
    assert "".join(p.display for p in phrases) == text
    displays = [p.display for p in phrases]
    assert not any(d.endswith("村规") or d.startswith("民约") for d in displays)
    assert phrases[0].pause_after_ms < PAUSE_COMMA  # a breath, not a comma
    assert phrases[-1].pause_after_ms == PAUSE_STOP  # the end of the text


def test_split_phrases_merges_short_lead_in_and_keeps_closing_quotes() -> None:
    phrases = split_phrases("一、不得赌博。村里寨老说：“不许乱砍。”")
    assert [p.display for p in phrases] == ["一、不得赌博。", "村里寨老说：", "“不许乱砍。”"]
    assert phrases[-1].pause_after_ms == PAUSE_STOP


def test_split_phrases_line_breaks_end_headings() -> None:
    phrases = split_phrases("第一章 总则\n第一條 為了維護村寨安全,制定本公約.")
    assert [p.display for p in phrases] == [
        "第一章 总则",
        "第一条 为了维护村寨安全，",
        "制定本公约。",
    ]
    assert phrases[0].pause_after_ms == PAUSE_SEMICOLON


def test_split_phrases_empty() -> None:
    assert split_phrases("  \n ") == []
