"""The covenant parser: numbering styles, formats, encodings, Dong lines, topics and errors."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from library.covenants.parser import (
    TOPICS,
    ParsedCovenant,
    guess_topic,
    load_covenant,
    parse_covenant,
    read_text,
)
from library.errors import (
    CovenantFileError,
    CovenantSchemaError,
    DuplicateClause,
    LibraryError,
    NoClausesFound,
)

SAMPLES = Path(__file__).resolve().parent.parent / "library" / "samples"


def clauses(parsed: ParsedCovenant) -> list[tuple[int, str, str]]:
    return [(c.number, c.label, c.text_zh) for c in parsed.clauses]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "第一条 严禁野外用火。\n第二条 爱护河道。",
            [(1, "第一条", "严禁野外用火。"), (2, "第二条", "爱护河道。")],
            id="chinese-numeral-space",
        ),
        pytest.param(
            "第一条：严禁野外用火。\n第二条：爱护河道。",
            [(1, "第一条", "严禁野外用火。"), (2, "第二条", "爱护河道。")],
            id="full-width-colon",
        ),
        pytest.param(
            "第一条:严禁野外用火。\n第二条: 爱护河道。",
            [(1, "第一条", "严禁野外用火。"), (2, "第二条", "爱护河道。")],
            id="half-width-colon",
        ),
        pytest.param(
            "第1条 严禁野外用火。\n第2条 爱护河道。",
            [(1, "第1条", "严禁野外用火。"), (2, "第2条", "爱护河道。")],
            id="arabic-digits",
        ),
        pytest.param(
            "第十一条 严禁野外用火。\n第十二条 爱护河道。",
            [(11, "第十一条", "严禁野外用火。"), (12, "第十二条", "爱护河道。")],
            id="compound-numeral",
        ),
        pytest.param(
            "第１１条　严禁野外用火。\n第１２条　爱护河道。",
            [(11, "第１１条", "严禁野外用火。"), (12, "第１２条", "爱护河道。")],
            id="full-width-digits",
        ),
        pytest.param(
            "第一条：严禁野外用火。 第二条：爱护河道。第三条：本公约自2025年1月1日起施行。",
            [
                (1, "第一条", "严禁野外用火。"),
                (2, "第二条", "爱护河道。"),
                (3, "第三条", "本公约自2025年1月1日起施行。"),
            ],
            id="inline-run",
        ),
        pytest.param(
            "第一条 严禁野外用火。\n第二条 违反本约的，按第三条处理。\n第三条 罚款200元。",
            [
                (1, "第一条", "严禁野外用火。"),
                (2, "第二条", "违反本约的，按第三条处理。"),
                (3, "第三条", "罚款200元。"),
            ],
            id="reference-is-not-a-clause",
        ),
        pytest.param(
            "第一条 严禁野外用火，具体办法见\n第三条的规定。\n第二条 爱护河道。",
            [(1, "第一条", "严禁野外用火，具体办法见第三条的规定。"), (2, "第二条", "爱护河道。")],
            id="wrapped-reference-at-line-start",
        ),
        pytest.param(
            "第一條 嚴禁野外用火。\n第二條 愛護河道。",
            [(1, "第一條", "嚴禁野外用火。"), (2, "第二條", "愛護河道。")],
            id="traditional",
        ),
        pytest.param(
            "第一条 严禁在林区\n用火，违者\n\n罚款200元。\n第二条\n爱护河道。",
            [(1, "第一条", "严禁在林区用火，违者罚款200元。"), (2, "第二条", "爱护河道。")],
            id="wrapped-and-blank-lines",
        ),
        pytest.param(
            "一、消防安全\n1. 严禁野外用火。\n2. 电线穿管。\n二、环境卫生\n1. 垃圾分类。",
            [(1, "1.", "严禁野外用火。"), (2, "2.", "电线穿管。"), (3, "1.", "垃圾分类。")],
            id="sections-with-dot-items",
        ),
        pytest.param(
            "一、消防安全\n1、严禁野外用火。\n2、电线穿管。",
            [(1, "1、", "严禁野外用火。"), (2, "2、", "电线穿管。")],
            id="dun-items",
        ),
        pytest.param(
            "一、消防安全\n１．严禁野外用火。\n２．电线穿管。",
            [(1, "１．", "严禁野外用火。"), (2, "２．", "电线穿管。")],
            id="full-width-dot-items",
        ),
        pytest.param(
            "一、消防安全\n（一）严禁野外用火。\n（二）电线穿管。",
            [(1, "（一）", "严禁野外用火。"), (2, "（二）", "电线穿管。")],
            id="paren-chinese-items",
        ),
        pytest.param(
            "一、消防安全\n(1) 严禁野外用火。\n(2) 电线穿管。",
            [(1, "(1)", "严禁野外用火。"), (2, "(2)", "电线穿管。")],
            id="paren-arabic-items",
        ),
        pytest.param(
            "一、消防安全\n1. 禁止下列行为：\n(1) 野外用火；\n(2) 私拉电线。\n2. 爱护河道。",
            # Sub-items keep their own lines: the narration pauses at each line's end.
            [(1, "1.", "禁止下列行为：\n(1) 野外用火；\n(2) 私拉电线。"), (2, "2.", "爱护河道。")],
            id="nested-items-stay-in-clause",
        ),
        pytest.param(
            "一、严禁在林区野外用火，违者罚款200元。\n二、爱护河道，不乱倒垃圾。",
            [
                (1, "一、", "严禁在林区野外用火，违者罚款200元。"),
                (2, "二、", "爱护河道，不乱倒垃圾。"),
            ],
            id="chinese-items-as-clauses",
        ),
        pytest.param(
            "第一条\u3000严禁\u3000野外用火 ,  违者罚款 200 元.",
            [(1, "第一条", "严禁野外用火 , 违者罚款 200 元.")],
            id="whitespace-tidied",
        ),
    ],
)
def test_numbering_styles(text: str, expected: list[tuple[int, str, str]]) -> None:
    assert clauses(parse_covenant(text)) == expected


def test_title_village_preamble_chapters_and_sections() -> None:
    text = (
        "黔东南州某县榕溪村村规民约\n\n"
        "为了维护本村秩序，\n特制定本村规民约。\n\n"
        "第一章 总则\n"
        "第一条 本约适用于全体村民。\n"
        "第二章　消防安全\n"
        "第一节 用火\n"
        "第二条 严禁野外用火。\n"
        "第三条 本公约自2025年1月1日起施行。\n"
    )
    parsed = parse_covenant(text, source="r.txt")
    assert parsed.title == "黔东南州某县榕溪村村规民约"
    assert parsed.village == "榕溪村"
    assert parsed.preamble == "为了维护本村秩序，特制定本村规民约。"
    assert parsed.format == "text"
    assert [(c.chapter, c.section) for c in parsed.clauses] == [
        ("第一章 总则", None),
        ("第二章 消防安全", "第一节 用火"),
        ("第二章 消防安全", "第一节 用火"),
    ]
    assert [c.line for c in parsed.clauses] == [7, 10, 11]
    assert parsed.clauses[2].text_zh == "本公约自2025年1月1日起施行。"
    assert parsed.warnings == ()


def test_traditional_chapters_and_sections() -> None:
    parsed = parse_covenant("榕溪村村規民約\n第一章 消防安全\n第一節 用火\n第一條 嚴禁野外用火。")
    (clause,) = parsed.clauses
    assert (clause.chapter, clause.section, clause.topic) == (
        "第一章 消防安全",
        "第一節 用火",
        "消防安全",
    )
    assert parsed.village == "榕溪村"


def test_section_heading_between_clauses_and_signature() -> None:
    text = (
        "第一条 严禁野外用火。\n\n一、环境卫生\n第二条 垃圾分类投放。\n\n"
        "榕溪村村民委员会\n二〇二四年十二月二十日\n"
    )
    parsed = parse_covenant(text, source="r.txt")
    assert parsed.clauses[1].section == "一、环境卫生"
    assert parsed.clauses[1].text_zh == "垃圾分类投放。"
    assert any("落款" in w and "r.txt 第6行" in w for w in parsed.warnings)


@pytest.mark.parametrize(
    ("text", "first", "second_section"),
    [
        pytest.param(
            "第一条 甲。\n\n环境卫生\n\n第二条 乙。", "甲。", "环境卫生", id="bare-topic-heading"
        ),
        pytest.param(
            "第一条 严禁野外用火\n\n违者罚款\n\n第二条 乙。",
            "严禁野外用火违者罚款",
            None,
            id="short-line-after-blank-stays-in-clause",
        ),
    ],
)
def test_short_unnumbered_lines(text: str, first: str, second_section: str | None) -> None:
    parsed = parse_covenant(text)
    assert parsed.clauses[0].text_zh == first
    assert parsed.clauses[1].section == second_section
    assert parsed.warnings == ()


def test_list_after_colon_is_not_a_section() -> None:
    parsed = parse_covenant("第一条 禁止下列行为：\n一、野外用火\n二、私拉电线\n第二条 爱护河道。")
    assert parsed.clauses[0].text_zh == "禁止下列行为：\n一、野外用火\n二、私拉电线"
    assert parsed.clauses[1].section is None


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("侗文：", id="dongwen"),
        pytest.param("侗语:", id="dongyu"),
        pytest.param("Dong: ", id="dong"),
        pytest.param("kmc：", id="kmc"),
    ],
)
def test_dong_line_attaches_to_clause(prefix: str) -> None:
    text = f"第一条 严禁野外用火。\n{prefix}Mix eis dah bix\nweex xaih.\n第二条 爱护河道。"
    parsed = parse_covenant(text)
    assert parsed.clauses[0].text_dong == "Mix eis dah bix weex xaih."
    assert parsed.clauses[0].text_zh == "严禁野外用火。"
    assert parsed.clauses[1].text_dong is None


def test_dong_line_before_any_clause_warns() -> None:
    parsed = parse_covenant("侗文：Mix eis\n第一条 严禁野外用火。", source="d.txt")
    assert parsed.clauses[0].text_dong is None
    assert any("d.txt 第1行" in w and "Dong line" in w for w in parsed.warnings)


def test_dong_note_line() -> None:
    parsed = parse_covenant("侗文说明：示意文本\n第一条 严禁野外用火。")
    assert parsed.dong_note == "示意文本"
    assert parsed.preamble == ""


MARKDOWN = """\
# 榕溪村村规民约

