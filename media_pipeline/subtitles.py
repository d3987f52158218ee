"""Subtitle cues from phrase timings, Chinese line breaking, and SRT / WebVTT / ASS output.

Line width is counted the way the glyphs occupy the screen in Noto Sans CJK: every
full-width, wide or East-Asian-ambiguous character (汉字, ，。《》, “”, …, ·) counts 1, every
other character (ASCII letters, digits, half-width punctuation, spaces) counts 0.5, because
Latin glyphs are about half as wide as a CJK square. So "2024年" is 3 wide, not 5.

Lines break only between jieba words (with punctuation glued to the word it belongs to, so
no line starts with closing or ends with opening punctuation); a single word wider than a
line, or a phrase that cannot fit at word boundaries, falls back to breaking between
characters. Among the breaks that fit, the fewest lines win, then the most balanced lines
(smallest sum of squared widths), with a bonus for breaking after a comma, a penalty for
ending a line on a particle such as 的 or 和, and a tie-break towards a longer bottom line.
A phrase too long for one cue is cut at word boundaries into the fewest cues first; only
when that is impossible are words split.

ASS stores times in centiseconds, so every ASS event time is quantised by `ass_time`; the
video renderer samples libass at exactly those instants.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pysubs2

from .errors import SubtitleError
from .files import atomic_output

if TYPE_CHECKING:  # video imports this module; only the type is needed here
    from .video import TitleCard

CLOSING = set("，。、；：！？）》」』…,.;:!?)]}”’】〕〉·%")
OPENING = set("（《「『“‘【〔〈([{")
# Trailing punctuation that a subtitle drops; ？ ！ and closing quotes carry meaning.
_DROP_TRAILING = "，。；：、,.;: \u3000"
# A break right after a clause mark reads naturally. Costs are sums of squared line widths,
# so a bonus of 20 accepts lines up to ~6 characters unequal (13 + 7 rather than 10 + 10)
# to break at a comma; the enumeration comma 、 binds more tightly (~4 characters).
_BREAK_BONUS = {"，": 20.0, "；": 20.0, "：": 20.0, ",": 20.0, ";": 20.0, ":": 20.0, "、": 8.0}
# A line should not end on a particle, conjunction or preposition that binds to what follows.
_DANGLING = set("的地得和与及或在把被对向从跟同")
_DANGLING_PENALTY = 12.0

# ASS colours are &HAABBGGRR (alpha 00 = opaque).
_WHITE = pysubs2.Color(255, 255, 255)
_SILVER = pysubs2.Color(214, 222, 240)
_MOON = pysubs2.Color(200, 212, 238)  # the Dong line: cool silver, like Dong silverwork
_GOLD = pysubs2.Color(236, 205, 140)  # the topic: warm accent on indigo
_INK = pysubs2.Color(10, 12, 32, 40)  # outline: near-black indigo
_SHADE = pysubs2.Color(0, 0, 0, 150)
# The header and title stay until the video ends; ASS needs an end time, so use one far away.
_FOREVER_MS = 9 * 3600 * 1000


@dataclass(frozen=True)
class Cue:
    """One subtitle on screen: times in ms, Chinese lines, and the Dong words shown above."""

    start_ms: int
    end_ms: int
    lines: tuple[str, ...]
    dong: str | None = None


def char_width(ch: str) -> float:
    """Screen width of one character in CJK squares (1 for wide/full-width, else 0.5)."""
    if unicodedata.combining(ch):
        return 0.0
    return 1.0 if unicodedata.east_asian_width(ch) in "FWA" else 0.5


def text_width(text: str) -> float:
    """Screen width of `text` in CJK squares (see `char_width`)."""
    return sum(char_width(ch) for ch in text)


def ass_time(ms: int) -> int:
    """Round ms to the centisecond exactly as ASS files store it (Aegisub/pysubs2 rounding)."""
    return (max(ms, 0) + 5) // 10 * 10


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    import jieba  # imported lazily: loading its dictionary takes about a second

    from .jieba_dict import load_default_dictionary

    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter on stderr
    load_default_dictionary()

    return tuple(jieba.lcut(text))


def _glue(tokens: Sequence[str]) -> list[str]:
    """Join tokens into breakable units so punctuation stays with the word it belongs to."""
    units: list[str] = []
    pending = ""  # opening punctuation waiting for the next word
    for token in tokens:
        i = 0
        while (
            i < len(token) and (token[i] in CLOSING or token[i].isspace()) and units and not pending
        ):
            i += 1
        if i:
            units[-1] += token[:i]
        rest = token[i:]
        if not rest:
            continue
        j = len(rest)
        while j > 0 and rest[j - 1] in OPENING:
            j -= 1
        word = pending + rest[:j]
        pending = rest[j:]
        if word:
            units.append(word)
    if pending:
        if units:
            units[-1] += pending
        else:
            units.append(pending)
    return units


def _break_bonus(unit: str) -> float:
    """Reward a break after `unit` if it ends a clause, penalise one after a dangling particle."""
    if unit.strip() in _DANGLING:
        return -_DANGLING_PENALTY
    return _BREAK_BONUS.get(unit.rstrip()[-1:], 0.0)


def _units(text: str, width: int, by_char: bool) -> list[str]:
    if by_char:
        return _glue(list(text))
    tokens: list[str] = []
    for word in _words(text):
        # A word that cannot fit a line at all is broken between characters.
        tokens.extend(word if text_width(word) > width else [word])
    return _glue(tokens)


def _best_split(units: list[str], width: float, lines: int) -> list[str] | None:
    """Balanced split of `units` into exactly `lines` lines of at most `width`, or None."""
    n = len(units)
    if n < lines:
        return None
    prefix = [0.0]
    for unit in units:
        prefix.append(prefix[-1] + text_width(unit))

    # best[k][i]: (cost, breaks) for putting units[:i] on k lines.
    inf = (math.inf, ())
    best: list[list[tuple[float, tuple[int, ...]]]] = [[inf] * (n + 1) for _ in range(lines + 1)]
    best[0][0] = (0.0, ())
    for k in range(1, lines + 1):
        for i in range(k, n + 1):
            for j in range(k - 1, i):
                prev_cost, prev_breaks = best[k - 1][j]
                w = prefix[i] - prefix[j]
                if prev_cost == math.inf or w > width:
                    continue
                # Squares favour balance; the tiny k-weighted term prefers a longer bottom line.
                cost = prev_cost + w * w - 1e-3 * k * w - (_break_bonus(units[j - 1]) if j else 0.0)
                if cost < best[k][i][0]:
                    best[k][i] = (cost, (*prev_breaks, j))
    cost, breaks = best[lines][n]
    if cost == math.inf:
        return None
    edges = [*breaks[1:], n]
    starts = list(breaks)
    return ["".join(units[a:b]).strip() for a, b in zip(starts, edges, strict=True)]


def _wrap(text: str, width: int, max_lines: int, by_char: bool) -> list[str] | None:
    units = _units(text, width, by_char)
    for lines in range(1, max_lines + 1):
        split = _best_split(units, width, lines)
        if split is not None:
            return split
    return None


def wrap_zh(text: str, width: int = 16, max_lines: int = 2) -> list[str]:
    """Break Chinese `text` into at most `max_lines` balanced lines of at most `width` squares."""
    text = text.strip()
    if not text:
        return []
    lines = _wrap(text, width, max_lines, False) or _wrap(text, width, max_lines, True)
    if lines is None:
        raise SubtitleError(
            f"字幕过长，{max_lines} 行 × {width} 字放不下：{text!r} / "
            f"text does not fit {max_lines} lines of {width}: {text!r}"
        )
    return lines


def cue_text(phrase: str) -> str:
    """The phrase as shown: trimmed, trailing ，。；： dropped (？！ and closing quotes kept)."""
    return phrase.strip().rstrip(_DROP_TRAILING)


def _chunks(text: str, width: int, max_lines: int) -> list[str]:
    """Split a phrase too long for one cue into the fewest balanced cue-sized pieces."""
    for by_char in (False, True):
        units = _units(text, width, by_char)
        n = len(units)
        # best[i]: (pieces, cost, cut points) covering units[:i].
        none: tuple[int, ...] = ()
        best: list[tuple[int, float, tuple[int, ...]]] = [(0, 0.0, none)] + [
            (n + 1, math.inf, none)
        ] * n
        for i in range(1, n + 1):
            for j in range(i - 1, -1, -1):
                piece = "".join(units[j:i])
                if text_width(piece) > width * max_lines:
                    break
                count, cost, cuts = best[j]
                if cost == math.inf or _wrap(piece, width, max_lines, by_char) is None:
                    continue
                soft = _break_bonus(units[j - 1]) if j else 0.0
                candidate = (count + 1, cost + text_width(piece) ** 2 - soft, (*cuts, j))
                if candidate[:2] < best[i][:2]:
                    best[i] = candidate
        if best[n][1] != math.inf:
            ends = [*best[n][2], n]
            return ["".join(units[a:b]).strip() for a, b in zip(ends, ends[1:], strict=False)]
    raise SubtitleError(f"无法切分字幕：{text!r} / cannot split phrase into cues: {text!r}")


def _share(start: int, end: int, weights: Sequence[int]) -> list[tuple[int, int]]:
    """Cut [start, end) into consecutive spans proportional to `weights` (exact ends)."""
    total = sum(weights) or 1
    edges, acc = [start], 0
    for weight in weights:
        acc += weight
        edges.append(start + round((end - start) * acc / total))
    return list(zip(edges, edges[1:], strict=False))


def _spread_dong(dong_text: str, weights: Sequence[int]) -> list[str | None]:
    """Give each cue the Dong words whose middle falls in its share of the Chinese text.

    Cue k owns the fraction [C(k-1), C(k)) of the clause, where C is the running share of
    Chinese characters; a Dong word goes to the cue whose fraction contains the middle of the
    word (measured in Dong letters). Words keep their order and are never split; a cue whose
    share is smaller than half a Dong word may get none (None).
    """
    words = dong_text.split()
    parts: list[list[str]] = [[] for _ in weights]
    if not words or not weights:
        return [None] * len(weights)
    total_zh = sum(weights) or 1
    bounds, acc = [], 0
    for weight in weights:
        acc += weight
        bounds.append(acc / total_zh)
    total_dong = sum(len(w) for w in words)
    seen, k = 0, 0
    for word in words:
        middle = (seen + len(word) / 2) / total_dong
        seen += len(word)
        while k < len(bounds) - 1 and middle > bounds[k]:
            k += 1
        parts[k].append(word)
    return [" ".join(p) or None for p in parts]


def build_cues(
    phrases: Sequence[str],
    timings: Sequence[tuple[int, int]],
    dong_text: str | None = None,
    *,
    width: int = 16,
    max_lines: int = 2,
) -> list[Cue]:
    """One cue per phrase at its exact timing; long phrases split, Dong spread across cues."""
    if len(phrases) != len(timings):
        raise SubtitleError(
            f"短语 {len(phrases)} 个而时间 {len(timings)} 个 / "
            f"{len(phrases)} phrases but {len(timings)} timings"
        )
    pieces: list[tuple[int, int, str]] = []
    previous_end = 0
    for phrase, (start, end) in zip(phrases, timings, strict=True):
        if not 0 <= start < end or start < previous_end:
            raise SubtitleError(
                f"时间无效或重叠：{start}–{end} ms（{phrase!r}）/ "
                f"invalid or overlapping timing {start}–{end} ms for {phrase!r}"
            )
        previous_end = end
        text = cue_text(phrase)
        if not text:
            continue  # a phrase of bare punctuation has nothing to show
        # Breaking between words across two cues reads better than splitting a word in one.
        fits = _wrap(text, width, max_lines, by_char=False) is not None
        parts = [text] if fits else [cue_text(c) for c in _chunks(text, width, max_lines)]
        spans = _share(start, end, [len(p) for p in parts])
        pieces += [(a, b, p) for (a, b), p in zip(spans, parts, strict=True)]
    weights = [sum(not ch.isspace() for ch in text) for _, _, text in pieces]
    dongs = _spread_dong(dong_text or "", weights)
    return [
        Cue(start, end, tuple(wrap_zh(text, width, max_lines)), dong)
        for (start, end, text), dong in zip(pieces, dongs, strict=True)
    ]


def _plain_file(cues: Sequence[Cue]) -> pysubs2.SSAFile:
    subs = pysubs2.SSAFile()
    for cue in cues:
        lines = [cue.dong, *cue.lines] if cue.dong else list(cue.lines)
        # Braces would be read as ASS override tags by pysubs2's writers.
        text = "\\N".join(line.replace("{", "(").replace("}", ")") for line in lines)
        subs.events.append(pysubs2.SSAEvent(start=cue.start_ms, end=cue.end_ms, text=text))
    return subs


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip text: the Dong line first, then the Chinese lines."""
    return _plain_file(cues).to_string("srt")


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT text: the Dong line first, then the Chinese lines."""
    return _plain_file(cues).to_string("vtt")


@dataclass(frozen=True)
class _Layout:
    """Font sizes and margins (in pixels of the PlayRes) for one frame size."""

    width: int
    height: int
    zh_size: int
    dong_size: int
    margin_lr: int
    margin_v: int

    @classmethod
    def for_size(cls, size: tuple[int, int], width_chars: int = 16) -> _Layout:
        """Sizes readable on a village screen: 1/15 of the height, or what 16 characters allow."""
        w, h = size
        margin_lr = round(w * 0.05)
        # Portrait frames are narrow: 16 characters (plus outline) must fit the width.
        zh_size = int(min(h / 15, (w - 2 * margin_lr) / (width_chars + 0.6)))
        # Lower third; in portrait, keep clear of the player controls phones draw at the bottom.
        margin_v = round(h * (0.075 if w >= h else 0.12))
        return cls(w, h, zh_size, round(zh_size * 0.62), margin_lr, margin_v)


def _style(font: str, size: float, colour: pysubs2.Color, **kw: Any) -> pysubs2.SSAStyle:  # noqa: ANN401 - SSAStyle's own fields
    style = pysubs2.SSAStyle(
        fontname=font,
        fontsize=float(size),
        primarycolor=colour,
        secondarycolor=colour,
        outlinecolor=_INK,
        backcolor=_SHADE,
        bold=False,
        outline=max(1.0, round(size / 16, 1)),
        shadow=max(0.5, round(size / 40, 1)),
        alignment=pysubs2.Alignment.BOTTOM_CENTER,
        encoding=1,
    )
    for name, value in kw.items():
        if not hasattr(style, name):
            raise TypeError(f"SSAStyle has no field {name!r}")
        setattr(style, name, value)
    return style


def _fit_size(text: str, size: float, room: float) -> int:
    """Shrink a title line's font until it fits `room` pixels (libass will not wrap CJK)."""
    return int(min(size, room / max(text_width(text), 1.0)))


