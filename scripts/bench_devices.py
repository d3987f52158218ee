"""Benchmark: a county's 963 devices polling the device API v1 of one `kuanyue serve`.

Sets up, in a throwaway KUANYUE_HOME and through library functions, 321 villages × 3 devices
(two loudspeakers and a screen), a small covenant whose clauses have real files in the media
store (random bytes: the server never decodes them), a county-wide playlist and three daily
windows per village, so each device's 48-hour snapshot has hundreds of items. Then starts
`kuanyue serve` (waitress, 8 threads) on a free loopback port and simulates every device with
asyncio and a minimal HTTP/1.1 client (standard library, `Connection: close`, latency is
connect → last byte read):

1. `GET /api/v1/device/schedule` every 60 s with If-None-Match, `GET /api/v1/device/emergency`
   every 10 s, random initial offsets; 5 % of devices download their next item's media once
   (some with a Range header);
2. halfway through, one emergency-layer schedule reaching all 321 villages is committed and
   the time until each device's emergency poll first says `"active": true` is measured;
3. after the polling, one 20 MB file is downloaded N times, 8 at a time, from Kuanyue
   (`/api/v1/media/<sha>`) and from Debian's nginx serving the same media store, for MB/s.

It prints requests per second, p50/p99/max latency per endpoint, errors, the 304 share of
schedule polls, emergency propagation, the server's CPU and peak memory and the load
generator's CPU, with the goals beside the figures. Figures only, no assertions.

    make bench-devices
    .venv/bin/python scripts/bench_devices.py [--quick] [--minutes 5] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import SMALL_COVENANT  # noqa: E402

BIN = Path(sys.executable).parent
CST = ZoneInfo("Asia/Shanghai")
VILLAGES = 321
TOWNSHIPS = ("肇兴镇", "洛香镇", "永从镇", "龙额镇", "水口镇", "谷坪乡", "双江镇", "高增乡")
WINDOWS = ("06:00-08:00", "12:00-13:00", "19:30-21:00")
CLAUSE_SECONDS = (45.0, 60.0, 75.0)
SMALL_MB = 2
BIG_MB = 20
SCHEDULE_EVERY_S = 60.0
EMERGENCY_EVERY_S = 10.0
DOWNLOAD_SHARE = 0.05
TIMEOUT_S = 30.0
GOAL_P99_MS = 100.0
GOAL_EMERGENCY_S = 15.0
GOAL_MEDIA_RATIO = 0.3
TICK = os.sysconf("SC_CLK_TCK")


# --- setup ----------------------------------------------------------------------------------


@dataclass
class County:
    """What the setup made: credentials, media and the names the emergency needs."""

    home: Path
    store_root: Path
    credentials: list[str]
    villages: list[str]
    big_sha: str
    big_store_path: str
    big_size: int


def village_names() -> list[str]:
    """The bench county's villages."""
    return [f"试验{n:03d}村" for n in range(1, VILLAGES + 1)]


def _random_file(folder: Path, name: str, megabytes: int, rng: random.Random) -> Path:
    path = folder / name
    path.write_bytes(rng.randbytes(megabytes * 1024 * 1024))
    return path


