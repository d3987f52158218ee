"""The device timeline: rules of library/broadcast/timeline.py, case by case, with no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from library.broadcast.rules import (
    Device,
    Layer,
    Media,
    Playlist,
    PlaylistItem,
    Schedule,
    Target,
    rules_version,
)
from library.broadcast.timeline import TimelineItem, timeline

CST = ZoneInfo("Asia/Shanghai")
DEVICE = Device(id="D1", kind="loudspeaker", village="V", zones=frozenset({"Z1"}))


def media(name: str, minutes: float, cuttable: bool = False) -> Media:
    """A media file whose sha256 is its readable name, `minutes` long."""
    return Media(sha256=name, size=1000, duration_s=minutes * 60, kind="audio", cuttable=cuttable)


def playlist(*items: Media | float | tuple[Media, int], shuffle: bool = False) -> Playlist:
    """Media, pauses (a number of minutes) or (media, repeat) pairs, in order."""
    built = []
    for item in items:
        if isinstance(item, Media):
            built.append(PlaylistItem(media=item))
        elif isinstance(item, tuple):
            built.append(PlaylistItem(media=item[0], repeat=item[1]))
        else:
            built.append(PlaylistItem(pause_s=item * 60))
    return Playlist(id="P", items=tuple(built), shuffle=shuffle)


def sched(sid: str, window: str, items: Playlist, **kw: object) -> Schedule:
    """A daily village schedule from 2026-12-01; `window` is "HH:MM-HH:MM"; kw overrides."""
    a, b = window.split("-")
    values: dict[str, object] = {
        "id": sid,
        "playlist": items,
        "recurrence": "RRULE:FREQ=DAILY",
        "window_start": time.fromisoformat(a),
        "window_end": time.fromisoformat(b),
        "starts_on": date(2026, 12, 1),
        "target": Target(villages=frozenset({"V"})),
        "created_at": datetime(2026, 11, 1, tzinfo=CST),
    }
    values.update(kw)
    return Schedule(**values)  # type: ignore[arg-type]


def at(text: str) -> datetime:
    """ "DD HH:MM" in December 2026, Beijing time."""
    day, clock = text.split()
    return datetime.combine(date(2026, 12, int(day)), time.fromisoformat(clock), tzinfo=CST)


def show(items: list[TimelineItem]) -> list[tuple[str, str, str, str | None, str]]:
    """Items as (start, end, schedule, media name, rule), times as "DD HH:MM"."""
    return [
        (
            i.start.strftime("%d %H:%M"),
            i.end.strftime("%d %H:%M"),
            i.schedule_id,
            i.media.sha256 if i.media else None,
            i.rule,
        )
        for i in items
    ]


A, B, C = media("A", 20), media("B", 20), media("C", 20)
TEN = media("T", 10)
HOUR = media("H", 60)
LOCAL = Target(zones=frozenset({"Z1"}))
MINE = Target(devices=frozenset({"D1"}))

CASES = [
    pytest.param(
        [
            sched("village", "08:00-09:00", playlist(TEN)),
            sched("zone", "08:25-09:25", playlist(HOUR), target=LOCAL),
        ],
        "07 08:00",
        "07 10:00",
        [
            ("07 08:00", "07 08:10", "village", "T", "played"),
            ("07 08:10", "07 08:20", "village", "T", "played"),
            ("07 08:20", "07 08:25", "village", "T", "interrupted"),
            ("07 08:25", "07 09:25", "zone", "H", "played"),
        ],
        id="zone-target-beats-village-target",
    ),
    pytest.param(
        [
            sched("zone", "08:00-09:00", playlist(A), target=LOCAL),
            sched("device", "08:00-08:40", playlist(B), target=MINE),
        ],
        "07 08:00",
        "07 09:00",
        [
            ("07 08:00", "07 08:20", "device", "B", "played"),
            ("07 08:20", "07 08:40", "device", "B", "played"),
            ("07 08:40", "07 09:00", "zone", "A", "played"),
        ],
        id="device-target-beats-zone-target",
    ),
    pytest.param(
        [
            sched("old", "08:00-09:00", playlist(A)),
            sched("new", "08:00-08:40", playlist(B), created_at=datetime(2026, 11, 20, tzinfo=CST)),
        ],
        "07 08:00",
        "07 09:00",
        [
            ("07 08:00", "07 08:20", "new", "B", "played"),
            ("07 08:20", "07 08:40", "new", "B", "played"),
            ("07 08:40", "07 09:00", "old", "A", "played"),
        ],
        id="same-target-newer-rule-wins",
    ),
    pytest.param(
        [
            sched("S", "08:00-08:20", playlist(A)),
            sched(
                "S",
                "08:00-08:20",
                playlist(B),
                version=2,
                starts_on=date(2026, 12, 9),
                created_at=datetime(2026, 12, 9, 7, tzinfo=CST),
            ),
        ],
        "08 00:00",
        "10 12:00",
        [
            ("08 08:00", "08 08:20", "S", "A", "played"),
            ("09 08:00", "09 08:20", "S", "B", "played"),
            ("10 08:00", "10 08:20", "S", "B", "played"),
        ],
        id="rule-republished-mid-week-newer-version-wins",
    ),
    pytest.param(
        [sched("night", "22:00-02:00", playlist(HOUR))],
        "07 20:00",
        "08 04:00",
        [
            ("07 22:00", "07 23:00", "night", "H", "played"),
            ("07 23:00", "08 00:00", "night", "H", "played"),
            ("08 00:00", "08 01:00", "night", "H", "played"),
            ("08 01:00", "08 02:00", "night", "H", "played"),
        ],
        id="overnight-window-22-to-02",
    ),
    pytest.param(
        [sched("night", "22:00-02:00", playlist(HOUR))],
        "08 00:30",
        "08 04:00",
        [
            ("08 00:00", "08 01:00", "night", "H", "played"),
            ("08 01:00", "08 02:00", "night", "H", "played"),
        ],
        id="overnight-window-opened-the-day-before-the-range",
    ),
    pytest.param(
        [
            sched(
                "s",
                "08:00-08:20",
                playlist(A),
                recurrence="RRULE:FREQ=DAILY\nEXDATE;VALUE=DATE:20261208",
            )
        ],
        "07 00:00",
        "10 00:00",
        [
            ("07 08:00", "07 08:20", "s", "A", "played"),
            ("09 08:00", "09 08:20", "s", "A", "played"),
        ],
        id="exdate-as-a-date",
    ),
    pytest.param(
        [
            sched(
                "s",
                "08:00-08:20",
                playlist(A),
                recurrence="RRULE:FREQ=DAILY\nEXDATE:20261207T080000,20261209T000000Z",
            )
        ],
        "07 00:00",
        "10 00:00",
        [("08 08:00", "08 08:20", "s", "A", "played")],
        id="exdate-as-local-and-utc-times-names-the-day",
    ),
    pytest.param(
        [sched("s", "08:00-08:20", playlist(A), recurrence="RRULE:FREQ=WEEKLY;BYDAY=MO,WE")],
        "07 00:00",
        "14 00:00",
        [
            ("07 08:00", "07 08:20", "s", "A", "played"),
            ("09 08:00", "09 08:20", "s", "A", "played"),
        ],
        id="weekly-on-monday-and-wednesday",
    ),
    pytest.param(
        [
            sched(
                "s",
                "08:00-08:20",
                playlist(A),
                starts_on=date(2026, 12, 8),
                ends_on=date(2026, 12, 9),
            )
        ],
        "07 00:00",
        "11 00:00",
        [
            ("08 08:00", "08 08:20", "s", "A", "played"),
            ("09 08:00", "09 08:20", "s", "A", "played"),
        ],
        id="date-range-edges-inclusive",
    ),
    pytest.param(
        [sched("s", "23:00-01:00", playlist(HOUR), ends_on=date(2026, 12, 8))],
        "08 12:00",
        "10 12:00",
        [
            ("08 23:00", "09 00:00", "s", "H", "played"),
            ("09 00:00", "09 01:00", "s", "H", "played"),
        ],
        id="expiry-lets-the-last-overnight-window-finish",
    ),
    pytest.param(
        [
            sched("prog", "08:00-09:00", playlist(A, B, C)),
            sched(
                "alarm", "08:10-08:15", playlist(media("E", 5)), layer=Layer.EMERGENCY, loop=False
            ),
        ],
        "07 08:00",
        "07 10:00",
        [
            ("07 08:00", "07 08:10", "prog", "A", "interrupted"),
            ("07 08:10", "07 08:15", "alarm", "E", "played"),
            ("07 08:15", "07 08:35", "prog", "A", "resumed"),
            ("07 08:35", "07 08:55", "prog", "B", "played"),
            ("07 08:55", "07 09:15", "prog", "C", "finished-late"),
        ],
        id="emergency-cuts-in-and-the-item-resumes-from-its-start",
    ),
    pytest.param(
        [sched("s", "08:00-08:50", playlist(A))],
        "07 08:00",
        "07 10:00",
        [
            ("07 08:00", "07 08:20", "s", "A", "played"),
            ("07 08:20", "07 08:40", "s", "A", "played"),
            ("07 08:40", "07 09:00", "s", "A", "finished-late"),
        ],
        id="overrun-finish",
    ),
    pytest.param(
        [sched("s", "08:00-08:50", playlist(media("K", 20, cuttable=True)), overrun="cut")],
        "07 08:00",
        "07 10:00",
        [
            ("07 08:00", "07 08:20", "s", "K", "played"),
            ("07 08:20", "07 08:40", "s", "K", "played"),
            ("07 08:40", "07 08:50", "s", "K", "cut-at-end"),
        ],
        id="overrun-cut-cuttable",
    ),
    pytest.param(
        [
            sched("s", "08:00-08:50", playlist(A), overrun="cut"),
            sched("low", "08:00-10:00", playlist(TEN), layer=Layer.ROTATION),
        ],
        "07 08:00",
        "07 09:10",
        [
            ("07 08:00", "07 08:20", "s", "A", "played"),
            ("07 08:20", "07 08:40", "s", "A", "played"),
            ("07 08:40", "07 08:50", "s", None, "dropped-not-cuttable"),
            ("07 08:50", "07 09:00", "low", "T", "played"),
            ("07 09:00", "07 09:10", "low", "T", "played"),
        ],
        id="overrun-cut-drops-an-uncuttable-clause-and-keeps-silence",
    ),
    pytest.param(
        [
            sched("s", "08:00-08:50", playlist(A)),
            sched("rot", "08:00-10:00", playlist(media("R", 30)), layer=Layer.ROTATION),
            sched("int", "08:55-09:00", playlist(media("I", 5)), layer=Layer.INTERRUPT),
        ],
        "07 08:00",
        "07 10:00",
        [
            ("07 08:00", "07 08:20", "s", "A", "played"),
            ("07 08:20", "07 08:40", "s", "A", "played"),
            ("07 08:40", "07 08:55", "s", "A", "interrupted"),
            ("07 08:55", "07 09:00", "int", "I", "played"),
            ("07 09:00", "07 09:30", "rot", "R", "played"),
            ("07 09:30", "07 10:00", "rot", "R", "played"),
        ],
        id="finishing-item-holds-off-lower-layers-but-not-higher",
    ),
    pytest.param(
        [
            sched("once", "08:00-09:00", playlist(A), loop=False),
            sched("dflt", "00:00-00:00", playlist(media("D", 30)), layer=Layer.DEFAULT),
        ],
        "07 07:55",
        "07 09:00",
        [
            # Yesterday's last default item finished 20 min past midnight, shifting today's.
            ("07 07:50", "07 08:00", "dflt", "D", "interrupted"),
            ("07 08:00", "07 08:20", "once", "A", "played"),
            ("07 08:20", "07 08:50", "dflt", "D", "resumed"),
            ("07 08:50", "07 09:20", "dflt", "D", "played"),
        ],
        id="single-play-returns-the-window-to-the-default-layer",
    ),
    pytest.param(
        [sched("s", "08:00-08:30", playlist((TEN, 2), 5))],
        "07 08:00",
        "07 09:00",
        [
            ("07 08:00", "07 08:10", "s", "T", "played"),
            ("07 08:10", "07 08:20", "s", "T", "played"),
            ("07 08:20", "07 08:25", "s", None, "pause"),
            ("07 08:25", "07 08:35", "s", "T", "finished-late"),
        ],
        id="repeat-and-pause-then-the-loop-finishes-late",
    ),
    pytest.param(
        [sched("s", "08:00-08:30", playlist((TEN, 2), 5), overrun="cut")],
        "07 08:00",
        "07 09:00",
        [
            ("07 08:00", "07 08:10", "s", "T", "played"),
            ("07 08:10", "07 08:20", "s", "T", "played"),
            ("07 08:20", "07 08:25", "s", None, "pause"),
            ("07 08:25", "07 08:30", "s", None, "dropped-not-cuttable"),
        ],
        id="repeat-and-pause",
    ),
    pytest.param(
        [
            sched(
                "elsewhere",
                "08:00-09:00",
                playlist(A),
                target=Target(villages=frozenset({"W"}), zones=frozenset({"Z9"})),
            )
        ],
        "07 00:00",
        "08 00:00",
        [],
        id="a-rule-for-another-village-misses-the-device",
    ),
    pytest.param(
        [
            sched("programme", "08:00-09:00", playlist(TEN)),
            sched(
                "notice",
                "08:15-08:20",
                Playlist(
                    id="N",
                    items=(
                        PlaylistItem(media=media("N1", 2), until=date(2026, 12, 7)),
                        PlaylistItem(media=media("N2", 2), until=date(2026, 12, 8)),
                    ),
                ),
                layer=Layer.INTERRUPT,
                loop=False,
            ),
        ],
        "08 08:00",
        "08 09:00",
        [
            ("08 08:00", "08 08:10", "programme", "T", "played"),
            ("08 08:10", "08 08:15", "programme", "T", "interrupted"),
            ("08 08:15", "08 08:17", "notice", "N2", "played"),
            ("08 08:17", "08 08:27", "programme", "T", "resumed"),
            ("08 08:27", "08 08:37", "programme", "T", "played"),
            ("08 08:37", "08 08:47", "programme", "T", "played"),
            ("08 08:47", "08 08:57", "programme", "T", "played"),
            ("08 08:57", "08 09:07", "programme", "T", "finished-late"),
        ],
        id="expired-item-left-out-and-a-single-play-hands-the-air-back",
    ),
    pytest.param(
        [
            sched(
                "notice",
                "08:15-08:20",
                Playlist(
                    id="N", items=(PlaylistItem(media=media("N1", 2), until=date(2026, 12, 6)),)
                ),
                layer=Layer.INTERRUPT,
                loop=False,
            ),
        ],
        "06 00:00",
        "08 00:00",
        [("06 08:15", "06 08:17", "notice", "N1", "played")],
        id="expiry-is-the-last-day-inclusive",
    ),
    pytest.param(
        [
            sched(
                "repeats",
                "08:00-08:05",
                playlist(media("R", 2)),
                recurrence="FREQ=MINUTELY;INTERVAL=30;COUNT=3",
                starts_on=date(2026, 12, 7),
                loop=False,
            ),
        ],
        "07 00:00",
        "08 00:00",
        [
            ("07 08:00", "07 08:02", "repeats", "R", "played"),
            ("07 08:30", "07 08:32", "repeats", "R", "played"),
            ("07 09:00", "07 09:02", "repeats", "R", "played"),
        ],
        id="a-minutely-rule-opens-a-window-at-each-occurrence",
    ),
    pytest.param(
        [
            sched("programme", "19:30-21:00", playlist(HOUR)),
            sched(
                "emergency",
                "19:40-19:50",
                playlist(media("E", 2), 1),
                recurrence="FREQ=DAILY;COUNT=1",
                starts_on=date(2026, 12, 7),
                layer=Layer.EMERGENCY,
            ),
        ],
        "07 19:30",
        "07 20:51",
        [
            ("07 19:30", "07 19:40", "programme", "H", "interrupted"),
            ("07 19:40", "07 19:42", "emergency", "E", "played"),
            ("07 19:42", "07 19:43", "emergency", None, "pause"),
            ("07 19:43", "07 19:45", "emergency", "E", "played"),
            ("07 19:45", "07 19:46", "emergency", None, "pause"),
            ("07 19:46", "07 19:48", "emergency", "E", "played"),
            ("07 19:48", "07 19:49", "emergency", None, "pause"),
            ("07 19:49", "07 19:51", "emergency", "E", "finished-late"),
            ("07 19:51", "07 20:51", "programme", "H", "resumed"),
        ],
        id="an-emergency-loops-with-a-gap-then-the-programme-resumes-its-item",
    ),
]


@pytest.mark.parametrize(("schedules", "start", "end", "expected"), CASES)
def test_timeline_rules(
    schedules: list[Schedule],
    start: str,
    end: str,
    expected: list[tuple[str, str, str, str | None, str]],
) -> None:
    assert show(timeline(DEVICE, schedules, at(start), at(end))) == expected


def test_shuffle_is_deterministic_per_schedule_and_date() -> None:
    tracks = [media(name, 10) for name in "ABCDEF"]
    rule = sched("mix", "08:00-09:00", playlist(*tracks, shuffle=True))

    def orders() -> list[list[str | None]]:
        items = timeline(DEVICE, [rule], at("07 00:00"), at("14 00:00"))
        days: dict[str, list[str | None]] = {}
        for item in items:
            days.setdefault(item.start.strftime("%d"), []).append(
                item.media.sha256 if item.media else None
            )
        return list(days.values())

    first = orders()
    assert first == orders()  # same rules, same answer
    assert all(
        sorted(name or "" for name in day) == list("ABCDEF") for day in first
    )  # a permutation each pass
    assert len({tuple(day) for day in first}) > 1  # and the seed changes with the date
    moved = timeline(DEVICE, [replace(rule, id="other")], at("07 00:00"), at("08 00:00"))
    assert [i.media.sha256 for i in moved if i.media] != first[0]  # and with the schedule


def test_48_hours_across_two_midnights_is_seamless_and_independent_of_when_asked() -> None:
    rules = [
        sched("dflt", "00:00-00:00", playlist(media("D", 45)), layer=Layer.DEFAULT),
        sched("evening", "19:00-21:00", playlist(A, B, C)),
        sched("night", "22:00-02:00", playlist(HOUR), recurrence="RRULE:FREQ=DAILY;INTERVAL=2"),
    ]
    start = at("07 12:00")
    items = timeline(DEVICE, rules, start, start + timedelta(hours=48))
    assert items[0].start <= start < items[0].end
    assert items[-1].start < start + timedelta(hours=48) <= items[-1].end
    for before, after in zip(items, items[1:], strict=False):
        assert before.end == after.start  # the default layer covers every gap
        assert before.start < before.end
    assert {i.start.strftime("%d") for i in items if i.schedule_id == "evening"} == {"07", "08"}
    nights = [i for i in items if i.schedule_id == "night"]
    assert [i.start.strftime("%d %H:%M") for i in nights] == [
        "07 22:00",
        "07 23:00",
        "08 00:00",
        "08 01:00",
    ]  # every other day from 1 December: the 7th, not the 8th
    later = timeline(DEVICE, rules, start + timedelta(hours=7), start + timedelta(hours=48))
    assert later == [i for i in items if i.end > start + timedelta(hours=7)]


def test_device_fallback_plays_only_where_nothing_else_does() -> None:
    device = replace(DEVICE, fallback=playlist(media("F", 30)))
    items = timeline(
        device, [sched("s", "08:00-08:30", playlist(A))], at("07 07:45"), at("07 09:00")
    )
    assert show(items) == [
        ("07 07:40", "07 08:00", "fallback:D1", "F", "interrupted"),
        ("07 08:00", "07 08:20", "s", "A", "played"),
        ("07 08:20", "07 08:40", "s", "A", "finished-late"),
        ("07 08:40", "07 09:10", "fallback:D1", "F", "resumed"),
    ]
    assert items[0].layer is Layer.FALLBACK and items[0].match == "local"
    assert items[1].why == (
        "定时时间表 s（村目标）：在时段内播放 / scheduled schedule s (village target): plays in"
        " its window"
    )


def test_windows_keep_wall_clock_edges_across_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    device = replace(DEVICE, tz="Europe/Berlin")
    rule = sched("night", "22:00-06:00", playlist(HOUR), starts_on=date(2026, 3, 1))
    start = datetime(2026, 3, 28, 12, tzinfo=berlin)  # clocks go forward at 02:00 on the 29th
    items = timeline(device, [rule], start, start + timedelta(hours=24))
    assert len(items) == 7  # 22:00 to 06:00 local is seven real hours that night
    assert items[0].start == datetime(2026, 3, 28, 22, tzinfo=berlin)
    assert items[-1].end == datetime(2026, 3, 29, 6, tzinfo=berlin)


def test_rules_version_follows_the_rules_that_reach_the_device() -> None:
    one, two = sched("a", "08:00-09:00", playlist(A)), sched("b", "10:00-11:00", playlist(B))
    elsewhere = sched("w", "08:00-09:00", playlist(A), target=Target(villages=frozenset({"W"})))
    key = rules_version(DEVICE, [one, two])
    assert key == rules_version(DEVICE, [two, one, elsewhere])  # order and other villages
    assert key != rules_version(DEVICE, [one, replace(two, version=2)])
    assert key != rules_version(DEVICE, [one, replace(two, playlist=playlist(C))])
    assert key != rules_version(replace(DEVICE, zones=frozenset({"Z2"})), [one, two])


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: PlaylistItem(), id="item-neither-media-nor-pause"),
        pytest.param(lambda: PlaylistItem(media=A, pause_s=5), id="item-both"),
        pytest.param(lambda: PlaylistItem(media=A, repeat=0), id="repeat-zero"),
        pytest.param(lambda: Media("x", 1, 0, "audio"), id="zero-duration"),
        pytest.param(lambda: Playlist(id="p", items=()), id="empty-playlist"),
        pytest.param(
            lambda: sched(
                "s", "08:00-09:00", playlist(A), recurrence="DTSTART:20260101\nRRULE:FREQ=DAILY"
            ),
            id="dtstart",
        ),
        pytest.param(
            lambda: sched("s", "08:00-09:00", playlist(A), ends_on=date(2026, 11, 1)),
            id="ends-before-start",
        ),
        pytest.param(
            lambda: sched("s", "08:00-09:00", playlist(A), created_at=datetime(2026, 1, 1)),
            id="naive-created-at",
        ),
        pytest.param(
            lambda: sched("s", "08:00-09:00", playlist(A), overrun="skip"), id="unknown-overrun"
        ),
        pytest.param(
            lambda: Device(id="d", kind="screen", village="V", tz="Mars/Olympus"), id="unknown-zone"
        ),
        pytest.param(
            lambda: timeline(DEVICE, [], datetime(2026, 12, 7), at("08 00:00")), id="naive-range"
        ),
    ],
)
def test_bad_rules_fail_where_they_are_written(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_gong_round_rota_across_a_month_end_with_a_skip_and_a_swap() -> None:
    from library.broadcast.rota import duty

    homes = ["杨老三", "吴家宝", "石大姐"]
    start = date(2026, 11, 28)
    skips = frozenset({date(2026, 11, 30)})
    swaps = {date(2026, 12, 2): "石大姐"}
    nights = [duty(start, homes, skips, swaps, start + timedelta(days=n)) for n in range(7)]
    assert [(d.day.strftime("%m-%d"), d.member, d.swapped) for d in nights] == [
        ("11-28", "杨老三", False),
        ("11-29", "吴家宝", False),
        ("11-30", None, False),  # skipped: no call, the turn waits
        ("12-01", "石大姐", False),  # across the month end, in order
        ("12-02", "石大姐", True),  # swapped in for 杨老三; the order does not move
        ("12-03", "吴家宝", False),
        ("12-04", "石大姐", False),
    ]
    assert duty(start, homes, skips, swaps, date(2026, 11, 27)).member is None  # not begun
    assert duty(start, [], skips, swaps, date(2026, 12, 1)).member is None
