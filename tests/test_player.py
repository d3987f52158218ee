"""The loudspeaker player (scripts/kuanyue_player.py) against a fake of the device API v1.

A small stdlib `http.server` in a thread plays the server (schedule with ETag, emergency,
media with Range, plays, heartbeat); the play command is a tiny Python script that records
what it was told to play, when, and the sha256 of the file, then sleeps silently for the
tone's length. Schedules are seconds long and start a couple of seconds after the test.
Whole-player behaviour runs the player as a subprocess (so it can be killed with SIGKILL);
the pieces (snapshot, cache, queue, heartbeat) are also driven in-process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PLAYER = Path(__file__).resolve().parents[1] / "scripts" / "kuanyue_player.py"


def _oldest_python() -> str:
    """Python 3.9, the oldest the player supports (an old Pi's Debian 11), when this machine
    has one that runs (pyenv's, or on PATH); else the interpreter running the tests."""
    import glob
    import shutil

    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [*sorted(glob.glob(f"{root}/versions/3.9*/bin/python3.9")), "/usr/bin/python3.9"]
    candidates.append(shutil.which("python3.9") or "")  # maybe a pyenv shim that cannot run it
    for candidate in filter(None, candidates):
        check = [candidate, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 9))"]
        try:
            if subprocess.run(check, capture_output=True, timeout=30).returncode == 0:
                return candidate
        except (OSError, subprocess.TimeoutExpired):
            continue
    return sys.executable


# Read at import, before the tests' isolated HOME hides ~/.pyenv.
PLAYER_PYTHON = _oldest_python()
CHINA = timezone(timedelta(hours=8))  # the fake server speaks +08:00, the player any offset

FAKE_PLAY = r"""
import hashlib, json, signal, subprocess, sys, time, wave
log, offset, path = sys.argv[1], float(sys.argv[2] or 0), sys.argv[3]
def note(event, **extra):
    with open(log, "a") as handle:
        handle.write(json.dumps(dict(event=event, t=time.time(), file=path, **extra)) + "\n")
def stop(*_):
    note("stop")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
with open(path, "rb") as handle:
    sha = hashlib.sha256(handle.read()).hexdigest()
try:
    with wave.open(path) as w:
        length = w.getnframes() / w.getframerate()
except Exception:  # an MP3: ask ffprobe
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
        capture_output=True, text=True,
    )
    length = float(probe.stdout.strip() or 3.0)
note("start", sha=sha, offset=offset, argv=sys.argv[1:])
time.sleep(max(0.0, length - offset))
note("end")
"""


def load_player():
    """The player script as a module (it is not a package module)."""
    if "kuanyue_player" in sys.modules:
        return sys.modules["kuanyue_player"]
    spec = importlib.util.spec_from_file_location("kuanyue_player", PLAYER)
    module = importlib.util.module_from_spec(spec)
    sys.modules["kuanyue_player"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


kp = load_player()


# --- media -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> dict[str, Path]:
    """Tiny tones made by ffmpeg's lavfi: name -> file (distinct frequencies, distinct sha)."""
    folder = tmp_path_factory.mktemp("tones")
    made = {}
    specs = {
        "a2": (440, 2, "wav"),
        "b3": (550, 3, "wav"),
        "c4": (660, 4, "wav"),
        "d6": (770, 6, "wav"),
        "long": (330, 20, "wav"),
        "e3": (880, 3, "wav"),
        "f1": (990, 1, "wav"),
        "g1": (1100, 1, "wav"),
        "mp3": (500, 2, "mp3"),
    }
    for name, (frequency, seconds, ext) in specs.items():
        path = folder / f"{name}.{ext}"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi"]
            + ["-i", f"sine=frequency={frequency}:duration={seconds}"]
            + ["-ac", "1", "-ar", "8000", str(path)],
            check=True,
        )
        made[name] = path
    return made


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the fake server -------------------------------------------------------------------------


class FakeApi:
    """The state behind the fake device API; tests change it while the player runs."""

    credential = "3.secret-token"

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.version = "v0"
        self.emergency: list[dict] = []
        self.media: dict[str, bytes] = {}
        self.served: dict[str, bytes] = {}  # what is sent instead (a corrupted file)
        self.slow: set[str] = set()
        self.sent_bytes: dict[str, int] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.plays: dict[str, dict] = {}  # id -> play, stored once
        self.plays_posts = 0
        self.received: list[str] = []  # every id ever posted, to show none came twice
        self.plays_fail = 0
        self.ack_limit: int | None = None
        self.clock_offset = 0.0
        self.heartbeats: list[dict] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.port = 0

    # the test's side
    def add_media(self, path: Path) -> dict:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        self.media[digest] = data
        mime = "audio/mpeg" if path.suffix == ".mp3" else "audio/wav"
        return {
            "url": f"/api/v1/media/{digest}",
            "sha256": digest,
            "bytes": len(data),
            "duration_s": 0.0,
            "mime": mime,
        }

    def item(self, start: float, end: float, path: Path | None = None, **extra) -> dict:
        return {
            "id": extra.pop("id", uuid.uuid4().hex[:8]),
            "start": rfc3339(start),
            "end": rfc3339(end),
            "layer": extra.pop("layer", "scheduled"),
            "kind": "audio" if path else "silence",
            "title": extra.pop("title", path.name if path else "pause"),
            "why": "test",
            "cut": extra.pop("cut", False),
            "media": self.add_media(path) if path else None,
            "vtt": None,
        }

    def set_schedule(self, items: list[dict]) -> None:
        with self.lock:
            self.items = items
            self.version = uuid.uuid4().hex[:12]

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.startswith(prefix))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        fake = self

        class Handler(FakeHandler):
            api = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, CHINA).isoformat(timespec="milliseconds")


