"""Clause numbering: 第N条 labels, chapters and sections, sub-item markers, number checks."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Protocol

import cn2an

from ..errors import CovenantSchemaError, DuplicateClause
from .parsed import message
from .wording import ITEM, ROW, WRAP, short_title, squash

NUM = r"[0-9０-９]+|[零〇一二三四五六七八九十百千两]+"
# 第N条 anywhere; whether a match starts a clause is decided by inline_clauses. Group 1 is
# the numeral, group 2 the mark after 条 (“第一条：”), which says "a clause starts here".
TIAO = re.compile(rf"第[ \u3000]*({NUM})[ \u3000]*[条條]([ \u3000]*[：:、．.]?)[ \u3000]*")
CHAPTER = re.compile(rf"^第[ \u3000]*(?:{NUM})[ \u3000]*[章编編][ \u3000：:、]*(.*)$")
JIE = re.compile(rf"^第[ \u3000]*(?:{NUM})[ \u3000]*[节節][ \u3000：:、]*(.*)$")
# Where a chapter or section label begins inside a run of headings ("第二章 防火 第一节 用火").
HEADING_LABEL = re.compile(rf"第[ \u3000]*(?:{NUM})[ \u3000]*[章编編节節]")
ZH_HEADING = re.compile(r"^([一二三四五六七八九十]+)[ \u3000]*[、，,．.][ \u3000]*(.*)$")
# Item styles inside 一、 sections; the first style met in a section numbers its clauses.
ITEM_STYLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("1.", re.compile(r"^([0-9０-９]{1,3})[ \u3000]*[.．、)）](?![0-9０-９])[ \u3000]*(.*)$")),
    ("(1)", re.compile(r"^[（(][ \u3000]*([0-9０-９]{1,3})[ \u3000]*[）)][ \u3000]*(.*)$")),
    (
        "（一）",
        re.compile(r"^[（(][ \u3000]*([一二三四五六七八九十]+)[ \u3000]*[）)][ \u3000]*(.*)$"),
    ),
)
# Markers that only ever number sub-items: ①…⑳, ⑴…⒇, ⒈…⒛, ㈠…㈩, ㊀…㊉, ❶…❿ and bullets.
_SUB_ITEM = re.compile("^[\u2460-\u249b\u3220-\u3229\u3280-\u3289\u2776-\u277f\u2780-\u2789•●·◆■▪]")
# A table row: drawn with bars, or cells lined up by runs of spaces or tabs with no
# sentence punctuation (a wrapped sentence has commas and full stops).
_BAR_ROW = re.compile(r"^[|｜]")
_CELL_GAP = re.compile(r"\S(?:[ \u3000]{2,}|\t)[ \t\u3000]*\S")

# No covenant has more clauses than this; a bigger 第N条 number is a typing slip or garbage.
MAX_CLAUSE_NUMBER = 999

STYLES_TRIED = (
    "已尝试的编号方式：第N条（第一条/第1条/第１条/第一條，在行首，或在句号、冒号之后连续出现）、"
    "一、…下的 1./1、/（一）/(1) 条目、1、2、… 条目、Markdown 列表、YAML clauses 列表"
    " / numbering styles tried: 第N条 (第一条/第1条/第１条/第一條, at a line start or running on"
    " after a full stop or colon), 一、 sections with 1./1、/（一）/(1) items, 1、 2、 items,"
    " Markdown lists, a YAML `clauses:` list"
)


def to_int(numeral: str) -> int | None:
    """12 from "12", "１２" or "十二"; None when it is not a well-formed numeral."""
    numeral = unicodedata.normalize("NFKC", numeral)
    if numeral.isdigit():
        return int(numeral)
    try:
        value = cn2an.cn2an(numeral, "smart")
    except ValueError:
        return None
    return int(value) if value == int(value) else None


def heading_line(line: str) -> tuple[str, str] | None:
    """("chapter"|"section", heading) for 第N章/第N节 lines that are headings, not prose."""
    # "第一章 总则 第一条 本约适用于全村" is a heading followed by a clause, not one heading.
    if (m := CHAPTER.match(line)) and short_title(m.group(1)) and not TIAO.search(m.group(1)):
        return "chapter", squash(line)
    if (m := JIE.match(line)) and short_title(m.group(1)) and not TIAO.search(m.group(1)):
        return "section", squash(line)
    return None


def heading_run(text: str) -> list[tuple[str, str]] | None:
    """The headings of "第二章 防火 第一节 用火" in order, or None if `text` is not only headings."""
    text = text.strip(" \t\u3000")
    starts = [m.start() for m in HEADING_LABEL.finditer(text)]
    if not starts or starts[0] != 0:
        return None
    headings = []
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        if (heading := heading_line(text[start:end].strip(" \t\u3000"))) is None:
            return None
        headings.append(heading)
    return headings


def item(line: str) -> tuple[str, int | None, str] | None:
    """(style, number, text) when `line` starts with a 1. / (1) / （一） item marker."""
    for style, pattern in ITEM_STYLES:
        if m := pattern.match(line):
            return style, to_int(m.group(1)), m.group(2)
    return None


def line_kind(line: str) -> str:
    """How a line inside a clause joins the one before: a sub-item, a table row, or a wrap."""
    if _BAR_ROW.match(line) or (_CELL_GAP.search(line) and not re.search("[。；;，,]", line)):
        return ROW
    if _SUB_ITEM.match(line) or item(line) or ZH_HEADING.match(line):
        return ITEM
    return WRAP


def check_number_size(number: int, label: str, source: str, line: int) -> None:
    """Refuse a clause number no covenant has (and no database column holds)."""
    if number > MAX_CLAUSE_NUMBER:
        shown = label if len(label) <= 30 else label[:30] + "…"
        raise CovenantSchemaError(
            message(
                source,
                line,
                f"条款编号 {shown} 太大（村规民约最多 {MAX_CLAUSE_NUMBER} 条），请检查",
                f"clause number {shown} is too large (a covenant has at most"
                f" {MAX_CLAUSE_NUMBER} clauses); check it",
            ),
            source=source,
            line=line,
        )


class _Numbered(Protocol):
    @property
    def number(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def line(self) -> int: ...


def check_numbers(
    clauses: Sequence[_Numbered], source: str, *, repeats_are_errors: bool
) -> list[str]:
    """Warnings for gaps, out-of-order and repeated numbers; a repeat raises if told to.

    A typed or pasted text repeats a number by a slip, and refusing it would lose the
    village's text, so both clauses are kept and the repeat is said. A YAML file states its
    numbers on purpose: there a repeat is an error to fix.
    """
    seen: dict[int, _Numbered] = {}
    warnings = []
    previous = 0
    for c in clauses:
        if (first := seen.get(c.number)) is not None:
            zh = f"条款编号 {c.number}（{c.label}）与第{first.line}行的{first.label}重复"
            en = f"clause number {c.number} ({c.label}) repeats the one on line {first.line}"
            if repeats_are_errors:
                raise DuplicateClause(
                    message(source, c.line, zh, en),
                    source=source,
                    number=c.number,
                    lines=(first.line, c.line),
                )
            warnings.append(
                message(source, c.line, f"{zh}，两条都已保留，请核对", f"{en}; both are kept")
            )
        elif c.number != previous + 1:
            warnings.append(
                message(
                    source,
                    c.line,
                    f"{c.label}的编号不连续（应为 {previous + 1}）",
                    f"{c.label} breaks the numbering (expected {previous + 1})",
                )
            )
        seen.setdefault(c.number, c)
        previous = c.number
    return warnings
