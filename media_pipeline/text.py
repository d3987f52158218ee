"""Covenant text prepared for screens and for speech: display text, spoken text, pinyin, phrases.

Spoken readings follow what a Mandarin announcer says:

- amounts and counts before a measure word read a leading 2 as 两 (两元, 两千五百元, 两万人,
  两点 for 2 o'clock); 2 alone, in tens and units (十二, 二十, 一百零二), in ordinals (第二条),
  months and days (二月二日), decimals (二点五) and percentages (百分之二) stays 二;
- years (4 digits before 年, or a full date 2024-03-01 / 2024.3.1 / 2024/3/1) digit by digit;
- telephone numbers (mobiles, 0855-1234567, 110/119/120/122 before 报警/火警/急救, or any
  number after 电话/热线/拨打/…) digit by digit with 1 read 幺, grouped by short pauses;
- ranges (100~200元, 100-200元, 100至200元) as 一百到两百元; 8:30 as 八点三十分; 1/3 as 三分之一;
  50% as 百分之五十; -5 as 负五 (零下五摄氏度 for -5℃); numbers with a leading 0 digit by digit.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from dataclasses import dataclass

import cn2an
import jieba
from pypinyin import Style, lazy_pinyin, load_phrases_dict
from pypinyin.constants import PHRASES_DICT
from pypinyin.seg.mmseg import seg as pypinyin_seg

from .hanzi import to_simplified
from .jieba_dict import load_default_dictionary

CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_CJK_CHAR = re.compile(f"[{CJK}]")

# Half-width punctuation → full-width when it touches Chinese text.
_FULL = {",": "，", ";": "；", ":": "：", "!": "！", "?": "？", "(": "（", ")": "）", ".": "。"}
# Chinese closing marks after which a half-width "." still ends a Chinese sentence.
_CLOSERS = "”’）》」』】〕"
_FULL_PUNCT = "，。；：！？、（）《》「」『』【】“”‘’…—"

# Pause after a phrase, by its last punctuation mark (milliseconds).
PAUSE_COMMA = 250
PAUSE_SEMICOLON = 450
PAUSE_STOP = 650
PAUSE_WORD_BREAK = 150  # a long phrase cut at a word boundary: a breath, not a stop
_PAUSES = {
    **dict.fromkeys("，、,", PAUSE_COMMA),
    **dict.fromkeys("；：;:", PAUSE_SEMICOLON),
    **dict.fromkeys("。！？.!?…", PAUSE_STOP),
}
_SPLIT_AT = "，。；：！？、,.;:!?"

# Readings pypinyin's dictionary gets wrong in covenant vocabulary.
_PINYIN_OVERRIDES = {
    "还款": [["huán"], ["kuǎn"]],
    "还贷": [["huán"], ["dài"]],
    "还钱": [["huán"], ["qián"]],
    "还债": [["huán"], ["zhài"]],
    "流血": [["liú"], ["xuè"]],
    "一律": [["yí"], ["lǜ"]],
}
# Words jieba should never cut (so long phrases are not split inside them).
_JIEBA_WORDS = ("村规民约", "鸣锣喊寨", "风雨桥", "寨老", "侗歌", "侗戏", "烟花爆竹", "乱砍滥伐")

_DIGITS = "零一二三四五六七八九"
_PHONE_DIGITS = "零幺二三四五六七八九"


@functools.cache
def _load_vocabulary() -> None:
    """Teach pypinyin and jieba our vocabulary once, on first use (not at import)."""
    # Both libraries keep one process-wide dictionary; these additions only fix readings
    # and word boundaries, so sharing them with other callers is harmless.
    load_phrases_dict(_PINYIN_OVERRIDES)
    # jieba announces loading its dictionary on stderr; that is noise in a progress bar.
    jieba.setLogLevel(logging.WARNING)
    load_default_dictionary()  # before add_word, which would load it jieba's slower way
    for word in _JIEBA_WORDS:
        jieba.add_word(word)


# ---------------------------------------------------------------------------- display text


def _is_cjk(ch: str) -> bool:
    return bool(ch) and bool(_CJK_CHAR.match(ch))


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
        lambda m: f"（{m[1]}）" if _CJK_CHAR.search(m[0]) or _touches_cjk(m) else m[0],
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
            widen = _is_cjk(before) or (before and before in _CLOSERS)
        else:
            widen = _is_cjk(before) or _is_cjk(after)
        if widen:
            out[i] = _FULL[ch]
    return "".join(out)


def _touches_cjk(m: re.Match[str]) -> bool:
    before, _ = _neighbours(m.string, m.start())
    _, after = _neighbours(m.string, m.end() - 1)
    return _is_cjk(before) or _is_cjk(after)


def display_text(text: str) -> str:
    """Text as shown on screen: zh-Hans, full-width punctuation beside Chinese, tidy spaces."""
    text = to_simplified(text)
    text = text.replace("\uff64", "、").replace("\uff61", "。")  # half-width 、。
    text = re.sub(r"\s+", " ", text).strip()
    text = _widen_punctuation(text)
    # Full-width marks carry their own spacing; a space beside them is noise.
    return re.sub(f" *([{_FULL_PUNCT}]) *", r"\1", text)


# ----------------------------------------------------------------------------- spoken text

# Measure words and units after which a leading 2 is read 两 (两元, 两千人, 两点钟).
_LIANG_BEFORE = (
    *"元块角毛人名位个次回遍趟户家亩天年周秒岁头只条棵株间座件项份把张本台辆部瓶桶担挑吨斤克米里",
    *"升倍点万千百亿种类批桌餐顿场盏处起套枚颗根支片尾匹",
    *("星期", "小时", "钟头", "分钟", "公斤", "公里", "厘米", "毫米", "毫升", "平方", "立方"),
)
_UNITS = {
    "km²": "平方公里", "km": "公里", "kg": "公斤", "cm": "厘米", "mm": "毫米", "m²": "平方米",
    "m2": "平方米", "㎡": "平方米", "m³": "立方米", "m3": "立方米", "kWh": "千瓦时",
    "kW": "千瓦", "ml": "毫升", "mL": "毫升", "m": "米", "g": "克", "t": "吨", "L": "升",
    "h": "小时", "℃": "摄氏度", "°C": "摄氏度", "°": "度", "W": "瓦",
}  # fmt: skip
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"


def _qty(p: str) -> str:
    """Pattern of one quantity: ¥, sign, number, % and unit, in groups named with prefix p."""
    return (
        rf"(?P<{p}cur>[¥￥])?(?P<{p}sign>[-−－](?=\d))?(?P<{p}num>{_NUM})"
        rf"(?P<{p}pct>[%‰])?(?:(?P<{p}unit>{_UNIT_RE})(?![A-Za-z]))?"
    )


_MONTH = r"0?[1-9]|1[0-2]"
_DAY = r"0?[1-9]|[12]\d|3[01]"
_PHONE_WORDS = "电话|热线|拨打|手机|号码|报警|致电|举报"

_NUMBER_RE = re.compile(
    "|".join(
        [
            rf"(?P<kw>{_PHONE_WORDS})(?P<kwsep>[:：]?\s*)(?P<tel>\d[\d\-－ ]{{3,}}\d)(?!\d)",
            r"(?<!\d)(?P<mobile>1[3-9]\d{9})(?!\d)",
            r"(?<!\d)(?P<land>0\d{2,3}[-－]\d{7,8})(?!\d)",
            r"(?<!\d)(?P<emergency>11[09]|12[02])(?=火警|报警|急救|电话|热线|求助)",
            rf"(?<!\d)(?P<y>\d{{4}})(?P<ds>[-./])(?P<mo>{_MONTH})(?P=ds)(?P<d>{_DAY})(?![\d.])日?",
            r"(?<!\d)(?P<year>\d{4})(?=\s*年)",
            r"(?<![\d.])(?P<dotted>\d+(?:\.\d+){2,})(?![\d.])",
            r"(?<![\d.])(?P<hh>[01]?\d|2[0-4])[:：](?P<mm>[0-5]\d)(?:[:：](?P<ss>[0-5]\d))?(?!\d)",
            r"(?<![\d.])(?P<ra>\d+)[:：](?P<rb>\d+)(?![\d.])",
            r"(?<![\d/])(?P<fa>\d+)/(?P<fb>\d+)(?![\d/])",
            r"(?<![\d.])(?P<ord>第)\s*(?P<onum>\d+(?:\.\d+)?)(?:\s*(?:~|～|-|－|—|–|至|到)\s*(?P<oend>\d+))?",
            rf"(?<![\d.,]){_qty('a_')}\s*(?:~|～|-|－|—|–|至|到)\s*{_qty('b_')}",
            rf"(?<![\d.,]){_qty('q_')}",
            r"(?P<digits>\d+)",  # whatever digits the rules above leave: No.5, 1,2,3
        ]
    )
)


def _digits(num: str, table: str = _DIGITS) -> str:
    return "".join(table[int(c)] for c in num if c.isdigit())


def _integer(num: str, *, liang: bool = False) -> str:
    if (len(num) > 1 and num.startswith("0")) or len(num) > 16:
        return _digits(num)  # codes and IDs (007, long numbers) are read digit by digit
    words = cn2an.an2cn(num)
    if liang and words.startswith("二") and (len(words) == 1 or words[1] in "百千万亿"):
        words = "两" + words[1:]
    return words


def _number(num: str, *, liang: bool = False) -> str:
    """A decimal or integer (thousands separators allowed) in Chinese words."""
    whole, _, frac = num.replace(",", "").partition(".")
    if frac:
        return _integer(whole) + "点" + _digits(frac)
    return _integer(whole, liang=liang)


def _wants_liang(after: str) -> bool:
    return after.lstrip().startswith(tuple(_LIANG_BEFORE))


def _phone(num: str) -> str:
    groups = [g for g in re.split(r"[-－ ]+", num) if g]
    if len(groups) == 1 and re.fullmatch(r"1[3-9]\d{9}", num):
        groups = [num[:3], num[3:7], num[7:]]  # mobiles are read 3-4-4
    return "，".join(_digits(g, _PHONE_DIGITS) for g in groups)


def _quantity(m: re.Match[str], p: str, after: str, *, pct: str = "") -> str:
    """Read one quantity (currency, sign, number, percent, unit) matched with prefix p."""
    unit = _UNITS.get(m[f"{p}unit"] or "", "")
    pct = m[f"{p}pct"] or pct
    liang = not pct and _wants_liang(unit or ("元" if m[f"{p}cur"] else after))
    words = _number(m[f"{p}num"], liang=liang)
    if pct:
        words = ("百分之" if pct == "%" else "千分之") + words
    if m[f"{p}sign"]:
        below_zero = (unit or after.lstrip()).startswith("摄氏度")
        words = ("零下" if below_zero else "负") + words
    if m[f"{p}cur"] and not after.lstrip().startswith("元"):
        unit += "元"
    return words + unit


def _read_number(m: re.Match[str]) -> str:
    after = m.string[m.end() :]
    if m["tel"]:
        return m["kw"] + m["kwsep"] + _phone(m["tel"])
    if m["mobile"] or m["land"] or m["emergency"]:
        return _phone(m["mobile"] or m["land"] or m["emergency"])
    if m["y"]:
        return (
            f"{_digits(m['y'])}年{_integer(m['mo'].lstrip('0'))}月{_integer(m['d'].lstrip('0'))}日"
        )
    if m["year"]:
        return _digits(m["year"])
    if m["dotted"]:
        return "点".join(_integer(part) for part in m["dotted"].split("."))  # section 3.2.1
    if m["hh"]:
        hh = _integer(str(int(m["hh"])), liang=True) + "点"
        mm = "" if m["mm"] == "00" and not m["ss"] else _number(m["mm"]) + "分"
        return hh + mm + (_number(m["ss"]) + "秒" if m["ss"] else "")
    if m["ra"]:
        return f"{_number(m['ra'])}比{_number(m['rb'])}"
    if m["fa"]:
        return f"{_number(m['fb'])}分之{_number(m['fa'])}"
    if m["ord"]:
        return "第" + _number(m["onum"]) + (f"到{_number(m['oend'])}" if m["oend"] else "")
    if m["a_num"]:
        # The first bound is read like the second: 100-200元 → 一百到两百元, 10-20% → 百分之十到百分之二十.
        b_unit = _UNITS.get(m["b_unit"] or "", "")
        first = _quantity(m, "a_", b_unit or after, pct=m["b_pct"] or "")
        return f"{first}到{_quantity(m, 'b_', after)}"
    if m["q_num"]:
        return _quantity(m, "q_", after)
    return _integer(m["digits"])


def _normalise_digits(text: str) -> str:
    text = text.translate(str.maketrans("０１２３４５６７８９％／", "0123456789%/"))
    return re.sub(r"(?<=\d)[．。](?=\d)", ".", text)


def spoken_text(text: str) -> str:
    """What an announcer says: display text with every number written out in Chinese."""
    spoken = _NUMBER_RE.sub(_read_number, _normalise_digits(display_text(text)))
    return re.sub(f"(?<=[{CJK}])/(?=[{CJK}])", "每", spoken)  # 100元/亩 → 一百元每亩


# ------------------------------------------------------------------------------ pinyin

_STOP_MARKS = set("。！？.!?…")
_PAUSE_MARKS = set("，、；：,;:—～~（）()《》「」『』【】“”‘’\"'")


def _words_for_pinyin(text: str) -> list[str]:
    """jieba's words, each cut further by pypinyin's phrase dictionary where it has no entry.

    pypinyin alone matches phrases greedily left to right and so reads 村中长老 as 中长 + 老
    (chang2); jieba's context-aware words put the boundary right (村 中 长老), and pypinyin's
    own phrases still split words it does not know (银行行长 → 银行 行长).
    """
    _load_vocabulary()
    words: list[str] = []
    for word in jieba.lcut(text):
        if word in PHRASES_DICT or not _CJK_CHAR.search(word):
            words.append(word)
        else:
            words.extend(pypinyin_seg.cut(word))
    return words


def pinyin_for_speech(spoken: str) -> str:
    """Tone-numbered pinyin for espeak-ng's cmn-latn-pinyin voice, punctuation as pauses."""
    if re.search(r"\d", spoken):
        spoken = spoken_text(spoken)  # a stray digit would be read as a tone number
    syllables = lazy_pinyin(
        _words_for_pinyin(spoken), style=Style.TONE3, neutral_tone_with_five=True, tone_sandhi=True
    )
    out: list[str] = []
    for item in syllables:
        if re.fullmatch(r"[a-z]+[1-5]", item):
            out.append(item)
            continue
        # Non-Chinese runs come back whole ("，ABC"): keep Latin words, turn marks into pauses.
        for token in re.findall(r"[A-Za-z]+|\S", item):
            if token[0].isascii() and token[0].isalpha():
                out.append(token)
            elif token in _STOP_MARKS:
                out.append(".")
            elif token in _PAUSE_MARKS:
                out.append(",")
        if item == " " and out and out[-1] not in ",.":
            out.append(",")  # 第一章 总则: a space between Chinese words is a short pause
    text = " ".join(out)
    text = re.sub(r" ([,.])", r"\1", text)  # "zhang1 ," → "zhang1,"
    text = re.sub(r"([,.])[,.]+", lambda m: "." if "." in m[0] else ",", text)
    return text.strip(" ,")


