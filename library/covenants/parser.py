"""Parse a village covenant (plain text, Markdown or YAML) into numbered clauses.

Conventions of the source files:
- Plain text: an optional title line (…村村规民约/公约), a preamble, then clauses numbered
  第一条/第1条/第１２条/第一條 (runs of them on one line too), or 一、 sections holding
  1./1、/1．/（一）/(1) items (numbered in order across the document), or bare 一、 items.
  第N章 lines are chapters; 第N节 and 一、 headings are sections. Unnumbered lines continue
  the clause above them.
- A line starting "侗文：", "侗语：", "Dong:" or "kmc:" right after a clause is that clause's
  Dong text; a line "侗文说明：…"/"Dong note: …" is the covenant's note about its Dong text.
- Markdown: the one level-1 heading is the title; headings are chapters (the upper of two
  levels, or 第N章) and sections; top-level list items, or paragraphs under headings when
  there are no lists, are clauses.
- YAML: keys village, title, preamble, dong_note, note (free comment), clauses; each clause
  has zh and optionally number, label, chapter, section, topic, dong, penalty (absent:
  guessed from zh; empty: none).
Plain text and Markdown share one `_Builder` for preamble, wrapped lines, Dong lines,
headings, numbering checks, penalties and topics. Text keeps its original characters
(Traditional stays Traditional); only whitespace is tidied.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cn2an
import yaml

from ..errors import CovenantFileError, CovenantSchemaError, DuplicateClause, NoClausesFound
from ..names import printable
from ..textfiles import MAX_TEXT_BYTES, read_text
from .topics import TOPICS, guess_topic, topic_of_heading

__all__ = [
    "TOPICS",
    "ParsedClause",
    "ParsedCovenant",
    "guess_topic",
    "load_covenant",
    "parse_covenant",
    "read_text",
]

FORMATS = ("text", "markdown", "yaml")
_SUFFIX_FORMAT = {".txt": "text", ".md": "markdown", ".markdown": "markdown"}
_SUFFIX_FORMAT |= {".yaml": "yaml", ".yml": "yaml"}

_WS = " \t\u3000\ufeff"
_NUM = r"[0-9０-９]+|[零〇一二三四五六七八九十百千两]+"
# 第N条 anywhere; whether a match is a clause start is decided by _TiaoSplitter.
_TIAO = re.compile(rf"第[ \u3000]*({_NUM})[ \u3000]*[条條][ \u3000]*[：:、．.]?[ \u3000]*")
_CHAPTER = re.compile(rf"^第[ \u3000]*(?:{_NUM})[ \u3000]*[章编編][ \u3000：:、]*(.*)$")
_JIE = re.compile(rf"^第[ \u3000]*(?:{_NUM})[ \u3000]*[节節][ \u3000：:、]*(.*)$")
_ZH_HEADING = re.compile(r"^([一二三四五六七八九十]+)[ \u3000]*[、，,．.][ \u3000]*(.*)$")
# Item styles inside 一、 sections; the first style met in a section numbers its clauses.
_ITEM_STYLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("1.", re.compile(r"^([0-9０-９]{1,3})[ \u3000]*[.．、)）](?![0-9０-９])[ \u3000]*(.*)$")),
    ("(1)", re.compile(r"^[（(][ \u3000]*([0-9０-９]{1,3})[ \u3000]*[）)][ \u3000]*(.*)$")),
    (
        "（一）",
        re.compile(r"^[（(][ \u3000]*([一二三四五六七八九十]+)[ \u3000]*[）)][ \u3000]*(.*)$"),
    ),
)
_DONG = re.compile(r"^(?:侗文|侗语|侗語|dong|kmc)[ \u3000]*[：:][ \u3000]*(.*)$", re.I)
_DONG_NOTE = re.compile(r"^(?:侗文说明|侗文說明|dong note)[ \u3000]*[：:][ \u3000]*(.*)$", re.I)
_TITLE_WORDS = re.compile(
    r"村规民约|村規民約|公约|公約|规约|規約|民约|民約|款约|款約|寨规|寨規|章程"
)
_VILLAGE = re.compile(
    r"([\u4e00-\u9fff]{1,12}?[村寨屯])"
    r"(?=村规|村規|寨规|寨規|村民|公约|公約|规约|規約|民约|民約|款约|款約|村约|村約)"
)
_ADMIN = re.compile(r"^.*[省市州县縣镇鎮乡鄉]")
_SIGNATURE = re.compile(r"委员会|委員會|村委|理事会|理事會|[年月日]$|^\d{4}[-./]")
_SENTENCE_END = "。；;！!？?：:"
_PHRASE_PUNCT = "，,、" + _SENTENCE_END
_PENALTY_START = re.compile(
    r"违者|違者|违反者|違反者|如有违反|如有違反|凡违反|凡違反|对违反|對違反|否则|否則"
)
_PENALTY_WORDS = re.compile(
    r"罚|罰|处以|處以|赔偿|賠償|责令|責令|没收|沒收|追究|通报批评|通報批評|移交|移送"
    r"|取消.{0,8}(?:资格|資格|待遇)"
)
# No covenant has more clauses than this; a bigger 第N条 number is a typing slip or garbage.
MAX_CLAUSE_NUMBER = 999
# Nesting a covenant's YAML needs is 3 levels (covenant → clauses → clause); 20 is generous.
MAX_YAML_DEPTH = 20
# Characters that show nothing (zero-width spaces and joiners, soft hyphens, direction
# marks, word joiners, BOMs): pasted from web pages or Word, they hide inside 第\u200b一\u200b条
# and would break numbering, so they are removed before parsing, with a warning.
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
_STYLES_TRIED = (
    "已尝试的编号方式：第N条（第一条/第1条/第一條）、一、…1./1、/（一）/(1)、Markdown 列表、"
    "YAML clauses 列表 / numbering styles tried: 第N条 (第一条/第1条/第一條), "
    "一、 sections with 1./1、/（一）/(1) items, Markdown lists, a YAML `clauses:` list"
)


@dataclass(frozen=True)
class ParsedClause:
    """One clause as the source wrote it, plus the guessed topic and penalty."""

    number: int
    label: str
    chapter: str | None
    section: str | None
    text_zh: str
    text_dong: str | None
    penalty: str | None
    topic: str
    line: int


@dataclass(frozen=True)
class ParsedCovenant:
    """A whole covenant: title, village, preamble and clauses, with how it was read."""

    title: str | None
    village: str | None
    preamble: str
    clauses: tuple[ParsedClause, ...]
    encoding: str
    format: str
    warnings: tuple[str, ...] = ()
    dong_note: str = ""


def _where(source: str, line: int | None) -> tuple[str, str]:
    if line is None:
        return source, source
    return f"{source} 第{line}行", f"{source}:{line}"


def _message(source: str, line: int | None, zh: str, en: str) -> str:
    zh_at, en_at = _where(source, line)
    return f"{zh_at}：{zh} / {en_at}: {en}"


def _to_int(numeral: str) -> int | None:
    """12 from "12", "１２" or "十二"; None when it is not a well-formed numeral."""
    numeral = unicodedata.normalize("NFKC", numeral)
    if numeral.isdigit():
        return int(numeral)
    try:
        value = cn2an.cn2an(numeral, "smart")
    except ValueError:
        return None
    return int(value) if value == int(value) else None


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


def tidy(parts: list[str]) -> str:
    """Join wrapped lines: one space between Latin pieces, none where CJK meets anything."""
    out = ""
    for part in parts:
        part = re.sub(r"[ \t\u3000]+", " ", part).strip()
        if not part:
            continue
        if out and not (_wide(out[-1]) or _wide(part[0])):
            out += " "
        out += part
    # Stray spaces between two CJK characters are typing noise, not meaning.
    return re.sub(r"(?<=[^\x00-\u2e7f]) (?=[^\x00-\u2e7f])", "", out)


def _paragraphs(text: str) -> str:
    """Paragraphs (split at blank lines) tidied and joined with one newline."""
    return "\n".join(p for p in (tidy(par.split("\n")) for par in re.split(r"\n\s*\n", text)) if p)


def _squash(text: str) -> str:
    """A heading or title on one line, its spaces kept ("第二章 消防安全")."""
    return " ".join(text.split())


def _penalty(text: str) -> str | None:
    """From the first 违者/否则… (or the first phrase that fines or orders) to the end."""
    if m := _PENALTY_START.search(text):
        return text[m.start() :].strip()
    for phrase in re.finditer(rf"[^{_PHRASE_PUNCT}]+", text):
        if _PENALTY_WORDS.search(phrase.group()):
            return text[phrase.start() :].strip()
    return None


def _is_title(line: str) -> bool:
    return (
        len(line) <= 40
        and not re.search("[。；;！!]", line)
        and bool(_TITLE_WORDS.search(line))
        and not _TIAO.match(line)
    )


def _village(title: str | None) -> str | None:
    if not title or not (m := _VILLAGE.search(title)):
        return None
    name = m.group(1)
    local = _ADMIN.sub("", name)
    # "新市村" must survive: strip the county/town prefix only if a name remains.
    return local if len(local) >= 2 else name


def _short_title(text: str) -> bool:
    return len(text) <= 20 and not re.search(rf"[{_PHRASE_PUNCT}]", text)


def _ends_sentence(text: str) -> bool:
    return not text or text[-1] in _SENTENCE_END


@dataclass
class _Draft:
    number: int
    label: str
    chapter: str | None
    section: str | None
    line: int
    zh: list[str] = field(default_factory=list)
    dong: list[str] = field(default_factory=list)


class _Builder:
    """Collects the events of a text or Markdown walk into a ParsedCovenant."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.title: str | None = None
        self.chapter: str | None = None
        self.section: str | None = None
        self.preamble: list[list[str]] = [[]]
        self.dong_note: list[str] = []
        self.drafts: list[_Draft] = []
        self.current: _Draft | None = None
        self.in_dong = False
        self.loose: list[tuple[int, str]] = []  # short unnumbered lines after a clause
        self.warnings: list[str] = []

    def warn(self, line: int | None, zh: str, en: str) -> None:
        self.warnings.append(_message(self.source, line, zh, en))

    def _settle_loose(self, before_clause: bool) -> None:
        """Decide what short unnumbered lines after a blank line were."""
        lines = [text for _, text in self.loose]
        if not lines or self.current is None:
            pass
        elif before_clause and len(lines) == 1 and topic_of_heading(lines[0]):
            self.section = _squash(lines[0])  # a bare heading such as "消防安全"
        elif not before_clause and all(_SIGNATURE.search(t) for t in lines):
            # The village committee's signature and the date belong to no clause.
            self.warn(
                self.loose[0][0],
                "文末的落款/日期不计入条款",
                "the closing signature/date is not part of a clause",
            )
        else:
            self.current.zh.extend(lines)
        self.loose = []

    def heading(self, kind: str, text: str) -> None:
        self._settle_loose(before_clause=False)
        self.current, self.in_dong = None, False
        if kind == "chapter":
            self.chapter, self.section = text, None
        else:
            self.section = text

    def clause(self, label: str | None, number: int | None, text: str, line: int) -> None:
        self._settle_loose(before_clause=True)
        number = number if number is not None else len(self.drafts) + 1
        _check_number_size(number, label or str(number), self.source, line)
        self.current = _Draft(number, label or f"{number}.", self.chapter, self.section, line)
        self.current.zh.append(text)
        self.drafts.append(self.current)
        self.in_dong = False

    def dong(self, text: str, line: int) -> None:
        if self.current is None:
            self.warn(line, "侗文行前面没有条款，已忽略", "Dong line before any clause, ignored")
            return
        self.current.dong.append(text)
        self.in_dong = True

    def text(self, text: str, line: int, after_blank: bool) -> None:
        if note := _DONG_NOTE.match(text):
            self.dong_note.append(note.group(1))
            return
        if self.in_dong and self.current is not None and not any(_wide(c) for c in text):
            self.current.dong.append(text)
            return
        self.in_dong = False
        if self.current is None:
            if self.drafts:
                self.warn(
                    line, "这行文字不属于任何条款，已忽略", "text outside any clause, ignored"
                )
            elif after_blank:
                self.preamble.append([text])
            else:
                self.preamble[-1].append(text)
        elif _short_title(text) and (self.loose or after_blank):
            # Held back: a bare heading, the closing signature, or just a short wrapped line.
            self.loose.append((line, text))
        else:
            self.current.zh.extend(t for _, t in self.loose)
            self.loose = []
            self.current.zh.append(text)

    def result(self, fmt: str) -> ParsedCovenant:
        if not self.drafts:
            raise NoClausesFound(
                _message(self.source, None, "找不到任何条款", "no clauses found")
                + "\n"
                + _STYLES_TRIED,
                source=self.source,
            )
        self._settle_loose(before_clause=False)
        clauses = []
        for d in self.drafts:
            zh = tidy(d.zh)
            if not zh:
                self.warn(d.line, f"{d.label}没有正文", f"{d.label} has no text")
            clauses.append(
                ParsedClause(
                    number=d.number,
                    label=d.label,
                    chapter=d.chapter,
                    section=d.section,
                    text_zh=zh,
                    text_dong=tidy(d.dong) or None,
                    penalty=_penalty(zh),
                    topic=guess_topic(zh, d.section, chapter=d.chapter),
                    line=d.line,
                )
            )
        # Sequentially numbered styles pass this trivially; 第N条 texts get real checks.
        self.warnings.extend(_check_numbers(clauses, self.source))
        return ParsedCovenant(
            title=self.title,
            village=_village(self.title),
            preamble="\n".join(p for p in (tidy(par) for par in self.preamble) if p),
            clauses=tuple(clauses),
            encoding="",
            format=fmt,
            warnings=tuple(self.warnings),
            dong_note=tidy(self.dong_note),
        )


