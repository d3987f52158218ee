"""The pictures of a clause clip, as ASS events that libass draws once per change.

After the title card (shown while the opening chime plays, and the poster), every picture has
a header — the clause label (第三条) and topic large on the left, chapter and section on the
right, a thin gold rule below — and the whole clause in large type, broken into lines by
`linebreak.wrap_zh`, with the phrase being spoken in amber and the rest in near-white, so it
stays readable from across a village square. The clause's Dong text, where it has one, sits
under the Chinese in the same colours: the Dong words of the spoken phrase (subtitles'
per-cue share) are amber too. When the heading itself is spoken, the label is amber.

A highlight lasts from its phrase's start to the next phrase's start (`hold_cues`): the
picture does not flicker back to "nothing spoken" in each pause, and the video has about half
as many changes (each an IDR frame) as with the cues' own ends.

Sizes are in ASS font sizes. libass scales a face so that its hhea ascender − descender
equals the size; for Noto Sans CJK that is 1.448 em, so an em is 0.69 of the size and a hanzi's
ink about 0.6 of it. In 16:9 the clause is set at 0.125–0.17 of the frame height: a hanzi's
ink is at least 1/13 of the height. A clause too long for the screen at the smallest size is
shown in pages of whole phrases, each page while its phrases are spoken.

In 9:16 (phones) the same picture is stacked for a narrow frame: label and topic on one
header row, chapter and section on a second, then the clause at 0.125–0.16 of the width
(9–10 hanzi a line), and the bottom tenth kept clear of the player's controls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pysubs2

from .errors import SubtitleError
from .linebreak import text_width, wrap_zh
from .subtitles import Cue, ass_time

EM_PER_SIZE = 1000 / 1448  # Noto Sans CJK: hhea ascender 1160, descender −288 (units/em)
# Dong is written in Latin letters; in Noto Sans CJK's Latin a letter or space averages
# under 0.5 em. 0.56 keeps a line of long letters (m, w) inside the margins.
LATIN_EM = 0.56
_FOREVER_MS = 9 * 3600 * 1000  # the last picture lasts until the video ends

# Colours: spoken amber, the rest near-white, on indigo or a darkened photo.
SPOKEN = pysubs2.Color(255, 204, 72)
TEXT = pysubs2.Color(236, 240, 250)
DONG = pysubs2.Color(196, 210, 240)  # cool silver, like Dong silverwork
META = pysubs2.Color(176, 190, 224)
GOLD = pysubs2.Color(236, 205, 140)
INK = pysubs2.Color(8, 10, 28, 30)  # outline: near-black indigo
SHADE = pysubs2.Color(0, 0, 0, 120)


def _tag(colour: pysubs2.Color) -> str:
    """An ASS inline colour override (&HBBGGRR&)."""
    return f"\\c&H{colour.b:02X}{colour.g:02X}{colour.r:02X}&"


def _clean(text: str) -> str:
    """Text safe inside an ASS event: braces would open override tags, backslashes escapes."""
    return text.replace("{", "(").replace("}", ")").replace("\\", "＼")


@dataclass(frozen=True)
class Header:
    """What the header shows: the clause label, topic, chapter and section (any may be empty)."""

    clause_label: str
    topic: str = ""
    chapter: str = ""
    section: str = ""


@dataclass(frozen=True)
class ClipLayout:
    """Positions and sizes (ASS pixels = frame pixels) of one frame size's pictures."""

    width: int
    height: int
    margin_x: int
    label_size: int  # header: clause label and topic
    meta_size: int  # header: chapter and section
    header_rows: int  # 1: everything on one row (16:9); 2: chapter and section below (9:16)
    header_top: int
    rule_y: int
    body_top: int
    body_bottom: int
    zh_sizes: tuple[int, int]  # (largest, smallest)
    dong_size: int

    @classmethod
    def for_size(cls, size: tuple[int, int]) -> ClipLayout:
        """The layout of a landscape (16:9) or portrait (9:16) frame."""
        w, h = size
        if w >= h:
            return cls(
                w, h, margin_x=round(w * 0.055), label_size=round(h * 0.10),
                meta_size=round(h * 0.068), header_rows=1, header_top=round(h * 0.035),
                rule_y=round(h * 0.165), body_top=round(h * 0.20), body_bottom=round(h * 0.96),
                zh_sizes=(round(h * 0.17), math.ceil(h * 0.125)), dong_size=round(h * 0.085),
            )  # fmt: skip
        return cls(
            w, h, margin_x=round(w * 0.06), label_size=round(w * 0.105),
            meta_size=round(w * 0.072), header_rows=2, header_top=round(h * 0.04),
            rule_y=round(h * 0.17), body_top=round(h * 0.20), body_bottom=round(h * 0.89),
            zh_sizes=(round(w * 0.16), math.ceil(w * 0.125)), dong_size=round(w * 0.085),
        )  # fmt: skip

    @property
    def room(self) -> float:
        """Width available to a line, in pixels (less a little for the outline)."""
        return self.width - 2 * self.margin_x - 8


