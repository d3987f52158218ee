#!/usr/bin/env python3
"""Kuanyue loudspeaker player: plays a village's schedule from a local cache, offline first.

One file, Python standard library only, Python 3.9 or newer, for an old Raspberry Pi or a
mini PC beside the amplifier. It speaks the device API v1 (see the README, "Loudspeakers,
screens and streams"):

* polls ``/api/v1/device/schedule`` with ``If-None-Match`` and keeps the snapshot on disk
  (written atomically), so a restart with the server unreachable still plays;
* downloads the next hours' media ahead with HTTP Range resume on a ``.part`` file, checks
  the sha256 and renames only a verified file into the cache: nothing else is ever played;
* plays by the wall clock, starting each item's file at its start and stopping it at its
  end; an item missed while the player was down starts at its offset if enough of it is left
  and the play command takes ``{offset}``, else it is logged ``skipped``;
* polls ``/api/v1/device/emergency`` every few seconds and interrupts the current play,
  then fetches the schedule at once: the server plans the interrupted item again after it;
* plays a local folder in a loop when nothing is scheduled;
* records every play in a local SQLite queue and deletes a record only once the server has
  acknowledged its id, so every play log arrives exactly once;
* sends heartbeats and warns when its clock is off the server's.

Three threads share one ``State``: the player loop (the main thread, short sleeps), the
sync loop (schedule, downloads, play logs, heartbeat) and the emergency poll. Network errors
never stop a loop; they back off exponentially up to a cap.

Usage: ``kuanyue_player.py --config /etc/kuanyue-player.ini`` (``--once`` syncs once and
exits; ``--check`` validates the config). Written for 3.9: no ``match``, no runtime ``X | Y``.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import hashlib
import json
import logging
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

PLAYER_VERSION = "kuanyue-player 1.0"
DEFAULT_CONFIG = "/etc/kuanyue-player.ini"
DEFAULT_COMMAND = "ffplay -nodisp -autoexit -loglevel error {file}"
AUDIO_SUFFIXES = (".mp3", ".wav", ".ogg", ".opus", ".flac", ".m4a", ".aac")
MIME_SUFFIX = {
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/flac": ".flac",
    "audio/mp4": ".m4a",
    "audio/aac": ".aac",
}
CACHED_NAME = re.compile(r"^([0-9a-f]{64})\.[a-z0-9]+$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
NETWORK_ERRORS = (urllib.error.URLError, OSError, ValueError)  # HTTPError is a URLError

log = logging.getLogger("kuanyue-player")


# --- configuration -------------------------------------------------------------------------


@dataclass
class Config:
    """The player's settings, read from an INI file (see deploy/kuanyue-player.ini.example)."""

    server: str
    credential: str
    cache_dir: Path
    state_dir: Path
    cache_mb: float = 500.0
    ahead_h: float = 6.0
    command: str = DEFAULT_COMMAND
    fallback_dir: Path | None = None
    min_remaining_s: float = 5.0
    schedule_poll_s: float = 60.0
    emergency_poll_s: float = 10.0
    heartbeat_s: float = 300.0
    plays_s: float = 30.0
    backoff_max_s: float = 300.0
    clock_warn_s: float = 5.0
    timeout_s: float = 20.0
    stop_grace_s: float = 2.0

    @property
    def supports_offset(self) -> bool:
        """A command without ``{offset}`` cannot start mid-file: late items are skipped."""
        return "{offset}" in self.command