class FakeHandler(BaseHTTPRequestHandler):
    api: FakeApi
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def send_json(self, status: int, body: object, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def problem(self, status: int, title: str) -> None:
        self.send_json(status, {"type": "about:blank", "title": title, "status": status})

    def authorised(self) -> bool:
        api = self.api
        with api.lock:
            api.requests.append((self.command, self.path, dict(self.headers)))
        if self.headers.get("Authorization") != f"Bearer {api.credential}":
            self.problem(401, "Unauthorized")
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        api = self.api
        if not self.authorised():
            return
        if self.path == "/api/v1/device/schedule":
            etag = f'"{api.version}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            now = time.time()
            body = {
                "version": api.version,
                "generated_at": rfc3339(now),
                "start": rfc3339(now - 60),
                "end": rfc3339(now + 3600),
                "tz": "Asia/Shanghai",
                "items": api.items,
            }
            self.send_json(200, body, {"ETag": etag})
        elif self.path == "/api/v1/device/emergency":
            items = list(api.emergency)
            body = {"active": bool(items), "server_time": rfc3339(time.time()), "items": items}
            self.send_json(200, body)
        elif self.path.startswith("/api/v1/media/"):
            self.send_media(self.path.rsplit("/", 1)[1])
        else:
            self.problem(404, "Not Found")

    def send_media(self, digest: str) -> None:
        api = self.api
        if digest not in api.media:
            self.problem(404, "Not Found")
            return
        data = api.served.get(digest, api.media[digest])
        first = 0
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes="):
            first = int(ranged[6:].split("-")[0])
            if first >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[first:]
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        try:
            step = 4096 if digest in api.slow else len(body) or 1
            for at in range(0, len(body), step):
                self.wfile.write(body[at : at + step])
                with api.lock:
                    api.sent_bytes[digest] = api.sent_bytes.get(digest, 0) + len(
                        body[at : at + step]
                    )
                if digest in api.slow:
                    self.wfile.flush()
                    time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self) -> None:  # noqa: N802
        api = self.api
        if not self.authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/api/v1/device/plays":
            with api.lock:
                api.plays_posts += 1
                if api.plays_fail > 0:
                    api.plays_fail -= 1
                    self.problem(500, "Internal Server Error")
                    return
                plays = body["plays"][: api.ack_limit] if api.ack_limit else body["plays"]
                for play in plays:
                    api.plays.setdefault(play["id"], play)
                api.received += [p["id"] for p in body["plays"]]
            self.send_json(200, {"acknowledged": [p["id"] for p in plays]})
        elif self.path == "/api/v1/device/heartbeat":
            api.heartbeats.append(body)
            now = rfc3339(time.time())
            self.send_json(200, {"server_time": now, "clock_offset_s": api.clock_offset})
        else:
            self.problem(404, "Not Found")


