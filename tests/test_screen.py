"""The screen kiosk (/screen) in Debian's headless Chromium against a real `kuanyue serve`.

A village with a screen device and a programme of three 4-second items starting a few seconds
from now (a clause's video with its WebVTT subtitles, a song recording's audio, another
clause's video), all real files made by ffmpeg's lavfi and kept in the media store. The page
pairs (by the URL fragment, and by a pairing code with `kuanyue device pair`), plays the items
at their wall-clock times, keeps playing from its Service Worker cache once the server is
stopped (and starts again offline after a reload), and shows an emergency's red banner with
its sound within 15 s of the emergency being issued.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import SMALL_COVENANT
from tests.media import ffmpeg
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is installed by `make test` (scripts/setup.sh --dev)",
)

CST = ZoneInfo("Asia/Shanghai")
ITEM_S = 4.0
LEAD_S = 12  # from setting up the programme to its first item: page load, pairing, prefetch
ROOT = Path(__file__).resolve().parent.parent

STATE_JS = """() => {
  const s = window.kuanyueScreen, $ = (id) => document.getElementById(id);
  const v = $('player'), a = $('audio'), al = $('alarm-player');
  const track = v.textTracks.length ? v.textTracks[0] : null;
  const cues = track && track.activeCues ? Array.from(track.activeCues, (c) => c.text) : [];
  return {
    t: Date.now(), phase: s && s.phase, mode: s && s.mode, current: s && s.current,
    video: !v.hidden && v.currentSrc, videoTime: v.currentTime, videoPaused: v.paused,
    cue: cues.join(' '), trackMode: track && track.mode,
    audio: a.currentSrc, audioTime: a.currentTime, audioPaused: a.paused,
    card: $('card').hidden ? null : $('card-title').textContent,
    cardFont: parseFloat(getComputedStyle($('card-title')).fontSize) / innerHeight * 100,
    idle: $('idle').hidden ? null : $('idle-village').textContent + '|' + $('idle-next').textContent,
    alarm: $('alarm').hidden ? null : $('alarm-title').textContent,
    alarmSrc: al.currentSrc, alarmTime: al.currentTime, alarmPaused: al.paused,
    code: $('pairing').hidden ? null : $('pairing-code').textContent,
    cached: s ? s.cached.slice() : [], online: s && s.online, errors: s ? s.errors.slice() : [],
    log: s ? s.log.map((e) => [e.id, e.kind, e.at]) : [],
    controlled: Boolean(navigator.serviceWorker && navigator.serviceWorker.controller),
    hash: location.hash, stored: localStorage.getItem('kuanyue.screen.credential'),
  };
}"""


# --- the library: a village, a screen and a programme of real files -----------------------------


def _make(out: Path, *args: str) -> Path:
    ffmpeg(*args, f"file:{out}")
    return out


def _video(out: Path, hz: int) -> Path:
    return _make(
        out, "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={ITEM_S}",
        "-f", "lavfi", "-i", f"sine=frequency={hz}:duration={ITEM_S}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart",
    )  # fmt: skip


def _vtt(out: Path, text: str) -> Path:
    out.write_text(f"WEBVTT\n\n00:00:00.000 --> 00:00:{ITEM_S:06.3f}\n{text}\n", encoding="utf-8")
    return out


@dataclass
class Library:
    credential: str
    device: str
    clause_keys: list[str]
    recording_id: int


@pytest.fixture
def library(db, store, runner, tmp_path) -> Library:
    """榕溪村, its screen 鼓楼屏幕, two clauses with a screen video and subtitles, a song."""
    from library.broadcast.devices import add_device
    from library.covenants.versions import import_covenant
    from library.models import (
        Clause,
        Consent,
        MediaFile,
        Recording,
        RecordingText,
        Segment,
        SegmentFile,
    )

    assert runner.invoke("village", "add", "榕溪村", "--township", "肇兴镇").exit_code == 0
    made = add_device(db, "鼓楼屏幕", "榕溪村", "screen")
    cov = tmp_path / "cov.txt"
    cov.write_text(SMALL_COVENANT, encoding="utf-8")
    result = import_covenant(db, cov, village="榕溪村")

    def stored(kind: str, path: Path, mime: str, row):  # noqa: ANN001, ANN202
        entry = store.put(path)
        row.kind, row.mime = kind, mime
        row.sha256, row.store_path, row.size = entry.sha256, entry.store_path, entry.size
        row.duration_s = ITEM_S if mime != "text/vtt" else None
        return row

    keys = []
    with db.session(write=True) as session:
        for n, clause_row in enumerate(result.version.clauses[:2], start=1):
            clause = session.get(Clause, clause_row.id)
            video = _video(tmp_path / f"c{n}.mp4", 300 + 200 * n)
            vtt = _vtt(tmp_path / f"c{n}.vtt", f"第{'一二'[n - 1]}条 字幕 / subtitle {n}")
            clause.segments.append(
                Segment(
                    inputs_hash=f"{n}" * 64, engine="espeak", voice="v", duration_s=ITEM_S,
                    files=[
                        stored("video-16x9", video, "video/mp4", SegmentFile()),
                        stored("subtitles-vtt", vtt, "text/vtt", SegmentFile()),
                    ],
                )
            )  # fmt: skip
            keys.append(clause.key)
        song = _make(
            tmp_path / "song.ogg", "-f", "lavfi", "-i", f"sine=frequency=660:duration={ITEM_S}",
            "-c:a", "libopus", "-b:a", "32k",
        )  # fmt: skip
        rec = Recording(
            protocol="village",
            village="榕溪村",
            texts=[RecordingText(field="title", lang="zh-Hans", value="喊寨歌")],
            consents=[Consent(person="吴秀梅", scope="broadcast")],
            files=[stored("web", song, "audio/ogg", MediaFile())],
        )
        session.add(rec)
        session.flush()
        rec_id = rec.id
    return Library(f"{made.device.id}.{made.token}", made.device.name, keys, rec_id)


def _programme(db, lib: Library, lead_s: float = LEAD_S) -> datetime:  # noqa: ANN001
    """Clause 1, the song, clause 2 from `lead_s` seconds from now; returns the first start."""
    from library.broadcast.models import Playlist, PlaylistItem, Schedule
    from library.broadcast.places import find_village
    from library.broadcast.schedules import find_targets

    start = (datetime.now(CST) + timedelta(seconds=lead_s)).replace(microsecond=0)
    if (start + timedelta(minutes=10)).date() != start.date():
        pytest.skip("too close to the village's midnight for a same-day window")
    end = start + timedelta(minutes=5)
    with db.session(write=True) as session:
        village = find_village(session, "榕溪村")
        playlist = Playlist(name="屏幕测试", village_id=village.id)
        playlist.items.extend(
            [
                PlaylistItem(kind="clause", clause_key=lib.clause_keys[0], position=1),
                PlaylistItem(kind="recording", recording_id=lib.recording_id, position=2),
                PlaylistItem(kind="clause", clause_key=lib.clause_keys[1], position=3),
            ]
        )
        session.add(playlist)
        session.add(
            Schedule(
                playlist=playlist, rrule="FREQ=DAILY;COUNT=1",
                window_start=start.time().isoformat(timespec="seconds"),
                window_end=end.time().isoformat(timespec="seconds"),
                starts_on=start.date(), ends_on=None, layer="scheduled", overrun="finish",
                loop=False, targets=find_targets(session, ("榕溪村",), (), ()),
            )
        )  # fmt: skip
    return start


# --- a real server, stoppable ----------------------------------------------------------------


class Server:
    """`kuanyue serve` in a subprocess over the test's KUANYUE_HOME; `stop()` is a power cut."""

    def __init__(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/screen", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stdout.read()) from None
                time.sleep(0.2)
        raise RuntimeError("kuanyue serve did not start")

    def get(self, path: str, credential: str) -> dict:
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {credential}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture
def server(library):
    srv = Server()
    yield srv
    srv.stop()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _wait(page, predicate, timeout_s: float, what: str) -> dict:  # noqa: ANN001
    """Sample the page until `predicate(state)` holds; the last state on failure."""
    deadline = time.monotonic() + timeout_s
    state = page.evaluate(STATE_JS)
    while not predicate(state):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {state}")
        time.sleep(0.1)
        state = page.evaluate(STATE_JS)
    return state


def _ms(moment: datetime) -> float:
    return moment.timestamp() * 1000


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_screen_pairs_by_fragment_plays_item_by_item_and_keeps_playing_offline(
    db, library, server, browser, tmp_path
):
    start = _programme(db, library)
    snapshot = server.get("/api/v1/device/schedule", library.credential)
    ours = [i for i in snapshot["items"] if i["media"] and i["layer"] == "scheduled"]
    assert [i["kind"] for i in ours] == ["video", "audio", "video"], ours
    assert ours[0]["vtt"] and ours[2]["vtt"] and ours[1]["vtt"] is None
    starts = [_ms(datetime.fromisoformat(i["start"])) for i in ours]
    assert abs(starts[0] - _ms(start)) < 1
    media_urls = {i["media"]["url"] for i in ours} | {ours[0]["vtt"], ours[2]["vtt"]}

    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(f"{server.url}/screen#{library.credential}")
    # Paired by the fragment, which leaves the address bar at once; the credential is kept.
    state = _wait(page, lambda s: s["phase"] == "playing", 15, "pairing by fragment")
    assert state["hash"] == "" and state["stored"] == library.credential
    # Before the first item: the idle card names the village and what comes next.
    state = _wait(page, lambda s: s["idle"] and "下一个" in s["idle"], 5, "idle card")
    assert state["idle"].startswith("榕溪村|") and "条款" in state["idle"]
    # The coming files are fetched, verified and cached before they are due.
    _wait(page, lambda s: media_urls <= set(s["cached"]), 10, "prefetch")
    _wait(page, lambda s: s["controlled"], 10, "the Service Worker controls the page")
    assert time.time() * 1000 < starts[0], "the programme started before the page was ready"

    samples = []
    stopped_at = None
    while time.time() * 1000 < starts[2] + 3000:
        state = page.evaluate(STATE_JS)
        samples.append(state)
        if stopped_at is None and state["t"] > starts[1] - 1500:
            server.stop()  # the network is gone for the song and clause 2
            stopped_at = state["t"]
            with pytest.raises(OSError):
                urllib.request.urlopen(f"{server.url}/screen", timeout=2)
        if state["t"] > starts[1] + 2000 and not (tmp_path / "song.png").exists():
            page.screenshot(path=str(tmp_path / "song.png"))
        time.sleep(0.1)
    page.screenshot(path=str(tmp_path / "offline.png"))

    def during(a: float, b: float) -> list[dict]:
        return [s for s in samples if a <= s["t"] < b]

    first, song, second = (during(s + 1200, s + ITEM_S * 1000 - 300) for s in starts)
    assert first and song and second
    # Clause 1: the full-screen video with its subtitles showing.
    assert all(s["mode"] == "video" and s["video"].startswith("blob:") for s in first), first
    assert first[-1]["videoTime"] > 1.0 and not first[-1]["videoPaused"]
    assert first[-1]["trackMode"] == "showing" and "第一条" in first[-1]["cue"], first[-1]
    # The song (offline now): its audio under a large card with its title.
    assert all(s["mode"] == "audio" and s["card"] and "喊寨歌" in s["card"] for s in song), song
    assert song[-1]["audio"].startswith("blob:") and song[-1]["audioTime"] > 1.0
    assert song[-1]["cardFont"] >= 6.0
    # Clause 2, still offline: a new video from the cache, its own subtitles.
    assert all(s["mode"] == "video" for s in second), second
    assert second[-1]["video"] != first[-1]["video"] and second[-1]["videoTime"] > 1.0
    assert "第二条" in second[-1]["cue"], second[-1]
    # Item by item at the right times: each started within a second of its start.
    log = samples[-1]["log"]
    by_id = {entry[0]: entry for entry in log}
    for item, at in zip(ours, starts, strict=True):
        assert item["id"] in by_id, log
        assert abs(by_id[item["id"]][2] - at) < 1000, (item["id"], by_id[item["id"]][2] - at)
    # After the programme, the idle card again.
    _wait(page, lambda s: s["mode"] == "idle" and s["idle"], 5, "idle after the programme")

    # A reload with the server still down: the Service Worker serves the page, its script,
    # the device and the last schedule, so the screen starts again by itself.
    page.reload()
    state = _wait(
        page, lambda s: s["phase"] == "playing" and s["idle"] and not s["online"], 15, "offline"
    )
    # The schedule came from the worker's copy: the card no longer says it is loading one.
    _wait(page, lambda s: s["idle"] and "载入" not in s["idle"], 5, "the schedule offline")
    assert state["idle"].startswith("榕溪村|")
    context.close()


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_screen_pairs_by_code_and_an_emergency_interrupts_within_15s(
    db, store, library, server, browser, runner, tmp_path
):
    from library.broadcast.announcements import Render, When, announce
    from media_pipeline.jobs import RenderOptions

    start = _programme(db, library, lead_s=15)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(f"{server.url}/screen")
    state = _wait(page, lambda s: s["code"] and re.fullmatch(r"\d{6}", s["code"]), 15, "code")
    code = state["code"]
    page.screenshot(path=str(tmp_path / "pairing.png"))
    assert page.locator("#pairing").inner_text().count(f"kuanyue device pair {code}") == 1
    result = runner.invoke("device", "pair", code, library.device)
    assert result.exit_code == 0, result.output
    state = _wait(page, lambda s: s["phase"] == "playing", 15, "paired by code")
    assert state["stored"] and state["stored"].startswith(library.credential.split(".")[0] + ".")
    assert state["stored"] != library.credential  # pairing renews the device's token

    _wait(page, lambda s: s["mode"] == "video" and s["videoTime"] > 0.5, 20, "clause 1 plays")
    render = Render(RenderOptions(), tmp_path / "speech-cache")
    info = announce(
        db, store, render, village="榕溪村", kind="emergency", emergency="flood",
        text="河水上涨，请沿河住户立即撤离到高处。", created_by="吴文化", when=When(for_minutes=2),
    )  # fmt: skip
    issued = time.monotonic()
    state = _wait(page, lambda s: s["alarm"] is not None, 16, "emergency banner")
    assert time.monotonic() - issued <= 15.0
    assert "紧急通知" in state["alarm"]
    assert state["mode"] == "alarm" and not state["video"] and state["videoPaused"]
    state = _wait(page, lambda s: s["alarmTime"] > 0.5 and not s["alarmPaused"], 10, "its sound")
    assert state["alarmSrc"].startswith("blob:")
    page.screenshot(path=str(tmp_path / "emergency.png"))
    # The interrupted clause is logged, and the log and a heartbeat reach the server.
    page.evaluate("() => window.kuanyueScreen.flush()")
    assert page.evaluate("() => localStorage.getItem('kuanyue.screen.plays')") == "[]"
    with db.session() as session:
        from library.broadcast.models import Device, PlayLog

        device = session.scalar(select(Device).where(Device.name == library.device))
        query = select(PlayLog).where(PlayLog.device_id == device.id).order_by(PlayLog.started_at)
        statuses = [p.status for p in session.scalars(query)]
        # Clause 1 (and the song, if rendering the call took long) finished; then the call.
        assert statuses[-1] == "interrupted" and set(statuses[:-1]) <= {"completed"}, statuses
        assert device.player_version == "screen/1" and device.cache_bytes
    assert info.kind == "emergency" and time.time() < start.timestamp() + 3 * ITEM_S
    context.close()


def test_screen_page_and_service_worker_headers(client):
    page = client.get("/screen")
    assert page.status_code == 200
    assert 'lang="zh-Hans"' in page.get_data(as_text=True)
    worker = client.get("/screen-sw.js")
    assert worker.status_code == 200
    assert worker.headers["Content-Type"].startswith("text/javascript")
    assert worker.headers["Service-Worker-Allowed"] == "/"
    assert worker.headers["Cache-Control"] == "no-cache"
