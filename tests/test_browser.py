"""The page in a real browser: Debian's headless Chromium plays, seeks and shows the WebVTT track."""

from __future__ import annotations

import shutil
import socket
import threading

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags that keep Chromium off the (closed) network and quiet in a root sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def config(rendered):
    """`app` (tests/conftest.py) serves the session's rendered library."""
    return rendered.config


@pytest.fixture
def server(app):
    from waitress.server import create_server

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    srv = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    srv.close()


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is installed by `make test` (scripts/setup.sh --dev)",
)
def test_video_plays_and_seeks_in_chromium(server, rendered, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{server}/c/{rendered.slug}")
            result = page.evaluate(
                """async () => {
                  const v = document.querySelector('video');
                  v.muted = true;
                  v.textTracks[0].mode = 'showing';
                  await v.play();
                  await new Promise(r => setTimeout(r, 800));
                  const played = v.currentTime;
                  v.pause();
                  const target = v.duration - 1.0;
                  await new Promise((resolve, reject) => {
                    v.addEventListener('seeked', resolve, {once: true});
                    v.addEventListener('error', () => reject(v.error && v.error.message), {once: true});
                    v.currentTime = target;
                  });
                  const track = v.textTracks[0];
                  for (let i = 0; i < 50 && !(track.cues && track.cues.length); i++) {
                    await new Promise(r => setTimeout(r, 100));
                  }
                  return {played, seekedTo: v.currentTime, target, duration: v.duration,
                          width: v.videoWidth, height: v.videoHeight, error: v.error && v.error.code,
                          cues: track.cues ? track.cues.length : 0,
                          firstCue: track.cues && track.cues.length ? track.cues[0].text : ''};
                }"""
            )
            page.screenshot(path=str(tmp_path / "page.png"))
        finally:
            browser.close()
    assert result["error"] is None
    assert result["played"] > 0.3, result
    assert abs(result["seekedTo"] - result["target"]) < 0.5, result
    assert (result["width"], result["height"]) == (1280, 720)
    assert result["cues"] >= 3 and "第一条" in result["firstCue"], result
