"""A village radio stream: liquidsoap + icecast2 configured from a `stream` device's timeline.

Dumb IP speakers, FM transmitters and residents' phones listen to an Icecast MP3 stream
(`http://host:port/<village>.mp3`). Nothing here streams audio: as AzuraCast and LibreTime
do, we write the engines' configuration and let Debian's icecast2 2.4 and liquidsoap 2.1 run
it. Each `stream` device gets one liquidsoap script; its `request.dynamic` source asks
`kuanyue stream next DEVICE --at T` what to play at the instant T (`next_answer` here),
from the same timeline a loudspeaker plays, and falls back to an optional folder and then to
silence, so the stream never stops.

The question-and-answer protocol (`next_answer`): the command prints one line with a Unix
time, then, if something plays, one line with a liquidsoap request URI:
- `END` and `annotate:title="…",liq_cue_in="12.3",liq_cue_out="40.0":/store/ab/ab….mp3`: play
  this file from `liq_cue_in` seconds (the stream started mid-item) to `liq_cue_out` (the
  timeline cut the item); the next question is about instant END, the item's end.
- `WAKE` alone: nothing plays at T (no item covers it, it is a pause, or its file is missing
  from the store): silence, and do not ask again before WAKE (the next item's start, and at
  most a minute away, so a new announcement is heard within a minute).

Why the script asks about the end of the current item rather than "now": liquidsoap fetches
the next request as soon as a track starts (`prefetch`), so "now" would be the current item
again. Limits, said in docs/STREAM.md: an announcement made while an item plays is heard
when that item ends (at most a minute after when nothing plays), not cut in mid-item; and
the stream runs a few seconds behind the loudspeakers (encoder and listener buffers).
"""

from __future__ import annotations

import math
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import time as clock
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import models as lib
from ..db import Database
from ..errors import LibraryError
from ..store import MediaStore
from .device_rules import load_device_rules
from .models import AnnouncementFile, Device

LOOK_AHEAD = timedelta(minutes=10)  # how far past T the timeline is read for the next start
MAX_WAIT_S = 60.0  # ask again at least this often when nothing plays
MIN_LEFT_S = 0.25  # an item with less left than this at T is over
SNAP_S = 8.0  # begun less than this before T (a question takes seconds): from its top, gong whole


class StreamError(LibraryError):
    """A stream that cannot be configured or started: no stream device, a missing engine."""


@dataclass(frozen=True)
class StreamItem:
    """What a stream device plays at an instant: a stored file, from `skip_s` seconds in."""

    path: Path
    skip_s: float
    title: str
    start: datetime  # the timeline item's true start and end
    end: datetime
    cue_out_s: float | None  # where the timeline cuts the file, None: played to its end


def stored_file(session: Session, sha256: str) -> lib.StoredFile | None:
    """The stored file row with these bytes, whichever kind of file it is (clause segment,
    recording copy, announcement, reel); the bytes are the same whichever row names them."""
    for model in (lib.SegmentFile, lib.MediaFile, AnnouncementFile, lib.ReelFile):
        row = session.scalar(select(model).where(model.sha256 == sha256).limit(1))
        if row is not None:
            return cast(lib.StoredFile, row)
    return None


def next_item(db: Database, store: MediaStore, device_ref: str, now: datetime) -> StreamItem | None:
    """What device `device_ref` plays at `now`, from its timeline; None when nothing does
    (no item covers `now`, it is a pause, or its file is missing from the store)."""
    return _look(db, store, device_ref, now)[0]


def next_answer(db: Database, store: MediaStore, device_ref: str, at: datetime) -> list[str]:
    """The lines `kuanyue stream next` prints for liquidsoap (see the module's docstring)."""
    item, wake = _look(db, store, device_ref, at)
    if item is None:
        return [_unix(wake)]
    notes = [f"title={_liq_string(item.title)}"]
    if item.skip_s > 0:
        notes.append(f'liq_cue_in="{item.skip_s:.3f}"')
    if item.cue_out_s is not None:
        notes.append(f'liq_cue_out="{item.cue_out_s:.3f}"')
    return [_unix(item.end), f"annotate:{','.join(notes)}:{item.path}"]