def _check_number_size(number: int, label: str, source: str, line: int) -> None:
    """Refuse a clause number no covenant has (and no database column holds)."""
    if number > MAX_CLAUSE_NUMBER:
        shown = label if len(label) <= 30 else label[:30] + "…"
        raise CovenantSchemaError(
            _message(
                source,
                line,
                f"条款编号 {shown} 太大（村规民约最多 {MAX_CLAUSE_NUMBER} 条），请检查",
                f"clause number {shown} is too large (a covenant has at most"
                f" {MAX_CLAUSE_NUMBER} clauses); check it",
            ),
            source=source,
            line=line,
        )


def _check_numbers(clauses: list[ParsedClause], source: str) -> list[str]:
    """Raise on a repeated number; return warnings for gaps and out-of-order numbers."""
    seen: dict[int, ParsedClause] = {}
    warnings = []
    previous = 0
    for c in clauses:
        if (first := seen.get(c.number)) is not None:
            raise DuplicateClause(
                _message(
                    source,
                    c.line,
                    f"条款编号 {c.number}（{c.label}）与第{first.line}行的{first.label}重复",
                    f"clause number {c.number} ({c.label}) repeats the one on line {first.line}",
                ),
                source=source,
                number=c.number,
                lines=(first.line, c.line),
            )
        seen[c.number] = c
        if c.number != previous + 1:
            warnings.append(
                _message(
                    source,
                    c.line,
                    f"{c.label}的编号不连续（应为 {previous + 1}）",
                    f"{c.label} breaks the numbering (expected {previous + 1})",
                )
            )
        previous = c.number
    return warnings


