"""Parse a village covenant (plain text, Markdown or YAML) into numbered clauses.

The entry points: `parse_covenant` for text in hand, `load_covenant` for a file. The work
is done beside this module, one concern each:
- `text_input`, `markdown_input`, `yaml_input` read the three formats;
- `numbering` knows 第N条/第N章/第N节 labels, sub-item markers and the number checks, and
  `inline_clauses` finds clause starts run together on one line;
- `clause_builder` turns lines into preamble, clauses and closing (signature, date) for
  text and Markdown; `wording` tidies whitespace and finds penalties; `titles` reads the
  title and village.
A line starting "侗文：", "侗语：", "Dong:" or "kmc:" right after a clause is that clause's
Dong text; a line "侗文说明：…"/"Dong note: …" is the covenant's note about its Dong text.
Text keeps its original characters (Traditional stays Traditional) and only whitespace is
tidied: every other character of a plain-text covenant lands in the title, a heading, the
preamble, a clause or the closing (tests/test_covenant_shapes.py checks it), except the mark
after a label (第一条：), the 侗文： prefix, and what a warning names as removed or ignored.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from ..errors import CovenantFileError
from ..names import printable
from ..textfiles import MAX_TEXT_BYTES, read_text
from .markdown_input import parse_markdown
from .numbering import MAX_CLAUSE_NUMBER
from .parsed import ParsedClause, ParsedCovenant, message
from .text_input import parse_text
from .topics import TOPICS, guess_topic
from .wording import tidy
from .yaml_input import MAX_YAML_DEPTH, parse_yaml

__all__ = [
    "FORMATS",
    "MAX_CLAUSE_NUMBER",
    "MAX_YAML_DEPTH",
    "TOPICS",
    "ParsedClause",
    "ParsedCovenant",
    "guess_topic",
    "load_covenant",
    "parse_covenant",
    "read_text",
    "tidy",
]

FORMATS = ("text", "markdown", "yaml")
_SUFFIX_FORMAT = {".txt": "text", ".md": "markdown", ".markdown": "markdown"}
_SUFFIX_FORMAT |= {".yaml": "yaml", ".yml": "yaml"}

# Characters that show nothing (zero-width spaces and joiners, soft hyphens, direction
# marks, word joiners, BOMs): pasted from web pages or Word, they hide inside 第\u200b一\u200b条
# and would break numbering, so they are removed before parsing, with a warning.
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
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
            message(
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
            message(source, None, "文本为空", "the text is empty"), source=source
        )
    parse = {"text": parse_text, "markdown": parse_markdown, "yaml": parse_yaml}[fmt]
    parsed = parse(text, source)
    return replace(parsed, warnings=(*removed, *parsed.warnings)) if removed else parsed


def _remove_invisible(text: str, source: str) -> tuple[str, tuple[str, ...]]:
    """The text without invisible characters, and a warning saying how many and where."""
    first = _INVISIBLE.search(text)
    if first is None:
        return text, ()
    count = len(_INVISIBLE.findall(text))
    line = text.count("\n", 0, first.start()) + 1
    warning = message(
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
