"""Plain-text covenants: 第N条 clauses (at line starts or run together), or 一、 sections
holding 1./1、/（一）/(1) items, or bare 一、/1、 items; 第N章 chapters and 第N节 sections."""

from __future__ import annotations

from .clause_builder import DONG, ClauseBuilder
from .inline_clauses import Heading, InlineClauses, Start, Text
from .numbering import ZH_HEADING, heading_line, item, line_kind
from .parsed import ParsedCovenant
from .titles import is_title, title_prefix
from .wording import WS, ends_sentence, short_title, squash


def _clause_starts(lines: list[str]) -> tuple[bool, list[tuple[int, str]]]:
    """Whether some line holds a 第N条 that would start a clause (at its start or inline),
    and the 第N条 mentions that would not."""
    passed_over: list[tuple[int, str]] = []
    for n, line in enumerate(lines, 1):
        if "第" not in line:
            continue
        splitter = InlineClauses()
        if any(isinstance(e, Start) for e in splitter.split(line, n, True)):
            return True, []
        passed_over += splitter.passed_over
    return False, passed_over


def parse_text(text: str, source: str) -> ParsedCovenant:
    """Parse a plain-text covenant."""
    b = ClauseBuilder(source)
    lines = [line.strip(WS + "\n") for line in text.split("\n")]
    tiao_mode, passed_over = _clause_starts(lines)
    has_items = any(item(line) for line in lines)
    splitter = InlineClauses()
    section_style: str | None = None
    item_last = doc_last = 0
    after_blank, previous = True, ""  # previous: the last line of prose, "" after structure
    for n, line in enumerate(lines, 1):
        if not line:
            after_blank, previous = True, ""
            continue
        was_blank, may_start = after_blank, after_blank or ends_sentence(previous)
        after_blank, last_prose, previous = False, previous, ""
        starting = b.title is None and b.first_line is None
        if starting and is_title(line):
            b.title = squash(line)
            continue
        if starting and (title := title_prefix(line)):
            # "岩寨村村规民约　为了……第一条：……": the title, then the rest of the line.
            b.title, line, may_start = squash(title), line[len(title) :].lstrip(WS), True
        zh = ZH_HEADING.match(line)
        if m := DONG.match(line):
            b.dong(m.group(1), n)
        elif heading := heading_line(line):
            b.heading(*heading)
            section_style, item_last = None, 0
        elif tiao_mode:
            # "一、消防安全" after a finished sentence is a heading; after "下列行为：" (or
            # another such item) it is a list inside the clause.
            if zh and short_title(zh.group(2)) and (not last_prose or last_prose[-1] in "。！？!?"):
                b.heading("section", squash(line))
                continue
            for event in splitter.split(line, n, may_start):
                if isinstance(event, Text):
                    b.text(event.text, n, was_blank, line_kind(event.text))
                elif isinstance(event, Heading):
                    b.heading(event.kind, event.text)
                else:
                    b.clause(event.label, event.number, event.text, n)
            previous = line
        elif zh and has_items and short_title(zh.group(2)):
            b.heading("section", squash(line))
            section_style, item_last = None, 0
        elif zh and not has_items:
            # Without 1./（一） items anywhere, the 一、 paragraphs are the clauses themselves.
            b.clause(line[: zh.start(2)].strip(WS), None, zh.group(2), n)
            previous = line
        elif (found := item(line)) and found[0] == (section_style or found[0]):
            style, value, body = found
            if value is not None and value not in (item_last + 1, doc_last + 1):
                b.warn(n, f"条目编号不连续：{line[:8]}", f"item numbering breaks at {line[:8]!r}")
            section_style, item_last = style, value or item_last + 1
            doc_last = max(doc_last, item_last)
            b.clause(line[: len(line) - len(body)].strip(WS), None, body, n)
            previous = line
        else:
            b.text(line, n, was_blank, line_kind(line))
            previous = line
    b.passed_over = splitter.passed_over if tiao_mode else passed_over
    return b.result("text")
