"""The village radio stream: what `kuanyue stream next` answers liquidsoap, the configuration
written for icecast2 and liquidsoap, and (slow) the real engines streaming an announcement.

The slow test runs Debian's icecast2 and liquidsoap on loopback at a free port, listens with
ffmpeg like a resident's phone, and checks the audio itself: silence, then the announcement
with its gong (≈330 Hz) at its scheduled time, then silence where a second announcement's
file has been deleted from the store, the stream still going.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import wave
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tests.test_programme import _clauses

CST = ZoneInfo("Asia/Shanghai")


def _stream_device(runner) -> None:  # noqa: ANN001
    assert runner.invoke("village", "add", "榕溪村", "--township", "肇兴镇").exit_code == 0
    result = runner.invoke("device", "add", "电台", "--village", "榕溪村", "--kind", "stream")
    assert result.exit_code == 0, result.output


@pytest.fixture
def all_day(db, store, runner, tmp_path) -> datetime:
    """Stream device 电台 looping clauses of 10, 20 and 30 s all day (a 60 s cycle from local
    midnight), their files in the store; returns today's local midnight."""
    _stream_device(runner)
    keys = _clauses(db, tmp_path)
    for n in (1, 2, 3):  # the files _clauses names (x/1.mp3 …), here with some bytes
        (store.root / "x").mkdir(parents=True, exist_ok=True)
        (store.root / "x" / f"{n}.mp3").write_bytes(b"\xff\xfb" * 50)
    assert runner.invoke("playlist", "create", "全天", "--village", "榕溪村").exit_code == 0
    for key in keys:
        assert runner.invoke("playlist", "add", "全天", "clause", key).exit_code == 0
    midnight = datetime.now(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    result = runner.invoke(
        "schedule", "add", "全天", "--rrule", "FREQ=DAILY", "--window", "all-day",
        "--from", (midnight - timedelta(days=1)).date().isoformat(), "--village", "榕溪村",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return midnight


@pytest.mark.parametrize(
    ("second", "clause", "skip"),
    [
        pytest.param(61, 1, 0.0, id="just-begun-plays-from-its-top"),
        pytest.param(75, 2, 0.0, id="five-seconds-in-still-from-its-top"),
        pytest.param(100, 3, 10.0, id="ten-seconds-in-starts-mid-item"),
    ],
)
def test_next_item_is_the_item_covering_now(db, store, all_day, second, clause, skip) -> None:
    from library.broadcast.stream import next_item

    item = next_item(db, store, "电台", all_day + timedelta(seconds=second))
    assert item is not None
    assert item.path == (store.root / "x" / f"{clause}.mp3").resolve()
    assert item.skip_s == pytest.approx(skip)
    assert item.cue_out_s is None and "条款" in item.title


def test_a_missing_file_is_silence_until_the_next_item(db, store, all_day) -> None:
    from library.broadcast.stream import next_answer, next_item

    (store.root / "x" / "3.mp3").unlink()
    at = all_day + timedelta(seconds=100)  # clause 3's turn, 30–60 s of the cycle
    assert next_item(db, store, "电台", at) is None
    assert next_answer(db, store, "电台", at) == [
        f"{(all_day + timedelta(seconds=120)).timestamp():.3f}"
    ]


def test_the_answer_for_liquidsoap_names_the_file_its_offset_and_the_next_question(
    db, store, all_day, runner
) -> None:
    at = all_day + timedelta(seconds=100)
    result = runner.invoke("stream", "next", "电台", "--at", at.timestamp())
    assert result.exit_code == 0, result.output
    end, request = result.output.splitlines()
    assert float(end) == (all_day + timedelta(seconds=120)).timestamp()
    assert request.startswith('annotate:title="条款')
    assert 'liq_cue_in="10.000"' in request
    assert request.endswith(f":{(store.root / 'x' / '3.mp3').resolve()}")


def test_the_configuration_keeps_passwords_private_and_drops_root(
    db, runner, tmp_path, all_day
) -> None:
    from library.broadcast.stream import stream_mounts, write_stream_config

    out = tmp_path / "conf"
    config = write_stream_config(
        out, host="127.0.0.1", port=8123, mounts=stream_mounts(db),
        next_command=["kuanyue", "stream", "next"], env={"KUANYUE_HOME": "/srv/k y"},
        as_root=True,
    )  # fmt: skip
    assert [m.mount for m in config.mounts] == ["/rongxicun.mp3"]
    assert config.url(config.mounts[0]) == "http://127.0.0.1:8123/rongxicun.mp3"
    xml = config.icecast_xml.read_text()
    liq = config.scripts["/rongxicun.mp3"].read_text()
    assert "<changeowner><user>nobody</user>" in xml and "<bind-address>127.0.0.1<" in xml
    assert "settings.init.allow_root.set(true)" in liq
    assert "KUANYUE_HOME='/srv/k y' kuanyue stream next 1" in liq
    assert (out.stat().st_mode & 0o777) == 0o700
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in out.iterdir())
    password = liq.split('password="', 1)[1].split('"', 1)[0]
    assert len(password) >= 20 and f"<password>{password}</password>" in xml
    again = write_stream_config(
        out, host="127.0.0.1", port=8123, mounts=stream_mounts(db),
        next_command=["kuanyue"], as_root=False,
    )  # fmt: skip
    text = again.scripts["/rongxicun.mp3"].read_text()
    assert password not in text and "allow_root" not in text  # new each time; not root
    assert "changeowner" not in again.icecast_xml.read_text()


# --- the real engines ------------------------------------------------------------------------

ENGINES = [shutil.which(n) for n in ("liquidsoap", "icecast2", "ffmpeg")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _loudness(wav: Path) -> tuple[np.ndarray, int]:
    """(dBFS of each 0.1 s, sample rate) of a captured mono or stereo WAV, and the samples."""
    with wave.open(str(wav)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return data.reshape(-1, channels).mean(axis=1), rate


def _db(samples: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(samples.astype(float) ** 2))) if len(samples) else 0.0
    return 20 * np.log10(rms / 32768 + 1e-9)


def _band_share(samples: np.ndarray, rate: int, lo: float, hi: float) -> float:
    """The share of the energy above 60 Hz that lies in [lo, hi] Hz."""
    power = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(power[(freqs >= lo) & (freqs <= hi)].sum() / power[freqs > 60].sum())


@pytest.mark.slow
@pytest.mark.skipif(
    not all(ENGINES),
    reason="needs Debian's liquidsoap, icecast2 and ffmpeg (scripts/setup.sh --dev installs them)",
)
def test_the_stream_plays_the_announcement_with_its_gong_and_survives_a_missing_file(
    db, store, config, runner, tmp_path
) -> None:
    from library.broadcast.announcements import Render, When, announce
    from library.broadcast.models import Announcement
    from media_pipeline.jobs import RenderOptions

    _stream_device(runner)
    render = Render(RenderOptions(), tmp_path / "speech-cache", config.tools)
    began = time.monotonic()
    first_at = (datetime.now(CST) + timedelta(seconds=14)).replace(microsecond=0, tzinfo=None)
    values = {"village": "榕溪村", "kind": "oneoff", "created_by": "吴文化", "intro": "gong"}
    first = announce(
        db, store, render, text="请大家注意防火，熄灭火塘再睡觉。", when=When(at=first_at), **values
    )
    second_at = first_at + timedelta(seconds=int(first.duration_s) + 3)
    second = announce(
        db, store, render, text="明天上午修路，请各户派一人。", when=When(at=second_at), **values
    )
    with db.session() as session:  # the second one's file goes missing from the store
        (
            store.root / session.get(Announcement, second.id).file("audio-loudspeaker").store_path
        ).unlink()

    # A free port can be taken by another test between choosing it and icecast binding it
    # (xdist workers run side by side): then the command exits, and it is started again on
    # another port, once. What it printed is kept for the failure message.
    said = ""
    for attempt in range(2):
        port, conf = _free_port(), tmp_path / f"stream{attempt}"
        server = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "stream", "start", "--port", str(port),
             "--config-dir", str(conf)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        line = server.stdout.readline()
        if "http://" in line:
            break
        said += line + server.stdout.read()
        server.wait(timeout=30)
        said += "".join(
            f"\n--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
            for log in sorted(conf.glob("*.log"))
        )
    try:
        url = line.strip().rpartition(" ")[2]  # "榕溪村 电台: http://…"
        assert url == f"http://127.0.0.1:{port}/rongxicun.mp3", said + line
        listen_from = datetime.now(CST).replace(tzinfo=None)
        length = (second_at - listen_from).total_seconds() + second.duration_s + 2
        capture = tmp_path / "heard.wav"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", url, "-t", f"{length:.1f}", "-ac", "1",
             "-f", "wav", str(capture)],
            check=True, timeout=length + 20,
        )  # fmt: skip
        assert server.poll() is None, server.stdout.read()  # still streaming
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)  # the command's own Ctrl-C stops both engines
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    samples, rate = _loudness(capture)
    # The whole capture arrived: the stream never stopped, silence included.
    assert len(samples) / rate == pytest.approx(length, abs=0.5)
    levels = np.array(
        [_db(samples[i : i + rate // 10]) for i in range(0, len(samples), rate // 10)]
    )
    loud = np.flatnonzero(levels > -45)
    assert len(loud), "the announcement never arrived"
    onset = loud[0] / 10  # seconds into the capture
    # Heard when scheduled: a few seconds late at most (the question, the buffers).
    expected = (first_at - listen_from).total_seconds()
    assert expected - 3 < onset < expected + 8, (onset, expected)
    heard = levels[int(onset * 10) : int((onset + first.duration_s) * 10)]
    assert np.mean(heard > -45) > 0.6  # the announcement itself, not a blip
    # Its gong first: the energy of the first second is at ≈330 Hz, the speech's is not.
    start = int(onset * rate)
    assert _band_share(samples[start : start + rate], rate, 300, 360) > 0.4
    assert _band_share(samples[start + 3 * rate : start + 5 * rate], rate, 300, 360) < 0.3
    # The second announcement's slot is silence (its file is gone), and the stream went on
    # through it to the end of the capture (its length, checked above, ends 2 s after it).
    after = levels[int((onset + first.duration_s + 1.5) * 10) :]
    assert len(after) > 50 and np.all(after < -60)
    assert (conf / "icecast.log").is_file() and (conf / "rongxicun.log").is_file()
    assert time.monotonic() - began < 75
