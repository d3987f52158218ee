"""Subtitle cues from phrase timings, and SRT / WebVTT / ASS output.

Where lines and cues break is `media_pipeline.linebreak`'s work (jieba words with the
covenant terms, 《titles》 whole, no particle or closing mark starting a line); this module
gives each cue its time: a phrase's exact span, shared in proportion to the characters when
a phrase needs more than one cue.

ASS stores times in centiseconds, so every ASS event time is quantised by `ass_time`; the
video renderer samples libass at exactly those instants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pysubs2

from .errors import SubtitleError
from .files import atomic_output
from .linebreak import CLOSING as CLOSING
from .linebreak import OPENING as OPENING
from .linebreak import char_width as char_width
from .linebreak import cue_pieces, text_width
from .linebreak import cue_text as cue_text
from .linebreak import wrap_zh as wrap_zh

if TYPE_CHECKING:  # video imports this module; only the type is needed here
    from .video import TitleCard

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


def ass_time(ms: int) -> int:
    """Round ms to the centisecond exactly as ASS files store it (Aegisub/pysubs2 rounding)."""
    return (max(ms, 0) + 5) // 10 * 10


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
    pieces: list[tuple[int, int, str, list[str]]] = []
    previous_end = 0
    for phrase, (start, end) in zip(phrases, timings, strict=True):
        if not 0 <= start < end or start < previous_end:
            raise SubtitleError(
                f"时间无效或重叠：{start}–{end} ms（{phrase!r}）/ "
                f"invalid or overlapping timing {start}–{end} ms for {phrase!r}"
            )
        previous_end = end
        # A phrase of bare punctuation has no pieces: nothing to show.
        parts = cue_pieces(phrase, width, max_lines)
        spans = _share(start, end, [len(text) for text, _ in parts])
        pieces += [(a, b, text, lines) for (a, b), (text, lines) in zip(spans, parts, strict=True)]
    weights = [sum(not ch.isspace() for ch in text) for _, _, text, _ in pieces]
    dongs = _spread_dong(dong_text or "", weights)
    return [
        Cue(start, end, tuple(lines), dong)
        for (start, end, _, lines), dong in zip(pieces, dongs, strict=True)
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