# ------------------------------------------------------------------------------ phrases


@dataclass(frozen=True)
class Phrase:
    """One subtitle cue's worth of a clause: what is shown, what is said, the pause after."""

    display: str
    spoken: str
    pause_after_ms: int


def _length(text: str) -> int:
    """Characters that take time to say or space on screen: CJK and alphanumerics."""
    return sum(ch.isalnum() for ch in text)


# A number with its inner marks (1,000 / 3.5 / 08:30 / 100~200 / 0855-1234567 / 2024.3.1)
_ATOM_RE = re.compile(r"[¥￥]?\d+(?:[.,:：~～\-－/]\d+)*[%‰]?|[A-Za-z]+")


def _split_at_punctuation(text: str) -> list[str]:
    pieces, start, i = [], 0, 0
    while i < len(text):
        ch = text[i]
        # Half-width marks between digits are part of a number (1,000 / 3.5 / 08:30).
        in_number = (
            ch.isascii()
            and 0 < i < len(text) - 1
            and text[i - 1].isdigit()
            and text[i + 1].isdigit()
        )
        if ch in _SPLIT_AT and not in_number:
            j = i + 1
            # Keep runs of marks and closing quotes with the phrase they end: 。” / ！？
            while j < len(text) and (text[j] in _SPLIT_AT or text[j] in _CLOSERS):
                j += 1
            pieces.append(text[start:j])
            start = i = j
        else:
            i += 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def _tokens(piece: str) -> list[str]:
    """Words to cut a long piece between: jieba words, with numbers and Latin kept whole."""
    _load_vocabulary()
    tokens: list[str] = []
    pos = 0
    for m in _ATOM_RE.finditer(piece):
        tokens += jieba.lcut(piece[pos : m.start()]) if pos < m.start() else []
        tokens.append(m[0])
        pos = m.end()
    tokens += jieba.lcut(piece[pos:]) if pos < len(piece) else []
    return tokens