class _TiaoSplitter:
    """Finds 第N条 clause starts in a line: at line start, or inline when the sequence goes on."""

    def __init__(self) -> None:
        self.last = 0

    def split(self, line: str, line_may_start: bool) -> tuple[str, list[tuple[str, int, str]]]:
        """(text before the first clause, [(label, number, text), …])."""
        starts: list[tuple[re.Match[str], int]] = []
        last = self.last
        for m in _TIAO.finditer(line):
            number = _to_int(m.group(1))
            if number is None:
                continue
            at_start = m.start() == 0
            after_break = m.start() > 0 and line[m.start() - 1] in _SENTENCE_END + _WS
            # A label at line start is a clause unless the line merely wraps a sentence
            # ("…按照\n第三条处理"); mid-line it must follow a sentence end or space AND
            # continue the numbering, so "按第三条处理" stays text.
            if (at_start and (line_may_start or number == last + 1)) or (
                after_break and number == last + 1
            ):
                starts.append((m, number))
                last = number
        if not starts:
            return line, []
        self.last = last
        pieces = []
        for i, (m, number) in enumerate(starts):
            end = starts[i + 1][0].start() if i + 1 < len(starts) else len(line)
            label = re.sub(r"[ \u3000：:、．.]+$", "", m.group(0))
            pieces.append((label, number, line[m.end() : end]))
        return line[: starts[0][0].start()], pieces