@pytest.fixture
def fake():
    api = FakeApi()
    api.start()
    yield api
    api.stop()


# --- running the player ----------------------------------------------------------------------


class PlayerRun:
    """The player as a subprocess over one config; `plays()` reads the fake play command's log."""

    def __init__(self, tmp_path: Path, fake, offset: bool = True, **settings) -> None:
        """`fake` is anything with `url` and `credential` (the fake API, or a real server)."""
        self.folder = tmp_path
        self.play_log = tmp_path / "played.jsonl"
        script = tmp_path / "fake_play.py"  # "silent and exact": records, then sleeps
        script.write_text(FAKE_PLAY)
        offset_arg = "{offset}" if offset else "0"
        command = f"{sys.executable} {script} {self.play_log} {offset_arg} {{file}}"
        values = {
            "url": fake.url,
            "credential": fake.credential,
            "folder": tmp_path / "cache",
            "cache_mb": 50,
            "ahead_h": 1,
            "state_folder": tmp_path / "state",
            "command": command,
            "fallback_folder": "",
            "min_remaining_s": 2,
            "stop_grace_s": 1,
            "schedule_s": 1,
            "emergency_s": 1,
            "heartbeat_s": 2,
            "plays_s": 1,
            "backoff_max_s": 1,
            "timeout_s": 3,
        }
        values.update(settings)
        self.config = tmp_path / "player.ini"
        self.config.write_text(
            "[server]\nurl = {url}\ncredential = {credential}\ntimeout_s = {timeout_s}\n"
            "[cache]\nfolder = {folder}\ncache_mb = {cache_mb}\nahead_h = {ahead_h}\n"
            "[player]\nstate_folder = {state_folder}\ncommand = {command}\n"
            "fallback_folder = {fallback_folder}\nmin_remaining_s = {min_remaining_s}\n"
            "stop_grace_s = {stop_grace_s}\n"
            "[poll]\nschedule_s = {schedule_s}\nemergency_s = {emergency_s}\n"
            "heartbeat_s = {heartbeat_s}\nplays_s = {plays_s}\nbackoff_max_s = {backoff_max_s}\n"
            "".format(**values)
        )
        self.stderr_path = tmp_path / "player.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> PlayerRun:
        stderr = open(self.stderr_path, "a")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            [PLAYER_PYTHON, str(PLAYER), "--config", str(self.config)], stderr=stderr
        )
        stderr.close()
        return self

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(15)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def plays(self, event: str = "start") -> list[dict]:
        if not self.play_log.exists():
            return []
        lines = self.play_log.read_text().splitlines()
        return [r for r in map(json.loads, lines) if r["event"] == event]

    def cached(self) -> list[Path]:
        return sorted(p for p in (self.folder / "cache").glob("*") if p.is_file())


@pytest.fixture
def players():
    started: list[PlayerRun] = []

    def make(tmp_path: Path, fake: FakeApi, **settings) -> PlayerRun:
        run = PlayerRun(tmp_path, fake, **settings)
        started.append(run)
        return run

    yield make
    for run in started:
        if run.process is not None and run.process.poll() is None:
            run.kill()


def wait_for(predicate, timeout: float, step: float = 0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def statuses(fake: FakeApi) -> dict[str, str]:
    return {p["item_id"]: p["status"] for p in fake.plays.values()}


def config_for(tmp_path: Path, fake: FakeApi, **settings):
    """An in-process Config like the subprocess one."""
    return kp.load_config(str(PlayerRun(tmp_path, fake, **settings).config))


# --- pure pieces -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026-12-04T19:30:00+08:00", 1796383800.0, id="offset"),
        pytest.param("2026-12-04T11:30:00Z", 1796383800.0, id="zulu"),
        pytest.param("2026-12-04T19:30:00.1234567+08:00", 1796383800.123456, id="7-digit-fraction"),
        pytest.param("2026-12-04T19:30:00.5+08:00", 1796383800.5, id="1-digit-fraction"),
    ],
)
def test_parse_time(text, expected):
    assert kp.parse_time(text) == pytest.approx(expected, abs=1e-6)


