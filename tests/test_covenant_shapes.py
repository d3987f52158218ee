"""Covenant shapes seen in published village covenants: one small file each under
tests/covenant_shapes/, with a sidecar saying which clauses the parser must find
(see tests/covenant_shapes/README.md), and a check that no text of the file is lost."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from library.covenants.parser import ParsedCovenant, load_covenant, parse_covenant
from library.errors import NoClausesFound

SHAPES = Path(__file__).resolve().parent / "covenant_shapes"
FILES = sorted(SHAPES.glob("*.txt"))
# The only marks a parse may drop: the one after a label (第一条： → label 第一条).
LABEL_MARKS = set("：:、．.")


def expectation(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.with_suffix(".expect.yaml").read_text(encoding="utf-8"))


def headings(parsed: ParsedCovenant) -> list[str]:
    """Chapter and section headings in the order the text met them."""
    out: list[str] = []
    chapter = section = None
    for c in parsed.clauses:
        if c.chapter != chapter:
            chapter, section = c.chapter, None
            out += [c.chapter] if c.chapter else []
        if c.section != section:
            section = c.section
            out += [c.section] if c.section else []
    return out


def kept_text(parsed: ParsedCovenant) -> str:
    """Everything the parse kept: title, headings, preamble, labels and clauses, closing."""
    parts = [parsed.title or "", parsed.preamble, parsed.dong_note, parsed.closing]
    parts += headings(parsed)
    for c in parsed.clauses:
        parts += [c.label, c.text_zh, c.text_dong or ""]
    return "".join(parts)


def characters(text: str) -> Counter[str]:
    return Counter(ch for ch in text if not ch.isspace())


def assert_span(text: str, span: list[str] | str, what: str) -> None:
    if isinstance(span, str):
        assert text == span, what
    else:
        start, end = span
        assert text.startswith(start) and text.endswith(end), f"{what}: {text!r}"


def test_the_corpus_is_complete() -> None:
    assert len(FILES) >= 20
    for path in FILES:
        assert path.with_suffix(".expect.yaml").is_file(), path.name
        assert expectation(path)["shape"], path.name


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_shape(path: Path) -> None:
    want = expectation(path)
    parsed = load_covenant(path)
    assert parsed.format == "text"
    assert parsed.title == want.get("title")
    assert [c.number for c in parsed.clauses] == [w["n"] for w in want["clauses"]]
    for clause, w in zip(parsed.clauses, want["clauses"], strict=True):
        where = f"{path.name} {clause.label}"
        assert clause.label == w["label"], where
        assert clause.text_zh.startswith(w["start"]), f"{where}: {clause.text_zh!r}"
        assert clause.text_zh.endswith(w["end"]), f"{where}: {clause.text_zh!r}"
        assert (clause.chapter, clause.section) == (w.get("chapter"), w.get("section")), where
        for piece in w.get("contains", []):
            assert piece in clause.text_zh, f"{where}: {piece!r} not in {clause.text_zh!r}"
    assert_span(parsed.preamble, want.get("preamble", ""), "preamble")
    assert_span(parsed.closing, want.get("closing", ""), "closing")
    fragments = want.get("warnings", [])
    assert len(parsed.warnings) == len(fragments), parsed.warnings
    for fragment, warning in zip(fragments, parsed.warnings, strict=True):
        assert fragment in warning and str(path) in warning, warning


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_nothing_is_lost(path: Path) -> None:
    """Every character but whitespace lands in the title, a heading, the preamble, a clause
    or the closing; nothing is invented or doubled."""
    parsed = load_covenant(path)
    source, kept = characters(path.read_text(encoding="utf-8")), characters(kept_text(parsed))
    assert kept - source == Counter(), "text the file does not have"
    lost = source - kept
    assert set(lost) <= LABEL_MARKS, f"lost: {''.join(lost.elements())!r}"
    assert lost.total() <= len(parsed.clauses)


def test_one_line_covenant_was_refused_and_now_imports() -> None:
    """Issue 9: a covenant with its preamble and every clause on one line."""
    text = (FILES[0].parent / "one_line_after_colon.txt").read_text(encoding="utf-8")
    parsed = parse_covenant(text, source="one.txt")
    assert [c.label for c in parsed.clauses] == ["第一条", "第二条", "第三条", "第四条"]
    assert parsed.preamble.endswith("特制定本条约：")
    assert parsed.warnings == ()


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        pytest.param(
            "某村村规民约\n为了村寨平安，特制定本条约。严禁野外用火。爱护河道。",
            2,
            "找不到任何条款 / none.txt:2: no clauses found\n",
            id="no-numbering-at-all",
        ),
        pytest.param(
            "某村村规民约\n\n为了村寨平安，特制定本条约。违者依照第三条处理。",
            3,
            "找不到任何条款：“第三条”不像条款的开头",
            id="only-a-reference",
        ),
    ],
)
def test_a_refusal_names_file_line_and_styles(text: str, line: int, fragment: str) -> None:
    with pytest.raises(NoClausesFound) as info:
        parse_covenant(text, source="none.txt")
    message = str(info.value)
    assert message.startswith(f"none.txt 第{line}行：")
    assert fragment in message
    assert info.value.line == line
    chinese, english = message.split("\n")[1].split(" / ")
    assert chinese.startswith("已尝试的编号方式：第N条")
    assert english.startswith("numbering styles tried: 第N条")


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        pytest.param(
            "本约如下，第一条：甲。第二条：乙。", ["第一条", "第二条"], id="after-comma-colon"
        ),
        pytest.param("第一条 甲 第二条 乙", ["第一条", "第二条"], id="spaces-no-full-stops"),
        pytest.param("第一条 甲。第二条之规定另行公布。", ["第一条"], id="zhi-is-a-reference"),
        pytest.param("第一条 甲。第二条至第五条另行公布。", ["第一条"], id="range-is-a-reference"),
        pytest.param("第一条 甲，按第二条处理。", ["第一条"], id="mid-sentence-reference"),
        pytest.param("第一条 甲。第九条 乙。", ["第一条"], id="big-jump-inline-is-text"),
    ],
)
def test_inline_clause_starts(text: str, labels: list[str]) -> None:
    assert [c.label for c in parse_covenant(text).clauses] == labels