def _look(
    db: Database, store: MediaStore, device_ref: str, now: datetime
) -> tuple[StreamItem | None, datetime]:
    """(the item playing at `now` or None, when to ask again if None)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    with db.session() as session:
        found = load_device_rules(session, device_ref)
        items = found.timeline(now - timedelta(seconds=1), now + LOOK_AHEAD)
        wake = now + timedelta(seconds=MAX_WAIT_S)
        for item in items:
            if item.end <= now + timedelta(seconds=MIN_LEFT_S):
                continue  # over, or as good as over
            if item.start > now:
                if item.media is not None:
                    wake = min(wake, item.start)
                    break
                continue
            if item.media is None:
                continue  # a pause: silence until the next item
            row = stored_file(session, item.media.sha256)
            path = store.path(row.store_path) if row is not None else None
            if path is None or not path.is_file():
                continue  # gone from the store: silence in its place, not a stop
            skip = (now - item.start).total_seconds()
            length = (item.end - item.start).total_seconds()
            title = found.labels.get(item.media.sha256, item.media.sha256[:12])
            return (
                StreamItem(
                    path=path,
                    skip_s=0.0 if skip < SNAP_S else skip,
                    title=title,
                    start=item.start,
                    end=item.end,
                    cue_out_s=length if item.cut else None,
                ),
                item.end,
            )
    return None, wake


def _unix(moment: datetime) -> str:
    """A Unix time in seconds, rounded up to the millisecond (never inside the item before)."""
    return f"{math.ceil(moment.timestamp() * 1000) / 1000:.3f}"


def _liq_string(text: str) -> str:
    """`text` as a double-quoted liquidsoap string (annotate values, script literals)."""
    text = " ".join(text.split())  # no newlines: the protocol is one line per answer
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamMount:
    """One stream device and the Icecast mount it is heard at."""

    device_id: int
    device: str  # its name
    village: str
    mount: str  # "/rongxicun.mp3"


@dataclass(frozen=True)
class StreamConfig:
    """The files `write_stream_config` wrote and what the servers listen on."""

    out_dir: Path
    icecast_xml: Path
    scripts: dict[str, Path]  # mount → its liquidsoap script
    host: str
    port: int
    mounts: tuple[StreamMount, ...]

    def url(self, mount: StreamMount) -> str:
        """Where listeners hear a mount."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{mount.mount}"


def stream_mounts(db: Database) -> list[StreamMount]:
    """Every enabled `stream` device, each with its mount: the village's slug, or the slug
    and the device id when another stream device would have the same one."""
    from ..covenants.versions import slugify

    with db.session() as session:
        rows = session.scalars(
            select(Device).where(Device.kind == "stream", Device.enabled).order_by(Device.id)
        ).all()
        found = [(d.id, d.name, d.village.name, slugify(d.village.name)) for d in rows]
    counts: dict[str, int] = {}
    for *_, slug in found:
        counts[slug] = counts.get(slug, 0) + 1
    return [
        StreamMount(i, name, village, f"/{slug if counts[slug] == 1 else f'{slug}-{i}'}.mp3")
        for i, name, village, slug in found
    ]


def write_stream_config(
    out_dir: Path,
    *,
    host: str,
    port: int,
    mounts: Sequence[StreamMount],
    next_command: Sequence[str],
    env: Mapping[str, str] | None = None,
    fallback_dir: Path | None = None,
    as_root: bool | None = None,
    webroot: Path = Path("/usr/share/icecast2"),
) -> StreamConfig:
    """Write `icecast.xml` and one liquidsoap script per mount into `out_dir` (mode 700, the
    files 600): new random passwords each time, kept only there.

    `next_command` is the argv that answers "what plays now" (`kuanyue stream next`), run by
    liquidsoap through a shell with `env` set in front of it and the device id and `--at T`
    after it. `as_root` (default: whether we are root) adds what root needs: icecast2 drops
    to user nobody (`<changeowner>`), liquidsoap is allowed to run. Icecast logs to its
    standard error (`-`), which `StreamServers` keeps in `out_dir`: after dropping to nobody
    it could not open a file in a folder only root may enter.
    """
    if not mounts:
        raise StreamError(
            "没有流设备：先用 kuanyue device add 名称 --village 村名 --kind stream 添加 / no stream"
            " devices: add one with kuanyue device add NAME --village VILLAGE --kind stream"
        )
    as_root = os.geteuid() == 0 if as_root is None else as_root
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_dir.chmod(0o700)
    passwords = {m.mount: secrets.token_urlsafe(18) for m in mounts}
    xml = icecast_xml(
        host=host,
        port=port,
        out_dir=out_dir,
        passwords=passwords,
        admin_password=secrets.token_urlsafe(18),
        as_root=as_root,
        webroot=webroot,
    )
    icecast_path = _write_private(out_dir / "icecast.xml", xml)
    command = " ".join(
        [*(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items()), shlex.join(next_command)]
    )
    scripts = {}
    for mount in mounts:
        text = liquidsoap_script(
            mount,
            host=host,
            port=port,
            password=passwords[mount.mount],
            next_command=f"{command} {mount.device_id}",
            fallback_dir=fallback_dir,
            as_root=as_root,
        )
        name = f"{mount.mount.strip('/').removesuffix('.mp3')}.liq"
        scripts[mount.mount] = _write_private(out_dir / name, text)
    return StreamConfig(out_dir, icecast_path, scripts, host, port, tuple(mounts))