def test_parse_time_needs_an_offset():
    with pytest.raises(ValueError):
        kp.parse_time("2026-12-04T19:30:00")


def test_play_argv_is_a_list_never_a_shell():
    argv = kp.play_argv("ffplay -nodisp -ss {offset} '{file}'", Path("/c/a b;rm -rf x.mp3"), 4.5)
    assert argv == ["ffplay", "-nodisp", "-ss", "4.500", "/c/a b;rm -rf x.mp3"]


@pytest.mark.parametrize(
    ("late", "command", "layer", "decision"),
    [
        pytest.param(0.5, "p {file}", "scheduled", ("play", 0.0), id="on-time"),
        pytest.param(4.0, "p -ss {offset} {file}", "scheduled", ("play", 4.0), id="offset"),
        pytest.param(4.0, "p {file}", "scheduled", ("skip", 0.0), id="no-offset-support"),
        pytest.param(
            17.0, "p -ss {offset} {file}", "scheduled", ("skip", 0.0), id="too-little-left"
        ),
        pytest.param(8.0, "p {file}", "emergency", ("play", 0.0), id="emergency-from-start"),
    ],
)
def test_start_decision(late, command, layer, decision, tmp_path):
    config = kp.Config("http://x", "1.t", tmp_path, tmp_path, command=command)
    item = kp.Item(id="i", start=1000.0, end=1020.0, layer=layer, sha256="0" * 64)
    assert kp.start_decision(item, 1000.0 + late, config) == decision


def test_config_must_name_a_file_and_credential(tmp_path):
    ini = tmp_path / "p.ini"
    ini.write_text("[server]\nurl = http://x\ncredential = 3.t\n[player]\ncommand = mpg123 -q\n")
    with pytest.raises(SystemExit, match="file"):
        kp.load_config(str(ini))
    ini.write_text("[server]\nurl = http://x\ncredential = nodot\n")
    with pytest.raises(SystemExit, match="credential"):
        kp.load_config(str(ini))
    ini.write_text("[server]\nurl = http://x\ncredential = 3.t\n")
    config = kp.load_config(str(ini))
    assert config.command == kp.DEFAULT_COMMAND and not config.supports_offset


def test_the_player_parses_as_python_3_9():
    import ast

    tree = ast.parse(PLAYER.read_text(), feature_version=(3, 9))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= sys.stdlib_module_names | {"__future__"}  # standard library only


# --- snapshot, cache, queue, heartbeat in-process --------------------------------------------


def test_schedule_etag_304_keeps_the_saved_snapshot(tmp_path, fake, tones):
    config = config_for(tmp_path, fake)
    state = kp.build_state(config)
    now = time.time()
    fake.set_schedule([fake.item(now + 60, now + 62, tones["a2"], id="one")])

    assert state.snapshot.refresh(state.api) is True
    assert state.snapshot.refresh(state.api) is False  # 304
    schedule_gets = [h for m, p, h in fake.requests if p == "/api/v1/device/schedule"]
    assert "If-None-Match" not in schedule_gets[0]
    assert schedule_gets[1]["If-None-Match"] == f'"{fake.version}"'
    assert [i.id for i in state.snapshot.items] == ["one"]

    fake.set_schedule([fake.item(now + 60, now + 62, tones["b3"], id="two")])
    assert state.snapshot.refresh(state.api) is True
    fake.stop()  # a restart without the server: the snapshot comes from disk
    reloaded = kp.Snapshot(config.state_dir)
    assert reloaded.etag == f'"{fake.version}"'
    assert [i.id for i in reloaded.items] == ["two"]
    assert reloaded.items[0].start == pytest.approx(now + 60, abs=0.01)
    assert not list(config.state_dir.glob(".*tmp"))