def _title_events(title: TitleCard, layout: _Layout, end_ms: int) -> list[pysubs2.SSAEvent]:
    w, h = layout.width, layout.height
    unit = min(w, h)  # 720 for both 1280×720 and 720×1280
    room = w - 2 * layout.margin_lr
    card_end = ass_time(title.card_ms)
    cx = w // 2
    cy = round(h * (0.40 if w >= h else 0.42))
    label = _fit_size(title.clause_label, unit * 0.14, room)
    events: list[pysubs2.SSAEvent] = []

    def card(style: str, y: float, text: str, size: float) -> None:
        tags = f"{{\\an5\\pos({cx},{round(y)})\\fs{size}}}"
        events.append(pysubs2.SSAEvent(start=0, end=card_end, style=style, text=tags + text))

    if card_end > 0:
        kicker = " ".join(title.village)  # letter-spaced, like a printed heading
        card("TitleSmall", cy - label * 1.55, kicker, _fit_size(kicker, unit * 0.042, room))
        card(
            "TitleSmall",
            cy - label * 0.95,
            title.covenant,
            _fit_size(title.covenant, unit * 0.055, room),
        )
        card("TitleLabel", cy, title.clause_label, label)
        # Three small lozenges: the diamond motif of Dong brocade, drawn by libass.
        d = max(4, round(unit * 0.008))
        lozenge = f"m 0 {-d} l {d} 0 0 {d} {-d} 0"
        for dx in (-4 * d, 0, 4 * d):
            events.append(
                pysubs2.SSAEvent(
                    start=0,
                    end=card_end,
                    style="TitleTopic",
                    text=f"{{\\an5\\pos({cx + dx},{round(cy + label * 0.66)})\\bord0\\shad0\\p1}}{lozenge}{{\\p0}}",
                )
            )
        card("TitleTopic", cy + label * 1.2, title.topic, _fit_size(title.topic, unit * 0.08, room))
    header = "　".join(t for t in (title.covenant, title.clause_label, title.topic) if t)
    size = _fit_size(header, unit * 0.036, room)
    events.append(
        pysubs2.SSAEvent(
            start=card_end,
            end=end_ms,
            style="Header",
            text=f"{{\\fs{size}}}{header}",
        )
    )
    return events