def _split_long(piece: str, max_chars: int) -> list[str]:
    """Cut a piece into roughly equal runs of whole words, none longer than max_chars."""
    total = _length(piece)
    if total <= max_chars:
        return [piece]
    tokens = _tokens(piece)
    target = math.ceil(total / math.ceil(total / max_chars))  # even parts, no tiny tail
    parts, current = [], ""
    for token in tokens:
        if current and _length(current) + _length(token) > max_chars:
            parts.append(current)
            current = ""
        current += token
        if _length(current) >= target:
            parts.append(current)
            current = ""
    if current:
        # Trailing punctuation joins the previous part rather than standing alone.
        if parts and not _length(current):
            parts[-1] += current
        else:
            parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _pause(piece: str, *, last: bool) -> int:
    mark = piece.rstrip(_CLOSERS)[-1:]
    pause = _PAUSES.get(mark, PAUSE_WORD_BREAK)
    return max(pause, PAUSE_STOP) if last else pause


def split_phrases(text: str, max_chars: int = 32) -> list[Phrase]:
    """Split display_text(text) into phrases at punctuation (never inside a number), each ≤ max_chars."""
    pieces: list[tuple[str, int]] = []
    # A line break in a covenant ends a heading or an item even without punctuation.
    lines = [display_text(line) for line in text.splitlines()]
    lines = [line for line in lines if line]
    for n, line in enumerate(lines):
        chunks = [part for p in _split_at_punctuation(line) for part in _split_long(p, max_chars)]
        for k, chunk in enumerate(chunks):
            pause = _pause(chunk, last=n == len(lines) - 1 and k == len(chunks) - 1)
            if k == len(chunks) - 1 and pause == PAUSE_WORD_BREAK:
                pause = PAUSE_SEMICOLON  # end of a line without punctuation
            pieces.append((chunk, pause))

    merged: list[tuple[str, int]] = []
    carry = ""  # marks before any words (a leading "“") go with the next phrase
    for chunk, pause in pieces:
        chunk = carry + chunk
        if not _length(chunk):
            if merged:  # marks alone belong to the phrase they end
                merged[-1] = (merged[-1][0] + chunk, max(merged[-1][1], pause))
            else:
                carry = chunk
            continue
        carry = ""
        prev = merged[-1][0] if merged else ""
        if prev and _length(prev) <= 3 and _length(prev + chunk) <= max_chars:
            # A very short lead-in ("一、", "第一条：") is shown and said with what follows.
            merged[-1] = (prev + chunk, pause)
        else:
            merged.append((chunk, pause))
    return [Phrase(display=d, spoken=spoken_text(d), pause_after_ms=p) for d, p in merged]