def setup(tmp: Path) -> County:
    """The county in a fresh KUANYUE_HOME under `tmp`, made through library functions."""
    from library.broadcast.devices import add_device
    from library.broadcast.places import add_village
    from library.broadcast.playlists import add_item, create_playlist
    from library.broadcast.schedules import add_schedule
    from library.covenants.versions import import_covenant
    from library.db import open_database
    from library.models import Clause, Segment, SegmentFile
    from library.settings import load_config
    from library.store import MediaStore

    rng = random.Random(963)
    config = load_config({"HOME": str(tmp / "home"), "KUANYUE_HOME": str(tmp / "kuanyue")})
    db = open_database(config.database_url_resolved)
    store = MediaStore(config.media_dir)

    villages = village_names()
    credentials = []
    for n, village in enumerate(villages):
        add_village(db, village, TOWNSHIPS[n % len(TOWNSHIPS)])
        for name, kind in (
            ("鼓楼喇叭", "loudspeaker"),
            ("寨口喇叭", "loudspeaker"),
            ("屏幕", "screen"),
        ):
            made = add_device(db, name, village, kind)
            credentials.append(f"{made.device.id}.{made.token}")

    source = tmp / "covenant.txt"
    source.write_text(SMALL_COVENANT, encoding="utf-8")
    result = import_covenant(db, source, village=villages[0])
    scratch = tmp / "scratch"
    scratch.mkdir()
    keys = []
    with db.session() as session:
        for n, row in enumerate(result.version.clauses):
            clause = session.get(Clause, row.id)
            seconds = CLAUSE_SECONDS[n % len(CLAUSE_SECONDS)]
            files = []
            for kind, mime, suffix in (
                ("audio-loudspeaker", "audio/mpeg", "mp3"),
                ("video-16x9", "video/mp4", "mp4"),
            ):
                entry = store.put(_random_file(scratch, f"{n}.{suffix}", SMALL_MB, rng))
                files.append(
                    SegmentFile(
                        kind=kind,
                        sha256=entry.sha256,
                        store_path=entry.store_path,
                        mime=mime,
                        size=entry.size,
                        duration_s=seconds,
                    )
                )
            clause.segments.append(
                Segment(
                    inputs_hash=f"{n + 1:x}" * 64,
                    engine="espeak",
                    voice="v",
                    duration_s=seconds,
                    files=files,
                )
            )
            keys.append(clause.key)
    # The 20 MB file for the media throughput comparison: a 9:16 clip of the first clause.
    big = store.put(_random_file(scratch, "big.mp4", BIG_MB, rng))
    with db.session() as session:
        segment = session.get(Clause, result.version.clauses[0].id).segments[0]
        segment.files.append(
            SegmentFile(
                kind="video-9x16",
                sha256=big.sha256,
                store_path=big.store_path,
                mime="video/mp4",
                size=big.size,
                duration_s=CLAUSE_SECONDS[0],
            )
        )

    create_playlist(db, "村规广播", None, False)
    for key in keys:
        add_item(db, "村规广播", "clause", key)
    create_playlist(db, "紧急通知", None, False)
    add_item(db, "紧急通知", "clause", keys[0])
    starts_on = (datetime.now(CST) - timedelta(days=7)).date()
    for village in villages:
        for window in WINDOWS:
            add_schedule(
                db, "村规广播", rrule="FREQ=DAILY", window=window, starts_on=starts_on,
                villages=(village,),
            )  # fmt: skip
    shutil.rmtree(scratch)
    return County(
        tmp / "kuanyue",
        Path(config.media_dir),
        credentials,
        villages,
        big.sha256,
        big.store_path,
        big.size,
    )


def issue_emergency(tmp: Path, villages: list[str]) -> tuple[float, str]:
    """One emergency-layer schedule for every village, its window from the current minute for
    15 minutes; (commit time, the window). Run in a process of its own (`--issue-emergency`),
    as a cultural worker's command would be, so its work never delays the simulated devices."""
    from library.broadcast.schedules import add_schedule
    from library.db import open_database
    from library.settings import load_config

    config = load_config({"HOME": str(tmp / "home"), "KUANYUE_HOME": str(tmp / "kuanyue")})
    db = open_database(config.database_url_resolved)
    now = datetime.now(CST)
    begin = now.replace(second=0, microsecond=0)
    window = f"{begin:%H:%M}-{begin + timedelta(minutes=15):%H:%M}"
    add_schedule(
        db, "紧急通知", rrule="FREQ=DAILY", window=window, starts_on=begin.date(),
        ends_on=begin.date(), villages=tuple(villages), layer="emergency",
    )  # fmt: skip
    return time.time(), window


# --- server ---------------------------------------------------------------------------------


