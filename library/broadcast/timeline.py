"""A device's timeline: exactly what it plays, when, and why — a pure function of the rules.

`timeline(device, schedules, start, end)` returns the items that overlap [start, end), in
time order; no two items overlap. The rules, as implemented and tested in
tests/test_timeline.py:

1. **Windows.** Each schedule whose target reaches the device opens one window per
   occurrence of its recurrence (RRULE/RDATE via python-dateutil `rrulestr`). Windows are
   local wall-clock times in the device's zone (zoneinfo), each end converted on its own, so
   a window across a DST change keeps its wall-clock edges. A window ending at or before its
   start runs past midnight (22:00–02:00); start == end is a whole day. An EXDATE removes
   the window opening on that local date, whatever time of day it names. `starts_on` and
   `ends_on` are inclusive and judge the day a window opens, so a 22:00–02:00 window opening
   on `ends_on` still runs to 02:00 the next morning, and none opens after (expiry).
2. **Who holds the air.** At every instant the window with the highest rank plays: layer
   first (emergency → interrupt → scheduled → rotation → default → the device's local
   fallback, which is an all-day looping window), then the more specific target (device >
   zone > village), then the newer rule (later `created_at`, then higher `version`), then
   the schedule id, so that ties are still deterministic.
3. **Content.** A window plays its playlist from the top, each item `repeat` times in a row,
   and starts again when it reaches the end (`loop=False` plays it once and then lets the
   layers below have the rest of the window). A shuffled playlist is shuffled once per
   window, with a seed made of the schedule id, its version and the window's local date, and
   loops in that order: the same rules give the same order on every server and every call,
   and each day's window a new one.
4. **Cutting in.** When a higher-ranked window opens mid-item (a higher layer, or the same
   layer with a more specific target or a newer rule), the item is cut there (`cut=True`,
   rule `interrupted`). When the window regains the air, the interrupted item is played
   again from its start (rule `resumed`); the window's place in its playlist is otherwise
   kept, not skipped forward by the time it lost.
5. **Window end.** An item that would run past its window's end is, per the schedule's
   `overrun` policy: `finish` — played to its end (rule `finished-late`), holding off lower
   windows but still cut by a higher one; `cut` — cut at the window end if its media is
   `cuttable` (rule `cut-at-end`), or else dropped, and the window's remaining seconds are
   an explicit silence item (rule `dropped-not-cuttable`) rather than half a sentence.
6. **Silence.** Explicit silence items (media None) appear only where a rule makes silence:
   a playlist pause (rule `pause`) and a dropped uncuttable item's remainder. Time that no
   window covers has no item at all: a device plays nothing when no item covers now, and a
   48-hour snapshot is not padded with filler; `Layer.SILENCE` names that state, and no
   item carries it (an explicit silence item carries its window's layer).
7. **Why.** Every item carries its schedule id, layer, the target match (`device`, `zone`,
   `village`, or `local` for the fallback) and its rule; `TimelineItem.why` says it in words.

Play state is simulated from the windows opening on the local day before `start`, so the
item playing at an instant does not depend on when the caller asked — with one known limit:
a late finish (or an overnight window) from two days back that shifted yesterday's windows
is not seen. Callers that need exact agreement between polls should anchor `start` to a
local midnight and cache by `rules_version`. Items keep their true start and end, which may
lie outside the range.

Caching: `rules_version(device, schedules)` (in `rules`) hashes every input that reaches the
device. A cache keyed by (rules_version, start, end) is invalidated by any change to those
rules — no explicit invalidation calls — and callers that poll for "the next 48 hours"
should round `start` down (to the hour, say) so polls share entries.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr

from library.broadcast.rules import Device, Layer, Media, Playlist, Schedule, Target

MATCHES = {3: "device", 2: "zone", 1: "village", 0: "local"}
RULE_TEXT = {
    "played": "在时段内播放 / plays in its window",
    "resumed": "被打断后从头重播 / resumes from its start after an interruption",
    "interrupted": "被更高优先级的时段打断 / cut by a higher-ranked window",
    "finished-late": "超过时段结束才播完（超时：播完） / finishes past its window end (overrun: finish)",
    "cut-at-end": "在时段结束时截断（超时：截断） / cut at its window end (overrun: cut)",
    "dropped-not-cuttable": (
        "静音：下一条不能在句中截断（超时：截断） / silence: the next item may not be cut"
        " mid-sentence (overrun: cut)"
    ),
    "pause": "播放列表中的停顿 / a pause in the playlist",
}
# Chinese names of the layers (Layer names in lower case) and of target matches, shared by
# `why` and the CLI.
LAYER_ZH = {
    "emergency": "紧急",
    "interrupt": "插播",
    "scheduled": "定时",
    "rotation": "轮播",
    "default": "默认",
    "fallback": "本机",
    "silence": "静音",
}
MATCH_ZH = {"device": "设备", "zone": "寨/组", "village": "村", "local": "本机"}


class TimelineItem(NamedTuple):
    """One thing a device plays from `start` to `end`, and why it was chosen."""

    # Immutable like the rules, but a NamedTuple rather than a frozen dataclass: a county's
    # 48-hour snapshots hold ~900 items per device, and a frozen dataclass's __init__ costs
    # about 2 µs per item against a NamedTuple's 0.4 µs (scripts/bench_timeline.py).

    start: datetime
    end: datetime
    layer: Layer
    media: Media | None  # None is silence: a pause or a dropped item's remainder
    schedule_id: str
    match: str  # device, zone, village or local
    rule: str  # a key of RULE_TEXT
    cut: bool = False  # ends before the media does

    @property
    def why(self) -> str:
        """The reason in one line, for logs and the workspace."""
        layer = self.layer.name.lower()
        zh, _, en = RULE_TEXT[self.rule].partition(" / ")
        return (
            f"{LAYER_ZH.get(layer, layer)}时间表 {self.schedule_id}"
            f"（{MATCH_ZH.get(self.match, self.match)}目标）：{zh} / {layer} schedule"
            f" {self.schedule_id} ({self.match} target): {en}"
        )


Step = tuple[Media | None, float]  # one play: media (None for a pause) and its seconds


@lru_cache(maxsize=4096)
def _expires(playlist: Playlist) -> bool:
    """Whether any item has a last day (only then does the pass depend on the window's day)."""
    return any(i.until is not None for i in playlist.items)


@lru_cache(maxsize=4096)
def _one_pass(playlist: Playlist, seed: str | None, day: date | None) -> tuple[Step, ...]:
    """The playlist as it plays once on `day`: expired items left out, repeats expanded,
    shuffled when a seed is given."""
    items = [i for i in playlist.items if day is None or i.until is None or i.until >= day]
    if seed is not None:
        # A string seed is hashed with SHA-512 by `random`, the same in every process.
        random.Random(seed).shuffle(items)
    return tuple((i.media, i.duration_s) for i in items for _ in range(i.repeat))


class _Window:
    """One opening of one schedule, with its play position."""

    __slots__ = ("open", "close", "rank", "schedule", "match", "steps", "pos", "resume", "done")

    def __init__(
        self, open_: float, close: float, schedule: Schedule, match: int, day: date
    ) -> None:
        """Set up the window's order of play; its rank is filled in once all windows are known."""
        self.open = open_
        self.close = close
        self.rank = 0
        self.schedule = schedule
        self.match = match
        seed = None
        if schedule.playlist.shuffle:
            seed = f"{schedule.id}:{schedule.version}:{day.isoformat()}"
        self.steps = _one_pass(
            schedule.playlist, seed, day if _expires(schedule.playlist) else None
        )
        self.pos = 0  # plays started and finished so far, counted across loops
        self.resume = False
        # Every item expired before this window's day: it gives the air to the layers below.
        self.done = not self.steps

    def next_step(self) -> Step | None:
        """The play at the current position, or None once a single-play window is through."""
        steps = self.steps
        if self.pos < len(steps):
            return steps[self.pos]
        if not self.schedule.loop:
            return None
        return steps[self.pos % len(steps)]


@lru_cache(maxsize=8192)
def _recurrence(text: str, dtstart: datetime) -> tuple[rruleset, frozenset[str]]:
    """Parse RFC 5545 text once per (text, start); EXDATE values are returned as dates.

    EXDATE is taken out before dateutil sees it, because dateutil matches it to the exact
    second while a cultural worker means "not on that day".
    """
    lines: list[str] = []
    exdates: set[str] = set()
    for raw in text.replace("\\n", "\n").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.upper().startswith("EXDATE"):
            for value in line.split(":", 1)[1].split(","):
                exdates.add(value.strip())
        else:
            lines.append(line)
    # cache=True: devices of one village (and villages sharing a rule text) reuse the
    # expansion instead of walking the recurrence again from its first day.
    parsed = rrulestr("\n".join(lines), dtstart=dtstart, forceset=True, cache=True)
    assert isinstance(parsed, rruleset)
    return parsed, frozenset(exdates)


def _exdate_days(values: frozenset[str], zone: ZoneInfo) -> set[date]:
    """Local dates named by EXDATE values (date, local date-time, or UTC ending in Z)."""
    days: set[date] = set()
    for value in values:
        if value.upper().endswith("Z"):
            moment = datetime.strptime(value[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
            days.add(moment.astimezone(zone).date())
        else:
            days.add(datetime.strptime(value[:8], "%Y%m%d").date())
    return days


def _local_ts(day: date, at: time, zone: ZoneInfo) -> float:
    """POSIX seconds of a local wall-clock time; DST gaps and folds resolve as zoneinfo does."""
    return datetime.combine(day, at, tzinfo=zone).timestamp()


def _windows(
    schedule: Schedule, match: int, zone: ZoneInfo, first: date, last: date
) -> Iterator[_Window]:
    """The windows of `schedule` opening on local dates first..last, inclusive."""
    lo = max(first, schedule.starts_on)
    hi = last if schedule.ends_on is None else min(last, schedule.ends_on)
    if lo > hi:
        return
    dtstart = datetime.combine(schedule.starts_on, schedule.window_start)
    rules, exdates = _recurrence(schedule.recurrence, dtstart)
    skipped = _exdate_days(exdates, zone) if exdates else set()
    length = datetime.combine(date.min, schedule.window_end) - datetime.combine(
        date.min, schedule.window_start
    )
    if length <= timedelta(0):
        length += timedelta(days=1)  # past midnight; equal ends make a whole day
    for occurrence in rules.between(
        datetime.combine(lo, time.min), datetime.combine(hi, time.max), inc=True
    ):
        day = occurrence.date()
        if day in skipped:
            continue
        # Both edges are wall-clock times converted on their own, so a window across a DST
        # change keeps them; a sub-daily rule's occurrence gives its own opening time.
        open_ = _local_ts(day, occurrence.time(), zone)
        closing = occurrence + length
        close = _local_ts(closing.date(), closing.time(), zone)
        if close > open_:
            yield _Window(open_, close, schedule, match, day)


def _fallback_schedule(device: Device, playlist: Playlist) -> Schedule:
    """The device's local fallback as an all-day looping window at the fallback layer."""
    return Schedule(
        id=f"fallback:{device.id}",
        playlist=playlist,
        recurrence="FREQ=DAILY",
        window_start=time(0),
        window_end=time(0),
        # Recent enough that dateutil's walk from DTSTART stays short, and fixed so the
        # timeline stays a function of its inputs.
        starts_on=date(2024, 1, 1),
        target=Target(devices=frozenset({device.id})),
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        layer=Layer.FALLBACK,
    )


def timeline(
    device: Device, schedules: Iterable[Schedule], start: datetime, end: datetime
) -> list[TimelineItem]:
    """Everything `device` plays in [start, end), in order, each item with its reason."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    zone = ZoneInfo(device.tz)
    t_lo, t_hi = start.timestamp(), end.timestamp()
    if t_hi <= t_lo:
        return []
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()

    candidates: list[tuple[Schedule, int]] = []
    for schedule in schedules:
        match = schedule.target.specificity(device)
        if match:
            candidates.append((schedule, match))
    if device.fallback is not None:
        candidates.append((_fallback_schedule(device, device.fallback), 0))

    windows: list[_Window] = []
    for schedule, match in candidates:
        windows.extend(_windows(schedule, match, zone, first, last))
    if not windows:
        return []
    _rank(windows)
    windows.sort(key=lambda w: (w.open, -w.rank))
    return _play(windows, zone, t_lo, t_hi)


def _rank(windows: list[_Window]) -> None:
    """Give each window an integer rank, so the sweep compares one int, not a tuple."""
    keys = {
        id(w.schedule): (
            int(w.schedule.layer),
            w.match,
            w.schedule.created_at.timestamp(),
            w.schedule.version,
            w.schedule.id,
        )
        for w in windows
    }
    order = {key: n for n, key in enumerate(sorted(set(keys.values())), start=1)}
    for w in windows:
        w.rank = order[keys[id(w.schedule)]]


def _next_higher(windows: list[_Window], index: int, t: float, rank: int, until: float) -> float:
    """When the first window ranked above `rank` opens after `t` (before `until`), or `until`."""
    for w in windows[index:]:
        if w.open >= until:
            break
        if w.open > t and w.rank > rank:
            return w.open
    return until


def _play(windows: list[_Window], zone: ZoneInfo, t_lo: float, t_hi: float) -> list[TimelineItem]:
    """Sweep time, giving the air to the top-ranked open window, span by span."""
    out: list[TimelineItem] = []
    active: list[_Window] = []
    index = 0  # windows[:index] have opened
    t = windows[0].open
    total = len(windows)
    # Converting instants to aware datetimes is much of the cost, and an item usually starts
    # where the one before it ended: keep the last conversion.
    last: list[tuple[float, datetime]] = [(float("nan"), datetime.min)]

    def stamp(ts: float) -> datetime:
        if ts == last[0][0]:
            return last[0][1]
        moment = datetime.fromtimestamp(ts, zone)
        last[0] = (ts, moment)
        return moment

    def emit(a: float, b: float, w: _Window, media: Media | None, rule: str, cut: bool) -> None:
        if b > t_lo and a < t_hi and b > a:
            s = w.schedule
            out.append(
                TimelineItem(stamp(a), stamp(b), s.layer, media, s.id, MATCHES[w.match], rule, cut)
            )

    while t < t_hi:
        while index < total and windows[index].open <= t:
            active.append(windows[index])
            index += 1
        active = [w for w in active if not w.done and w.close > t]
        if not active:
            if index >= total:
                break
            t = windows[index].open  # nothing covers this stretch: silence, no item
            continue
        top = max(active, key=lambda w: w.rank)
        higher = _next_higher(windows, index, t, top.rank, top.close)
        limit = min(top.close, higher)
        layer, sid, match = top.schedule.layer, top.schedule.id, MATCHES[top.match]
        while t < limit and t < t_hi:
            step = top.next_step()
            if step is None:  # a single play is over; the layers below take the rest
                top.done = True
                break
            media, length = step
            rule = "pause" if media is None else ("resumed" if top.resume else "played")
            finish = t + length
            if finish <= limit:
                if finish > t_lo:  # before the range only the play position matters
                    item = TimelineItem(stamp(t), stamp(finish), layer, media, sid, match, rule)
                    out.append(item)
                top.pos += 1
                top.resume = False
                t = finish
                continue
            if higher < top.close:
                # A higher window opens before this item could end: cut now, replay later.
                emit(t, higher, top, media, "interrupted" if media else "pause", True)
                top.resume = media is not None
                t = higher
                break
            # The item runs past the window's own end.
            top.done = True
            if top.schedule.overrun == "finish":
                stop = _next_higher(windows, index, t, top.rank, finish)
                if stop < finish:
                    emit(t, stop, top, media, "interrupted", True)
                    t = stop
                else:
                    emit(t, finish, top, media, "finished-late", False)
                    t = finish
            elif media is None or media.cuttable:
                emit(t, top.close, top, media, "pause" if media is None else "cut-at-end", True)
                t = top.close
            else:
                emit(t, top.close, top, None, "dropped-not-cuttable", False)
                t = top.close
            break
    return out


__all__ = ["MATCHES", "RULE_TEXT", "TimelineItem", "timeline"]
