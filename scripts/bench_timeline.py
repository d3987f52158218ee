"""Benchmark: 48-hour timelines for every device of a county, from plain rules, no database.

A county of 321 villages × 3 devices (two zone loudspeakers and a screen), 20 schedules per
village — an all-day default playlist, two shuffled rotations, scheduled programmes (daily,
weekdays, weekly, overnight with EXDATE, zone- and device-targeted, one re-published with a
newer version), the nightly gong round (鸣锣喊寨) and notices as interrupts, and one
emergency — starting on various days in the last two months. Every device's next 48 hours
are expanded, first in one process, then on two worker processes (one village per task, as
a server would shard it), and the script prints the total, the time per device and the peak
memory, with the goal beside them: all 963 devices in under 2 s on 2 cores.

Figures only, no assertions.

    .venv/bin/python scripts/bench_timeline.py [--villages 321] [--workers 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import sys
import time as clock
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from library.broadcast.rules import (  # noqa: E402
    Device,
    Layer,
    Media,
    MediaKind,
    Playlist,
    PlaylistItem,
    Schedule,
    Target,
)
from library.broadcast.timeline import timeline  # noqa: E402

CST = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 12, 7, 6, 0, tzinfo=CST)
HOURS = 48
GOAL_S = 2.0


def media_pool(rng: random.Random) -> list[Media]:
    """Clauses (30–90 s, not cuttable), songs and dramas (2–8 min, cuttable), notices."""
    pool = []
    for n in range(400):
        if n % 3 == 0:
            pool.append(Media(f"{n:064x}", 300_000, rng.uniform(30, 90), "audio"))
        else:
            kind: MediaKind = "video" if n % 3 == 1 else "audio"
            pool.append(Media(f"{n:064x}", 9_000_000, rng.uniform(120, 480), kind, cuttable=True))
    return pool


def village_rules(v: int, pool: list[Media]) -> tuple[list[Device], list[Schedule]]:
    """Three devices and twenty schedules for village number `v`, reproducibly."""
    rng = random.Random(v)
    village = f"village-{v}"
    zones = (f"{village}/zone-1", f"{village}/zone-2")
    devices = [
        Device(f"{village}/speaker-1", "loudspeaker", village, frozenset({zones[0]})),
        Device(f"{village}/speaker-2", "loudspeaker", village, frozenset({zones[1]})),
        Device(f"{village}/screen", "screen", village),
    ]

    def playlist(size: int, shuffle: bool = False, pause: bool = False) -> Playlist:
        items = [PlaylistItem(media=m) for m in rng.sample(pool, size)]
        if pause:
            items.insert(size // 2, PlaylistItem(pause_s=10))
        return Playlist(f"{village}/p{rng.randrange(10**6)}", tuple(items), shuffle)

    def rule(n: int, window: str, recurrence: str, **kw: object) -> Schedule:
        a, b = window.split("-")
        values: dict[str, object] = {
            "id": f"{village}/s{n}",
            "playlist": playlist(rng.randint(3, 8), pause=n % 4 == 0),
            "recurrence": recurrence,
            "window_start": time.fromisoformat(a),
            "window_end": time.fromisoformat(b),
            "starts_on": date(2026, 12, 7) - timedelta(days=rng.randint(1, 60)),
            "target": Target(villages=frozenset({village})),
            "created_at": datetime(2026, 10, 1, tzinfo=CST) + timedelta(hours=n),
            "overrun": "cut" if n % 2 else "finish",
        }
        values.update(kw)
        return Schedule(**values)  # type: ignore[arg-type]

    daily, weekdays = "RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    zone_1, zone_2 = Target(zones=frozenset({zones[0]})), Target(zones=frozenset({zones[1]}))
    screen = Target(devices=frozenset({devices[2].id}))
    schedules = [
        rule(0, "00:00-00:00", daily, layer=Layer.DEFAULT, playlist=playlist(8, shuffle=True)),
        rule(1, "06:00-12:00", daily, layer=Layer.ROTATION, playlist=playlist(6, shuffle=True)),
        rule(2, "14:00-20:00", daily, layer=Layer.ROTATION, playlist=playlist(6, shuffle=True)),
        rule(3, "07:00-07:30", daily),
        rule(4, "12:00-12:30", weekdays),
        rule(5, "19:00-20:30", daily),
        rule(6, "22:00-00:30", daily + "\nEXDATE;VALUE=DATE:20261208"),
        rule(7, "08:00-09:00", "RRULE:FREQ=WEEKLY;BYDAY=MO,TH", target=zone_1),
        rule(8, "08:30-09:30", "RRULE:FREQ=WEEKLY;BYDAY=TU,FR", target=zone_2),
        rule(9, "16:00-17:00", daily, target=screen),
        rule(10, "10:00-11:00", "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,SU"),
        rule(11, "18:00-18:45", "RRULE:FREQ=DAILY;INTERVAL=3"),
        rule(12, "13:00-13:20", daily, ends_on=date(2026, 12, 8)),
        rule(13, "19:30-20:00", daily, target=zone_1),
        rule(14, "19:00-20:30", daily, version=2, created_at=datetime(2026, 12, 8, tzinfo=CST)),
        rule(15, "21:00-21:30", "RRULE:FREQ=MONTHLY;BYMONTHDAY=1,7,8,15"),
        rule(16, "20:00-20:05", daily, layer=Layer.INTERRUPT, loop=False),  # gong round
        rule(17, "09:00-09:03", weekdays, layer=Layer.INTERRUPT, loop=False),  # notice
        rule(18, "17:30-17:35", "RRULE:FREQ=DAILY;COUNT=40", layer=Layer.INTERRUPT, loop=False),
        rule(
            19,
            "15:10-15:20",
            "RRULE:FREQ=DAILY;COUNT=1",
            starts_on=date(2026, 12, 8),
            layer=Layer.EMERGENCY,
            loop=False,
        ),
    ]
    return devices, schedules


def expand_village(v: int) -> tuple[int, int, list[float]]:
    """Expand every device of village `v`; return (devices, items, seconds per device)."""
    devices, schedules = village_rules(v, POOL)
    times, items = [], 0
    for device in devices:
        t0 = clock.perf_counter()
        items += len(timeline(device, schedules, START, START + timedelta(hours=HOURS)))
        times.append(clock.perf_counter() - t0)
    return len(devices), items, times


POOL = media_pool(random.Random(0))


def report(label: str, wall: float, devices: int, items: int, per: list[float]) -> None:
    """One block of figures with the goal beside the total."""
    per = sorted(per)
    print(f"{label}")
    print(f"  total      {wall:6.2f} s for {devices} devices, {items} items (goal < {GOAL_S} s)")
    print(
        f"  per device mean {1000 * sum(per) / len(per):.2f} ms, "
        f"median {1000 * per[len(per) // 2]:.2f} ms, max {1000 * per[-1]:.2f} ms"
    )


def peak_mib(who: int) -> float:
    """Peak resident memory in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> None:
    """Run the single-process and the parallel expansion and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--villages", type=int, default=321)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    villages = range(args.villages)
    print(f"{args.villages} villages × 3 devices, 20 schedules each, {HOURS} h from {START}")

    # fork the workers first, so they start with the same cold rule cache as the first run.
    context = multiprocessing.get_context("fork")
    pool = context.Pool(args.workers)
    pool.map(abs, range(args.workers))  # started outside the timing

    t0 = clock.perf_counter()
    results = [expand_village(v) for v in villages]
    wall = clock.perf_counter() - t0
    report(
        "one process (rules built per village, as read from the database)",
        wall,
        sum(r[0] for r in results),
        sum(r[1] for r in results),
        [t for r in results for t in r[2]],
    )
    print(f"  peak memory {peak_mib(resource.RUSAGE_SELF):.0f} MiB")

    with pool:
        t0 = clock.perf_counter()
        results = pool.map(expand_village, villages, chunksize=8)
        wall = clock.perf_counter() - t0
    report(
        f"{args.workers} worker processes",
        wall,
        sum(r[0] for r in results),
        sum(r[1] for r in results),
        [t for r in results for t in r[2]],
    )
    print(f"  peak memory of a worker {peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB")


if __name__ == "__main__":
    main()