def _write_private(path: Path, text: str) -> Path:
    """Write `text` to `path`, readable by its owner only (it holds passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    path.chmod(0o600)  # an older file kept its mode through O_TRUNC
    return path


def icecast_xml(
    *,
    host: str,
    port: int,
    out_dir: Path,
    passwords: Mapping[str, str],
    admin_password: str,
    as_root: bool,
    webroot: Path = Path("/usr/share/icecast2"),
) -> str:
    """An icecast2 2.4 configuration: one listen socket on host:port, one mount per stream
    with its own source password, logs on standard error, the pid file in `out_dir`."""
    mounts = "".join(
        f"""
  <mount type="normal">
    <mount-name>{escape(mount)}</mount-name>
    <username>source</username>
    <password>{escape(password)}</password>
    <charset>UTF-8</charset>
  </mount>"""
        for mount, password in passwords.items()
    )
    owner = (
        "\n    <changeowner><user>nobody</user><group>nogroup</group></changeowner>"
        if as_root
        else ""
    )
    return f"""<!-- Written by `kuanyue stream config`; written again (new passwords) each time. -->
<icecast>
  <location>Kuanyue</location>
  <admin>kuanyue@localhost</admin>
  <limits>
    <clients>200</clients>
    <sources>{len(passwords) + 2}</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>16384</burst-size>
  </limits>
  <authentication>
    <source-password>{secrets.token_urlsafe(18)}</source-password>
    <relay-password>{secrets.token_urlsafe(18)}</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>{escape(admin_password)}</admin-password>
  </authentication>
  <hostname>{escape(host)}</hostname>
  <listen-socket>
    <port>{int(port)}</port>
    <bind-address>{escape(host)}</bind-address>
  </listen-socket>{mounts}
  <fileserve>1</fileserve>
  <paths>
    <basedir>{escape(str(webroot))}</basedir>
    <logdir>{escape(str(out_dir))}</logdir>
    <webroot>{escape(str(webroot / "web"))}</webroot>
    <adminroot>{escape(str(webroot / "admin"))}</adminroot>
    <pidfile>{escape(str(out_dir / "icecast.pid"))}</pidfile>
  </paths>
  <logging>
    <accesslog>-</accesslog>
    <errorlog>-</errorlog>
    <loglevel>3</loglevel>
  </logging>
  <security>
    <chroot>0</chroot>{owner}
  </security>
