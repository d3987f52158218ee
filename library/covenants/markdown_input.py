"""Markdown covenants: the one level-1 heading is the title; headings are chapters (the upper
of two levels, or 第N章) and sections; top-level list items, or paragraphs under headings
when there are no lists, are clauses; 第N条 runs inside a paragraph are split as in text."""

from __future__ import annotations

import re

from .clause_builder import DONG, ClauseBuilder
from .inline_clauses import Event, Heading, InlineClauses, Start, Text
from .numbering import TIAO, heading_line
from .parsed import ParsedCovenant
from .titles import is_title
from .wording import ROW, WRAP, WS, ends_sentence, squash

_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_MD_ITEM = re.compile(r"^( *)([-*+]|\d{1,3}[.)])[ \t]+(.*)$")
_MD_FENCE = re.compile(r"^[ \t]*(```|~~~)")


def _md_inline(text: str) -> str:
    """Plain text from a Markdown line: links, emphasis, code marks and escapes removed."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!])", r"\1", text)
    return text.strip(WS)


def parse_markdown(text: str, source: str) -> ParsedCovenant:
    """Parse a Markdown covenant."""
    b = ClauseBuilder(source)
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
        or is_title(_md_inline(headings[0][1].group(2)))
    ):
        title_at = headings[0][0]
    levels = sorted({len(m.group(1)) for n, m in headings if n != title_at})
    chapter_level = levels[0] if len(levels) > 1 else None
    list_mode = any(
        (m := _MD_ITEM.match(line)) and len(m.group(1)) < 2 or TIAO.match(_md_inline(line))
        for _, line in body
    )
    splitter = InlineClauses()
    after_blank, in_heading_section, previous = True, False, ""
    for n, raw in body:
        if not raw.strip():
            after_blank, previous = True, ""
            continue
        was_blank, may_start = after_blank, after_blank or ends_sentence(previous)
        after_blank, previous = False, ""
        if h := _MD_HEADING.match(raw):
            heading = squash(_md_inline(h.group(2)))
            if n == title_at:
                b.title = heading
                continue
            kind = heading_line(heading)
            if kind is None:
                kind = ("chapter" if len(h.group(1)) == chapter_level else "section", heading)
            b.heading(*kind)
            in_heading_section, after_blank = True, True
            continue
        item = _MD_ITEM.match(raw)
        line = _md_inline(item.group(3) if item else raw)
        if m := DONG.match(line):
            b.dong(m.group(1), n)
        elif item and len(item.group(1)) < 2:
            events = splitter.split(line, n, True)
            if isinstance(events[0], Text) or not any(isinstance(e, Start) for e in events):
                # An item that does not open with 第N条 is a clause numbered by its place.
                marker = item.group(2)
                b.clause(marker if marker[0].isdigit() else None, None, line, n)
            else:
                _feed(b, events, n, was_blank)
        elif list_mode:
            previous = line
            _feed(b, splitter.split(line, n, may_start), n, was_blank)
        elif was_blank and in_heading_section:
            b.clause(None, None, line, n)
        else:
            b.text(line, n, was_blank, ROW if line.startswith("|") else WRAP)
    b.passed_over = splitter.passed_over
    return b.result("markdown")


def _feed(b: ClauseBuilder, events: list[Event], n: int, was_blank: bool) -> None:
    for event in events:
        if isinstance(event, Text):
            b.text(event.text, n, was_blank, ROW if event.text.startswith("|") else WRAP)
        elif isinstance(event, Heading):
            b.heading(event.kind, event.text)
        else:
            b.clause(event.label, event.number, event.text, n)
