"""What parsing a covenant produces, and the one way its messages name a file and line."""

from __future__ import annotations

from dataclasses import dataclass


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
    """A whole covenant: title, village, preamble, clauses and closing, with how it was read."""

    title: str | None
    village: str | None
    preamble: str
    clauses: tuple[ParsedClause, ...]
    encoding: str
    format: str
    warnings: tuple[str, ...] = ()
    dong_note: str = ""
    # What follows the last clause and belongs to none: the committee's signature, the date,
    # unnumbered 附则 sentences. Kept so that no text of the source is silently dropped.
    closing: str = ""


def message(source: str, line: int | None, zh: str, en: str) -> str:
    """A bilingual message, Chinese first: "r.txt 第3行：… / r.txt:3: …"."""
    if line is None:
        return f"{source}：{zh} / {source}: {en}"
    return f"{source} 第{line}行：{zh} / {source}:{line}: {en}"
