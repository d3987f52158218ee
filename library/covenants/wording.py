"""Covenant wording: whitespace tidied, wrapped lines joined, sentence ends, penalties found.

Text keeps its original characters (Traditional stays Traditional); only whitespace changes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

WS = " \t\u3000\ufeff"
SENTENCE_END = "。；;！!？?：:"
# A full stop, not a colon or semicolon: what may come right before a bare heading.
FULL_STOP = "。！？!?"
PHRASE_PUNCT = "，,、" + SENTENCE_END

# How a source line joins the text before it: "wrap" continues the sentence, "item" starts a
# new line (（一）, 1., ① sub-items), "row" is a table row whose cell gaps are kept.
WRAP, ITEM, ROW = "wrap", "item", "row"

_PENALTY_START = re.compile(
    r"违者|違者|违反者|違反者|如有违反|如有違反|凡违反|凡違反|对违反|對違反|否则|否則"
)
_PENALTY_WORDS = re.compile(
    r"罚|罰|处以|處以|赔偿|賠償|责令|責令|没收|沒收|追究|通报批评|通報批評|移交|移送"
    r"|取消.{0,8}(?:资格|資格|待遇)"
)


def wide(ch: str) -> bool:
    """True for a full-width (CJK) character, beside which spaces are not needed."""
    return unicodedata.east_asian_width(ch) in "WF"


def tidy(parts: Iterable[str]) -> str:
    """Join wrapped lines: one space between Latin pieces, none where CJK meets anything."""
    out = ""
    for part in parts:
        part = re.sub(r"[ \t\u3000]+", " ", part).strip()
        if not part:
            continue
        if out and not (wide(out[-1]) or wide(part[0])):
            out += " "
        out += part
    # Stray spaces between two CJK characters are typing noise, not meaning.
    return re.sub(r"(?<=[^\x00-\u2e7f]) (?=[^\x00-\u2e7f])", "", out)


def tidy_lines(lines: Iterable[tuple[str, str]]) -> str:
    """Join (text, kind) lines: wraps are joined, items and table rows keep their own line.

    The narration splits phrases at line ends, so "（一）野外用火\\n（二）私拉电线" is read as
    two items, where "野外用火（二）" would run them together.
    """
    out: list[str] = []
    run: list[str] = []
    for text, kind in lines:
        if kind != WRAP and run:
            out.append(tidy(run))
            run = []
        if kind == ROW:
            # Cells of an aligned table are told apart only by the gap between them.
            if row := re.sub(r"[ \t\u3000]+", " ", text).strip():
                out.append(row)
        else:
            run.append(text)
    if run:
        out.append(tidy(run))
    return "\n".join(line for line in out if line)


def paragraphs(text: str) -> str:
    """Paragraphs (split at blank lines) tidied and joined with one newline."""
    return "\n".join(p for p in (tidy(par.split("\n")) for par in re.split(r"\n\s*\n", text)) if p)


def squash(text: str) -> str:
    """A heading or title on one line, its spaces kept ("第二章 消防安全")."""
    return " ".join(text.split())


def short_title(text: str) -> bool:
    """Short and without phrase punctuation: could be a heading, a signature or a wrap."""
    return len(text) <= 20 and not re.search(rf"[{PHRASE_PUNCT}]", text)


def ends_sentence(text: str) -> bool:
    """True when `text` is empty or ends a sentence (or a colon's lead-in)."""
    return not text or text[-1] in SENTENCE_END


def penalty_of(text: str) -> str | None:
    """From the first 违者/否则… (or the first phrase that fines or orders) to the end."""
    if m := _PENALTY_START.search(text):
        return text[m.start() :].strip()
    for phrase in re.finditer(rf"[^{PHRASE_PUNCT}]+", text):
        if _PENALTY_WORDS.search(phrase.group()):
            return text[phrase.start() :].strip()
    return None
