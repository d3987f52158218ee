"""Chinese text as shown on screen and page: zh-Hans, full-width punctuation beside
Chinese, tidy spaces (display_text), and what counts as a Chinese character."""

from __future__ import annotations

import re

from .hanzi import to_simplified

CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
CJK_CHAR = re.compile(f"[{CJK}]")

# Half-width punctuation → full-width when it touches Chinese text.
_FULL = {",": "，", ";": "；", ":": "：", "!": "！", "?": "？", "(": "（", ")": "）", ".": "。"}
# Chinese closing marks after which a half-width "." still ends a Chinese sentence.
CLOSERS = "”’）》」』】〕"
FULL_PUNCT = "，。；：！？、（）《》「」『』【】“”‘’…—"


def is_cjk(ch: str) -> bool:
    return bool(ch) and bool(CJK_CHAR.match(ch))


def _neighbours(text: str, i: int) -> tuple[str, str]:
    """The nearest non-space characters before and after position i."""
    j = i - 1
    while j >= 0 and text[j] == " ":
        j -= 1
    k = i + 1
    while k < len(text) and text[k] == " ":
        k += 1
    return (text[j] if j >= 0 else ""), (text[k] if k < len(text) else "")


def _widen_punctuation(text: str) -> str:
    # Parentheses go in pairs: (一) and (第1条) become （一） and （第1条）.
    text = re.sub(
        r"\(([^()]*)\)",
        lambda m: f"（{m[1]}）" if CJK_CHAR.search(m[0]) or _touches_cjk(m) else m[0],
        text,
    )
    out = list(text)
    for i, ch in enumerate(text):
        if ch not in _FULL:
            continue
        before, after = _neighbours(text, i)
        if before.isdigit() and after.isdigit():
            continue  # 1,000 / 3.5 / 08:30 are numbers, not sentences
        if ch == ".":
            # Only a sentence end: "1. 不得…" (a list number) and "Dong text." stay as they are.
            widen = is_cjk(before) or (before and before in CLOSERS)
        else:
            widen = is_cjk(before) or is_cjk(after)
        if widen:
            out[i] = _FULL[ch]
    return "".join(out)


def _touches_cjk(m: re.Match[str]) -> bool:
    before, _ = _neighbours(m.string, m.start())
    _, after = _neighbours(m.string, m.end() - 1)
    return is_cjk(before) or is_cjk(after)


def display_text(text: str) -> str:
    """Text as shown on screen: zh-Hans, full-width punctuation beside Chinese, tidy spaces."""
    text = to_simplified(text)
    text = text.replace("\uff64", "、").replace("\uff61", "。")  # half-width 、。
    text = re.sub(r"\s+", " ", text).strip()
    text = _widen_punctuation(text)
    # Full-width marks carry their own spacing; a space beside them is noise.
    return re.sub(f" *([{FULL_PUNCT}]) *", r"\1", text)