def load_config(path: str) -> Config:
    """Read and validate the INI file; raise SystemExit with a clear message when it is wrong."""
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path, encoding="utf-8"):
        raise SystemExit(f"kuanyue-player: cannot read the config file {path}")

    def get(section: str, key: str, default: str | None = None) -> str:
        value = parser.get(section, key, fallback=default)
        if value is None or value.strip() == "":
            raise SystemExit(f"kuanyue-player: {path}: [{section}] {key} is required")
        return value.strip()

    def number(section: str, key: str, default: float) -> float:
        try:
            return float(parser.get(section, key, fallback=str(default)))
        except ValueError:
            raise SystemExit(
                f"kuanyue-player: {path}: [{section}] {key} must be a number"
            ) from None

    fallback = parser.get("player", "fallback_folder", fallback="").strip()
    config = Config(
        server=get("server", "url").rstrip("/"),
        credential=get("server", "credential"),
        timeout_s=number("server", "timeout_s", 20.0),
        cache_dir=Path(get("cache", "folder", "/var/cache/kuanyue-player")),
        cache_mb=number("cache", "cache_mb", 500.0),
        ahead_h=number("cache", "ahead_h", 6.0),
        state_dir=Path(get("player", "state_folder", "/var/lib/kuanyue-player")),
        command=get("player", "command", DEFAULT_COMMAND),
        fallback_dir=Path(fallback) if fallback else None,
        min_remaining_s=number("player", "min_remaining_s", 5.0),
        stop_grace_s=number("player", "stop_grace_s", 2.0),
        schedule_poll_s=number("poll", "schedule_s", 60.0),
        emergency_poll_s=number("poll", "emergency_s", 10.0),
        heartbeat_s=number("poll", "heartbeat_s", 300.0),
        plays_s=number("poll", "plays_s", 30.0),
        backoff_max_s=number("poll", "backoff_max_s", 300.0),
        clock_warn_s=number("poll", "clock_warn_s", 5.0),
    )
    if "." not in config.credential:
        raise SystemExit(f"kuanyue-player: {path}: the credential must look like <id>.<token>")
    if "{file}" not in config.command:
        raise SystemExit(f"kuanyue-player: {path}: the play command must contain {{file}}")
    return config


# --- time ----------------------------------------------------------------------------------


def parse_time(text: str) -> float:
    """An RFC 3339 time (with offset or Z) as POSIX seconds; 3.9's fromisoformat needs help."""
    text = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d:\d\d)$", text)
    if match:  # fromisoformat before 3.11 takes only 3 or 6 fraction digits
        fraction = (match.group(2) or ".0")[1:]
        text = f"{match.group(1)}.{fraction[:6].ljust(6, '0')}{match.group(3)}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without an offset: {text}")
    return moment.timestamp()


def format_time(seconds: float) -> str:
    """POSIX seconds as RFC 3339 in this machine's local offset, to the millisecond."""
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="milliseconds")


# --- files ---------------------------------------------------------------------------------


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temporary name, fsync it and rename it over `path`."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    fsync_dir(path.parent)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the server ----------------------------------------------------------------------------


class Api:
    """The device API v1 over urllib, with the bearer credential."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def request(
        self,
        path: str,
        body: object = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ):  # -> http.client.HTTPResponse; the caller closes it
        # "/api/v1/…" is below the configured URL (which may have a path prefix)
        url = self.config.server + path if path.startswith("/") else path
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
        if self.same_origin(url):  # the credential never goes to another host
            request.add_header("Authorization", f"Bearer {self.config.credential}")
        request.add_header("User-Agent", PLAYER_VERSION)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        return urllib.request.urlopen(request, timeout=timeout or self.config.timeout_s)

    def same_origin(self, url: str) -> bool:
        ours, theirs = urllib.parse.urlsplit(self.config.server), urllib.parse.urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def json(self, path: str, body: object = None) -> dict:
        with self.request(path, body) as response:
            return json.loads(response.read().decode("utf-8"))


def describe_error(error: BaseException) -> str:
    """A short line for the log: an HTTP problem's title, or the network error."""
    if isinstance(error, urllib.error.HTTPError):
        try:
            problem = json.loads(error.read().decode("utf-8"))
            return f"HTTP {error.code} {problem.get('title', '')}: {problem.get('detail', '')}"
        except (ValueError, OSError):
            return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        return f"unreachable ({error.reason})"
    return f"{type(error).__name__}: {error}"


class Backoff:
    """Exponential backoff with jitter, capped; `reset()` after a success."""

    def __init__(self, base: float, cap: float) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        delay = min(self.cap, self.base * (2 ** min(self.failures, 20)))
        return delay * random.uniform(0.8, 1.0)


# --- schedule snapshot ---------------------------------------------------------------------