def test_download_resumes_a_partial_file_with_range(tmp_path, fake, tones):
    state = kp.build_state(config_for(tmp_path, fake))
    now = time.time()
    raw = fake.item(now + 60, now + 64, tones["c4"])
    item = kp.Item.from_json(raw)
    data = tones["c4"].read_bytes()
    part = state.cache.partial / f"{item.sha256}.part"
    part.write_bytes(data[:10000])

    path = state.cache.fetch(state.api, item)

    media_gets = [h for m, p, h in fake.requests if p.startswith("/api/v1/media/")]
    assert media_gets[-1]["Range"] == "bytes=10000-"
    assert fake.sent_bytes[item.sha256] == len(data) - 10000
    assert path.name == f"{item.sha256}.wav" and sha(path) == item.sha256
    assert not part.exists()


def test_a_wrong_sha256_is_deleted_never_cached(tmp_path, fake, tones):
    state = kp.build_state(config_for(tmp_path, fake))
    now = time.time()
    item = kp.Item.from_json(fake.item(now + 60, now + 64, tones["c4"]))
    fake.served[item.sha256] = tones["d6"].read_bytes()  # the wrong bytes

    with pytest.raises(ValueError, match="sha256 mismatch"):
        state.cache.fetch(state.api, item)
    assert state.cache.path_for(item.sha256) is None
    assert list(state.cache.partial.iterdir()) == []
    assert state.cache.files() == []

    # a garbage .part (say, from another server) is thrown away too, and the next try is whole
    del fake.served[item.sha256]
    (state.cache.partial / f"{item.sha256}.part").write_bytes(b"garbage")
    with pytest.raises(ValueError):
        state.cache.fetch(state.api, item)
    assert sha(state.cache.fetch(state.api, item)) == item.sha256


def test_lru_eviction_keeps_what_plays_soon(tmp_path):
    cache = kp.Cache(tmp_path / "cache", limit_bytes=2500)
    names = {}
    for age, letter in enumerate("abcd"):
        digest = hashlib.sha256(letter.encode()).hexdigest()
        path = cache.folder / f"{digest}.mp3"
        path.write_bytes(b"x" * 1000)
        moment = time.time() - 1000 + age * 100  # a oldest, d newest
        os.utime(path, (moment, moment))
        names[letter] = digest
    (cache.partial / f"{names['a']}.part").write_bytes(b"y" * 10)  # never counted as cached

    evicted = cache.evict({names["a"]: time.time() + 60})
    assert sorted(evicted) == sorted(f"{names[x]}.mp3" for x in "bc")
    assert {p.name[:64] for p in cache.files()} == {names["a"], names["d"]}

    cache.limit = 1000  # too small for both needed files: the one needed later goes first
    cache.evict({names["a"]: time.time() + 600, names["d"]: time.time() + 60})
    assert [p.name[:64] for p in cache.files()] == [names["d"]]


def test_play_logs_arrive_exactly_once_across_500s_and_restarts(tmp_path, fake):
    config = config_for(tmp_path, fake)
    config.state_dir.mkdir()
    queue = kp.PlayQueue(config.state_dir / "plays.sqlite3")
    api = kp.Api(config)
    item = kp.Item(id="x", start=time.time(), end=time.time() + 5, layer="scheduled")
    ids = [queue.record(item, "completed", "", time.time(), time.time()) for _ in range(3)]
    open_play = queue.start("y", "y@1", "", time.time())  # still playing: not sent

    fake.plays_fail = 2
    for _ in range(2):
        with pytest.raises(kp.urllib.error.HTTPError):
            queue.upload(api)
    fake.ack_limit = 2  # the server acknowledges only part of the batch
    assert queue.upload(api) == 2
    assert len(queue.pending()) == 1

    restarted = kp.PlayQueue(config.state_dir / "plays.sqlite3")
    assert restarted.recover(time.time()) == 1  # the open play, cut by the "crash"
    fake.ack_limit = None
    assert restarted.upload(api) == 2
    assert restarted.pending() == [] and restarted.upload(api) == 0
    assert sorted(fake.plays) == sorted([*ids, open_play])
    assert fake.plays[open_play]["status"] == "interrupted"
    assert fake.plays_posts == 4  # two 500s, one partial, one whole; none when empty


