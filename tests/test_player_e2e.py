"""The loudspeaker player against the real server: `kuanyue serve` in a subprocess.

榕溪村's loudspeaker 喇叭 gets two one-off announcements (a person's recording: generated
tones, so rendering is quick) a few seconds apart, the server is stopped after the first
and started again during the second, and an emergency is announced while the second plays.
The play command is the silent, exact recorder of tests/test_player.py.
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.test_player import PlayerRun, kp, sleep_until, wait_for
from tests.test_programme import _village_and_device

pytestmark = pytest.mark.slow  # about a minute of wall clock: the schedule is real time

CST = ZoneInfo("Asia/Shanghai")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tone(path: Path, frequency: int, seconds: float) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi"]
        + ["-i", f"sine=frequency={frequency}:duration={seconds}", "-ac", "1", str(path)],
        check=True,
    )
    return path


class Server:
    """`kuanyue serve` on a fixed loopback port, so it can be stopped and started again."""

    def __init__(self, tmp_path: Path, credential: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.credential = credential
        self.log = tmp_path / "server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        kuanyue = Path(sys.executable).with_name("kuanyue")
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [str(kuanyue), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.ready, 30, step=0.1)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/openapi.json", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self.process = None

    def get(self, path: str) -> dict:
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {self.credential}"}
        )
        with urllib.request.urlopen(request, timeout=5) as reply:
            return json.loads(reply.read())


@pytest.fixture
def render(config, tmp_path):  # noqa: ANN001, ANN201
    from library.broadcast.announcements import Render
    from media_pipeline.jobs import RenderOptions

    return Render(RenderOptions(), tmp_path / "speech-cache", config.tools)


def _announce(db, store, render, **kw):  # noqa: ANN001, ANN003, ANN202
    from library.broadcast.announcements import announce

    values = {"village": "榕溪村", "kind": "oneoff", "created_by": "吴文化", "intro": "none"}
    values.update(kw)
    return announce(db, store, render, **values)


def _local(moment: float) -> datetime:
    """A POSIX time as 榕溪村's wall clock, to the second (as `announce` takes it)."""
    return datetime.fromtimestamp(moment, CST).replace(tzinfo=None, microsecond=0)


def test_the_player_against_the_real_server(db, store, runner, render, tmp_path):
    from library.broadcast.announcements import When, stop
    from library.broadcast.models import PlayLog

    _village_and_device(runner)
    made = runner.invoke("device", "token", "喇叭")
    credential = re.search(r"credential: (\d+\.\S+)", made.output).group(1)
    device_id = int(credential.split(".")[0])

    base = float(int(time.time()) + 25)  # whole seconds: `when.at` has no fractions
    first = _announce(
        db, store, render, text="今晚八点在鼓楼开会。", voice=_tone(tmp_path / "a.wav", 440, 6),
        when=When(at=_local(base)),
    )  # fmt: skip
    second = _announce(
        db, store, render, text="明天修路，请绕行。", voice=_tone(tmp_path / "b.wav", 550, 20),
        when=When(at=_local(base + 10)),
    )  # fmt: skip
    assert first.duration_s and second.duration_s and second.duration_s > 15

    server = Server(tmp_path, credential)
    server.start()
    player = None
    try:
        schedule = server.get("/api/v1/device/schedule")
        ours = [i for i in schedule["items"] if i["media"] and i["layer"] == "interrupt"]
        assert [kp.parse_time(i["start"]) for i in ours] == [base, base + 10]
        shas = [i["media"]["sha256"] for i in ours]

        (tmp_path / "player").mkdir()
        player = PlayerRun(tmp_path / "player", server)
        player.start()
        wait_for(lambda: len([p for p in player.cached() if p.suffix == ".mp3"]) == 2, 15)

        sleep_until(base + 7.5)  # the first has played: the server goes away
        server.stop()
        sleep_until(base + 14)  # the second plays from the cache; the server comes back
        server.start()
        sleep_until(base + 18)
        emergency = _announce(
            db, store, render, kind="emergency", emergency="fire", when=When(for_minutes=1),
            text="上寨起火，请青壮年带水桶到上寨集合。", voice=_tone(tmp_path / "e.wav", 880, 3),
        )  # fmt: skip
        issued = time.time()
        active = server.get("/api/v1/device/emergency")
        assert active["active"]
        call_item = next(i for i in active["items"] if i["media"])
        call = call_item["media"]["sha256"]
        wait_for(lambda: [p for p in player.plays() if p["sha"] == call], 15)
        cut = [p for p in player.plays("stop") if shas[1][:64] in p["file"]]
        assert cut and cut[0]["t"] - issued < 15  # the second, interrupted within 15 s
        sleep_until(time.time() + 4)  # the call has played once
        stop(db, emergency.id)
        sleep_until(time.time() + 7)  # the server reflects a stop within 5 s
        assert player.stop() == 0
    finally:
        if player is not None and player.process is not None and player.process.poll() is None:
            player.kill()
        server.stop()

    starts = player.plays()
    assert [p["sha"] for p in starts[:2]] == shas
    for played, moment in zip(starts[:2], (base, base + 10), strict=True):
        assert played["t"] == pytest.approx(moment, abs=1.0)
    assert {p["sha"] for p in starts[2:]} == {call}  # the emergency call, nothing else
    # heard a few seconds late, the call still plays whole rather than until its item's end
    over = [p for p in player.plays("end") + player.plays("stop") if call in p["file"]][0]
    assert over["t"] - starts[2]["t"] >= call_item["media"]["duration_s"] - 0.3

    with db.session() as session:
        rows = session.query(PlayLog).filter_by(device_id=device_id).all()
        logged = [(r.play_id, r.sha256, r.status) for r in rows]
    by_sha = {}
    for _, sha, status in logged:
        by_sha.setdefault(sha, []).append(status)
    assert by_sha[shas[0]] == ["completed"]
    assert by_sha[shas[1]] == ["interrupted"]
    assert by_sha[call] and set(by_sha[call]) <= {"completed", "interrupted"}
    assert len(logged) == len(starts)  # one row per play, each stored once
    assert len({play_id for play_id, _, _ in logged}) == len(logged)
    queue = sqlite3.connect(tmp_path / "player" / "state" / "plays.sqlite3")
    try:  # and nothing left behind: every record was acknowledged
        assert queue.execute("SELECT count(*) FROM plays").fetchone() == (0,)
    finally:
        queue.close()
    assert "unreachable" in player.stderr  # it did see the server go away