@dataclass
class Item:
    """One schedule item, times as POSIX seconds."""

    id: str
    start: float
    end: float
    layer: str
    title: str = ""
    sha256: str = ""
    url: str = ""
    bytes: int = 0
    duration_s: float = 0.0
    mime: str = ""

    @property
    def key(self) -> str:
        """Identifies one occurrence: the same id could come back at another time."""
        return f"{self.id}@{self.start:.3f}"

    @classmethod
    def from_json(cls, data: dict) -> Item:
        """Raises ValueError (or KeyError, TypeError) for an item that cannot be played."""
        media = data.get("media") or {}
        sha256 = str(media.get("sha256", "")).lower()
        if media and not SHA256.match(sha256):  # it names files here: no "../"
            raise ValueError(f"not a sha256: {sha256[:70]!r}")
        return cls(
            id=str(data.get("id", "")),
            start=parse_time(data["start"]),
            end=parse_time(data["end"]),
            layer=str(data.get("layer", "scheduled")),
            title=str(data.get("title", "")),
            sha256=sha256,
            url=str(media.get("url", "")),
            bytes=int(media.get("bytes") or 0),
            duration_s=float(media.get("duration_s") or 0.0),
            mime=str(media.get("mime", "")),
        )


def items_of(payload: dict) -> list[Item]:
    """The items of a schedule or emergency payload that can be read, in time order."""
    items = []
    for data in payload.get("items") or []:
        try:
            items.append(Item.from_json(data))
        except (KeyError, TypeError, ValueError) as error:
            log.warning("ignoring an unreadable item %r: %s", data.get("id"), error)
    return sorted(items, key=lambda item: item.start)