为了维护本村秩序，特制定本村规民约。

## 第一章 消防安全

### 用火

- 第一条 严禁**野外用火**，违者罚款200元。
  侗文：Mix eis dah bix.
- 第二条 电线穿管，
  不得私拉乱接。

## 第二章 环境卫生

1. 垃圾分类投放。
2. 爱护[榕溪](https://example.org)河道。
   - 不倒垃圾；
   - 不洗农药瓶。
"""


def test_markdown_headings_and_lists() -> None:
    parsed = parse_covenant(MARKDOWN, source="r.md")
    assert parsed.format == "markdown"
    assert (parsed.title, parsed.village) == ("榕溪村村规民约", "榕溪村")
    assert parsed.preamble == "为了维护本村秩序，特制定本村规民约。"
    assert clauses(parsed) == [
        (1, "第一条", "严禁野外用火，违者罚款200元。"),
        (2, "第二条", "电线穿管，不得私拉乱接。"),
        (3, "1.", "垃圾分类投放。"),
        (4, "2.", "爱护榕溪河道。不倒垃圾；不洗农药瓶。"),
    ]
    first = parsed.clauses[0]
    assert (first.chapter, first.section, first.text_dong) == (
        "第一章 消防安全",
        "用火",
        "Mix eis dah bix.",
    )
    assert parsed.clauses[2].chapter == "第二章 环境卫生"
    assert parsed.clauses[2].topic == "环境卫生"


def test_markdown_paragraphs_under_headings() -> None:
    text = "# 榕溪村村规民约\n\n序言一段。\n\n## 消防安全\n\n严禁野外用火。\n\n侗文：Mix eis.\n\n电线穿管。\n"
    parsed = parse_covenant(text, fmt="markdown")
    assert parsed.preamble == "序言一段。"
    assert clauses(parsed) == [(1, "1.", "严禁野外用火。"), (2, "2.", "电线穿管。")]
    assert parsed.clauses[0].text_dong == "Mix eis."
    assert {c.section for c in parsed.clauses} == {"消防安全"}


YAML = """\
village: 榕溪村
title: 榕溪村村规民约
preamble: |
  为了维护本村秩序，
  特制定本村规民约。
dong_note: 侗文为示意文本
clauses:
  - number: 1
    section: 消防安全
    zh: 严禁野外用火，违者罚款200元。
    dong: Mix eis dah bix.
  - number: 2
    topic: 道路交通
    zh: >-
      爱护风雨桥。
    penalty: 照价赔偿。
  - number: 3
    zh: 本公约自2025年1月1日起施行，违者罚款。
    penalty:
"""


def test_yaml() -> None:
    parsed = parse_covenant(YAML, source="r.yaml")
    assert (parsed.format, parsed.village, parsed.title) == ("yaml", "榕溪村", "榕溪村村规民约")
    assert parsed.preamble == "为了维护本村秩序，特制定本村规民约。"
    assert parsed.dong_note == "侗文为示意文本"
    one, two, three = parsed.clauses
    assert (one.label, one.topic, one.penalty, one.text_dong) == (
        "第一条",
        "消防安全",
        "违者罚款200元。",
        "Mix eis dah bix.",
    )
    assert (two.topic, two.penalty, two.line) == ("道路交通", "照价赔偿。", 12)
    assert three.penalty is None  # explicit empty penalty wins over the guess


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("- a\n- b\n", "顶层应是键值表", id="not-a-mapping"),
        pytest.param("village: 榕溪村\nclause: []\n", "未知的键 'clause'", id="unknown-key"),
        pytest.param("village: 榕溪村\nclauses: []\n", "clauses", id="empty-clauses"),
        pytest.param("clauses:\n  - number: 1\n", "clauses[0]（第1项） 缺少 zh", id="missing-zh"),
        pytest.param(
            "clauses:\n  - zh: 甲\n  - zh: 乙\n    topik: 消防\n",
            "第3行：clauses[1]（第2项） 有未知的键 'topik'",
            id="unknown-clause-key",
        ),
        pytest.param(
            "clauses:\n  - zh: 甲\n    topic: 火灾\n", "topic '火灾' 不在主题表中", id="bad-topic"
        ),
        pytest.param("clauses:\n  - zh: 甲\n    number: 一\n", "正整数", id="bad-number"),
        pytest.param("clauses:\n  - zh: [甲]\n", "zh 应是文字", id="zh-not-text"),
        pytest.param("clauses:\n  - 甲\n", "应是键值表", id="clause-not-mapping"),
    ],
)
def test_yaml_schema_errors(text: str, fragment: str) -> None:
    with pytest.raises(CovenantSchemaError) as info:
        parse_covenant(text, source="bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml")
    assert fragment in message
    assert " / " in message  # bilingual: Chinese, then English


def test_yaml_syntax_error_names_line() -> None:
    with pytest.raises(CovenantFileError, match=r"bad.yaml 第3行：YAML 语法错误") as info:
        parse_covenant("clauses:\n  - zh: 甲\n - zh: [乙\n", source="bad.yaml")
    assert info.value.line == 3


def test_yaml_duplicate_number() -> None:
    text = "clauses:\n  - number: 1\n    zh: 甲\n  - number: 1\n    zh: 乙\n"
    with pytest.raises(DuplicateClause) as info:
        parse_covenant(text, source="dup.yaml")
    assert info.value.lines == (2, 4)


def test_repeated_clause_number_warns_naming_both_lines_and_keeps_both() -> None:
    """A typed text repeats a number by a slip: refusing it would lose the village's text."""
    text = "第一条 甲。\n第二条 乙。\n\n第二条 丙。\n第三条 丁。\n"
    parsed = parse_covenant(text, source="dup.txt")
    assert clauses(parsed) == [
        (1, "第一条", "甲。"),
        (2, "第二条", "乙。"),
        (2, "第二条", "丙。"),
        (3, "第三条", "丁。"),
    ]
    (warning,) = parsed.warnings
    assert warning.startswith("dup.txt 第4行：条款编号 2（第二条）与第2行的第二条重复")
    assert "dup.txt:4: clause number 2 (第二条) repeats the one on line 2; both are kept" in warning


@pytest.mark.parametrize(
    ("text", "expected_warning"),
    [
        pytest.param("第一条 甲。\n第三条 乙。", "应为 2", id="gap"),
        pytest.param("第二条 甲。\n第一条 乙。", "应为 1", id="out-of-order"),
    ],
)
def test_numbering_problems_are_warnings(text: str, expected_warning: str) -> None:
    parsed = parse_covenant(text, source="w.txt")
    assert len(parsed.clauses) == 2
    assert any(expected_warning in w for w in parsed.warnings)


def test_item_gap_warns() -> None:
    parsed = parse_covenant("一、消防\n1. 甲。\n3. 乙。")
    assert len(parsed.clauses) == 2
    assert any("条目编号不连续" in w for w in parsed.warnings)


def test_no_clauses_found_names_line_and_lists_styles() -> None:
    with pytest.raises(NoClausesFound) as info:
        parse_covenant("某村村规民约\n这只是一段话。\n没有任何编号。", source="none.txt")
    message = str(info.value)
    assert message.startswith("none.txt 第2行：找不到任何条款 / none.txt:2: no clauses found\n")
    assert info.value.line == 2
    for style in ("第N条", "一、", "（一）", "Markdown", "YAML", "numbering styles tried"):
        assert style in message


def test_no_clauses_found_names_the_reference_it_passed_over() -> None:
    with pytest.raises(NoClausesFound) as info:
        parse_covenant("前言。\n违者按本约第三条处理。", source="ref.txt")
    message = str(info.value)
    assert message.startswith("ref.txt 第2行：找不到任何条款：“第三条”不像条款的开头")
    assert "ref.txt:2: no clauses found: “第三条” does not read as a clause start" in message
    assert "已尝试的编号方式" in message


def test_empty_text_and_unknown_format() -> None:
    with pytest.raises(CovenantFileError, match="文本为空"):
        parse_covenant(" \n\u3000\n")
    with pytest.raises(CovenantFileError, match="未知格式 'docx'"):
        parse_covenant("第一条 甲。", fmt="docx")


@pytest.mark.parametrize(
    ("source", "text", "fmt"),
    [
        pytest.param("a.txt", "第一条 甲。", "text", id="txt"),
        pytest.param("a.md", "- 甲。", "markdown", id="md"),
        pytest.param("a.markdown", "- 甲。", "markdown", id="markdown"),
        pytest.param("a.yml", "clauses:\n  - zh: 甲\n", "yaml", id="yml"),
        pytest.param("<text>", "clauses:\n  - zh: 甲\n", "yaml", id="sniff-yaml"),
        pytest.param("<text>", "## 消防\n\n- 甲。", "markdown", id="sniff-markdown"),
        pytest.param("<text>", "第一条 甲。", "text", id="sniff-text"),
    ],
)
def test_format_from_suffix_or_content(source: str, text: str, fmt: str) -> None:
    assert parse_covenant(text, source=source).format == fmt


COVENANT = "榕溪村村规民约\n第一条：严禁野外用火，违者罚款200元。\n第二条：爱护河道。\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        pytest.param(COVENANT.encode("utf-8"), "utf-8", id="utf-8"),
        pytest.param(COVENANT.encode("utf-8-sig"), "utf-8-sig", id="utf-8-bom"),
        pytest.param(COVENANT.encode("utf-16"), "utf-16-le", id="utf-16-bom"),
        pytest.param(
            codecs.BOM_UTF16_BE + COVENANT.encode("utf-16-be"), "utf-16-be", id="utf-16-be-bom"
        ),
        pytest.param(COVENANT.encode("utf-16-le"), "utf-16-le", id="utf-16-le-no-bom"),
        pytest.param(COVENANT.encode("utf-16-be"), "utf-16-be", id="utf-16-be-no-bom"),
        pytest.param(COVENANT.encode("gb18030"), "gb18030", id="gb18030"),
        pytest.param(COVENANT.encode("gbk"), "gb18030", id="gbk"),
        pytest.param(COVENANT.replace("\n", "\r\n").encode("gbk"), "gb18030", id="gbk-crlf"),
    ],
)
def test_encodings(tmp_path: Path, data: bytes, encoding: str) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(data)
    assert read_text(path) == (COVENANT, encoding)
    parsed = load_covenant(path)
    assert parsed.encoding == encoding
    assert parsed.clauses[0].text_zh == "严禁野外用火，违者罚款200元。"


