"""Broadcast rules as plain frozen values: media, playlists, targets, schedules and devices.

These are what `library.broadcast.timeline` computes over. They carry no database identity
beyond string ids: the database layer maps its rows to them, so the timeline stays a pure
function that tests build by hand. Every class validates itself on construction, so a bad
rule fails where it is written rather than deep inside a timeline.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import IntEnum
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MediaKind = Literal["audio", "video", "still"]
Overrun = Literal["finish", "cut"]


class Layer(IntEnum):
    """Priority layers; a higher value cuts into a lower one."""

    SILENCE = 0
    FALLBACK = 1  # the device's own local fallback playlist
    DEFAULT = 2
    ROTATION = 3
    SCHEDULED = 4
    INTERRUPT = 5
    EMERGENCY = 6


@dataclass(frozen=True, slots=True)
class Media:
    """One playable file, as the device downloads and verifies it."""

    sha256: str
    size: int
    duration_s: float
    kind: MediaKind
    # A narrated clause is not cut mid-sentence unless its rule says it may be.
    cuttable: bool = False

    def __post_init__(self) -> None:
        """Reject values a device could not play."""
        if self.duration_s <= 0:
            raise ValueError(f"媒体时长必须大于零 / media duration must be > 0: {self.sha256}")
        if self.kind not in ("audio", "video", "still"):
            raise ValueError(f"未知媒体类型 / unknown media kind: {self.kind!r}")


@dataclass(frozen=True, slots=True)
class PlaylistItem:
    """A media file or a pause of `pause_s` seconds, played `repeat` times in a row.

    `until` is the item's last local date (a notice's or a list entry's expiry, inclusive): a
    window opening after it plays the playlist without the item.
    """

    media: Media | None = None
    pause_s: float = 0.0
    repeat: int = 1
    until: date | None = None

    def __post_init__(self) -> None:
        """Exactly one of media or a positive pause; at least one play."""
        if (self.media is None) == (self.pause_s <= 0):
            raise ValueError("播放项须是媒体或正的停顿 / an item is media or a pause > 0 s")
        if self.media is not None and self.pause_s:
            raise ValueError("播放项不能既是媒体又是停顿 / an item cannot be media and a pause")
        if self.repeat < 1:
            raise ValueError("重复次数至少为一 / repeat must be ≥ 1")

    @property
    def duration_s(self) -> float:
        """Length of one play of this item."""
        return self.media.duration_s if self.media is not None else self.pause_s


@dataclass(frozen=True, slots=True)
class Playlist:
    """Ordered items; `shuffle` reorders them per window with a seed from schedule and date."""

    id: str
    items: tuple[PlaylistItem, ...]
    shuffle: bool = False

    def __post_init__(self) -> None:
        """An empty playlist could never fill a window, so it is refused."""
        if not self.items:
            raise ValueError(f"播放列表为空 / playlist {self.id} has no items")


@dataclass(frozen=True, slots=True)
class Target:
    """Where a schedule plays: any of these villages, zones (寨/组) or device ids."""

    villages: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()

    def specificity(self, device: Device) -> int:
        """3 for a device target, 2 for a zone, 1 for a village, 0 when it misses the device."""
        if device.id in self.devices:
            return 3
        if not self.zones.isdisjoint(device.zones):
            return 2
        if device.village in self.villages:
            return 1
        return 0


@dataclass(frozen=True, slots=True)
class Schedule:
    """A recurring window in which a playlist plays on its targets, at one layer.

    `recurrence` is RFC 5545 text (RRULE, RDATE, EXDATE lines, or a bare `FREQ=…` rule)
    without DTSTART: the recurrence starts on `starts_on` at `window_start`, in the device's
    local time. Each occurrence opens a window at its local time (for daily and longer rules,
    `window_start`; an hourly or minutely rule, or BYHOUR, gives several a day) lasting from
    `window_start` to `window_end` on the wall clock; an end at or before the start runs past
    midnight into the next day, and an end equal to the start is a whole day. `starts_on`/`ends_on` are inclusive and apply to
    the day a window opens. `created_at` (then `version`) decides which of two overlapping
    rules at the same layer and specificity is newer.
    """

    id: str
    playlist: Playlist
    recurrence: str
    window_start: time
    window_end: time
    starts_on: date
    target: Target
    created_at: datetime
    layer: Layer = Layer.SCHEDULED
    ends_on: date | None = None
    overrun: Overrun = "finish"
    version: int = 1
    # Village programmes play in loops; a single play is `loop=False`.
    loop: bool = True

    def __post_init__(self) -> None:
        """Check what the timeline relies on: aware created_at, sane dates and policy."""
        if self.created_at.tzinfo is None:
            raise ValueError(f"created_at 须带时区 / created_at must be aware: {self.id}")
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError(f"结束日期早于开始日期 / ends_on before starts_on: {self.id}")
        if self.overrun not in ("finish", "cut"):
            raise ValueError(f"未知超时策略 / unknown overrun policy: {self.overrun!r}")
        if "DTSTART" in self.recurrence.upper():
            # DTSTART would fight starts_on and the window; one source of truth.
            raise ValueError(f"重复规则不能含 DTSTART / recurrence must not set DTSTART: {self.id}")
        if self.window_start.tzinfo is not None or self.window_end.tzinfo is not None:
            raise ValueError(f"窗口时间是当地时间 / window times are local, naive: {self.id}")


@dataclass(frozen=True, slots=True)
class Device:
    """A loudspeaker, screen or stream in one village, in zero or more of its zones."""

    id: str
    kind: str
    village: str
    zones: frozenset[str] = frozenset()
    tz: str = "Asia/Shanghai"
    # What the device plays by itself when nothing above it covers the time.
    fallback: Playlist | None = None

    def __post_init__(self) -> None:
        """Fail on an unknown time zone here, not in the middle of a timeline."""
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"未知时区 / unknown time zone: {self.tz!r}") from exc


def _canonical(value: object) -> object:
    """A representation of `value` whose text is the same in every process."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple((f.name, _canonical(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, frozenset):
        return _canonical_set(value)
    if isinstance(value, set):
        return _canonical_set(frozenset(value))
    if isinstance(value, tuple | list):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@lru_cache(maxsize=4096)
def _canonical_set(value: frozenset) -> object:
    # Set iteration order follows string hashing, which is randomised per process. Kept: a
    # county-wide schedule's 321 villages are the same set for every device it reaches.
    return ("set", tuple(sorted(repr(_canonical(v)) for v in value)))


def rules_version(device: Device, schedules: Iterable[Schedule]) -> str:
    """A hex digest of everything a device's timeline depends on, for caching and ETags.

    Every field of the device and of every schedule that targets it is hashed, so a new
    version, an edited window, a changed media file or a re-targeted rule gives a new digest;
    schedules that miss the device are left out, so edits elsewhere in the county keep this
    device's cache. Schedule order does not matter.
    """
    relevant = sorted(
        (s for s in schedules if s.target.specificity(device)), key=lambda s: (s.id, s.version)
    )
    text = repr((_canonical(device), tuple(_canonical(s) for s in relevant)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


__all__ = [
    "Device",
    "Layer",
    "Media",
    "MediaKind",
    "Overrun",
    "Playlist",
    "PlaylistItem",
    "Schedule",
    "Target",
    "rules_version",
]