def test_clock_offset_warning(tmp_path, fake, caplog):
    state = kp.build_state(config_for(tmp_path, fake))
    fake.clock_offset = 1.5
    with caplog.at_level(logging.WARNING, logger="kuanyue-player"):
        assert kp.heartbeat(state) == 1.5
        assert "off the server" not in caplog.text
        fake.clock_offset = -12.5
        kp.heartbeat(state)
    assert "-12.5 s off the server" in caplog.text
    sent = fake.heartbeats[-1]
    assert sent["player_version"] == kp.PLAYER_VERSION
    assert sent["free_bytes"] > 0 and "cache_bytes" in sent
    assert abs(kp.parse_time(sent["clock"]) - time.time()) < 5


# --- the whole player ------------------------------------------------------------------------


def test_plays_each_item_at_its_start(tmp_path, fake, tones, players):
    """On time ±1 s, a cut item stopped at its end, silence waited, a corrupt file never played."""
    t0 = time.time() + 2.5
    corrupt = fake.item(t0 + 7, t0 + 9, tones["e3"], id="corrupt")
    fake.served[corrupt["media"]["sha256"]] = b"RIFF not the right bytes"
    fake.set_schedule(
        [
            fake.item(t0, t0 + 2, tones["a2"], id="a"),
            fake.item(t0 + 2, t0 + 4, None, id="pause"),
            fake.item(t0 + 4, t0 + 7, tones["d6"], id="cut", cut=True),
            corrupt,
            fake.item(t0 + 9, t0 + 11, tones["mp3"], id="mp3"),
        ]
    )
    run = players(tmp_path, fake).start()
    sleep_until(t0 + 11.5)
    wait_for(lambda: len(fake.plays) >= 4, 5)
    assert run.stop() == 0

    starts = {Path(p["file"]).name[:64]: p for p in run.plays()}
    assert [p["sha"] for p in run.plays()] == [
        fake.items[0]["media"]["sha256"],
        fake.items[2]["media"]["sha256"],
        fake.items[4]["media"]["sha256"],
    ]
    assert corrupt["media"]["sha256"] not in starts
    for item in (fake.items[0], fake.items[2], fake.items[4]):
        played = starts[item["media"]["sha256"]]
        assert played["t"] == pytest.approx(kp.parse_time(item["start"]), abs=1.0)
        assert played["offset"] == 0
    digest = fake.items[2]["media"]["sha256"]
    (stop,) = [p for p in run.plays("stop") if digest in p["file"]]  # the 6 s tone, cut
    assert stop["t"] == pytest.approx(t0 + 7, abs=1.0)
    assert statuses(fake) == {
        "a": "completed",
        "cut": "completed",
        "corrupt": "failed",
        "mp3": "completed",
    }
    assert all(len(p["id"]) == 32 for p in fake.plays.values())
    assert sorted(fake.received) == sorted(fake.plays)
    assert fake.count("GET", "/api/v1/device/schedule") >= 5
    assert sum(1 for m, p, h in fake.requests if "If-None-Match" in h) >= 4  # 304s
    assert fake.heartbeats and "sha256 mismatch" in run.stderr
    assert {p.name[:64] for p in run.cached()} == {
        fake.items[i]["media"]["sha256"] for i in (0, 2, 4)
    }


@pytest.mark.parametrize("offset", [True, False], ids=["offset", "no-offset"])
def test_an_item_started_while_the_player_was_down(tmp_path, fake, tones, players, offset):
    """Late by 4 s with 16 s left: from its offset with {offset}, else skipped."""
    now = time.time()
    fake.set_schedule([fake.item(now - 4, now + 16, tones["long"], id="late")])
    run = players(tmp_path, fake, offset=offset).start()
    if offset:
        (played,) = wait_for(run.plays, 5)
        assert played["offset"] == pytest.approx(played["t"] - (now - 4), abs=0.5)
        assert 4 <= played["offset"] < 6
    else:
        wait_for(lambda: fake.plays, 5)
        assert statuses(fake) == {"late": "skipped"} and run.plays() == []
    assert run.stop() == 0


