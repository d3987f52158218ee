"""A device's 48-hour schedule snapshot, for the device API (its emergency poll:
device_emergency).

A snapshot is the device's timeline for 48 hours from the last turn of its hour — each
device's hour turns at its own minute (its id modulo 60), so a county's snapshots do not all
go stale at once on the hour. Its version — the ETag — is a hash of the device's rules
version and that start, so any change
to a rule that reaches the device, a consent withdrawn, an announcement stopped or a clause
re-rendered gives a new version. Versions and snapshots are kept in memory while the
database's change count (library/changes.py) stands still, so the common poll — nothing
changed — costs two dict lookups; a change anywhere is seen within a second.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import models as lib
from ..changes import PerCount
from ..db import Database
from .device_api import SETTINGS, DeviceCard, as_iso
from .device_reports import note_seen
from .device_rules import DeviceRules, load_device_rules, local_days
from .models import AnnouncementFile
from .rules import rules_version
from .timeline import TimelineItem

HORIZON = timedelta(hours=48)


@dataclass(frozen=True)
class Snapshot:
    """A device's next 48 hours as the API sends it: its version and the encoded JSON.

    Kept encoded: a county's cached snapshots as dicts of ~540 items each took over a GiB
    (scripts/bench_devices.py); as UTF-8 JSON they take a fifth of that.
    """

    version: str
    data: bytes

    @property
    def body(self) -> dict[str, Any]:
        """The snapshot decoded (for tests and tools; the API sends `data`)."""
        return json.loads(self.data)


class _Snapshots:
    """Made snapshots by version, the least recently used dropped beyond a size in bytes.

    A snapshot is sent once to each device after a change (a poll with the current version
    is answered 304 from the version alone), so this need not hold a county's ~230 MB: it
    spares the work for a device that asks again (a player restarted, a reply lost).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, Snapshot] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, version: str) -> Snapshot | None:
        """The snapshot of this version, if kept."""
        with self._lock:
            found = self._data.get(version)
            if found is not None:
                self._data.move_to_end(version)
            return found

    def put(self, snapshot: Snapshot) -> None:
        """Keep `snapshot`, dropping the least recently used beyond the size."""
        with self._lock:
            if snapshot.version not in self._data:
                self._bytes += len(snapshot.data)
            self._data[snapshot.version] = snapshot
            while self._bytes > self.max_bytes and len(self._data) > 1:
                self._bytes -= len(self._data.popitem(last=False)[1].data)


SNAPSHOT_CACHE_BYTES = 96 * 1024 * 1024
# Snapshots and device rules are worked out one at a time. Threads take turns holding the
# interpreter, and a cheap poll waited behind every thread working one out at once: after a
# county-wide change, each poll paid for the whole queue of them (bench_devices).
_building = threading.Lock()
_snapshots = _Snapshots(SNAPSHOT_CACHE_BYTES)


# (device id, snapshot start) → the snapshot's version, while the change count stands: an
# unchanged device's poll (the common one) costs a dict lookup, not its rules.
def _versions(db: Database) -> PerCount[tuple[int, datetime], str]:
    return db.changes.cache("snapshot versions", 100_000)


def rules_memo(db: Database, count: int) -> dict[tuple, Any]:
    """What devices' rules share while nothing changes: each playlist item's files, each
    schedule's targets, each file's type and subtitles."""
    return db.changes.cache("rules memo", 200_000).for_count(count)


def schedule_poll(
    db: Database, device: DeviceCard, now: datetime, known: Collection[str]
) -> tuple[str, bytes | None]:
    """`GET /api/v1/device/schedule`: (the current version, the snapshot's JSON, or None when
    the device already has that version — one of `known`).

    While nothing changed the version is a dict lookup, and an unchanged device's poll needs
    nothing more. The poll is noted: the device is seen, and has this version, so its next
    snapshot is made ahead of its next poll when something changes (see _Ahead).
    """
    version = _current(db, device, now)[2]
    data = None
    if version not in known:
        snapshot = schedule_snapshot(db, device, now)
        version, data = snapshot.version, snapshot.data
    note_seen(db, device.id, now)
    ahead = _aheads.get(db) or _aheads.setdefault(db, _Ahead())
    ahead.note(db, device, version)
    return version, data