class Snapshot:
    """The last schedule the server sent, with its ETag, kept in ``state/schedule.json``."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "schedule.json"
        self.etag = ""
        self.items: list[Item] = []
        if self.path.exists():
            try:
                saved = json.loads(self.path.read_text("utf-8"))
                self.etag, self.items = saved.get("etag", ""), items_of(saved["schedule"])
                log.info("loaded the saved schedule %s (%d items)", self.etag, len(self.items))
            except (OSError, ValueError, KeyError) as error:
                log.warning("the saved schedule is unreadable, waiting for the server: %s", error)

    def refresh(self, api: Api) -> bool:
        """Fetch the schedule unless it is unchanged (304); True when a new one was saved."""
        headers = {"If-None-Match": self.etag} if self.etag else {}
        try:
            with api.request("/api/v1/device/schedule", headers=headers) as response:
                payload = json.loads(response.read().decode("utf-8"))
                etag = response.headers.get("ETag") or f'"{payload.get("version", "")}"'
        except urllib.error.HTTPError as error:
            if error.code == 304:
                return False
            raise
        items = items_of(payload)
        record = {"etag": etag, "saved_at": format_time(time.time()), "schedule": payload}
        write_atomic(self.path, json.dumps(record, ensure_ascii=False).encode("utf-8"))
        self.etag, self.items = etag, items
        log.info("schedule %s: %d items", etag, len(items))
        return True


# --- media cache ---------------------------------------------------------------------------


class Cache:
    """Verified media files named ``<sha256>.<ext>``; ``.part`` files are never played.

    The least recently used files (by modification time, touched at every play) are evicted
    beyond the size limit, those needed in the next hours last.
    """

    def __init__(self, folder: Path, limit_bytes: int) -> None:
        self.folder = folder
        self.partial = folder / "partial"
        self.partial.mkdir(parents=True, exist_ok=True)
        self.limit = limit_bytes
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path_for(self, sha256: str) -> Path | None:
        """The verified file for `sha256`, or None."""
        for path in self.folder.glob(f"{sha256}.*"):
            if CACHED_NAME.match(path.name):
                return path
        return None

    def files(self) -> list[Path]:
        return [p for p in self.folder.iterdir() if p.is_file() and CACHED_NAME.match(p.name)]

    def used_bytes(self) -> int:
        total = 0
        for path in self.files() + list(self.partial.iterdir()):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    def touch(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            os.utime(path)

    def _lock(self, sha256: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(sha256, threading.Lock())

    def fetch(self, api: Api, item: Item, stop: threading.Event | None = None) -> Path | None:
        """Download `item`'s media (resuming a ``.part``), verify it, rename it into place.

        Returns the verified path; None when stopped; raises on network or sha256 errors
        (a file with the wrong sha256 is deleted, never kept).
        """
        with self._lock(item.sha256):
            found = self.path_for(item.sha256)
            if found:
                return found
            part = self.partial / f"{item.sha256}.part"
            have = part.stat().st_size if part.exists() else 0
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                response = api.request(item.url, headers=headers)
            except urllib.error.HTTPError as error:
                if error.code != 416:
                    raise
                response = None  # the part is already whole, or longer than the file
            if response is not None:
                with response, open(part, "ab" if response.status == 206 else "wb") as handle:
                    for block in iter(lambda: response.read1(1 << 16), b""):
                        handle.write(block)
                        handle.flush()  # what arrived survives a kill -9 for the next Range
                        if stop is not None and stop.is_set():
                            return None
                    handle.flush()
                    os.fsync(handle.fileno())
            actual = sha256_of(part) if part.exists() else ""
            if actual != item.sha256:
                part.unlink(missing_ok=True)
                raise ValueError(f"sha256 mismatch for {item.sha256[:12]} (got {actual[:12]})")
            final = self.folder / f"{item.sha256}{self.suffix(item)}"
            os.replace(part, final)
            fsync_dir(self.folder)
            log.info("cached %s (%s)", final.name, item.title or item.id)
            return final

    @staticmethod
    def suffix(item: Item) -> str:
        """An extension players recognise, from the MIME type or the URL."""
        if item.mime in MIME_SUFFIX:
            return MIME_SUFFIX[item.mime]
        url_suffix = os.path.splitext(item.url)[1].lower()
        return url_suffix if url_suffix in AUDIO_SUFFIXES else ".bin"

    def evict(self, needed: dict[str, float]) -> list[str]:
        """Delete files beyond the limit: unneeded ones by age, then needed ones latest first.

        `needed` maps a sha256 to the first time it plays in the coming hours.
        """
        entries = []
        for path in self.files():
            try:
                stat = path.stat()
            except OSError:
                continue
            sha = CACHED_NAME.match(path.name).group(1)
            # unneeded first (oldest use first), then the needed that play last
            rank = (1, -needed[sha]) if sha in needed else (0, stat.st_mtime)
            entries.append((rank, path, stat.st_size))
        total = sum(size for _, _, size in entries)
        evicted = []
        for rank, path, size in sorted(entries, key=lambda entry: entry[0]):
            if total <= self.limit:
                break
            if rank[0] == 1:
                log.warning("cache full: evicting %s although it plays soon", path.name)
            path.unlink(missing_ok=True)
            total -= size
            evicted.append(path.name)
        for part in self.partial.iterdir():  # downloads nobody needs any more
            with contextlib.suppress(OSError):
                if part.stem not in needed and part.stat().st_mtime < time.time() - 3600:
                    part.unlink()
        if evicted:
            log.info("evicted %d file(s) from the cache", len(evicted))
        return evicted


# --- play log queue ------------------------------------------------------------------------


class PlayQueue:
    """Play records in SQLite (WAL) until the server acknowledges their ids.

    A row is written when a play starts (status ``playing``) and finished when it ends; a
    ``playing`` row left by a crash is finished as ``interrupted`` at the next start. Each
    thread opens its own connection.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS plays (id TEXT PRIMARY KEY, item_id TEXT, "
                "item_key TEXT, sha256 TEXT, start TEXT, end TEXT, status TEXT, detail TEXT)"
            )
            db.execute("CREATE TABLE IF NOT EXISTS done (item_key TEXT PRIMARY KEY, at REAL)")
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        db = self.connect()
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def start(self, item_id: str, item_key: str, sha256: str, start: float) -> str:
        play_id = uuid.uuid4().hex
        self._run(
            "INSERT INTO plays VALUES (?, ?, ?, ?, ?, '', 'playing', '')",
            (play_id, item_id, item_key, sha256, format_time(start)),
        )
        return play_id

    def finish(self, play_id: str, end: float, status: str, detail: str = "") -> None:
        self._run(
            "UPDATE plays SET end = ?, status = ?, detail = ? WHERE id = ?",
            (format_time(end), status, detail[:500], play_id),
        )

    def record(self, item: Item, status: str, detail: str, start: float, end: float) -> str:
        """A play that did not run (skipped, failed): one finished row."""
        play_id = self.start(item.id, item.key, item.sha256, start)
        self.finish(play_id, end, status, detail)
        self.mark_done(item.key)
        return play_id

    def recover(self, last_alive: float) -> int:
        """Finish rows a crash left ``playing`` as ``interrupted`` (the item may resume)."""
        rows = self._run("SELECT id FROM plays WHERE status = 'playing'")
        for (play_id,) in rows:
            self.finish(play_id, last_alive, "interrupted", "the player stopped during this play")
        return len(rows)

    def mark_done(self, item_key: str) -> None:
        self._run("INSERT OR REPLACE INTO done VALUES (?, ?)", (item_key, time.time()))

    def done_keys(self, since: float) -> set[str]:
        self._run("DELETE FROM done WHERE at < ?", (since - 3 * 86400,))
        return {row[0] for row in self._run("SELECT item_key FROM done")}

    def get_meta(self, name: str) -> str | None:
        rows = self._run("SELECT value FROM meta WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_meta(self, name: str, value: str) -> None:
        self._run("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def pending(self, limit: int = 500) -> list[dict]:
        rows = self._run(
            "SELECT id, item_id, sha256, start, end, status, detail FROM plays "
            "WHERE status != 'playing' ORDER BY start LIMIT ?",
            (limit,),
        )
        names = ("id", "item_id", "sha256", "start", "end", "status", "detail")
        return [{name: row[i] for i, name in enumerate(names)} for row in rows]

    def upload(self, api: Api) -> int:
        """Send finished plays in batches; delete only the ids the server acknowledged."""
        sent = 0
        while True:
            batch = self.pending()
            if not batch:
                return sent
            reply = api.json("/api/v1/device/plays", {"plays": batch})
            acknowledged = [str(i) for i in reply.get("acknowledged") or []]
            db = self.connect()
            try:
                db.executemany(
                    "DELETE FROM plays WHERE id = ? AND status != 'playing'",
                    [(i,) for i in acknowledged],
                )
            finally:
                db.close()
            sent += len(acknowledged)
            if len(acknowledged) < len(batch):
                return sent  # the rest next time


# --- shared state and the background loops -------------------------------------------------


@dataclass
class State:
    """What the threads share; `lock` guards the lists."""

    config: Config
    api: Api
    cache: Cache
    queue: PlayQueue
    snapshot: Snapshot
    emergencies: list[Item] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    # Set when an emergency starts or ends: the schedule is fetched at once, for the
    # programme's resumption the server planned after it (the interrupted item again).
    schedule_now: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failed_downloads: dict[str, float] = field(default_factory=dict)

    def schedule(self) -> list[Item]:
        with self.lock:
            return list(self.snapshot.items)

    def emergency_items(self) -> list[Item]:
        with self.lock:
            return list(self.emergencies)


def needed_media(items: list[Item], now: float, ahead_s: float) -> list[Item]:
    """Items with media playing between now and now + ahead, first needed first, one per file."""
    seen: set[str] = set()
    wanted = []
    for item in sorted(items, key=lambda i: i.start):
        if (
            item.sha256
            and item.end > now
            and item.start < now + ahead_s
            and item.sha256 not in seen
        ):
            seen.add(item.sha256)
            wanted.append(item)
    return wanted


def download_ahead(state: State) -> None:
    """Fetch the media of the coming hours, emergencies first; a failing file waits a while."""
    now = time.time()
    items = needed_media(state.emergency_items(), now, 3600) + needed_media(
        state.schedule(), now, state.config.ahead_h * 3600
    )
    for item in items:
        if state.stop.is_set():
            return
        if state.cache.path_for(item.sha256) or state.failed_downloads.get(item.sha256, 0) > now:
            continue
        try:
            state.cache.fetch(state.api, item, state.stop)
            state.failed_downloads.pop(item.sha256, None)
        except (ValueError, urllib.error.HTTPError) as error:  # wrong sha256, 404: later
            if isinstance(error, urllib.error.HTTPError) and error.code >= 500:
                raise
            log.error("download of %s failed: %s", item.title or item.id, error)
            state.failed_downloads[item.sha256] = now + min(state.config.backoff_max_s, 60)
    needed = {}
    for item in needed_media(state.schedule(), now, state.config.ahead_h * 3600):
        needed[item.sha256] = item.start
    state.cache.evict(needed)


def heartbeat(state: State) -> float:
    """Report the cache and disk; warn when the clocks differ by more than clock_warn_s."""
    free = shutil.disk_usage(str(state.cache.folder)).free
    reply = state.api.json(
        "/api/v1/device/heartbeat",
        {
            "cache_bytes": state.cache.used_bytes(),
            "free_bytes": free,
            "player_version": PLAYER_VERSION,
            "clock": format_time(time.time()),
        },
    )
    offset = float(reply.get("clock_offset_s") or 0.0)
    if abs(offset) > state.config.clock_warn_s:
        log.warning(
            "this clock is %+.1f s off the server's (more than %.0f s): check NTP (timedatectl)",
            offset,
            state.config.clock_warn_s,
        )
    return offset


def retry_after(error: BaseException) -> float:
    """The seconds a 429 or 503 asks to wait (Retry-After), else 0."""
    if isinstance(error, urllib.error.HTTPError) and error.code in (429, 503):
        value = (error.headers or {}).get("Retry-After", "")
        if value.strip().isdigit():
            return float(value)
    return 0.0


def sync_loop(state: State, once: bool = False) -> None:
    """Schedule, media, play logs and heartbeat, each when due, each backing off on its own.

    A new schedule makes the media task due at once; an emergency starting or ending makes
    the schedule due at once (state.schedule_now). Nothing raised here stops the loop.
    """
    config = state.config
    due = {"schedule": 0.0, "media": 0.0, "plays": 0.0, "heartbeat": 0.0}

    def refresh_schedule() -> None:
        if state.snapshot.refresh(state.api):
            due["media"] = 0.0

    def upload_plays() -> None:
        sent = state.queue.upload(state.api)
        if sent:
            log.info("uploaded %d play log(s)", sent)

    tasks = [
        ("schedule", refresh_schedule, config.schedule_poll_s),
        ("media", lambda: download_ahead(state), min(config.schedule_poll_s, 60.0)),
        ("plays", upload_plays, config.plays_s),
        ("heartbeat", lambda: heartbeat(state), config.heartbeat_s),
    ]
    backoffs = {name: Backoff(1.0, config.backoff_max_s) for name in due}
    while not state.stop.is_set():
        if state.schedule_now.is_set():
            state.schedule_now.clear()
            due["schedule"] = 0.0
        for name, task, every in tasks:
            if state.stop.is_set() or time.time() < due[name]:
                continue
            try:
                task()
                backoffs[name].reset()
                due[name] = time.time() + every
            except NETWORK_ERRORS as error:
                delay = max(backoffs[name].next_delay(), retry_after(error))
                due[name] = time.time() + delay
                log.warning("%s: %s; retrying in %.0f s", name, describe_error(error), delay)
            except Exception:  # a bug or an odd reply must not end the sync for good
                log.exception("%s failed", name)
                due[name] = time.time() + backoffs[name].next_delay()
        if once:
            return
        state.stop.wait(min(1.0, max(0.1, min(due.values()) - time.time())))


def emergency_loop(state: State) -> None:
    """Poll the emergency endpoint; keep the last known items while the server is away."""
    backoff = Backoff(state.config.emergency_poll_s, max(60.0, state.config.emergency_poll_s))
    while not state.stop.is_set():
        delay = state.config.emergency_poll_s
        try:
            reply = state.api.json("/api/v1/device/emergency")
            items = items_of(reply) if reply.get("active") else []
            with state.lock:
                changed = [i.key for i in items] != [i.key for i in state.emergencies]
                state.emergencies = items
            if changed:
                log.warning("emergency: %d item(s) now", len(items))
                state.schedule_now.set()
            for item in items:
                if item.sha256 and not state.cache.path_for(item.sha256):
                    state.cache.fetch(state.api, item, state.stop)
            backoff.reset()
        except NETWORK_ERRORS as error:
            delay = max(backoff.next_delay(), retry_after(error))
            log.warning("emergency poll: %s", describe_error(error))
        except Exception:
            log.exception("emergency poll failed")
            delay = backoff.next_delay()
        state.stop.wait(delay)


# --- playing -------------------------------------------------------------------------------


def play_argv(command: str, path: Path, offset: float) -> list[str]:
    """The play command as an argument list, ``{file}`` and ``{offset}`` filled in."""
    return [
        arg.replace("{file}", str(path)).replace("{offset}", f"{offset:.3f}")
        for arg in shlex.split(command)
    ]


def start_decision(item: Item, now: float, config: Config) -> tuple[str, float]:
    """Whether to play an item now: ("play", offset) or ("skip", 0) with the reason in the log.

    On time (within a second of its start) it plays from the beginning. Later, it plays from
    its offset if the command takes {offset} and at least min_remaining_s is left, else skips.
    Emergencies always play from their beginning: a warning must not lose its first words.
    """
    late = now - item.start
    if late <= 1.0 or item.layer == "emergency":
        return "play", 0.0
    remaining = item.end - now
    if item.duration_s:
        remaining = min(remaining, item.start + item.duration_s - now)
    if config.supports_offset and remaining >= config.min_remaining_s:
        return "play", late
    return "skip", 0.0


@dataclass
class Playing:
    """The child player now running."""

    process: subprocess.Popen
    play_id: str
    end: float
    item: Item | None  # None for the fallback folder
    label: str


class Player:
    """The main loop: decides what should sound now and starts or stops the child player."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.config = state.config
        self.current: Playing | None = None
        self.fallback_index = 0
        self.fallback_paused_until = 0.0
        self.booted = time.time()
        last_alive = state.queue.get_meta("alive_at")
        self.since = float(last_alive) if last_alive else self.booted
        self.done = state.queue.done_keys(self.booted)
        self.waiting: set[str] = set()  # items whose file was missing at their start
        recovered = state.queue.recover(self.since)
        if recovered:
            log.warning("%d play(s) cut short by the last stop recorded as interrupted", recovered)

    def due_item(self, now: float) -> Item | None:
        """The item that covers now and has not been played: an emergency first."""
        playing = self.current.item.key if self.current and self.current.item else None
        for item in self.state.emergency_items() + self.state.schedule():
            fresh = item.key not in self.done or item.key == playing
            allowed = item.layer == "emergency" or not self._under_emergency(now)
            if item.start <= now < item.end and fresh and allowed:
                return item
        return None

    def _under_emergency(self, now: float) -> bool:
        return any(i.start <= now < i.end for i in self.state.emergency_items())

    def _in_any_item(self, now: float) -> bool:
        """Silence items and items already played keep the fallback folder quiet."""
        return any(i.start <= now < i.end for i in self.state.schedule())

    def mark_done(self, item: Item) -> None:
        self.done.add(item.key)
        self.state.queue.mark_done(item.key)

    def tick(self) -> None:
        """One step: stop what must stop, start what must start."""
        now = time.time()
        self.log_missed(now)
        want = self.due_item(now)
        current = self.current
        if current is not None:
            if current.item is None:
                same = want is None
            else:
                same = want is not None and want.key == current.item.key
            if current.process.poll() is not None:
                self.finish(now, "completed")
            elif now >= current.end:  # an item's (cut) end, or the fallback's next item
                status = "completed" if current.item else "interrupted"
                self.finish(now, status, "stopped at its end")
            elif not same and want is not None and want.sha256:
                self.finish(now, "interrupted", f"interrupted by {want.layer} {want.id}")
            else:  # a pause (or nothing) does not cut a play short: it ends at its end
                if want is not None and not want.sha256 and want.key not in self.done:
                    self.mark_done(want)
                return
            want = self.due_item(now)  # the finished item is done now
        if want is not None:
            self.start_item(want, now)
        elif not self._in_any_item(now):
            self.start_fallback(now)

    def log_missed(self, now: float) -> None:
        """Items that ended unplayed since the player was last alive (down, emergency, no file)."""
        playing = self.current.item.key if self.current and self.current.item else None
        for item in self.state.schedule():
            missed = item.key not in self.done and item.key != playing
            if item.end <= now and item.end > self.since and missed:
                if item.sha256:
                    if item.key in self.waiting:
                        status, reason = "failed", "media not in the cache at its time"
                    elif item.start < self.booted:
                        status, reason = "skipped", "the player was not running"
                    else:
                        status, reason = "skipped", "an emergency played instead"
                    log.info("%s %s: %s", status, item.title or item.id, reason)
                    self.state.queue.record(item, status, reason, item.start, item.end)
                self.mark_done(item)

    def start_item(self, item: Item, now: float) -> None:
        """Start an item's file, at its offset when late; wait while it is not cached."""
        if not item.sha256:  # silence: nothing to run, just wait
            self.mark_done(item)
            return
        path = self.state.cache.path_for(item.sha256)
        if path is None:  # perhaps still downloading: keep trying until the item ends
            if item.key not in self.waiting:
                log.warning("not in the cache yet: %s", item.title or item.id)
                self.waiting.add(item.key)
            return
        decision, offset = start_decision(item, now, self.config)
        if decision == "skip":
            late = now - item.start
            log.info("skipped %s: started %.1f s ago", item.title or item.id, late)
            self.state.queue.record(item, "skipped", f"started {late:.1f} s ago", now, now)
            self.mark_done(item)
            return
        end = item.end
        if item.layer == "emergency" and now > item.start:  # heard late, but heard whole
            end = max(end, now + (item.end - item.start) + 1.0)  # + the player's start-up
        self.spawn(path, offset, end, item, item.title or item.id, item.sha256)

    def start_fallback(self, now: float) -> None:
        folder = self.config.fallback_dir
        if folder is None or not folder.is_dir() or now < self.fallback_paused_until:
            return
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            return
        path = files[self.fallback_index % len(files)]
        self.fallback_index += 1
        upcoming = [i.start for i in self.state.schedule() if i.start > now]
        end = min(upcoming) if upcoming else now + 86400
        self.spawn(path, 0.0, end, None, f"fallback {path.name}", "")

    def spawn(
        self, path: Path, offset: float, end: float, item: Item | None, label: str, sha: str
    ) -> None:
        argv = play_argv(self.config.command, path, offset)
        now = time.time()
        play_id = self.state.queue.start(
            item.id if item else "", item.key if item else "", sha, now
        )
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        except OSError as error:
            log.error("cannot run the play command %s: %s", argv[0], error)
            self.state.queue.finish(play_id, now, "failed", f"play command: {error}")
            if item is not None:
                self.mark_done(item)
            return
        self.state.cache.touch(path)
        at = f" at {offset:.1f} s" if offset else ""
        log.info("playing %s%s until %s", label, at, format_time(end))
        self.current = Playing(process, play_id, end, item, label)

    def finish(self, now: float, status: str, detail: str = "") -> None:
        """Stop the child if it still runs (terminate, then kill) and record the play."""
        current = self.current
        if current is None:
            return
        self.current = None
        process = current.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(self.config.stop_grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if status == "completed" and process.returncode not in (0, None, -15, -9) and not detail:
            status, detail = "failed", f"play command exited with {process.returncode}"
        self.state.queue.finish(current.play_id, now, status, detail)
        if current.item is not None:
            self.mark_done(current.item)
        elif status == "failed":  # a folder of files the command cannot play: not in a loop
            self.fallback_paused_until = now + 30
        log.info("%s %s", status, current.label)

    def run(self) -> None:
        """Tick every 0.1 s until stopped; then stop the child and record it."""
        last_alive = 0.0
        while not self.state.stop.is_set():
            try:
                self.tick()
            except (OSError, sqlite3.Error) as error:  # a full disk must not stop the music
                log.error("player loop: %s", error)
                self.state.stop.wait(1.0)
            except Exception:  # nor a bug: log it, keep the loop (systemd restarts a crash)
                log.exception("player loop")
                self.state.stop.wait(1.0)
            now = time.time()
            if now - last_alive > 5:
                self.state.queue.set_meta("alive_at", repr(now))
                last_alive = now
            self.state.stop.wait(0.1)
        self.finish(time.time(), "interrupted", "the player was stopped")
        self.state.queue.set_meta("alive_at", repr(time.time()))


# --- main ----------------------------------------------------------------------------------


def build_state(config: Config) -> State:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    api = Api(config)
    return State(
        config=config,
        api=api,
        cache=Cache(config.cache_dir, int(config.cache_mb * 1024 * 1024)),
        queue=PlayQueue(config.state_dir / "plays.sqlite3"),
        snapshot=Snapshot(config.state_dir),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="the INI file")
    parser.add_argument("--once", action="store_true", help="sync once (schedule, media, logs)")
    parser.add_argument("--check", action="store_true", help="validate the config and exit")
    parser.add_argument("--verbose", action="store_true", help="log debug messages")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    config = load_config(args.config)
    if args.check:
        print(f"{args.config}: ok ({config.server})")
        return 0
    state = build_state(config)
    if args.once:
        sync_loop(state, once=True)
        return 0

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        state.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("%s for %s, cache %s", PLAYER_VERSION, config.server, config.cache_dir)
    player = Player(state)
    threads = [
        threading.Thread(target=sync_loop, args=(state,), name="sync", daemon=True),
        threading.Thread(target=emergency_loop, args=(state,), name="emergency", daemon=True),
    ]
    for thread in threads:
        thread.start()
    player.run()
    try:  # flush the queue: one last upload, briefly
        state.api.config.timeout_s = min(state.api.config.timeout_s, 5.0)
        sent = state.queue.upload(state.api)
        log.info("stopped; %d play log(s) uploaded on the way out", sent)
    except NETWORK_ERRORS as error:
        log.info("stopped; play logs stay queued (%s)", describe_error(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
