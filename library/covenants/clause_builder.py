"""Turns the lines of a text or Markdown covenant into preamble, clauses and closing.

The input parsers say what each line is when they can tell (a clause start, a heading, a
Dong line); the builder decides the rest: short unnumbered lines are held until what
follows shows whether they are a bare heading ("消防安全", "附则"), the committee's
signature and date, or just a wrapped line. Nothing of the source is dropped: text that
belongs to no clause goes to the preamble, the next clause (with a warning) or the closing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import NoClausesFound
from .numbering import STYLES_TRIED, check_number_size, check_numbers
from .parsed import ParsedClause, ParsedCovenant, message
from .titles import village_of
from .topics import guess_topic, topic_of_heading
from .wording import (
    FULL_STOP,
    ITEM,
    PHRASE_PUNCT,
    WRAP,
    WS,
    penalty_of,
    short_title,
    squash,
    tidy,
    tidy_lines,
    wide,
)

DONG = re.compile(r"^(?:侗文|侗语|侗語|dong|kmc)[ \u3000]*[：:][ \u3000]*(.*)$", re.I)
DONG_NOTE = re.compile(r"^(?:侗文说明|侗文說明|dong note)[ \u3000]*[：:][ \u3000]*(.*)$", re.I)
_SIGNATURE = re.compile(
    r"委员会|委員會|村委|理事会|理事會|[年月日]$|^[0-9０-９]{4}[-./年]|盖章|蓋章|签名|簽名|签字|簽字"
)
# Headings that name a part of the covenant rather than a topic; under one of these,
# unnumbered sentences ("本公约自通过之日起施行。") are the covenant's closing words.
_PART_HEADING = re.compile(
    r"^(?:附\s*[则則]|[总總]\s*[则則]|[罚罰]\s*[则則]|[奖獎]\s*[惩懲]|其\s*[他它]|附\s*[录錄]"
    r"|补充规定|補充規定)$"
)
# Stricter, for lines not set apart by a blank line or a full stop: a signature ends with
# the committee's name, a date or a seal mark ("由村委会负责" does not).
_SIGNATURE_END = re.compile(
    r"(?:委员会|委員會|村委会?|村委會|理事会|理事會|[0-9０-９一二三四五六七八九十〇零]\s*[年月日号號]"
    r"|[0-9０-９]{4}[-./][0-9０-９]{1,2}(?:[-./][0-9０-９]{1,2})?"
    r"|[（(]?(?:盖章|蓋章|签名|簽名|签字|簽字)[)）]?)$"
)
# The signature after the last full stop of a one-line covenant: "…施行。岩寨村村民委员会 2023年6月1日".
_SIGNATURE_TAIL = re.compile(rf"[{FULL_STOP}]([^{FULL_STOP}]+)$")


def _signature(text: str, *, strict: bool = False) -> bool:
    text = text.strip(WS)
    pattern = _SIGNATURE_END if strict else _SIGNATURE
    return (
        len(text) <= 40 and not re.search(f"[{PHRASE_PUNCT}]", text) and bool(pattern.search(text))
    )


def _part_heading(text: str) -> bool:
    return bool(_PART_HEADING.match(text.strip(WS)))


def _bare_heading(text: str) -> bool:
    """A heading without a number: short, no digits, naming a topic or a part (附则)."""
    return (
        short_title(text)
        and not re.search("[0-9０-９]", text)
        and bool(topic_of_heading(text) or _part_heading(text))
    )


@dataclass
class _Line:
    text: str
    line: int
    kind: str = WRAP


@dataclass
class _Draft:
    number: int
    label: str
    chapter: str | None
    section: str | None
    line: int
    zh: list[_Line] = field(default_factory=list)
    dong: list[str] = field(default_factory=list)


@dataclass
class _Held:
    text: str
    line: int
    after_blank: bool


class ClauseBuilder:
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
        self.held: list[_Held] = []  # short unnumbered lines whose role is not yet known
        self.orphans: list[_Line] = []  # text under a heading, before any clause of it
        self.headings_since_clause: list[str] = []
        self.signature: list[_Line] = []
        self.warnings: list[str] = []
        self.first_line: int | None = None
        # (line, label) of 第N条 mentions the input parser read as references.
        self.passed_over: list[tuple[int, str]] = []

    def warn(self, line: int | None, zh: str, en: str) -> None:
        """Add a warning naming the source and line."""
        self.warnings.append(message(self.source, line, zh, en))

    def _text_before_ended(self) -> bool:
        """True when the text before the next line ended with a full stop (or there is none)."""
        if self.current is not None:
            last = self.current.zh[-1].text if self.current.zh else ""
        elif self.drafts:
            last = self.orphans[-1].text if self.orphans else ""
        else:
            last = next((p[-1] for p in reversed(self.preamble) if p), "")
        last = last.rstrip(WS)
        return not last or last[-1] in FULL_STOP

    def _place(self, text: str, line: int, after_blank: bool, kind: str = WRAP) -> None:
        """Put text where it belongs now: the current clause, the orphans, or the preamble."""
        if self.current is not None:
            self.current.zh.append(_Line(text, line, kind))
        elif self.drafts:
            # A paragraph of its own starts a new line in whatever it is joined to.
            starts_line = kind != WRAP or (after_blank and bool(self.orphans))
            self.orphans.append(_Line(text, line, ITEM if starts_line else WRAP))
        elif after_blank:
            self.preamble.append([text])
        else:
            self.preamble[-1].append(text)

    def _settle(self, before: str) -> None:
        """Decide what held lines were, now that `before` ("clause", "text", "heading",
        "end") follows them."""
        held, self.held = self.held, []
        if not held:
            return
        first = held[0]
        # 总则/附则 divide a covenant as chapters do; "消防安全" names a section's topic.
        kind = "chapter" if _part_heading(first.text) else "section"
        if before == "clause" and len(held) == 1 and _bare_heading(first.text):
            self.heading(kind, squash(first.text))
            return
        if before in ("text", "end") and self.drafts and kind == "chapter":
            # "附则" then unnumbered sentences: a part with no clause of its own (yet).
            self.heading(kind, squash(first.text))
            held = held[1:]
        if before == "end" and held and self.drafts and all(_signature(h.text) for h in held):
            self.signature.extend(_Line(h.text, h.line) for h in held)
            return
        for h in held:
            self._place(h.text, h.line, h.after_blank)

    def heading(self, kind: str, text: str) -> None:
        """A chapter or section heading: clauses after it belong to it."""
        self._settle("heading")
        self.current, self.in_dong = None, False
        if kind == "chapter":
            self.chapter, self.section = text, None
        else:
            self.section = text
        self.headings_since_clause.append(text)

    def clause(self, label: str | None, number: int | None, text: str, line: int) -> None:
        """A clause starts: numbered as written, or the next number when `number` is None."""
        self.first_line = self.first_line or line
        self._settle("clause")
        number = number if number is not None else len(self.drafts) + 1
        check_number_size(number, label or str(number), self.source, line)
        draft = _Draft(number, label or f"{number}.", self.chapter, self.section, line)
        if self.orphans:
            self.warn(
                self.orphans[0].line,
                f"这段文字不在任何条款内，已并入下一条（{draft.label}），请核对",
                f"text outside any clause was joined to the next clause ({draft.label}); check it",
            )
            draft.zh.extend(self.orphans)
            self.orphans = []
        draft.zh.append(_Line(text, line, ITEM if draft.zh else WRAP))
        self.drafts.append(draft)
        self.current, self.in_dong = draft, False
        self.headings_since_clause = []

    def dong(self, text: str, line: int) -> None:
        """A Dong line: the Dong text of the clause above."""
        self.first_line = self.first_line or line
        if self.current is None:
            self.warn(line, "侗文行前面没有条款，已忽略", "Dong line before any clause, ignored")
            return
        self.current.dong.append(text)
        self.in_dong = True

    def text(self, text: str, line: int, after_blank: bool, kind: str = WRAP) -> None:
        """An unnumbered line; `kind` says whether it is a sub-item or a table row."""
        self.first_line = self.first_line or line
        if note := DONG_NOTE.match(text):
            self.dong_note.append(note.group(1))
            return
        if self.in_dong and self.current is not None and not any(wide(c) for c in text):
            self.current.dong.append(text)
            return
        self.in_dong = False
        if (
            kind == WRAP
            and short_title(text)
            and (self.held or after_blank or self._text_before_ended())
        ):
            self.held.append(_Held(text, line, after_blank))
            return
        self._settle("text")
        self._place(text, line, after_blank, kind)

    def _closing_of_last_clause(self) -> list[_Line]:
        """Signature lines (and a signature run on after the last full stop) that ended up in
        the last clause because nothing set them apart."""
        zh = self.drafts[-1].zh
        k = len(zh)
        while k > 1 and zh[k - 1].kind == WRAP and _signature(zh[k - 1].text, strict=True):
            k -= 1
        ended = zh[k - 1].text.rstrip(WS)[-1:]
        if k < len(zh) and ended and ended in FULL_STOP:
            moved = zh[k:]
            del zh[k:]
            return moved
        last = zh[-1]
        if (m := _SIGNATURE_TAIL.search(last.text.rstrip(WS))) and _signature(
            m.group(1), strict=True
        ):
            zh[-1] = _Line(last.text[: m.start(1)], last.line, last.kind)
            return [_Line(m.group(1), last.line)]
        return []

    def _closing(self) -> str:
        """What follows the last clause, said in a warning: headings, orphans, signature."""
        signature = self._closing_of_last_clause() + self.signature
        if self.orphans:
            self.warn(
                self.orphans[0].line,
                "最后一条之后的文字不属于任何条款，保留为结尾（不播报）",
                "text after the last clause belongs to no clause; kept as the closing"
                " (not narrated)",
            )
        if signature:
            self.warn(
                signature[0].line,
                "文末的落款/日期不计入条款，保留为结尾",
                "the closing signature/date is not part of a clause; kept as the closing",
            )
        parts = [*self.headings_since_clause, tidy_lines((o.text, o.kind) for o in self.orphans)]
        parts += [tidy([s.text]) for s in signature]
        return "\n".join(p for p in parts if p)

    def _no_clauses(self) -> NoClausesFound:
        line: int | None
        if self.passed_over:
            line, label = self.passed_over[0]
            zh = (
                f"找不到任何条款：“{label}”不像条款的开头（条款编号应在行首，或在句号、冒号之后，"
                "并从第一条起依次出现）"
            )
            en = (
                f"no clauses found: “{label}” does not read as a clause start (a clause number"
                " begins a line or follows a full stop or colon, counting up from 第一条)"
            )
        else:
            line, zh, en = self.first_line, "找不到任何条款", "no clauses found"
        return NoClausesFound(
            message(self.source, line, zh, en) + "\n" + STYLES_TRIED, source=self.source, line=line
        )

    def result(self, fmt: str) -> ParsedCovenant:
        """The covenant built so far; raises NoClausesFound when there is no clause."""
        self._settle("end")
        if not self.drafts:
            raise self._no_clauses()
        closing = self._closing()
        clauses = []
        for d in self.drafts:
            zh = tidy_lines((z.text, z.kind) for z in d.zh)
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
                    penalty=penalty_of(zh),
                    topic=guess_topic(zh, d.section, chapter=d.chapter),
                    line=d.line,
                )
            )
        self.warnings.extend(check_numbers(clauses, self.source, repeats_are_errors=False))
        return ParsedCovenant(
            title=self.title,
            village=village_of(self.title),
            preamble="\n".join(p for p in (tidy(par) for par in self.preamble) if p),
            clauses=tuple(clauses),
            encoding="",
            format=fmt,
            warnings=tuple(self.warnings),
            dong_note=tidy(self.dong_note),
            closing=closing,
        )