def _heading_line(line: str) -> tuple[str, str] | None:
    """("chapter"|"section", heading) for 第N章/第N节 lines that are headings, not prose."""
    if (m := _CHAPTER.match(line)) and _short_title(m.group(1)):
        return "chapter", _squash(line)
    if (m := _JIE.match(line)) and _short_title(m.group(1)):
        return "section", _squash(line)
    return None


def _item(line: str) -> tuple[str, int | None, str] | None:
    for style, pattern in _ITEM_STYLES:
        if m := pattern.match(line):
            return style, _to_int(m.group(1)), m.group(2)
    return None


def _parse_text(text: str, source: str) -> ParsedCovenant:
    b = _Builder(source)
    lines = [line.strip(_WS + "\n") for line in text.split("\n")]
    tiao_mode = any(_TIAO.match(line) for line in lines)
    has_items = any(_item(line) for line in lines)
    splitter = _TiaoSplitter()
    section_style: str | None = None
    item_last = doc_last = 0
    after_blank, previous = True, ""  # previous: the last line of prose, "" after structure
    for n, line in enumerate(lines, 1):
        if not line:
            after_blank, previous = True, ""
            continue
        was_blank, may_start = after_blank, after_blank or _ends_sentence(previous)
        after_blank, last_prose, previous = False, previous, ""
        zh = _ZH_HEADING.match(line)
        if b.title is None and not b.drafts and not any(b.preamble) and _is_title(line):
            b.title = _squash(line)
        elif m := _DONG.match(line):
            b.dong(m.group(1), n)
        elif heading := _heading_line(line):
            b.heading(*heading)
            section_style, item_last = None, 0
        elif tiao_mode:
            # "一、消防安全" after a finished sentence is a heading; after "下列行为：" (or
            # another such item) it is a list inside the clause.
            if (
                zh
                and _short_title(zh.group(2))
                and (not last_prose or last_prose[-1] in "。！？!?")
            ):
                b.heading("section", _squash(line))
                continue
            before, pieces = splitter.split(line, may_start)
            if before.strip(_WS):
                b.text(before, n, was_blank)
            for label, number, body in pieces:
                b.clause(label, number, body, n)
            previous = line
        elif zh and has_items and _short_title(zh.group(2)):
            b.heading("section", _squash(line))
            section_style, item_last = None, 0
        elif zh and not has_items:
            # Without 1./（一） items anywhere, the 一、 paragraphs are the clauses themselves.
            b.clause(line[: zh.start(2)].strip(_WS), None, zh.group(2), n)
            previous = line
        elif (item := _item(line)) and item[0] == (section_style or item[0]):
            style, value, body = item
            if value is not None and value not in (item_last + 1, doc_last + 1):
                b.warn(n, f"条目编号不连续：{line[:8]}", f"item numbering breaks at {line[:8]!r}")
            section_style, item_last = style, value or item_last + 1
            doc_last = max(doc_last, item_last)
            b.clause(line[: len(line) - len(body)].strip(_WS), None, body, n)
            previous = line
        else:
            b.text(line, n, was_blank)
            previous = line
    return b.result("text")