def test_kill_9_mid_download_never_plays_a_partial_file(tmp_path, fake, tones, players):
    t0 = time.time() + 7
    item = fake.item(t0, t0 + 20, tones["long"], id="big")
    digest = item["media"]["sha256"]
    fake.slow.add(digest)
    fake.set_schedule([item])
    run = players(tmp_path, fake).start()
    part = tmp_path / "cache" / "partial" / f"{digest}.part"
    wait_for(lambda: part.exists() and part.stat().st_size > 40000, 6)
    run.kill()  # SIGKILL mid-download

    assert part.exists() and 0 < part.stat().st_size < len(fake.media[digest])
    assert not [p for p in run.cached() if digest in p.name]
    # the rest is served with a corrupted tail first: the player must not play it
    fake.slow.discard(digest)
    good = fake.media[digest]
    fake.served[digest] = good[:-100] + b"\0" * 100
    run.start()
    wait_for(lambda: "sha256 mismatch" in run.stderr, 5)
    ranged = [h.get("Range") for m, p, h in fake.requests if p.endswith(digest)]
    assert ranged[1].startswith("bytes=") and ranged[1] != "bytes=0-"
    assert run.plays() == []
    del fake.served[digest]
    sleep_until(t0 + 1.5)
    (played,) = run.plays()
    assert played["sha"] == digest
    assert played["t"] == pytest.approx(t0, abs=1.0)
    for path in run.cached():  # only verified files in the cache
        assert sha(path) == path.name[:64]
    assert run.stop() == 0


def test_keeps_playing_from_its_cache_without_the_server(tmp_path, fake, tones, players):
    t0 = time.time() + 3
    items = [
        fake.item(t0, t0 + 2, tones["a2"], id="a"),
        fake.item(t0 + 4, t0 + 6, tones["f1"], id="b"),
        fake.item(t0 + 8, t0 + 10, tones["g1"], id="c"),
    ]
    fake.set_schedule(items)
    run = players(tmp_path, fake).start()
    wait_for(lambda: len([p for p in run.cached() if p.suffix == ".wav"]) == 3, 3)
    fake.stop()  # unreachable from here on

    sleep_until(t0 + 6.5)
    assert run.process.poll() is None
    assert run.stop() == 0  # a restart while the server is away
    assert "play logs stay queued" in run.stderr
    run.start()
    sleep_until(t0 + 10.5)
    assert "loaded the saved schedule" in run.stderr
    assert "unreachable" in run.stderr
    played = run.plays()
    assert [p["sha"] for p in played] == [i["media"]["sha256"] for i in items]
    for record, item in zip(played, items, strict=True):
        assert record["t"] == pytest.approx(kp.parse_time(item["start"]), abs=1.0)

    assert fake.plays == {}
    fake.start()  # the server is back: every play log arrives, once
    wait_for(lambda: len(fake.plays) == 3, 6)
    assert statuses(fake) == {"a": "completed", "b": "completed", "c": "completed"}
    assert sorted(fake.received) == sorted(fake.plays)  # each sent once, none lost
    assert run.stop() == 0


def test_an_emergency_interrupts_within_seconds(tmp_path, fake, tones, players):
    t0 = time.time() + 2
    fake.set_schedule([fake.item(t0, t0 + 20, tones["long"], id="long")])
    run = players(tmp_path, fake).start()
    sleep_until(t0 + 2)
    issued = time.time()
    emergency = fake.item(issued, issued + 3, tones["b3"], id="fire", layer="emergency")
    fake.emergency = [emergency]
    wait_for(lambda: run.plays("stop"), 15)
    (stopped,) = run.plays("stop")
    assert stopped["t"] - issued < 3.0  # well within the 15 s promised
    sleep_until(issued + 3.5)
    fake.emergency = []
    starts = run.plays()
    assert [p["sha"] for p in starts] == [
        fake.items[0]["media"]["sha256"],
        emergency["media"]["sha256"],
    ]
    assert starts[1]["t"] - issued < 3.0 and starts[1]["offset"] == 0
    wait_for(lambda: len(fake.plays) == 2, 5)
    assert statuses(fake) == {"long": "interrupted", "fire": "completed"}
    assert run.stop() == 0


