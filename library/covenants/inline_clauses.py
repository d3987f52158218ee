"""第N条 clause starts inside a line: covenants pasted as one paragraph, or all on one line.

"……特制定本条约：第一条：严禁……。第二条：……" holds three clauses and a preamble. A 第N条
starts a clause at a line start, or inside a line when it follows a full stop, colon or
space, or is followed by a colon, and carries on the numbering; "按第三条处理" and
"违反第二条、第三条规定的" are references and stay text. Chapter and section headings run
in too ("…。第二章 消防安全 第三条 …") and are told apart from the clause text before them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .numbering import HEADING_LABEL, TIAO, heading_run, to_int
from .wording import SENTENCE_END, WS

# After 条, words that make 第N条 a reference: 第三条的规定, 第三条所列, 第二条、第三条, 第二至第五条.
_REFERENCE = re.compile(r"(?:的|之|所|规定|規定|款|项|項|中|至|到|[和与與及或]?第)")
# A clause may skip a number or two inside a line ("第一条…。第三条…"): the gap is warned
# about later; a bigger jump is more likely a reference than a clause.
_MAX_INLINE_GAP = 3
_LABEL_MARKS = " \u3000：:、．."


@dataclass(frozen=True)
class Text:
    """Text that is not a clause start: preamble, a clause's continuation, a reference."""

    text: str


@dataclass(frozen=True)
class Heading:
    """A chapter or section heading met inside a line."""

    kind: str
    text: str


@dataclass(frozen=True)
class Start:
    """A clause start: its label as written ("第一条"), its number, and its text on this line."""

    label: str
    number: int
    text: str


Event = Text | Heading | Start


def split_trailing_headings(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Text and the headings that end it after a full stop: "…施行。第二章 消防安全"."""
    stripped = text.rstrip(WS)
    for m in HEADING_LABEL.finditer(stripped):
        before = stripped[: m.start()].rstrip(WS)
        if before and before[-1] not in "。；;！!？?":
            continue
        if (run := heading_run(stripped[m.start() :])) is not None:
            return before, run
    return text, []


class InlineClauses:
    """Splits lines at clause starts, keeping the last clause number across lines."""

    def __init__(self) -> None:
        self.last = 0
        # (line, label) of each 第N条 read as a reference, for a "no clauses found" message.
        self.passed_over: list[tuple[int, str]] = []

    def _starts_clause(
        self, line: str, m: re.Match[str], number: int, line_may_start: bool
    ) -> bool:
        last = self.last
        # The last character before the label, found without copying the line: a pasted
        # covenant can be one line of a megabyte with thousands of labels in it.
        j = m.start()
        while j > 0 and line[j - 1] in WS:
            j -= 1
        if j == 0:
            # A label at line start is a clause unless the line merely wraps a sentence
            # ("…按照\n第三条处理").
            return line_may_start or number == last + 1
        colon = any(c in m.group(2) for c in "：:")
        if not colon and _REFERENCE.match(line, m.end()):
            return False
        if line[j - 1] in SENTENCE_END:
            return last < number <= last + _MAX_INLINE_GAP or (colon and number == last)
        if colon or j < m.start():
            # After a comma or word the sequence must go on exactly: "本约如下，第一条：…".
            return number == last + 1
        return False

    def split(self, line: str, line_no: int, line_may_start: bool) -> list[Event]:
        """The line as events: text before the first clause, headings, clause starts."""
        starts: list[tuple[re.Match[str], int]] = []
        for m in TIAO.finditer(line):
            number = to_int(m.group(1))
            if number is not None and self._starts_clause(line, m, number, line_may_start):
                starts.append((m, number))
                self.last = number
            else:
                self.passed_over.append((line_no, m.group(0).rstrip(_LABEL_MARKS)))
        events: list[Event] = []
        head, headings = split_trailing_headings(line[: starts[0][0].start()] if starts else line)
        if head.strip(WS):
            events.append(Text(head))
        events.extend(Heading(kind, text) for kind, text in headings)
        for i, (m, number) in enumerate(starts):
            end = starts[i + 1][0].start() if i + 1 < len(starts) else len(line)
            body, headings = split_trailing_headings(line[m.end() : end])
            events.append(Start(m.group(0).rstrip(_LABEL_MARKS), number, body))
            events.extend(Heading(kind, text) for kind, text in headings)
        return events
