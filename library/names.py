"""File names as text: any bytes a file system allows, shown and stored without a crash."""

from __future__ import annotations

import os
from pathlib import Path


def printable(path: Path | str) -> str:
    """`path` as UTF-8 text; bytes that are not UTF-8 (an old GBK USB stick) shown as \\xNN.

    Python hands such names over as lone surrogates, which neither a terminal, a web page nor
    SQLite can encode; this is the form every message and stored name uses instead.
    """
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError:  # text with surrogates that no file name gave
        return str(path).encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")
