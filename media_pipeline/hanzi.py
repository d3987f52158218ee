"""Traditional → Simplified characters: the one OpenCC converter, loaded on first use."""

from __future__ import annotations

import functools


@functools.cache
def _t2s():  # noqa: ANN202 - opencc has no type hints
    import opencc  # loading its dictionaries takes a moment: only when text is converted

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """`text` in Simplified characters (zh-Hans); other scripts pass through unchanged."""
    return _t2s().convert(text)