def test_big5(tmp_path: Path) -> None:
    text = "榕溪村村規民約\n第一條：嚴禁在山林野外用火，違者罰款二百元。\n第二條：愛護河道，保持環境衛生。\n"
    path = tmp_path / "c.txt"
    path.write_bytes(text.encode("big5"))
    assert read_text(path) == (text, "big5")
    assert load_covenant(path).clauses[1].topic == "环境卫生"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        pytest.param(b"", "文件为空", id="empty"),
        pytest.param(b" \r\n\t\n", "文件为空", id="whitespace"),
        pytest.param(codecs.BOM_UTF8 + b"\n", "文件为空", id="bom-only"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG", id="png"),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00", "ZIP/DOCX", id="docx"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "PDF", id="pdf"),
        pytest.param(bytes(range(256)) * 4, "二进制", id="binary-nul"),
        pytest.param("Café crème ÿ".encode("latin-1"), "无法识别文件编码", id="undecodable"),
    ],
)
def test_file_errors(tmp_path: Path, data: bytes, fragment: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(CovenantFileError) as info:
        load_covenant(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert fragment in message
    assert " / " in message
    assert isinstance(info.value, LibraryError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CovenantFileError, match="无法读取文件"):
        read_text(tmp_path / "nope.txt")


@pytest.mark.parametrize(
    ("text", "section", "topic"),
    [
        pytest.param("各户轮流值守。", "一、消防安全", "消防安全", id="section-direct"),
        pytest.param("各户轮流值守。", "第二章 环境卫生", "环境卫生", id="chapter-style-section"),
        pytest.param("各户轮流值守。", "（三）防火", "消防安全", id="section-keyword"),
        pytest.param("严禁在禾晾旁堆放柴草。", None, "消防安全", id="fire"),
        pytest.param("不得向溪河倾倒垃圾。", None, "环境卫生", id="environment"),
        pytest.param("红白喜事从简，彩礼不超过3万元。", None, "移风易俗", id="customs"),
        pytest.param("不得在路面晒谷。", None, "道路交通", id="road"),
        pytest.param("严禁占用耕地建房。", None, "耕地保护", id="farmland"),
        pytest.param("严禁赌博、打架斗殴。", None, "社会治安", id="order"),
        pytest.param("严禁乱砍滥伐。", None, "山林保护", id="forest"),
        pytest.param("嚴禁亂砍濫伐。", None, "山林保护", id="forest-traditional"),
        pytest.param("爱护鼓楼和风雨桥。", None, "民族文化", id="culture"),
        pytest.param("本公约自2025年1月1日起施行。", "附则", "其他", id="other"),
    ],
)
def test_guess_topic(text: str, section: str | None, topic: str) -> None:
    assert guess_topic(text, section) == topic


def test_topics_vocabulary() -> None:
    for name in (
        "消防安全",
        "环境卫生",
        "移风易俗",
        "道路交通",
        "耕地保护",
        "社会治安",
        "山林保护",
    ):
        assert TOPICS[name]
    assert list(TOPICS)[-1] == "其他"


@pytest.mark.parametrize(
    ("zh", "penalty"),
    [
        pytest.param("严禁野外用火，违者罚款200元。", "违者罚款200元。", id="weizhe"),
        pytest.param(
            "不得堆放柴草。经劝告不清理的，由村委会责令清除，并处100~500元罚款。",
            "由村委会责令清除，并处100~500元罚款。",
            id="zeling",
        ),
        pytest.param("嚴禁賭博，否則移送公安機關。", "否則移送公安機關。", id="traditional"),
        pytest.param("爱护河道。", None, id="none"),
    ],
)
def test_penalty(zh: str, penalty: str | None) -> None:
    assert parse_covenant(f"第一条 {zh}").clauses[0].penalty == penalty


def test_bundled_samples_agree() -> None:
    from_yaml = load_covenant(SAMPLES / "rongxi-covenant.yaml")
    from_text = load_covenant(SAMPLES / "rongxi-covenant.txt")
    assert from_yaml.warnings == ()
    assert len(from_text.warnings) == 1  # the signature and date at the end
    for parsed in (from_yaml, from_text):
        assert (parsed.village, parsed.title) == ("榕溪村", "榕溪村村规民约")
        assert 12 <= len(parsed.clauses) <= 15
        assert sum(c.text_dong is not None for c in parsed.clauses) >= 4
        assert "待侗语母语者翻译审定" in parsed.dong_note
        assert "not authentic Dong" in parsed.dong_note
        assert "特制定本村规民约" in parsed.preamble
        topics = {c.topic for c in parsed.clauses}
        assert topics >= {
            "消防安全",
            "环境卫生",
            "移风易俗",
            "道路交通",
            "耕地保护",
            "社会治安",
            "山林保护",
        }
    pairs = zip(from_yaml.clauses, from_text.clauses, strict=True)
    for y, t in pairs:
        assert (y.number, y.label, y.chapter, y.text_zh, y.text_dong, y.penalty, y.topic) == (
            t.number,
            t.label,
            t.chapter,
            t.text_zh,
            t.text_dong,
            t.penalty,
            t.topic,
        )
    last = from_yaml.clauses[-1]
    assert "2025年1月1日起施行" in last.text_zh