def hold_cues(cues: Sequence[Cue], end_ms: int) -> list[Cue]:
    """The cues, each lasting until the next one starts (the last until `end_ms`)."""
    starts = [c.start_ms for c in cues[1:]] + [max(end_ms, cues[-1].end_ms if cues else 0)]
    return [
        Cue(c.start_ms, max(c.end_ms, nxt), c.lines, c.dong)
        for c, nxt in zip(cues, starts, strict=True)
    ]


def heading_count(cues: Sequence[Cue], clause_label: str) -> int:
    """How many leading cues read the clause label (第三条) rather than the clause's text."""
    label = "".join(clause_label.split())
    said, n = "", 0
    for cue in cues:
        said += "".join("".join(cue.lines).split())
        if not said or not label.startswith(said):
            break
        n += 1
    return n


def cue_pieces_in(text: str | None, cues: Sequence[Cue]) -> list[str]:
    """Each cue's part of the clause's display `text`, its punctuation included.

    A cue's lines lack the punctuation that ends it (linebreak.cue_text); the clause text has
    it, so each cue's characters are found in order in the text and every cue owns the text
    up to the next cue's first character. Without `text`, or where it does not match the
    cues, the cues' own text.
    """
    own = ["".join(c.lines) for c in cues]
    if not text:
        return own
    starts, at = [], 0
    for piece in own:
        first = None
        for ch in piece:
            if ch.isspace():
                continue
            found = text.find(ch, at)
            if found < 0:
                return own
            first = found if first is None else first
            at = found + 1
        if first is None:
            return own
        starts.append(first)
    if not starts:
        return own
    starts[0] = 0  # an opening quote or bracket before the first cue belongs to it
    ends = [*starts[1:], len(text)]
    return [text[a:b].strip() for a, b in zip(starts, ends, strict=True)]


@dataclass(frozen=True)
class Page:
    """Phrases shown together: their cue indices, Chinese lines and Dong lines, by owner."""

    cues: range
    zh: list[list[tuple[int, str]]]  # per line: runs of (cue index, text)
    dong: list[list[tuple[int, str]]]


def _runs(text: str, owners: Sequence[int], lines: Sequence[str]) -> list[list[tuple[int, str]]]:
    """The wrapped `lines` of `text` as runs of characters of one owner each."""
    out, at = [], 0
    for line in lines:
        runs: list[tuple[int, str]] = []
        for ch in line:
            while at < len(text) and text[at] != ch:
                at += 1  # spaces dropped at a break
            owner = owners[min(at, len(owners) - 1)]
            if runs and runs[-1][0] == owner:
                runs[-1] = (owner, runs[-1][1] + ch)
            else:
                runs.append((owner, ch))
            at += 1
        out.append(runs)
    return out