def schedule_snapshot(db: Database, device: DeviceCard, now: datetime) -> Snapshot:
    """The device's timeline for 48 hours from the last turn of its hour, with its version."""
    count, start, version = _current(db, device, now)
    cached = _snapshots.get(version)
    if cached is not None:
        return cached
    end = start + HORIZON
    found, _ = _device_rules(db, count, device, start)
    with _building, db.session() as session:
        items = found.timeline(start, end)
        body = {
            "version": version,
            "generated_at": as_iso(now),
            "start": as_iso(start, device),
            "end": as_iso(end, device),
            "tz": device.tz,
            "items": item_bodies(session, device, found, items, rules_memo(db, count)),
        }
    snapshot = Snapshot(version, orjson.dumps(body))
    _snapshots.put(snapshot)
    return snapshot


def _current(db: Database, device: DeviceCard, now: datetime) -> tuple[int, datetime, str]:
    """(the change count, the snapshot's start, its version) for the device now."""
    turn = timedelta(minutes=device.id % 60)
    start = (now.astimezone(UTC) - turn).replace(minute=0, second=0, microsecond=0) + turn
    count = db.changes.current()

    def version() -> str:
        rules_hash = _device_rules(db, count, device, start)[1]
        return hashlib.sha256(f"{rules_hash}|{start.isoformat()}".encode()).hexdigest()[:32]

    return count, start, _versions(db).get_or_make(count, (device.id, start), version)


class _Ahead:
    """Works out, in a background thread, the snapshots of the devices about to poll.

    After a change that reaches every device (a county-wide emergency) or a server start,
    each of the next minute's polls would work its snapshot out in the request; instead
    this thread does it a few seconds before each device is due (its last poll plus its
    poll interval), so the poll finds it made. Once per device and change count, and the
    bytes only when the version is not the one the device already has: the snapshots stay
    within the cache. One per database; it ends when no device has polled for ten minutes.
    """

    AHEAD_S = 10.0
    LATE_S = 5.0
    IDLE_S = 600.0

    def __init__(self) -> None:
        # device id → (its last schedule poll, its card, the version it has)
        self.polled: dict[int, tuple[float, DeviceCard, str]] = {}
        self.prepared: dict[int, int] = {}  # device id → the change count last prepared for
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def note(self, db: Database, device: DeviceCard, version: str) -> None:
        """Remember the poll and the version the device now has; start the thread if need be."""
        self.polled[device.id] = (time.monotonic(), device, version)
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, args=(weakref.ref(db),), name="kuanyue-ahead", daemon=True
                )
                self.thread.start()

    def _run(self, database: weakref.ref[Database]) -> None:
        every = float(SETTINGS["schedule_poll_s"])
        while True:
            time.sleep(0.5)
            clock = time.monotonic()
            polls = list(self.polled.values())
            db = database()
            if db is None or not polls or clock - max(p[0] for p in polls) > self.IDLE_S:
                return
            count = db.changes.current()
            due = sorted(
                (polled + every, card.id, card, has)
                for polled, card, has in polls
                if clock - self.LATE_S < polled + every <= clock + self.AHEAD_S
                and self.prepared.get(card.id) != count
            )
            for _, _, card, has in due:
                try:
                    now = datetime.now(UTC)
                    if _current(db, card, now)[2] != has:
                        schedule_snapshot(db, card, now)
                    self.prepared[card.id] = count
                except Exception:  # noqa: BLE001 - the device's own poll will say what is wrong
                    logging.getLogger(__name__).exception("snapshot ahead of device %s", card.id)
            del db


_aheads: weakref.WeakKeyDictionary[Database, _Ahead] = weakref.WeakKeyDictionary()


def _device_rules(
    db: Database, count: int, device: DeviceCard, start: datetime
) -> tuple[DeviceRules, str]:
    """The device's rules for the local days of the snapshot from `start`, and their version;
    kept while the count stands, so the next hour's snapshot only works the timeline out."""
    days = local_days(device.tz, start, start + HORIZON)
    return db.changes.cache("device rules", 20_000).get_or_make(
        count, (device.id, days), lambda: _rules(db, count, device, days)
    )