def to_ass(
    cues: Sequence[Cue],
    *,
    size: tuple[int, int] = (1280, 720),
    font: str = "Noto Sans CJK SC",
    title: TitleCard | None = None,
) -> str:
    """ASS for burn-in at `size`: Chinese bottom-centre, Dong above it, optional title card."""
    layout = _Layout.for_size(size)
    subs = pysubs2.SSAFile()
    subs.info.update(
        {
            "Title": title.covenant if title else "Kuanyue",
            "PlayResX": str(layout.width),
            "PlayResY": str(layout.height),
            "WrapStyle": "0",
            "ScaledBorderAndShadow": "yes",
            # Burned onto RGB frames, so colours must not be matrix-converted by libass.
            "YCbCr Matrix": "None",
        }
    )
    margins = {"marginl": layout.margin_lr, "marginr": layout.margin_lr, "marginv": layout.margin_v}
    subs.styles = {
        "Zh": _style(font, layout.zh_size, _WHITE, bold=True, **margins),
        "Dong": _style(font, layout.dong_size, _MOON, **margins),
        "Header": _style(
            font,
            layout.zh_size * 0.5,
            _SILVER,
            alignment=pysubs2.Alignment.TOP_CENTER,
            marginv=round(layout.height * 0.04),
            outline=1.0,
            shadow=0.0,
        ),
        "TitleSmall": _style(font, layout.zh_size, _SILVER),
        "TitleLabel": _style(font, layout.zh_size, _WHITE, bold=True),
        "TitleTopic": _style(font, layout.zh_size, _GOLD, bold=True),
    }
    for cue in cues:
        # One event per cue so the Dong line always sits directly above the Chinese block.
        zh = "\\N".join(cue.lines)
        text = f"{{\\rDong}}{cue.dong}\\N{{\\rZh}}{zh}" if cue.dong else zh
        subs.events.append(
            pysubs2.SSAEvent(
                start=ass_time(cue.start_ms),
                end=ass_time(cue.end_ms),
                style="Zh",
                text=text,
            )
        )
    if title is not None:
        end = max([_FOREVER_MS, *(c.end_ms for c in cues)])
        subs.events.extend(_title_events(title, layout, end))
    return subs.to_string("ass")


def write_subtitles(
    cues: Sequence[Cue],
    srt: Path | None,
    vtt: Path | None,
    ass: Path | None,
    **ass_opts: Any,
) -> None:
    """Write whichever of SRT, WebVTT and ASS are given, each atomically (UTF-8)."""
    outputs = [(srt, to_srt), (vtt, to_vtt), (ass, lambda c: to_ass(c, **ass_opts))]
    for path, render in outputs:
        if path is None:
            continue
        text = render(cues)
        with atomic_output(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