def start_server(tmp: Path) -> tuple[subprocess.Popen[str], int]:
    """`kuanyue serve` on a free loopback port with the bench's KUANYUE_HOME."""
    env = {**os.environ, "HOME": str(tmp / "home"), "KUANYUE_HOME": str(tmp / "kuanyue")}
    proc = subprocess.Popen(
        [str(BIN / "kuanyue"), "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=open(tmp / "serve.log", "w"),  # noqa: SIM115 - lives as long as the server
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        proc.kill()
        raise SystemExit(f"kuanyue serve did not start: {line!r}; see {tmp / 'serve.log'}")
    port = int(match.group(1))
    if answers(port, proc, 30):
        return proc, port
    proc.kill()
    raise SystemExit("kuanyue serve does not answer")


def answers(port: int, proc: subprocess.Popen, seconds: float) -> bool:
    """Whether something answers on loopback `port` within `seconds` (False at once if `proc`
    has exited)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_memory_mb(pid: int) -> float:
    """VmHWM of a process, in MB."""
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- HTTP client ----------------------------------------------------------------------------


@dataclass
class Reply:
    """One response: status, headers (lower-case names), body, seconds from connect to EOF."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    size: int = 0


async def fetch(
    port: int,
    path: str,
    headers: dict[str, str],
    *,
    keep_body: bool = True,
    timeout: float = TIMEOUT_S,
) -> Reply:
    """GET `path` over a fresh connection (`Connection: close`), reading to the end."""
    began = time.perf_counter()

    async def run() -> Reply:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        try:
            lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *rest = head.decode("latin-1").split("\r\n")
            status = int(status_line.split()[1])
            parsed = {}
            for row in rest:
                name, _, value = row.partition(":")
                if name:
                    parsed[name.strip().lower()] = value.strip()
            chunks, size = [], 0
            while chunk := await reader.read(1 << 18):
                size += len(chunk)
                if keep_body:
                    chunks.append(chunk)
            return Reply(status, parsed, b"".join(chunks), time.perf_counter() - began, size)
        finally:
            writer.close()

    return await asyncio.wait_for(run(), timeout)


# --- the load -------------------------------------------------------------------------------


@dataclass
class Stats:
    """Everything the simulated devices saw."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    status: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # The same latencies by (endpoint, status) and by (endpoint, minute of the run).
    by_status: dict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))
    minute: dict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))
    t0: float = field(default_factory=time.time)
    items: list[int] = field(default_factory=list)
    active_before: int = 0
    seen_active: dict[int, float] = field(default_factory=dict)
    media_bytes: int = 0

    def record(self, endpoint: str, reply: Reply, ok: tuple[int, ...]) -> None:
        self.latency[endpoint].append(reply.seconds)
        self.by_status[(endpoint, reply.status)].append(reply.seconds)
        self.minute[(endpoint, int((time.time() - self.t0) // 60))].append(reply.seconds)
        self.status[endpoint][reply.status] += 1
        if reply.status not in ok:
            self.errors[endpoint].append(f"HTTP {reply.status}")

    def failed(self, endpoint: str, exc: BaseException) -> None:
        self.status[endpoint][0] += 1
        self.errors[endpoint].append(type(exc).__name__ + (f": {exc}" if str(exc) else ""))


class Run:
    """The shared clock of one load run: when it ends and when the emergency was committed."""

    def __init__(self, seconds: float) -> None:
        self.t0 = time.time()
        self.end = self.t0 + seconds
        self.emergency_at: float | None = None


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.time()))


async def device(
    n: int, credential: str, port: int, run: Run, stats: Stats, download: bool
) -> None:
    """One device: schedule every 60 s, emergency every 10 s, maybe one media download."""
    rng = random.Random(n)
    auth = {"Authorization": f"Bearer {credential}"}
    state: dict[str, object] = {"etag": None, "items": []}

    async def schedule_loop() -> None:
        moment = run.t0 + rng.uniform(0, SCHEDULE_EVERY_S)
        while moment < run.end:
            await _sleep_until(moment)
            headers = dict(auth)
            if state["etag"]:
                headers["If-None-Match"] = str(state["etag"])
            try:
                reply = await fetch(port, "/api/v1/device/schedule", headers)
                stats.record("schedule", reply, (200, 304))
                if reply.status == 200:
                    state["etag"] = reply.headers.get("etag")
                    body = json.loads(reply.body)
                    stats.items.append(len(body["items"]))
                    if download:
                        state["items"] = body["items"]
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                stats.failed("schedule", exc)
            moment += SCHEDULE_EVERY_S

    async def emergency_loop() -> None:
        moment = run.t0 + rng.uniform(0, EMERGENCY_EVERY_S)
        while moment < run.end:
            await _sleep_until(moment)
            try:
                reply = await fetch(port, "/api/v1/device/emergency", auth)
                stats.record("emergency", reply, (200,))
                if reply.status == 200 and json.loads(reply.body)["active"]:
                    if run.emergency_at is None:
                        stats.active_before += 1
                    elif n not in stats.seen_active:
                        stats.seen_active[n] = time.time() - run.emergency_at
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                stats.failed("emergency", exc)
            moment += EMERGENCY_EVERY_S

    async def download_once() -> None:
        # At a random moment of the run, once the first schedule poll has answered.
        await _sleep_until(run.t0 + rng.uniform(0.2, 0.9) * (run.end - run.t0))
        while not state["items"] and time.time() < run.end + SCHEDULE_EVERY_S:
            await asyncio.sleep(1)
        now = datetime.now(CST).isoformat()
        items = [i for i in state["items"] if i["media"]]  # type: ignore[attr-defined]
        upcoming = [i for i in items if i["end"] > now] or items
        if not upcoming:
            stats.errors["media"].append("no snapshot received / 未收到日程，无从下载")
            return
        media = upcoming[0]["media"]
        headers = dict(auth)
        ranged = rng.random() < 0.3
        if ranged:
            headers["Range"] = "bytes=0-262143"
        try:
            reply = await fetch(port, media["url"], headers, keep_body=False, timeout=120)
            expected = 262144 if ranged else media["bytes"]
            stats.record("media", reply, (206,) if ranged else (200,))
            stats.media_bytes += reply.size
            if reply.status in (200, 206) and reply.size != expected:
                stats.errors["media"].append(f"{reply.size} bytes, expected {expected}")
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            stats.failed("media", exc)

    tasks = [schedule_loop(), emergency_loop()]
    if download:
        tasks.append(download_once())
    await asyncio.gather(*tasks)


async def emergency_at_halfway(tmp: Path, run: Run) -> str:
    """At the halfway point, commit the county-wide emergency from another process."""
    await _sleep_until(run.t0 + (run.end - run.t0) / 2)
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--issue-emergency", str(tmp), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit("the emergency could not be committed (see above)")
    committed, window = out.decode().split()
    run.emergency_at = float(committed)
    return window


async def load(county: County, tmp: Path, port: int, seconds: float) -> tuple[Stats, Run, str]:
    """Every device for `seconds`, the emergency at half time."""
    stats = Stats()
    run = Run(seconds)
    rng = random.Random(2024)
    downloaders = set(
        rng.sample(range(len(county.credentials)), round(len(county.credentials) * DOWNLOAD_SHARE))
    )
    jobs = [
        device(n, cred, port, run, stats, n in downloaders)
        for n, cred in enumerate(county.credentials)
    ]
    results = await asyncio.gather(emergency_at_halfway(tmp, run), *jobs)
    return stats, run, results[0]


# --- media throughput -----------------------------------------------------------------------


async def throughput(
    port: int, path: str, headers: dict[str, str], count: int, size: int
) -> tuple[float, int]:
    """MB/s downloading `path` `count` times, 8 at a time; and how many downloads failed."""
    gate = asyncio.Semaphore(8)
    failed = 0

    async def one() -> int:
        nonlocal failed
        async with gate:
            try:
                reply = await fetch(port, path, headers, keep_body=False, timeout=300)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                print(f"  下载失败 / download failed: {exc!r}")
                failed += 1
                return 0
            if reply.status != 200 or reply.size != size:
                failed += 1
            return reply.size

    began = time.perf_counter()
    total = sum(await asyncio.gather(*(one() for _ in range(count))))
    return total / (1024 * 1024) / (time.perf_counter() - began), failed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_nginx(tmp: Path, store_root: Path) -> tuple[subprocess.Popen[bytes], int] | str:
    """Debian's nginx serving the media store on a free loopback port; a note if it cannot."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).is_file():
        return "没有 nginx，跳过 / nginx not installed (apt-get install nginx-light); skipped"
    folder = tmp / "nginx"
    folder.mkdir()
    port = free_port()
    temps = "\n".join(
        f"    {name}_temp_path {folder / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(
        f"""{user}daemon off;
worker_processes 2;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"};
events {{ worker_connections 256; }}
http {{
    access_log off;
{temps}
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {store_root};
    }}
}}
"""
    )
    proc = subprocess.Popen(
        [
            nginx,
            "-p",
            str(folder),
            "-e",
            str(folder / "error.log"),
            "-c",
            str(folder / "nginx.conf"),
        ],
        stderr=subprocess.PIPE,
    )
    if answers(port, proc, 10):
        return proc, port
    if proc.poll() is not None:
        assert proc.stderr is not None
        return f"nginx 未能启动 / nginx did not start: {proc.stderr.read().decode()[-300:]}"
    proc.kill()
    return "nginx 无响应 / nginx does not answer; skipped"


# --- report ---------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _mark(good: bool) -> str:
    return "✓" if good else "✗"


def report(stats: Stats, run: Run, seconds: float, window: str, devices: int) -> None:
    """Requests per second, latency, errors, 304 share and emergency propagation."""
    total = sum(len(v) for v in stats.latency.values()) + sum(
        s.get(0, 0) for s in stats.status.values()
    )
    print(f"\n负载 / load: {devices} 台设备 / devices, {seconds / 60:.0f} 分钟 / min")
    print(f"  总请求 / requests: {total}  ({total / seconds:.1f} 次/秒 / per s)")
    print(
        f"  {'端点 / endpoint':<22}{'次/秒 rps':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"  状态 / statuses"
    )
    for endpoint in ("schedule", "emergency", "media"):
        lat = [x * 1000 for x in stats.latency.get(endpoint, [])]
        codes = dict(sorted(stats.status.get(endpoint, {}).items()))
        count = sum(codes.values())
        label = {0: "conn/timeout"}
        statuses = ", ".join(f"{label.get(k, k)}×{v}" for k, v in codes.items())
        goal = ""
        if endpoint != "media":
            goal = (
                f"  目标 / goal p99 < {GOAL_P99_MS:.0f} ms {_mark(_pct(lat, 0.99) < GOAL_P99_MS)}"
            )
        print(
            f"  {endpoint:<22}{count / seconds:>10.1f}{_pct(lat, 0.5):>9.1f}{_pct(lat, 0.99):>9.1f}"
            f"{max(lat, default=float('nan')):>9.1f}  {statuses}{goal}"
        )
    for status, what in ((200, "新快照 / new snapshot"), (304, "未变 / unchanged")):
        lat = [x * 1000 for x in stats.by_status.get(("schedule", status), [])]
        if lat:
            print(
                f"    schedule {status} {what}: p50 {_pct(lat, 0.5):.1f} ms,"
                f" p99 {_pct(lat, 0.99):.1f} ms"
            )
    minutes = sorted({m for _, m in stats.minute})
    print(
        "  每分钟 p99 / p99 by minute (ms): "
        + ", ".join(
            f"{m + 1}: {_pct([x * 1000 for x in stats.minute[('schedule', m)]], 0.99):.0f}"
            f"/{_pct([x * 1000 for x in stats.minute[('emergency', m)]], 0.99):.0f}"
            for m in minutes
        )
        + "  (schedule/emergency)"
    )
    errors = sum(len(v) for v in stats.errors.values())
    print(f"  错误 / errors: {errors}  (目标 / goal 0 {_mark(errors == 0)})")
    for endpoint, found in stats.errors.items():
        kinds: dict[str, int] = defaultdict(int)
        for e in found:
            kinds[e] += 1
        for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1])[:5]:
            print(f"    {endpoint}: {kind} ×{count}")
    codes = stats.status.get("schedule", {})
    polls = sum(codes.values())
    if polls:
        print(
            f"  日程 304 占比 / schedule polls answered 304: {codes.get(304, 0) / polls:.0%}"
            f"  (200 × {codes.get(200, 0)})"
        )
    if stats.items:
        print(
            f"  快照条目 / items per 48 h snapshot: 中位 / median {statistics.median(stats.items):.0f},"
            f" 最少 / min {min(stats.items)}, 最多 / max {max(stats.items)}"
        )
    print(
        f"\n紧急广播 / emergency: 半程提交一条覆盖 {VILLAGES} 个村的紧急层日程，时段 {window}"
        "（从当前分钟开始；时段以分钟计，故开始时刻可能比提交早最多 59 秒，设备端以提交时刻起算）"
        f" / at half time one emergency-layer schedule for all villages, window {window}"
        " (starting at the current minute, so it may begin up to 59 s before the commit;"
        " propagation is counted from the commit)"
    )
    if stats.active_before:
        print(f"  ✗ 提交前已有 {stats.active_before} 次 active=true / active before the commit")
    delays = list(stats.seen_active.values())
    if delays:
        worst = max(delays)
        print(
            f"  收到的设备 / devices that saw it: {len(delays)} / {devices};"
            f" p50 {_pct(delays, 0.5):.1f} s, 最慢 / max {worst:.1f} s"
            f"  (目标 / goal ≤ {GOAL_EMERGENCY_S:.0f} s, 全部 / all"
            f" {_mark(worst <= GOAL_EMERGENCY_S and len(delays) == devices)})"
        )
    else:
        print("  ✗ 没有设备收到 / no device saw it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="1 minute, fewer downloads")
    parser.add_argument("--downloads", type=int, default=40, help="20 MB downloads per server")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--issue-emergency", metavar="TMP", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.issue_emergency:  # the child process emergency_at_halfway starts
        committed, window = issue_emergency(Path(args.issue_emergency), village_names())
        print(committed, window)
        return
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # figures as they come
    minutes = 1.0 if args.quick else args.minutes
    downloads = 16 if args.quick else args.downloads

    tmp = Path(tempfile.mkdtemp(prefix="kuanyue-bench-devices-"))
    server = None
    nginx = None
    try:
        began = time.perf_counter()
        county = setup(tmp)
        print(
            f"准备 / setup: {VILLAGES} 个村 / villages × 3 = {len(county.credentials)} 台设备 /"
            f" devices, 每村 {len(WINDOWS)} 个日程 / schedules each:"
            f" {time.perf_counter() - began:.1f} s  ({tmp})"
        )
        server, port = start_server(tmp)
        print(f"kuanyue serve (waitress, 8 线程 / threads) pid {server.pid}, 端口 / port {port}")
        print(
            "注意：服务器与负载生成器在同一台机器的 2 个核上 / server and load generator share"
            f" this machine's {os.cpu_count()} cores"
        )

        seconds = minutes * 60
        server_cpu0, own_cpu0, wall0 = cpu_seconds(server.pid), own_cpu_seconds(), time.time()
        stats, run, window = asyncio.run(load(county, tmp, port, seconds))
        wall = time.time() - wall0
        server_cpu = cpu_seconds(server.pid) - server_cpu0
        own_cpu = own_cpu_seconds() - own_cpu0
        report(stats, run, seconds, window, len(county.credentials))
        print(
            f"\n服务器 / server: CPU {server_cpu / wall:.0%} 单核 / of one core,"
            f" 峰值内存 / peak memory (VmHWM) {peak_memory_mb(server.pid):.0f} MB"
        )
        print(f"负载生成器 / load generator: CPU {own_cpu / wall:.0%} 单核 / of one core")

        print(
            f"\n媒体吞吐 / media throughput: {BIG_MB} MB 文件 / file × {downloads}, 并发 / 8 at a time"
        )
        auth = {"Authorization": f"Bearer {county.credentials[0]}"}
        ours, failed = asyncio.run(
            throughput(port, f"/api/v1/media/{county.big_sha}", auth, downloads, county.big_size)
        )
        print(f"  款约 / Kuanyue (waitress send_file): {ours:.0f} MB/s  失败 / failed {failed}")
        started = start_nginx(tmp, county.store_root)
        if isinstance(started, str):
            print(f"  {started}")
        else:
            nginx, nginx_port = started
            theirs, failed = asyncio.run(
                throughput(nginx_port, f"/{county.big_store_path}", {}, downloads, county.big_size)
            )
            ratio = ours / theirs if theirs else float("nan")
            print(f"  nginx (sendfile): {theirs:.0f} MB/s  失败 / failed {failed}")
            print(
                f"  款约 / nginx = {ratio:.2f}×  (目标 / goal ≥ {GOAL_MEDIA_RATIO}×"
                f" {_mark(ratio >= GOAL_MEDIA_RATIO)})"
            )
            if ratio < GOAL_MEDIA_RATIO:
                print(
                    "  款约远慢于 nginx：README 建议的办法是 nginx 在前、用 X-Accel-Redirect 交付媒体"
                    " / Kuanyue is far behind nginx: the README's remedy is nginx in front with"
                    " X-Accel-Redirect for media bytes"
                )
    finally:
        for proc in (nginx, server):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM if proc is server else signal.SIGQUIT)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if args.keep:
            print(f"保留 / kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