</icecast>
"""


def liquidsoap_script(
    mount: StreamMount,
    *,
    host: str,
    port: int,
    password: str,
    next_command: str,
    fallback_dir: Path | None = None,
    as_root: bool = False,
) -> str:
    """A liquidsoap 2.1 script for one stream device (see the module's docstring)."""
    root = "settings.init.allow_root.set(true)  # CI and small servers run as root\n"
    rotation = (
        f'rotation = playlist(mode="randomize", reload_mode="watch", {_liq_string(str(fallback_dir))})\n'
        if fallback_dir is not None
        else ""
    )
    sources = (
        "[scheduled, rotation, blank()]" if fallback_dir is not None else "[scheduled, blank()]"
    )
    return f"""# {mount.village} {mount.device} (device {mount.device_id}) → {mount.mount}
# Written by `kuanyue stream config`; written again (new password) each time.
{root if as_root else ""}settings.log.file.set(false)
settings.log.stdout.set(true)
settings.log.level.set(3)

# Asks `kuanyue stream next` what plays at an instant; see library/broadcast/stream.py.
next_command = {_liq_string(next_command)}
ask_at = ref(0.)  # the instant the next question is about: the end of the item queued
wait_until = ref(0.)  # nothing plays before this: do not ask again till then

def next_request() =
  now = time()
  if now < !wait_until then
    null()
  else
    at = if now > !ask_at then now else !ask_at end
    lines = process.read.lines(timeout=20., "#{{next_command}} --at #{{string_of_float(decimal_places=3, at)}}")
    if list.length(lines) >= 2 then
      ask_at := float_of_string(default=now, list.nth(lines, 0))
      wait_until := 0.
      request.create(list.nth(lines, 1))
    elsif list.length(lines) == 1 then
      wait_until := float_of_string(default=now + 10., list.nth(lines, 0))
      null()
    else
      wait_until := now + 10.  # the command failed (its error is in the log): try again soon
      null()
    end
  end
end

scheduled = cue_cut(request.dynamic(id="scheduled", retry_delay=1., next_request))
{rotation}radio = mksafe(fallback(id="radio", track_sensitive=false, {sources}))
output.icecast(
  %mp3(bitrate=64, samplerate=44100, stereo=false),
  host={_liq_string(host)},
  port={int(port)},
  password={_liq_string(password)},
  mount={_liq_string(mount.mount)},
  name={_liq_string(f"{mount.village} {mount.device}")},
  encoding="UTF-8",
  radio
)
"""


# --- running -------------------------------------------------------------------------------


class StreamServers:
    """icecast2 and one liquidsoap per mount, started from a written StreamConfig; their
    output goes to `icecast.log` and `<script>.log` in the config folder. Use as a context
    manager, or call `start()` and `stop()`."""

    def __init__(
        self,
        config: StreamConfig,
        *,
        icecast: str = "icecast2",
        liquidsoap: str = "liquidsoap",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.icecast = icecast
        self.liquidsoap = liquidsoap
        self.env = dict(os.environ if env is None else env)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> StreamServers:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        """Start icecast2, wait for its port, then every liquidsoap; StreamError when a
        program is missing or exits at once (with the end of its log)."""
        icecast, liquidsoap = _binary(self.icecast), _binary(self.liquidsoap)
        try:
            self._spawn("icecast", [icecast, "-c", str(self.config.icecast_xml)])
            self._wait_port(timeout)
            for script in self.config.scripts.values():
                self._spawn(script.stem, [liquidsoap, str(script)])
        except BaseException:
            self.stop()
            raise

    def wait_live(self, timeout: float = 30.0) -> None:
        """Wait until every mount answers listeners; StreamError if one does not in time."""
        deadline = clock.monotonic() + timeout
        for mount in self.config.mounts:
            script = self.config.scripts[mount.mount]
            while not _mount_live(self.config.url(mount)):
                self.check()
                if clock.monotonic() > deadline:
                    raise StreamError(
                        f"流 {mount.mount} 没有开始：见 {self._log(script.stem)} / the stream"
                        f" {mount.mount} did not start: see its log"
                    )
                clock.sleep(0.3)

    def check(self) -> None:
        """StreamError if a server has exited, with the end of its log."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = self._log(name).read_text(errors="replace")[-1500:]
                raise StreamError(
                    f"{name} 已退出（代码 {process.returncode}）/ {name} exited with code"
                    f" {process.returncode}: {tail}"
                )

    def stop(self) -> None:
        """Stop every server this object started (liquidsoap first, icecast2 last)."""
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(list(self.processes.values())):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def _log(self, name: str) -> Path:
        return self.config.out_dir / f"{name}.log"

    def _spawn(self, name: str, argv: list[str]) -> None:
        with self._log(name).open("wb") as log:
            self.processes[name] = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env
            )

    def _wait_port(self, timeout: float) -> None:
        deadline = clock.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((self.config.host, self.config.port), timeout=1):
                    return
            except OSError:
                self.check()
                if clock.monotonic() > deadline:
                    raise StreamError(
                        f"icecast2 没有监听 {self.config.host}:{self.config.port} / icecast2 is not"
                        f" listening on {self.config.host}:{self.config.port}"
                    ) from None
                clock.sleep(0.1)


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise StreamError(
            f"找不到 {name}：请安装 Debian 的 liquidsoap 和 icecast2（sudo apt-get install liquidsoap"
            f" icecast2）/ {name} not found: install Debian's liquidsoap and icecast2 (sudo apt-get"
            " install liquidsoap icecast2)"
        )
    return found


def _mount_live(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own server
            return response.status == 200 and bool(response.read(1))
    except (urllib.error.URLError, OSError):
        return False


def utc_from_unix(seconds: float) -> datetime:
    """A Unix time as an aware UTC datetime (what `--at` gives)."""
    return datetime.fromtimestamp(seconds, UTC)