_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_MD_ITEM = re.compile(r"^( *)([-*+]|\d{1,3}[.)])[ \t]+(.*)$")
_MD_FENCE = re.compile(r"^[ \t]*(```|~~~)")


def _md_inline(text: str) -> str:
    """Plain text from a Markdown line: links, emphasis, code marks and escapes removed."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!])", r"\1", text)
    return text.strip(_WS)


def _parse_markdown(text: str, source: str) -> ParsedCovenant:
    b = _Builder(source)
    lines = text.split("\n")
    fenced = False
    body: list[tuple[int, str]] = []  # lines outside code fences, blockquote marks removed
    for n, line in enumerate(lines, 1):
        if _MD_FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            body.append((n, re.sub(r"^[ \t]*>[ \t]?", "", line).rstrip()))
    headings = [(n, m) for n, line in body if (m := _MD_HEADING.match(line))]
    level_ones = [n for n, m in headings if len(m.group(1)) == 1]
    title_at = None
    if headings and (
        (len(level_ones) == 1 and level_ones[0] == headings[0][0])
        or _is_title(_md_inline(headings[0][1].group(2)))
    ):
        title_at = headings[0][0]
    levels = sorted({len(m.group(1)) for n, m in headings if n != title_at})
    chapter_level = levels[0] if len(levels) > 1 else None
    list_mode = any(
        (m := _MD_ITEM.match(line)) and len(m.group(1)) < 2 or _TIAO.match(_md_inline(line))
        for _, line in body
    )
    splitter = _TiaoSplitter()
    after_blank, in_heading_section, previous = True, False, ""
    for n, raw in body:
        if not raw.strip():
            after_blank, previous = True, ""
            continue
        was_blank, may_start = after_blank, after_blank or _ends_sentence(previous)
        after_blank, previous = False, ""
        if h := _MD_HEADING.match(raw):
            heading = _squash(_md_inline(h.group(2)))
            if n == title_at:
                b.title = heading
                continue
            kind = _heading_line(heading)
            if kind is None:
                kind = ("chapter" if len(h.group(1)) == chapter_level else "section", heading)
            b.heading(*kind)
            in_heading_section, after_blank = True, True
            continue
        item = _MD_ITEM.match(raw)
        line = _md_inline(item.group(3) if item else raw)
        if m := _DONG.match(line):
            b.dong(m.group(1), n)
        elif item and len(item.group(1)) < 2:
            before, pieces = splitter.split(line, True)
            if pieces and not before:
                for label, number, rest in pieces:
                    b.clause(label, number, rest, n)
            else:
                marker = item.group(2)
                b.clause(marker if marker[0].isdigit() else None, None, line, n)
        elif list_mode:
            previous = line
            before, pieces = splitter.split(line, may_start)
            if before.strip(_WS):
                b.text(before, n, was_blank)
            for label, number, rest in pieces:
                b.clause(label, number, rest, n)
        elif was_blank and in_heading_section:
            b.clause(None, None, line, n)
        else:
            b.text(line, n, was_blank)
    return b.result("markdown")


_YAML_KEYS = ("village", "title", "preamble", "dong_note", "note", "clauses")
_YAML_CLAUSE_KEYS = ("number", "label", "chapter", "section", "topic", "zh", "dong", "penalty")


class _CovenantYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader that also refuses deep nesting and repeated keys, with their lines."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401 - PyYAML's node types
        # PyYAML composes recursively: thousands of levels would end in RecursionError.
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"嵌套超过 {MAX_YAML_DEPTH} 层 / nested deeper than {MAX_YAML_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:  # noqa: ANN401
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: the base class says what is wrong with it
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"键 {key!r} 重复（第 {first.start_mark.line + 1} 行已有）"
                    f" / duplicate key {key!r} (first on line {first.start_mark.line + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def _parse_yaml(text: str, source: str) -> ParsedCovenant:
    loader = _CovenantYamlLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise CovenantFileError(
            _message(source, line, f"YAML 语法错误：{problem}", f"YAML syntax error: {problem}"),
            source=source,
            line=line,
        ) from exc
    finally:
        loader.dispose()

    def fail(line: int | None, zh: str, en: str) -> CovenantSchemaError:
        return CovenantSchemaError(_message(source, line, zh, en), source=source, line=line)

    if node is None or not isinstance(data, dict):  # an empty document has no node and no data
        raise fail(None, "YAML 顶层应是键值表（village、clauses…）", "top level must be a mapping")
    keys = {k.value: v for k, v in node.value}  # key → value node, for line numbers
    for key in data:
        if key not in _YAML_KEYS:
            raise fail(
                keys[key].start_mark.line + 1 if key in keys else None,
                f"未知的键 {key!r}（可用：{'、'.join(_YAML_KEYS)}）",
                f"unknown key {key!r} (allowed: {', '.join(_YAML_KEYS)})",
            )

    def string(value: Any, line: int | None, what: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise fail(line, f"{what} 应是文字", f"{what} must be text")
        return tidy(str(value).split("\n")) or None

    def heading(value: Any, line: int | None, what: str) -> str | None:
        return _squash(str(value)) if string(value, line, what) else None

    for key in ("village", "title", "preamble", "dong_note", "note"):
        string(data.get(key), keys[key].start_mark.line + 1 if key in keys else None, key)
    items = data.get("clauses")
    if not isinstance(items, list) or not items:
        raise fail(
            keys["clauses"].start_mark.line + 1 if "clauses" in keys else None,
            "缺少 clauses 列表，或列表为空",
            "missing or empty `clauses:` list",
        )
    clauses = []
    for i, (item, item_node) in enumerate(zip(items, keys["clauses"].value, strict=True)):
        line = item_node.start_mark.line + 1
        where_zh, where_en = f"clauses[{i}]（第{i + 1}项）", f"clauses[{i}] (item {i + 1})"
        if not isinstance(item, dict):
            raise fail(line, f"{where_zh} 应是键值表", f"{where_en} must be a mapping")
        for key in item:
            if key not in _YAML_CLAUSE_KEYS:
                raise fail(
                    line,
                    f"{where_zh} 有未知的键 {key!r}（可用：{'、'.join(_YAML_CLAUSE_KEYS)}）",
                    f"{where_en} has unknown key {key!r} (allowed: {', '.join(_YAML_CLAUSE_KEYS)})",
                )
        number = item.get("number", i + 1)
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise fail(
                line,
                f"{where_zh} 的 number 应是正整数",
                f"{where_en}: number must be a positive integer",
            )
        _check_number_size(number, str(number), source, line)
        zh = string(item.get("zh"), line, f"{where_zh} zh")
        if not zh:
            raise fail(
                line, f"{where_zh} 缺少 zh（中文条文）", f"{where_en} has no `zh` (Chinese text)"
            )
        section = heading(item.get("section"), line, f"{where_zh} section")
        chapter = heading(item.get("chapter"), line, f"{where_zh} chapter")
        topic = string(item.get("topic"), line, f"{where_zh} topic")
        if topic is not None and topic not in TOPICS:
            raise fail(
                line,
                f"{where_zh} 的 topic {topic!r} 不在主题表中（{'、'.join(TOPICS)}）",
                f"{where_en}: unknown topic {topic!r} (one of {', '.join(TOPICS)})",
            )
        # An absent penalty is guessed from the text; an explicit empty one means none.
        penalty = (
            string(item["penalty"], line, f"{where_zh} penalty")
            if "penalty" in item
            else _penalty(zh)
        )
        clauses.append(
            ParsedClause(
                number=number,
                label=heading(item.get("label"), line, f"{where_zh} label")
                or f"第{cn2an.an2cn(number)}条",
                chapter=chapter,
                section=section,
                text_zh=zh,
                text_dong=string(item.get("dong"), line, f"{where_zh} dong"),
                penalty=penalty,
                topic=topic or guess_topic(zh, section, chapter=chapter),
                line=line,
            )
        )
    title = heading(data.get("title"), None, "title")
    return ParsedCovenant(
        title=title,
        village=heading(data.get("village"), None, "village") or _village(title),
        preamble=_paragraphs(str(data.get("preamble") or "")),
        clauses=tuple(clauses),
        encoding="",
        format="yaml",
        warnings=tuple(_check_numbers(clauses, source)),
        dong_note=string(data.get("dong_note"), None, "dong_note") or "",
    )


def _guess_format(text: str, source: str) -> str:
    if fmt := _SUFFIX_FORMAT.get(Path(source).suffix.lower()):
        return fmt
    if re.search(r"^clauses[ \t]*:", text, re.M):
        return "yaml"
    if re.search(r"^#{1,6}[ \t]|^[ \t]*[-*+][ \t]", text, re.M):
        return "markdown"
    return "text"


def parse_covenant(text: str, *, source: str = "<text>", fmt: str | None = None) -> ParsedCovenant:
    """Parse covenant text; fmt is "text", "markdown" or "yaml" (guessed when None)."""
    fmt = fmt or _guess_format(text, source)
    if fmt not in FORMATS:
        raise CovenantFileError(
            _message(
                source,
                None,
                f"未知格式 {fmt!r}（可用：{'、'.join(FORMATS)}）",
                f"unknown format {fmt!r} (one of {', '.join(FORMATS)})",
            ),
            source=source,
        )
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    text, removed = _remove_invisible(text, source)
    if not text.strip():
        raise CovenantFileError(
            _message(source, None, "文本为空", "the text is empty"), source=source
        )
    parse = {"text": _parse_text, "markdown": _parse_markdown, "yaml": _parse_yaml}[fmt]
    parsed = parse(text, source)
    return replace(parsed, warnings=(*removed, *parsed.warnings)) if removed else parsed


def _remove_invisible(text: str, source: str) -> tuple[str, tuple[str, ...]]:
    """The text without invisible characters, and a warning saying how many and where."""
    first = _INVISIBLE.search(text)
    if first is None:
        return text, ()
    count = len(_INVISIBLE.findall(text))
    line = text.count("\n", 0, first.start()) + 1
    warning = _message(
        source,
        line,
        f"删除了 {count} 个不可见字符（零宽空格等，多来自网页或 Word 复制）",
        f"removed {count} invisible characters (zero-width spaces and the like, often pasted"
        " from web pages or Word)",
    )
    return _INVISIBLE.sub("", text), (warning,)


def load_covenant(path: Path, *, max_bytes: int = MAX_TEXT_BYTES) -> ParsedCovenant:
    """Read a covenant file (any common Chinese encoding, at most `max_bytes`) and parse it."""
    text, encoding = read_text(Path(path), max_bytes=max_bytes)
    return replace(parse_covenant(text, source=printable(path)), encoding=encoding)