def _wrap_dong(words: Sequence[tuple[int, str]], chars: int) -> list[list[tuple[int, str]]]:
    """Dong words (owner, word) greedily into lines of at most `chars` letters and spaces."""
    lines: list[list[tuple[int, str]]] = []
    length = 0
    for owner, word in words:
        if lines and length + 1 + len(word) <= chars:
            lines[-1].append((owner, " " + word))
            length += 1 + len(word)
        else:
            lines.append([(owner, word)])
            length = len(word)
    return [_merge(line) for line in lines]


def _merge(runs: list[tuple[int, str]]) -> list[tuple[int, str]]:
    merged: list[tuple[int, str]] = []
    for owner, text in runs:
        if merged and merged[-1][0] == owner:
            merged[-1] = (owner, merged[-1][1] + text)
        else:
            merged.append((owner, text))
    return merged


def _page(
    layout: ClipLayout,
    pieces: Sequence[str],
    cues: Sequence[Cue],
    span: range,
    size: int,
    lead_dong: str = "",
) -> Page | None:
    """The phrases `span` laid out at Chinese font `size`, or None if they do not fit."""
    text = "".join(pieces[i] for i in span)
    owners = [i for i in span for _ in pieces[i]]
    dong_words = [(i, w) for i in span for w in (cues[i].dong or "").split()]
    if span.start == 0:  # Dong words shared out to the spoken heading: shown, never lit
        dong_words[:0] = [(-1, w) for w in lead_dong.split()]
    dong_chars = max(8, int(layout.room / (layout.dong_size * EM_PER_SIZE * LATIN_EM)))
    dong = _wrap_dong(dong_words, dong_chars)
    room_h = layout.body_bottom - layout.body_top - _dong_height(layout, len(dong), size)
    pitch = _pitch(size)
    max_lines = int((room_h - size) // pitch) + 1
    if max_lines < 1:
        return None
    try:
        lines = wrap_zh(text, int(layout.room // (size * EM_PER_SIZE)), max_lines)
    except SubtitleError:
        return None
    return Page(span, _runs(text, owners, lines), dong)


def _pitch(size: int) -> float:
    # 1.3 em between CJK baselines: open enough for two-metre-high screens read from afar.
    return size * EM_PER_SIZE * 1.3


def _dong_height(layout: ClipLayout, lines: int, zh_size: int) -> float:
    if not lines:
        return 0.0
    return zh_size * 0.3 + (lines - 1) * layout.dong_size * 0.95 + layout.dong_size


def paginate(
    layout: ClipLayout, pieces: Sequence[str], cues: Sequence[Cue], lead_dong: str = ""
) -> tuple[int, list[Page]]:
    """(Chinese font size, pages): the whole clause at the largest size that fits, else
    pages of whole phrases at the smallest size."""
    biggest, smallest = layout.zh_sizes
    whole = range(len(pieces))
    for size in range(biggest, smallest - 1, -2):
        page = _page(layout, pieces, cues, whole, size, lead_dong)
        if page is not None:
            return size, [page]
    pages: list[Page] = []
    first = 0
    while first < len(pieces):
        last = first + 1
        fitted = _page(layout, pieces, cues, range(first, last), smallest, lead_dong)
        if fitted is None:
            raise SubtitleError(
                f"一句放不进画面：{pieces[first]!r} / a phrase does not fit the frame"
            )
        while last < len(pieces):
            bigger = _page(layout, pieces, cues, range(first, last + 1), smallest, lead_dong)
            if bigger is None:
                break
            fitted, last = bigger, last + 1
        pages.append(fitted)
        first = last
    return smallest, pages


def _event(start: int, end: int, text: str) -> pysubs2.SSAEvent:
    return pysubs2.SSAEvent(start=start, end=end, style="Clip", text=text)


def _coloured(runs: Sequence[tuple[int, str]], spoken: int | None, base: pysubs2.Color) -> str:
    return "".join(
        f"{{{_tag(SPOKEN if owner == spoken else base)}}}{_clean(text)}" for owner, text in runs
    )


def _fit(text: str, size: float, room: float) -> int:
    """A font size at most `size` at which `text` fits `room` pixels."""
    return int(min(size, room / max(text_width(text) * EM_PER_SIZE, 0.5)))


def _header_events(
    layout: ClipLayout, header: Header, start: int, end: int, label_spoken: bool
) -> list[pysubs2.SSAEvent]:
    x0, x1 = layout.margin_x, layout.width - layout.margin_x
    room = x1 - x0
    label = _clean(header.clause_label)
    topic = _clean(header.topic)
    meta = _clean("　".join(t for t in (header.chapter, header.section) if t))
    main = f"{label}　{topic}" if topic else label
    size = _fit(main, layout.label_size, room if layout.header_rows == 2 else room * 0.62)
    row1 = layout.header_top + layout.label_size
    label_tag = _tag(SPOKEN if label_spoken else TEXT)
    text = f"{{\\an1\\pos({x0},{row1})\\fs{size}\\b1{label_tag}}}{label}"
    if topic:
        text += f"{{{_tag(GOLD)}}}　{topic}"
    events = [_event(start, end, text)]
    if meta:
        if layout.header_rows == 1:  # right-aligned on the label's baseline
            used = text_width(main) * size * EM_PER_SIZE + layout.meta_size
            msize = _fit(meta, layout.meta_size, room - used)
            pos = f"\\an3\\pos({x1},{row1})"
        else:
            msize = _fit(meta, layout.meta_size, room)
            pos = f"\\an1\\pos({x0},{row1 + round(layout.meta_size * 1.15)})"
        events.append(_event(start, end, f"{{{pos}\\fs{msize}{_tag(META)}}}{meta}"))
    # The gold rule: a thin bar drawn by libass, from margin to margin.
    bar = f"m 0 0 l {room} 0 {room} 3 0 3"
    events.append(
        _event(
            start,
            end,
            f"{{\\an7\\pos({x0},{layout.rule_y})\\bord0\\shad0{_tag(GOLD)}\\p1}}{bar}{{\\p0}}",
        )
    )
    return events


def _page_events(
    layout: ClipLayout, page: Page, size: int, start: int, end: int, spoken: int | None
) -> list[pysubs2.SSAEvent]:
    pitch = _pitch(size)
    dong_h = _dong_height(layout, len(page.dong), size)
    block = (len(page.zh) - 1) * pitch + size + dong_h
    # Centred in the body when short; a full page starts at its top.
    y = layout.body_top + max(0.0, (layout.body_bottom - layout.body_top - block) / 2)
    x = layout.margin_x
    events = []
    for k, runs in enumerate(page.zh):
        tags = f"\\an7\\pos({x},{round(y + k * pitch)})\\fs{size}\\b1"
        events.append(_event(start, end, f"{{{tags}}}" + _coloured(runs, spoken, TEXT)))
    y += (len(page.zh) - 1) * pitch + size + size * 0.3
    for k, runs in enumerate(page.dong):
        tags = f"\\an7\\pos({x},{round(y + k * layout.dong_size * 0.95)})\\fs{layout.dong_size}"
        events.append(_event(start, end, f"{{{tags}}}" + _coloured(runs, spoken, DONG)))
    return events


def _card_events(
    layout: ClipLayout, village: str, covenant: str, header: Header, end: int
) -> list[pysubs2.SSAEvent]:
    """The title card: village, covenant and chapter above a large label, lozenges, topic."""
    w, h = layout.width, layout.height
    unit = min(w, h)
    room = w - 2 * layout.margin_x
    cx, cy = w // 2, round(h * (0.42 if w >= h else 0.40))
    label = _fit(header.clause_label, unit * 0.26, room)
    events = []

    def line(y: float, text: str, size: float, colour: pysubs2.Color, bold: bool = False) -> None:
        if text:
            fs = _fit(text, size, room)
            tags = f"\\an5\\pos({cx},{round(y)})\\fs{fs}\\b{int(bold)}{_tag(colour)}"
            events.append(_event(0, end, f"{{{tags}}}{_clean(text)}"))

    line(cy - label * 1.02, " ".join(village), unit * 0.065, META)  # letter-spaced kicker
    line(cy - label * 0.62, covenant, unit * 0.085, TEXT)
    line(cy, header.clause_label, label, TEXT, bold=True)
    d = max(4, round(unit * 0.01))
    lozenge = f"m 0 {-d} l {d} 0 0 {d} {-d} 0"  # the diamond of Dong brocade
    for dx in (-4 * d, 0, 4 * d):
        tags = f"\\an5\\pos({cx + dx},{round(cy + label * 0.52)})\\bord0\\shad0{_tag(GOLD)}\\p1"
        events.append(_event(0, end, f"{{{tags}}}{lozenge}{{\\p0}}"))
    line(cy + label * 0.85, header.topic, unit * 0.12, GOLD, bold=True)
    meta = "　".join(t for t in (header.chapter, header.section) if t)
    line(cy + label * 1.3, meta, unit * 0.07, META)
    return events


def clip_ass(
    cues: Sequence[Cue],
    *,
    size: tuple[int, int],
    header: Header,
    village: str = "",
    covenant: str = "",
    card_ms: int = 0,
    text: str | None = None,
    heading_cues: int | None = None,
    font: str = "Noto Sans CJK SC",
) -> str:
    """The ASS file of a clip's pictures at `size` (see the module docstring).

    `cues` are held already (hold_cues); `text` is the clause's display text with its
    punctuation; `heading_cues` how many leading cues read the label (None: found by
    heading_count).
    """
    layout = ClipLayout.for_size(size)
    if heading_cues is None:
        heading_cues = heading_count(cues, header.clause_label)
    body = list(cues[heading_cues:])
    pieces = cue_pieces_in(text, body)
    lead_dong = " ".join(c.dong or "" for c in cues[:heading_cues])
    zh_size, pages = paginate(layout, pieces, body, lead_dong) if body else (layout.zh_sizes[0], [])
    subs = pysubs2.SSAFile()
    subs.info.update(
        {
            "Title": covenant or "Kuanyue",
            "PlayResX": str(layout.width),
            "PlayResY": str(layout.height),
            "WrapStyle": "2",  # lines are broken here, by linebreak's rules
            "ScaledBorderAndShadow": "yes",
            "YCbCr Matrix": "None",  # burned onto RGB-derived frames: no matrix conversion
        }
    )
    outline = max(2.0, round(layout.height / 240, 1))
    # No drop shadow: the near-black outline gives the contrast, and a shadow is one more
    # layer libass blends into every picture (a third of the `ass` filter's time, measured).
    subs.styles = {
        "Clip": pysubs2.SSAStyle(
            fontname=font, fontsize=float(layout.label_size), primarycolor=TEXT,
            secondarycolor=TEXT, outlinecolor=INK, backcolor=SHADE, bold=False,
            outline=outline, shadow=0.0, alignment=pysubs2.Alignment.TOP_LEFT,
            marginl=0, marginr=0, marginv=0, encoding=1,
        )
    }  # fmt: skip
    card_end = ass_time(card_ms)
    if card_end > 0:
        subs.events.extend(_card_events(layout, village, covenant, header, card_end))
    starts = sorted(
        {card_end} | {ass_time(c.start_ms) for c in cues if ass_time(c.start_ms) > card_end}
    )
    bounds = [*starts, max([_FOREVER_MS, *(c.end_ms for c in cues)])]
    cue_starts = [ass_time(c.start_ms) for c in cues]
    for a, b in zip(bounds, bounds[1:], strict=False):
        # The cue spoken at `a`: the last one started by then.
        current = max((i for i, s in enumerate(cue_starts) if s <= a), default=None)
        spoken = None if current is None or current < heading_cues else current - heading_cues
        subs.events.extend(
            _header_events(layout, header, a, b, current is not None and spoken is None)
        )
        if pages:
            page = next((p for p in pages if spoken in p.cues), pages[0])
            subs.events.extend(_page_events(layout, page, zh_size, a, b, spoken))
    return subs.to_string("ass")
