"""Readings an announcer would use, and a covenant's own pronunciation list.

The table holds what a text says (spoken_text) and, where the characters alone do not show
it, the tone-numbered pinyin espeak-ng is given (pinyin_for_speech, tone sandhi applied as
spoken). The list tests run the real reader, SQLite, espeak-ng and ffmpeg.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import pytest
from sqlalchemy import select

from media_pipeline.jobs import PIPELINE_VERSION, ClauseJob, RenderOptions
from media_pipeline.speech.espeak import espeak_input
from media_pipeline.text import (
    ReadingError,
    normalise_reading,
    normalise_word,
    pinyin_for_speech,
    read_aloud,
    readings_used,
    respell,
    split_phrases,
    spoken_text,
)
from tests.conftest import SMALL_COVENANT, make_library


def case(text: str, spoken: str, pinyin: str | None = None, *, id: str):  # noqa: A002, ANN201
    """One row of the table: what `text` says, and its pinyin where that is the point."""
    return pytest.param(text, spoken, pinyin, id=id)


READINGS = [
    # Adverbial 地 is the particle de5; the noun stays dì.
    case("更好地保护林地", "更好地保护林地", "geng4 hao3 de5 bao3 hu4 lin2 di4", id="de-genghao"),
    case(
        "认真地做好防火工作",
        "认真地做好防火工作",
        "ren4 zhen1 de5 zuo4 hao3 fang2 huo3 gong1 zuo4",
        id="de-renzhen",
    ),
    case("积极地参与", "积极地参与", "ji1 ji2 de5 can1 yu4", id="de-jiji"),
    case(
        "自觉地遵守村规民约",
        "自觉地遵守村规民约",
        "zi4 jue2 de5 zun1 shou3 cun1 gui1 min2 yue1",
        id="de-zijue",
    ),
    case(
        "积极主动地参加", "积极主动地参加", "ji1 ji2 zhu3 dong4 de5 can1 jia1", id="de-after-idiom"
    ),
    case("依法依规地处理", "依法依规地处理", "yi1 fa3 yi1 gui1 de5 chu2 li3", id="de-yigui"),
    case("合理地利用土地", "合理地利用土地", "he2 li3 de5 li4 yong4 tu3 di4", id="de-and-tudi"),
    case("慢慢地走", "慢慢地走", "man4 man4 de5 zou3", id="de-reduplicated"),
    case("有序地开展", "有序地开展", "you3 xu4 de5 kai1 zhan3", id="de-youxu"),
    case("土地", "土地", "tu3 di4", id="di-tudi"),
    case("地方", "地方", "di4 fang1", id="di-difang"),
    case("宅基地", "宅基地", "zhai2 ji1 di4", id="di-zhaijidi"),
    case("林地", "林地", "lin2 di4", id="di-lindi"),
    case("耕地", "耕地", "geng1 di4", id="di-gengdi"),
    case(
        "保护公益林地内的树木",
        "保护公益林地内的树木",
        "bao3 hu4 gong1 yi4 lin2 di4 nei4 de5 shu4 mu4",
        id="di-after-forest-word",
    ),
    case(
        "这块地归集体所有",
        "这块地归集体所有",
        "zhe4 kuai4 di4 gui1 ji2 ti3 suo2 you3",
        id="di-plot",
    ),
    case(
        "不得占用基本农田地",
        "不得占用基本农田地",
        "bu4 de2 zhan4 yong4 ji1 ben3 nong2 tian2 di4",
        id="di-after-field-word",
    ),
    case(
        "集体的地不得买卖",
        "集体的地不得买卖",
        "ji2 ti3 de5 di4 bu4 de2 mai3 mai4",
        id="di-possessed",
    ),
    case("在当地", "在当地", "zai4 dang1 di4", id="di-dangdi"),
    case("两亩地归村集体", "两亩地归村集体", "liang3 mu3 di4 gui1 cun1 ji2 ti3", id="di-after-mu"),
    # Ordinals and list items never use 两; an ordinal's 一 keeps its tone.
    case("第1、2条", "第一、二条", "di4 yi1, er4 tiao2", id="ordinal-list"),
    case("第1、2、3条", "第一、二、三条", id="ordinal-list-three"),
    case("第2、3款", "第二、三款", id="ordinal-list-kuan"),
    case("第1和2条", "第一和二条", id="ordinal-list-he"),
    case("违反第2条", "违反第二条", id="ordinal-two"),
    case("第12条", "第十二条", id="ordinal-twelve"),
    case("第2至5条", "第二到五条", id="ordinal-range-zhi"),
    case("2、不得赌博", "二、不得赌博", id="list-item-two"),
    case("(2)不得", "（二）不得", id="list-item-parenthesised"),
    case("第一条", "第一条", "di4 yi1 tiao2", id="ordinal-yi-keeps-tone"),
    case("第11条", "第十一条", "di4 shi2 yi1 tiao2", id="ordinal-eleven"),
    case("第21条", "第二十一条", "di4 er4 shi2 yi1 tiao2", id="ordinal-twenty-one"),
    case("第2名", "第二名", id="ordinal-rank"),
    case("第1,000名", "第一千名", id="ordinal-thousands-separator"),
    case("前2名", "前两名", id="count-rank"),
    case("一条河", "一条河", "yi4 tiao2 he2", id="count-yi-sandhi"),
    # 两 in counts, approximate ones included; 二 elsewhere.
    case("2000多人", "两千多人", "liang3 qian1 duo1 ren2", id="approx-duo"),
    case("2000余亩", "两千余亩", id="approx-yu"),
    case("200来人", "两百来人", id="approx-lai"),
    case("20多人", "二十多人", id="approx-twenty-stays-er"),
    case("2万多元", "两万多元", id="approx-wan"),
    case("2000多年", "两千多年", id="approx-years-not-a-year"),
    case("2000元", "两千元", id="money-two-thousand"),
    case("2000.5元", "两千点五元", id="money-decimal-liang"),
    case("2.5元", "二点五元", id="money-decimal-er"),
    case("第二千", "第二千", id="hanzi-ordinal-untouched"),
    case("二〇〇〇年", "二〇〇〇年", "er4 ling2 ling2 ling2 nian2", id="hanzi-year-untouched"),
    case("2年级", "二年级", id="grade-not-liang"),
    case("2栋房屋", "两栋房屋", id="measure-dong"),
    case("2笔罚款", "两笔罚款", id="measure-bi"),
    case("2倍", "两倍", id="measure-bei"),
    case("2个月", "两个月", id="measure-ge"),
    # Emergency and service numbers digit by digit, 1 as 幺, where they are dialled.
    case("火警请打119", "火警请打幺幺九", "huo3 jing3 qing3 da3 yao1 yao1 jiu3", id="dial-119"),
    case("拨打110报警", "拨打幺幺零报警", id="dial-110"),
    case("拨打110、119、120", "拨打幺幺零、幺幺九、幺二零", id="dial-list"),
    case("牢记110或119", "牢记幺幺零或幺幺九", id="service-pair"),
    case("120急救", "幺二零急救", "yao1 er4 ling2 ji2 jiu4", id="ambulance-120"),
    case("122交通事故报警", "幺二二交通事故报警", id="traffic-122"),
    case("市民热线12345", "市民热线幺二三四五", id="hotline-12345"),
    case("12345政务服务热线", "幺二三四五政务服务热线", id="hotline-12345-before"),
    case("投诉请拨12315", "投诉请拨幺二三幺五", id="consumer-12315"),
    case("森林火警12119", "森林火警幺二幺幺九", id="forest-fire-12119"),
    case("电话：119", "电话：幺幺九", id="service-after-dianhua"),
    case("拨打 110", "拨打 幺幺零", id="service-after-space"),
    case("110千伏线路", "一百一十千伏线路", id="kilovolts-not-dialled"),
    case("110kV", "一百一十千伏", id="kv-unit"),
    case("限速120", "限速一百二十", id="speed-not-dialled"),
    case("120人", "一百二十人", id="people-not-dialled"),
    # Generations.
    case("80后", "八零后", "ba1 ling2 hou4", id="gen-80"),
    case("90后青年", "九零后青年", id="gen-90"),
    case("00后", "零零后", id="gen-00"),
    case("3天后", "三天后", id="days-after-not-gen"),
    case("30日后", "三十日后", id="date-after-not-gen"),
    # Codes of letters and digits, digit by digit.
    case("GB50016", "GB五零零一六", id="code-gb"),
    case("国标GB 50016-2014", "国标GB 五零零一六，二零一四", id="code-gb-year"),
    case("GB/T 2887-2011", "GB/T 二八八七，二零一一", id="code-gbt"),
    case("G65高速", "G六五高速", id="code-highway"),
    case("H7N9", "H七N九", id="code-virus"),
    case("A4纸", "A四纸", id="code-paper"),
    case("PM2.5", "PM二点五", id="decimal-after-letters"),
    case("ABC 100元", "ABC 一百元", id="amount-after-a-word"),
    # Years and dates.
    case("2023年", "二零二三年", "er4 ling2 er4 san1 nian2", id="year"),
    case("1998年", "一九九八年", "yi1 jiu3 jiu3 ba1 nian2", id="year-yi-keeps-tone"),
    case("2021-2025年", "二零二一到二零二五年", id="year-range"),
    case("2021至2025年", "二零二一到二零二五年", id="year-range-zhi"),
    case("2021年-2025年", "二零二一年到二零二五年", id="year-to-year-not-minus"),
    case("3月1日-3月15日", "三月一日到三月十五日", id="date-range-not-minus"),
    case("8:00-17:00", "八点到十七点", id="time-range"),
    case("2024年12月31日", "二零二四年十二月三十一日", id="date-full"),
    case("2024-12-31", "二零二四年十二月三十一日", id="date-iso"),
    case("1月1日", "一月一日", "yi1 yue4 yi1 ri4", id="date-new-year"),
    case("11月", "十一月", "shi2 yi1 yue4", id="month-eleven"),
    # Telephone numbers.
    case("13812345678", "幺三八，幺二三四，五六七八", id="mobile"),
    case("138-1234-5678", "幺三八，幺二三四，五六七八", id="mobile-dashes"),
    case("138 1234 5678", "幺三八，幺二三四，五六七八", id="mobile-spaces"),
    case("0855-1234567", "零八五五，幺二三四五六七", id="landline"),
    case("400-123-4567", "四零零，幺二三，四五六七", id="line-400"),
    case(
        "联系电话：0855-8221234", "联系电话：零八五五，八二二幺二三四", id="landline-after-keyword"
    ),
    # Percentages.
    case("2%", "百分之二", id="percent-two"),
    case("25%", "百分之二十五", id="percent"),
    case("0.5%", "百分之零点五", id="percent-decimal"),
    case("2‰", "千分之二", id="per-mille"),
    # Money.
    case("5000元", "五千元", id="money"),
    case("罚款200元", "罚款两百元", id="money-two-hundred"),
    case("¥2000", "两千元", id="money-yen"),
    case("2500元", "两千五百元", id="money-inner-hundreds"),
    case("1,200元", "一千二百元", "yi4 qian1 er4 bai3 yuan2", id="money-separator-yi-sandhi"),
    case("10000元", "一万元", "yi2 wan4 yuan2", id="money-yi-before-wan"),
    case("50万元", "五十万元", id="money-wan"),
    case("2.5万元", "二点五万元", id="money-decimal-wan"),
    # Decimals, times, fractions, temperatures.
    case("3.5亩", "三点五亩", id="decimal-mu"),
    case("0.25公顷", "零点二五公顷", id="decimal-leading-zero"),
    case("12.5", "十二点五", id="decimal-bare"),
    case("2:00", "两点", id="time-two-oclock"),
    case("22:30", "二十二点三十分", id="time-evening"),
    case("1/2", "二分之一", id="fraction"),
    case("-2℃", "零下二摄氏度", id="below-zero"),
]


def test_the_table_is_large() -> None:
    assert len(READINGS) >= 100


@pytest.mark.parametrize(("text", "spoken", "pinyin"), READINGS)
def test_reading(text: str, spoken: str, pinyin: str | None) -> None:
    said = spoken_text(text)
    assert said == spoken
    assert not any(ch.isdigit() for ch in said)
    if pinyin is not None:
        assert pinyin_for_speech(said) == pinyin


# ----------------------------------------------------------------------- pronunciation lists


@pytest.mark.parametrize(
    ("reading", "stored"),
    [
        pytest.param("chong2 qing4", "chong2 qing4", id="tone-numbers"),
        pytest.param("chóng qìng", "chong2 qing4", id="tone-marks"),
        pytest.param("  Chong2   Qing4 ", "chong2 qing4", id="case-and-spaces"),
        pytest.param("chong2qing4", "chong2 qing4", id="numbers-run-together"),
        pytest.param("lü4 se4", "lv4 se4", id="u-umlaut"),
        pytest.param("lu:4", "lv4", id="u-colon"),
        pytest.param("dōng xi", "dong1 xi5", id="unmarked-is-neutral-with-marks"),
        pytest.param("鼓樓", "鼓楼", id="hanzi-simplified"),
    ],
)
def test_readings_are_stored_in_one_form(reading: str, stored: str) -> None:
    assert normalise_reading(reading) == stored


@pytest.mark.parametrize(
    ("reading", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("chongqing", "tone number", id="no-tones"),
        pytest.param("chong2 qing", "tone number", id="one-tone-missing"),
        pytest.param("重qing4", "mixes Hanzi and pinyin", id="mixed"),
        pytest.param("xx3", "no character is read xx3", id="not-a-syllable"),
    ],
)
def test_bad_readings_are_refused_plainly(reading: str, message: str) -> None:
    with pytest.raises(ReadingError, match=message):
        normalise_reading(reading)


@pytest.mark.parametrize(
    "word", [pytest.param("", id="empty"), pytest.param("鼓楼，风雨桥", id="punctuation")]
)
def test_bad_words_are_refused(word: str) -> None:
    with pytest.raises(ReadingError):
        normalise_word(word)


@pytest.mark.parametrize(
    "reading",
    ["chong2 qing4", "dong4 zu2 da4 ge1", "kuan3 yue1", "lv4 se4", "nv3", "gong1 ge1", "ma5"],
)
def test_a_pinyin_reading_is_said_through_common_characters(reading: str) -> None:
    said = respell(reading)
    assert len(said) == len(reading.split())
    # Said alone (no sandhi across these readings' syllables), the characters read as listed.
    assert pinyin_for_speech(said) == reading


def test_a_listed_word_is_said_its_way_by_every_engine() -> None:
    readings = [("侗族大歌", "dong4 zu2 da4 ge1"), ("寨老", "寨佬"), ("款约", "kuan3 yue1")]
    text = "侗族大歌和款约由寨老传唱"
    spoken = spoken_text(text, readings)
    assert "寨佬" in spoken and "寨老" not in spoken and "款约" not in spoken
    # espeak-ng's pinyin voice says the listed pinyin; gTTS and Piper read the same spoken text.
    pinyin = espeak_input("cmn-latn-pinyin", spoken)
    assert pinyin.startswith("dong4 zu2 da4 ge1 he2 kuan3 yue1")


def test_the_longest_listed_word_wins_and_numbers_keep_their_context() -> None:
    readings = [("侗族", "tong2 zu2"), ("侗族大歌", "大歌侗"), ("亩", "mou3")]
    assert spoken_text("侗族大歌", readings) == "大歌侗"
    said_tong = respell("tong2 zu2")
    assert spoken_text("侗族人", readings) == f"{said_tong}人"
    # The number before a listed word still sees it: 2亩 is 两 (a count), its 亩 said its way.
    assert spoken_text("2亩", readings) == f"两{respell('mou3')}"
    # A listed word holding digits is said as listed, not as a number.
    assert spoken_text("请拨110", [("110", "幺幺洞")]) == "请拨幺幺洞"


def test_phrases_are_never_cut_inside_a_listed_word() -> None:
    text = "村民应当遵守本公约的全部规定违者按照有关规定处以罚款并通报全村侗族大歌传承人"
    word = "通报全村侗族"
    readings = [(word, "tong1 bao4 quan2 cun1 dong4 zu2")]
    phrases = split_phrases(text, max_chars=12, readings=readings)
    assert sum(word in p.display for p in phrases) == 1
    assert "".join(p.display for p in phrases) == text


def test_readings_used_are_the_words_the_text_holds() -> None:
    readings = [("寨老", "zhai4 lao3"), ("鼓楼", "gu3 lou2"), ("侗族", "dong4 zu2")]
    assert readings_used("第一条 寨老和鼓樓", readings) == (
        ("寨老", "zhai4 lao3"),
        ("鼓楼", "gu3 lou2"),
    )
    assert readings_used("垃圾分类投放", readings) == ()


def test_read_aloud_shows_display_spoken_and_pinyin() -> None:
    phrases = read_aloud("第1条：更好地保护林地，火警请打119。", [("林地", "lin2 di4")])
    assert [p.display for p in phrases] == ["第1条：更好地保护林地，", "火警请打119。"]
    assert phrases[1].spoken == "火警请打幺幺九。"
    assert phrases[1].pinyin == "huo3 jing3 qing3 da3 yao1 yao1 jiu3."
    assert "geng4 hao3 de5" in phrases[0].pinyin


def test_render_key_holds_only_the_clause_words() -> None:
    job = ClauseJob("k", 1, "不得倒入河中", None, "村", "公约", "第一条", "环境", RenderOptions())
    listed = ClauseJob(
        "k", 1, "不得倒入河中", None, "村", "公约", "第一条", "环境", RenderOptions(), None,
        (("河中", "he2 zhong1"),),
    )  # fmt: skip
    assert job.inputs_hash() != listed.inputs_hash()
    # No listed word: the key of a clause is what it was before lists existed (made of the
    # fields a job had then).
    before_lists = (
        "number", "text_zh", "text_dong", "village", "covenant_title", "clause_label", "topic",
        "options", "music_bed_sha256",
    )  # fmt: skip
    data = {name: value for name, value in asdict(job).items() if name in before_lists}
    data["options"].pop("music_bed")
    data["options"].pop("intro")  # the gong, as before intros could be chosen
    data["pipeline"] = PIPELINE_VERSION
    legacy = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode())
    assert job.inputs_hash() == legacy.hexdigest()


# ------------------------------------------------------------------- the library and commands


def _import(db, tmp_path, text: str = SMALL_COVENANT) -> str:
    from library.covenants.versions import import_covenant

    source = tmp_path / "yanjiao.txt"
    source.write_text(text, encoding="utf-8")
    return import_covenant(db, source).covenant.slug


def test_list_is_kept_across_versions(db, tmp_path):
    from library.covenants.pronunciations import (
        PronunciationError,
        pronunciation_list,
        readings_of,
        remove_pronunciation,
        set_pronunciation,
    )
    from library.covenants.rendering import _plan
    from library.models import Covenant

    slug = _import(db, tmp_path)
    with db.session(write=True) as session:
        done = set_pronunciation(session, slug, "垃圾", "lè sè")
        assert done.clause_keys == (f"{slug}-03",) and done.pinyin == "le4 se4"
        set_pronunciation(session, slug, "火塘", "huo3 tang2")
        set_pronunciation(session, slug, "火塘", "火堂")  # changed, not added twice
    _import(db, tmp_path, SMALL_COVENANT.replace("200元", "300元"))  # version 2
    with db.session() as session:
        listed = [(p.word, p.reading) for p in pronunciation_list(session, slug)]
        assert listed == [("垃圾", "le4 se4"), ("火塘", "火堂")]  # by word
        covenant_id = session.scalar(select(Covenant.id).where(Covenant.slug == slug))
        assert readings_of(session, covenant_id) == (("垃圾", "le4 se4"), ("火塘", "火堂"))
    jobs, _ = _plan(db, slug, None, RenderOptions())
    assert [job.readings for _, job in jobs] == [(("火塘", "火堂"),), (), (("垃圾", "le4 se4"),)]
    with db.session(write=True) as session:
        remove_pronunciation(session, slug, "火塘")
        with pytest.raises(PronunciationError, match="垃圾"):
            remove_pronunciation(session, slug, "鼓楼")
        with pytest.raises(PronunciationError, match="tone"):
            set_pronunciation(session, slug, "鼓楼", "gu lou")


@pytest.mark.slow
def test_a_changed_reading_rerenders_only_the_clauses_saying_it(tmp_path):
    from library.covenants.pronunciations import remove_pronunciation, set_pronunciation
    from library.covenants.rendering import render_covenant
    from tests.test_render import current_segments

    config, db, store = make_library(tmp_path)
    slug = _import(db, tmp_path)
    options = RenderOptions(profiles=("web",), video_sizes=())

    def render():  # noqa: ANN202
        return render_covenant(db, store, slug, options, cache_dir=config.cache_dir, workers=1)

    def audio_sha(key: str) -> str:
        return current_segments(db, slug)[key].file("audio-web").sha256

    assert len(render().rendered) == 3
    before = audio_sha(f"{slug}-03")

    with db.session(write=True) as session:
        set_pronunciation(session, slug, "垃圾", "le4 se4")
    second = render()
    assert second.rendered == [f"{slug}-03"]
    assert sorted(second.skipped) == [f"{slug}-01", f"{slug}-02"]
    assert second.synthesised == 1  # only the phrase holding the word: "垃圾分类投放，"
    assert audio_sha(f"{slug}-03") != before

    with db.session(write=True) as session:
        remove_pronunciation(session, slug, "垃圾")
    third = render()  # the clause's first render matches again: nothing is made
    assert third.rendered == [] and third.synthesised == 0


def test_read_command(runner, tmp_path):
    result = runner.invoke("read", "第1、2条：更好地保护林地，火警请打119。")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:6] == [
        "1. 第1、2条：",
        "   读作 / said:   第一、二条：",
        "   拼音 / pinyin: di4 yi1, er4 tiao2",
        "2. 更好地保护林地，",
        "   读作 / said:   更好地保护林地，",
        "   拼音 / pinyin: geng4 hao3 de5 bao3 hu4 lin2 di4",
    ]
    assert "火警请打幺幺九。" in result.output

    gbk = tmp_path / "clause.txt"
    gbk.write_bytes("村民2000多人。".encode("gb18030"))
    from_file = runner.invoke("read", "--file", gbk)
    assert from_file.exit_code == 0 and "两千多人" in from_file.output
    for args in (("read", "-"), ("read", "--file", "-")):
        piped = runner.invoke(*args, input="80后青年".encode())
        assert piped.exit_code == 0 and "ba1 ling2 hou4" in piped.output

    both = runner.invoke("read", "字", "--file", gbk)
    assert both.exit_code == 2 and "--file" in both.output
    missing = runner.invoke("read")
    assert missing.exit_code == 2


def test_say_says_unsay_and_read_with_the_list(runner, tmp_path):
    source = tmp_path / "yanjiao.txt"
    source.write_text(SMALL_COVENANT, encoding="utf-8")
    assert runner.invoke("covenant", "import", source).exit_code == 0

    said = runner.invoke("covenant", "say", "yanjiaocun", "火塘", "huǒ táng")
    assert said.exit_code == 0, said.output
    assert "huo3 tang2" in said.output and "yanjiaocun-01" in said.output
    listed = runner.invoke("covenant", "says", "yanjiaocun")
    assert listed.output.splitlines() == ["火塘\thuo3 tang2"]

    read = runner.invoke("read", "--covenant", "yanjiaocun", "熄灭火塘")
    assert read.exit_code == 0 and f"熄灭{respell('huo3 tang2')}" in read.output

    bad = runner.invoke("covenant", "say", "yanjiaocun", "鼓楼", "gulou")
    assert bad.exit_code == 1 and "Traceback" not in bad.output and "tone" in bad.output
    nowhere = runner.invoke("covenant", "say", "nowhere", "鼓楼", "gu3 lou2")
    assert nowhere.exit_code == 1 and "nowhere" in nowhere.output

    gone = runner.invoke("covenant", "unsay", "yanjiaocun", "火塘")
    assert gone.exit_code == 0 and "火塘" in gone.output
    empty = runner.invoke("covenant", "says", "yanjiaocun")
    assert "empty" in empty.output
    again = runner.invoke("covenant", "unsay", "yanjiaocun", "火塘")
    assert again.exit_code == 1 and "火塘" in again.output