def test_after_an_emergency_the_programme_resumes_without_waiting_for_a_poll(
    tmp_path, fake, tones, players
):
    # Schedule polls a minute apart: only the emergency's start can make the player ask early.
    t0 = time.time() + 2
    fake.set_schedule([fake.item(t0, t0 + 20, tones["long"], id="long")])
    run = players(tmp_path, fake, schedule_s=60).start()
    sleep_until(t0 + 2)
    issued = time.time()
    emergency = fake.item(issued, issued + 3, tones["b3"], id="fire", layer="emergency")
    # What the server plans: the call, then the interrupted item again from its start.
    again = fake.item(issued + 4, issued + 24, tones["long"], id="long-again")
    fake.set_schedule([fake.item(t0, issued, tones["long"], id="long"), emergency, again])
    fake.emergency = [emergency]
    wait_for(lambda: len(run.plays()) == 3, 15)
    first, call, resumed = run.plays()
    assert first["sha"] == resumed["sha"] == again["media"]["sha256"]
    assert call["sha"] == emergency["media"]["sha256"]
    assert resumed["t"] == pytest.approx(issued + 4, abs=1.0) and resumed["offset"] == 0
    assert fake.count("GET", "/api/v1/device/schedule") == 2  # at the start, and at the call
    assert run.stop() == 0


def test_the_fallback_folder_when_nothing_is_scheduled(tmp_path, fake, tones, players):
    folder = tmp_path / "fallback"
    folder.mkdir()
    (folder / "2-second.wav").write_bytes(tones["g1"].read_bytes())
    (folder / "1-first.wav").write_bytes(tones["f1"].read_bytes())
    (folder / "notes.txt").write_text("not audio")
    t0 = time.time() + 4.2
    fake.set_schedule([fake.item(t0, t0 + 2, tones["a2"], id="news")])
    run = players(tmp_path, fake, fallback_folder=folder).start()
    sleep_until(t0 + 1)
    names = [Path(p["file"]).name for p in run.plays()]
    assert names[:3] == ["1-first.wav", "2-second.wav", "1-first.wav"]
    assert names[-1].startswith(fake.items[0]["media"]["sha256"])
    assert run.plays()[-1]["t"] == pytest.approx(t0, abs=1.0)
    assert run.stop() == 0


def test_the_credential_never_goes_to_another_host(tmp_path, fake):
    api = kp.Api(config_for(tmp_path, fake))
    assert api.same_origin(fake.url + "/api/v1/media/x")
    assert not api.same_origin("http://elsewhere.example/api/v1/media/x")
    assert not api.same_origin(fake.url.replace("http:", "https:") + "/x")


def test_an_item_naming_a_path_instead_of_a_sha256_is_ignored(fake, tones):
    now = time.time()
    good = fake.item(now, now + 2, tones["a2"], id="good")
    bad = fake.item(now + 2, now + 4, tones["b3"], id="bad")
    bad["media"]["sha256"] = "../../etc/passwd"
    assert [i.id for i in kp.items_of({"items": [bad, good]})] == ["good"]


def test_the_example_config_and_the_unit_file():
    deploy = PLAYER.parents[1] / "deploy"
    config = kp.load_config(str(deploy / "kuanyue-player.ini.example"))
    assert config.supports_offset and config.emergency_poll_s == 10
    assert config.cache_dir == Path("/var/cache/kuanyue-player")
    unit = (deploy / "kuanyue-player.service").read_text()
    assert (
        "ExecStart=/usr/bin/python3 /opt/kuanyue/kuanyue_player.py --config /etc/kuanyue-player.ini"
    ) in unit
    assert "Restart=always" in unit and "User=kuanyue-player" in unit