def _rules(
    db: Database, count: int, device: DeviceCard, days: tuple[date, date]
) -> tuple[DeviceRules, str]:
    with _building, db.session() as session:
        found = load_device_rules(session, str(device.id), days, memo=rules_memo(db, count))
    return found, rules_version(found.device, found.schedules)


def item_bodies(
    session: Session,
    device: DeviceCard,
    rules: DeviceRules,
    items: list[TimelineItem],
    memo: dict[tuple, Any],
) -> list[dict[str, Any]]:
    """The timeline items as the API sends them (a snapshot's, or an emergency poll's)."""
    # A snapshot holds ~550 items, and this loop was half a cold snapshot's cost: what
    # repeats (a file's part, a schedule's reason) is made once per snapshot.
    zone = ZoneInfo(device.tz)
    files = _files(session, {i.media.sha256 for i in items if i.media}, memo)
    screen = device.kind == "screen"
    media_parts: dict[str, tuple[dict[str, Any], str | None, str]] = {}
    reasons: dict[tuple, str] = {}
    times: dict[datetime, str] = {}  # an item mostly starts when the one before it ended

    def local(moment: datetime) -> str:
        text = times.get(moment)
        if text is None:
            text = times[moment] = moment.astimezone(zone).isoformat(timespec="milliseconds")
        return text

    out = []
    for item in items:
        media = item.media
        why_key = (item.schedule_id, item.layer, item.match, item.rule)
        why = reasons.get(why_key)
        if why is None:
            why = reasons[why_key] = item.why
        entry: dict[str, Any] = {
            "id": _item_id(item),
            "start": local(item.start),
            "end": local(item.end),
            "layer": item.layer.name.lower(),
            "kind": media.kind if media else "silence",
            "title": "静音 / silence",
            "why": why,
            "cut": item.cut,
            "media": None,
            "vtt": None,
        }
        if media is not None:
            part = media_parts.get(media.sha256)
            if part is None:
                mime, vtt = files.get(media.sha256, ("application/octet-stream", None))
                body = {
                    "url": f"/api/v1/media/{media.sha256}",
                    "sha256": media.sha256,
                    "bytes": media.size,
                    "duration_s": round(media.duration_s, 3),
                    "mime": mime,
                }
                vtt_url = f"/api/v1/media/{vtt}" if vtt is not None and screen else None
                part = media_parts[media.sha256] = (
                    body,
                    vtt_url,
                    rules.labels.get(media.sha256, ""),
                )
            entry["media"], entry["vtt"], entry["title"] = part
        out.append(entry)
    return out


def _files(
    session: Session, shas: set[str], memo: dict[tuple, Any]
) -> dict[str, tuple[str, str | None]]:
    """sha256 → (mime, sha256 of the WebVTT subtitles made with it, if any)."""
    out: dict[str, tuple[str, str | None]] = {}
    for sha in shas:
        if (kept := memo.get(("file", sha))) is not None:
            out[sha] = kept
    wanted = shas - out.keys()
    if wanted:
        for sha, found in _read_files(session, wanted).items():
            out[sha] = memo[("file", sha)] = found
    return out


def _read_files(session: Session, shas: set[str]) -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    clauses = select(lib.SegmentFile).where(lib.SegmentFile.sha256.in_(shas))
    for clause_file in session.scalars(clauses):
        subtitles = clause_file.segment.file("subtitles-vtt")
        out[clause_file.sha256] = (clause_file.mime, subtitles.sha256 if subtitles else None)
    calls = select(AnnouncementFile).where(AnnouncementFile.sha256.in_(shas))
    for call_file in session.scalars(calls):
        card = call_file.announcement.file("subtitles-vtt")
        out.setdefault(call_file.sha256, (call_file.mime, card.sha256 if card else None))
    for model in (lib.MediaFile, lib.ReelFile):
        for sha, mime in session.execute(
            select(model.sha256, model.mime).where(model.sha256.in_(shas))
        ):
            out.setdefault(sha, (mime, None))
    return out


def _item_id(item: TimelineItem) -> str:
    """Stable across polls: the same play of the same thing at the same time."""
    what = item.media.sha256 if item.media else "silence"
    text = f"{item.schedule_id}|{item.start.timestamp():.3f}|{what}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]
