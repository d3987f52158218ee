"""Chinese subtitle line and cue breaking, the way a broadcaster's captioner breaks them.

Width is counted the way the glyphs occupy the screen in Noto Sans CJK: every full-width,
wide or East-Asian-ambiguous character (汉字, ，。《》, “”, …, ·) counts 1, every other
character (ASCII letters, digits, half-width punctuation, spaces) counts 0.5, because Latin
glyphs are about half as wide as a CJK square. So "2024年" is 3 wide, not 5.

Where a line (or a cue) may end is decided per position of the text, from these rules:

- never inside a word: breaks fall between jieba words (jieba taught the covenant terms of
  `covenant_terms`), never inside one of those terms even where jieba's context cuts it, and
  never inside a run of Latin letters and digits with its unit (GB50016, 0855-1234567,
  100~500元, 2025年1月1日, 第3条);
- a 《book title》 that fits on a line stays on one line; a longer one breaks at a word;
- no line starts with a particle (的 了 地 得 着 过), with closing punctuation or an
  enumeration comma (、，。；：！？）》」』 …), or with a space; no line ends with an opening
  bracket (《（「『 …).

Among the allowed breaks, the fewest lines win; then the lowest cost: the sum of squared line
widths (two similar lines beat a long line and a short widow), minus a bonus for breaking
after a comma or semicolon (less after 、, which binds a list) or before a word that opens a
clause (违者), plus a penalty for breaking inside a “quotation” or （parenthesis）, after a
word that binds to what follows (和, 在, 本, 不, a modifier's 的) or before one that binds to
what precedes (内, 等, 时), and a tiny tie-break towards a longer bottom line. A phrase too
long for one cue is cut at the same breaks into the fewest cues, balanced.

When a text cannot be laid out under these rules, they are given up in order — first the
whole 《title》, then word boundaries (each break inside a word costs a lot, so there are
as few as possible), last the runs, terms and particles — and only the punctuation rules
are never given up.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .covenant_terms import COVENANT_TERMS
from .errors import SubtitleError

CLOSING = frozenset("，。、；：！？）》」』…,.;:!?)]}”’】〕〉·%")
OPENING = frozenset("（《「『“‘【〔〈([{")
# Structural particles and aspect markers: they end the word before them, never start a line.
PARTICLES = frozenset("的了地得着过")
# Trailing punctuation that a cue drops; ？ ！ and closing quotes carry meaning, and 、 says
# that the list goes on in the next cue, so they stay.
DROP_TRAILING = "，。；：,.;: \u3000"

# Costs are sums of squared line widths, so a bonus of 35 accepts lines up to ~8 characters
# unequal (14 + 6 rather than 10 + 10) to break at a comma, but not a widow (15 + 5); a
# sentence end binds least, 、 (inside a list) more tightly (~4 characters), a closing quote
# or bracket a little.
_BREAK_BONUS = {
    **dict.fromkeys("。！？!?", 40.0),
    **dict.fromkeys("，；：,;:", 35.0),
    "、": 12.0,
    **dict.fromkeys("”’）)」』", 10.0),
}
# A line should not end on a conjunction, preposition, demonstrative or negation that binds
# to what follows (…和 / 侗戏, …则由 / 村民委员会, …本 / 村, …不 / 一致).
_DANGLING = frozenset("和与及或并且而则在把被对向从跟同由经按依将以于给自凡若本各每该其不")
_DANGLING_PENALTY = 12.0
# Localisers and the like bind to the word before them (300米内, 禾晾等, 建房时): a line
# should not start with one.
_BINDS_BACK = frozenset(
    ("内", "外", "中", "里", "旁", "间", "上", "下", "前", "后", "时", "等", "们")
    + ("以内", "以外", "以上", "以下", "之内", "之外", "之间", "之前", "之后", "期间")
)
_BINDS_BACK_PENALTY = 25.0
# Words that open a clause are where an unpunctuated line breaks naturally: before them
# (…堆放柴草 / 违者罚款二百元). Prepositions are not among them: 严禁 / 在… would cut a verb
# from its complement.
_OPENS_CLAUSE = frozenset(
    ("违者", "否则", "但", "但是", "如", "如果", "若", "凡", "凡是", "并", "并且", "对于", "因此")
)
_OPENS_CLAUSE_BONUS = 6.0
# 的 地 得 end a modifier that belongs with what it modifies on the next line (…符合GB50016的
# / 要求): worth about three characters of imbalance to avoid.
_MODIFIER_END = frozenset("的地得")
_MODIFIER_PENALTY = 20.0
_PAIRS = {"《": "》", "“": "”", "‘": "’", "（": "）", "(": ")", "「": "」", "『": "』", "【": "】"}
_INSIDE_TITLE = 30.0  # a 《title》 too wide for a line: break inside it once, not twice
_INSIDE_PAIR = 10.0  # “quotation” or （aside）: better whole, but not at any price
_INSIDE_WORD = 60.0  # only when no break between words fits (a word wider than a line)
# Latin letters and digits with their inner marks (3.5, 08:30, 0855-1234567, 100~500, PM2.5),
# a 第 before and a measure word after (第3条, 200元, 3万元, 5个), repeated for dates.
_MEASURE = "年月日号时点分秒元角亩米株棵桌天晚次人户条款章节岁倍吨斤个位名只头辆处项届周期份间座层"
_UNIT = rf"(?:[多余]?[十百千万亿]*(?:平方米|立方米|公里|公斤|小时|分钟|周岁|[{_MEASURE}]))"
_RUN = r"[¥￥]?[A-Za-z0-9]+(?:[.,:：~～\-－/·][A-Za-z0-9]+)*[%‰℃]?"
_ATOM = re.compile(rf"第?{_RUN}(?:{_UNIT}(?:\d+{_UNIT})*)?")

# Levels of strictness, tried in order until the text fits.
STRICT, OPEN_TITLES, BY_CHAR, ANYWHERE = range(4)
_LEVELS = (STRICT, OPEN_TITLES, BY_CHAR, ANYWHERE)


@dataclass(frozen=True)
class Unit:
    """A piece of text no line may break inside, and the cost of a break after it."""

    text: str
    after: float


def char_width(ch: str) -> float:
    """Screen width of one character in CJK squares (1 for wide/full-width, else 0.5)."""
    if unicodedata.combining(ch):
        return 0.0
    return 1.0 if unicodedata.east_asian_width(ch) in "FWA" else 0.5


def text_width(text: str) -> float:
    """Screen width of `text` in CJK squares (see `char_width`)."""
    return sum(char_width(ch) for ch in text)


def cue_text(phrase: str) -> str:
    """The phrase as shown: trimmed, trailing ，。；： dropped (？！、 and closing quotes kept)."""
    return phrase.strip().rstrip(DROP_TRAILING)


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    """jieba's words of `text`, with Kuanyue's user dictionary of covenant terms loaded."""
    import jieba  # imported lazily: loading its dictionary takes a noticeable while

    # text.py teaches jieba the covenant terms once per process (the one place that does).
    from .text import _load_vocabulary

    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter on stderr
    _load_vocabulary()
    return tuple(jieba.lcut(text))


def _pairs(text: str) -> list[tuple[int, int]]:
    """(opening, closing) indexes of matched bracket and quotation pairs in `text`."""
    found: list[tuple[int, int]] = []
    stack: list[int] = []
    for i, ch in enumerate(text):
        if ch in _PAIRS:
            stack.append(i)
        elif stack and ch == _PAIRS[text[stack[-1]]]:
            found.append((stack.pop(), i))
    return found


def _whole_spans(text: str) -> list[tuple[int, int]]:
    """Spans of runs and covenant terms that no break may cut (start, end), by index."""
    spans = [m.span() for m in _ATOM.finditer(text)]
    for term in COVENANT_TERMS:
        i = text.find(term)
        while i >= 0:
            spans.append((i, i + len(term)))
            i = text.find(term, i + 1)
    return spans


def _opens_clause(word: str) -> bool:
    """Whether `word` opens a clause (违者, or a word jieba made of one: 违者罚款)."""
    word = word.strip()
    return word in _OPENS_CLAUSE or any(
        len(opener) > 1 and word.startswith(opener) for opener in _OPENS_CLAUSE
    )


@lru_cache(maxsize=4096)
def _break_costs(text: str, width: float, level: int) -> tuple[float | None, ...]:
    """Cost of a line break before each index of `text` (None where no break is allowed)."""
    n = len(text)
    ends: dict[int, str] = {}  # a word boundary → the word ending there
    pos = 0
    for word in _words(text):
        pos += len(word)
        ends[pos] = word
    blocked = [False] * (n + 1)
    extra = [0.0] * (n + 1)
    if level < ANYWHERE:
        for start, end in _whole_spans(text):
            blocked[start + 1 : end] = [True] * max(end - start - 1, 0)
    for start, end in _pairs(text):
        inside = range(start + 1, end + 1)  # from after the opener up to the closer
        if text[start] != "《":
            for b in inside:
                extra[b] += _INSIDE_PAIR
        elif level == STRICT and text_width(text[start : end + 1]) <= width:
            for b in inside:
                blocked[b] = True
        else:
            for b in inside:
                extra[b] += _INSIDE_TITLE
    starts = {b - len(word): word for b, word in ends.items()}  # a word boundary → next word
    costs: list[float | None] = [None] * (n + 1)
    for b in range(1, n):
        if text[b] in CLOSING or text[b].isspace() or text[b - 1] in OPENING:
            continue
        if level < ANYWHERE and (blocked[b] or text[b] in PARTICLES):
            continue
        before = ends.get(b)  # None: b is inside a word
        if before is None and level < BY_CHAR:
            continue
        cost = extra[b] + (_INSIDE_WORD if before is None else 0.0)
        cost -= _BREAK_BONUS.get(text[:b].rstrip()[-1:], 0.0)
        if before is not None and before.strip() in _DANGLING:
            cost += _DANGLING_PENALTY
        elif text[b - 1] in _MODIFIER_END:
            cost += _MODIFIER_PENALTY
        following = starts.get(b, "").strip()
        if _opens_clause(following):
            cost -= _OPENS_CLAUSE_BONUS
        elif following in _BINDS_BACK:
            cost += _BINDS_BACK_PENALTY
        costs[b] = cost
    return tuple(costs)


def _units(text: str, width: float, level: int) -> list[Unit]:
    """`text` cut at every break the rules of `level` allow, each unit with its break cost."""
    costs = _break_costs(text, width, level)
    out: list[Unit] = []
    start = 0
    for b in range(1, len(text)):
        cost = costs[b]
        if cost is not None:
            out.append(Unit(text[start:b], cost))
            start = b
    if text:
        out.append(Unit(text[start:], 0.0))
    return out


def _trimmed(units: Sequence[Unit]) -> list[Unit]:
    """Units of a cue as shown: no leading space, the trailing ，。；： dropped."""
    out = list(units)
    if out:
        out[0] = Unit(out[0].text.lstrip(), out[0].after)
        out[-1] = Unit(cue_text(out[-1].text), out[-1].after)
    return [u for u in out if u.text]


def _best_split(units: Sequence[Unit], width: float, lines: int) -> list[str] | None:
    """Cheapest split of `units` into exactly `lines` lines of at most `width`, or None."""
    n = len(units)
    if n < lines:
        return None
    prefix = [0.0]
    for unit in units:
        prefix.append(prefix[-1] + text_width(unit.text))

    # best[k][i]: (cost, breaks) for putting units[:i] on k lines.
    inf: tuple[float, tuple[int, ...]] = (math.inf, ())
    best = [[inf] * (n + 1) for _ in range(lines + 1)]
    best[0][0] = (0.0, ())
    for k in range(1, lines + 1):
        for i in range(k, n + 1):
            for j in range(k - 1, i):
                prev_cost, prev_breaks = best[k - 1][j]
                w = prefix[i] - prefix[j]
                if prev_cost == math.inf or w > width:
                    continue
                # Squares favour balance; the tiny k-weighted term prefers a longer bottom line.
                cost = prev_cost + w * w - 1e-3 * k * w + (units[j - 1].after if j else 0.0)
                if cost < best[k][i][0]:
                    best[k][i] = (cost, (*prev_breaks, j))
    cost, breaks = best[lines][n]
    if cost == math.inf:
        return None
    edges = [*breaks[1:], n]
    return ["".join(u.text for u in units[a:b]).strip() for a, b in zip(breaks, edges, strict=True)]


def _layout(units: Sequence[Unit], width: float, max_lines: int) -> list[str] | None:
    """The fewest lines, cheapest first, that `units` fit in at `width`; None if they do not."""
    for lines in range(1, max_lines + 1):
        split = _best_split(units, width, lines)
        if split is not None:
            return split
    return None


def _fits(units: Sequence[Unit], width: float, max_lines: int) -> bool:
    """Whether `units` fit in `max_lines` lines, as `_best_split` measures them.

    Filling each line as full as it goes needs the fewest lines, so this is exact, and much
    cheaper than finding the best split of every run of units a cue might be cut into.
    """
    lines, used = 1, 0.0
    for unit in units:
        w = text_width(unit.text)
        if w > width:
            return False
        if used + w > width:
            lines, used = lines + 1, w
        else:
            used += w
    return lines <= max_lines


def _chunks(units: Sequence[Unit], width: float, max_lines: int) -> list[list[Unit]] | None:
    """Cut `units` into the fewest cue-sized runs, balanced and at cheap breaks; or None."""
    n = len(units)
    prefix = [0.0]
    for unit in units:
        prefix.append(prefix[-1] + text_width(unit.text))
    # best[i]: (cues, cost, cut points) covering units[:i].
    none: tuple[int, ...] = ()
    best: list[tuple[int, float, tuple[int, ...]]] = [(0, 0.0, none)]
    best += [(n + 1, math.inf, none)] * n
    for i in range(1, n + 1):
        for j in range(i - 1, -1, -1):
            w = prefix[i] - prefix[j]
            if w > width * max_lines + 1:  # + 1: the trailing comma a cue drops
                break
            count, cost, cuts = best[j]
            if cost == math.inf or not _fits(_trimmed(units[j:i]), width, max_lines):
                continue
            # Cue widths are about max_lines times line widths, so their squares are about
            # max_lines² times larger: scale the break's cost to keep the two in proportion.
            after = units[j - 1].after * max_lines**2 if j else 0.0
            candidate = (count + 1, cost + w * w + after, (*cuts, j))
            if candidate[:2] < best[i][:2]:
                best[i] = candidate
    if best[n][1] == math.inf:
        return None
    ends = [*best[n][2], n]
    return [list(units[a:b]) for a, b in zip(ends, ends[1:], strict=False)]


def wrap_zh(text: str, width: int = 16, max_lines: int = 2) -> list[str]:
    """Break Chinese `text` into at most `max_lines` lines of at most `width` squares."""
    text = text.strip()
    if not text:
        return []
    for level in _LEVELS:
        lines = _layout(_units(text, width, level), width, max_lines)
        if lines is not None:
            return lines
    raise SubtitleError(
        f"字幕过长，{max_lines} 行 × {width} 字放不下：{text!r} / "
        f"text does not fit {max_lines} lines of {width}: {text!r}"
    )


def cue_pieces(text: str, width: int = 16, max_lines: int = 2) -> list[tuple[str, list[str]]]:
    """The cues a phrase needs, each as (its text, its lines): one if it fits, else the fewest.

    At each level of the rules, one cue is tried first and then several; so a phrase is cut
    between words into two cues rather than have a word or a 《title》 broken in one.
    """
    text = cue_text(text)
    if not text:
        return []
    for level in _LEVELS:
        cut = _units(text, width, level)
        lines = _layout(cut, width, max_lines)
        if lines is not None:
            return [(text, lines)]
        chunks = _chunks(cut, width, max_lines)
        if chunks is not None:
            pieces = [_trimmed(chunk) for chunk in chunks]
            return [
                ("".join(u.text for u in piece), _layout(piece, width, max_lines) or [])
                for piece in pieces
            ]
    raise SubtitleError(f"无法切分字幕：{text!r} / cannot split phrase into cues: {text!r}")
