"""media_pipeline.tools: two ffmpegs joined by a pipe (real ffmpeg, generated media)."""

from __future__ import annotations

import pytest

from media_pipeline import tools
from media_pipeline.errors import ToolFailed

from .media import read_wav

TONE = ["-f", "lavfi", "-i", "sine=f=440:d=1:sample_rate=48000"]


def test_ffmpeg_pipe_runs_both_at_once(tmp_path):
    out = tmp_path / "out.wav"
    tools.CALLS.clear()
    written, read = tools.DEFAULT_TOOLS.ffmpeg_pipe(
        [*TONE, "-f", "matroska", "pipe:1"],
        ["-f", "matroska", "-i", "pipe:0", "-ac", "1", str(out)],
    )
    assert written.returncode == read.returncode == 0 and tools.CALLS["ffmpeg"] == 2
    samples, rate = read_wav(out)
    assert rate == 48000 and len(samples) == pytest.approx(48000, abs=1024)  # 1 s of tone


def test_ffmpeg_pipe_reports_the_run_that_failed(tmp_path):
    # The first fails (an unknown filter): the second only sees its input end.
    with pytest.raises(ToolFailed) as first:
        tools.DEFAULT_TOOLS.ffmpeg_pipe(
            [*TONE, "-af", "nosuchfilter", "-f", "matroska", "pipe:1"],
            ["-f", "matroska", "-i", "pipe:0", str(tmp_path / "a.wav")],
        )
    assert "nosuchfilter" in first.value.stderr
    # The second fails (it cannot write there): the first then fails of a broken pipe.
    with pytest.raises(ToolFailed) as second:
        tools.DEFAULT_TOOLS.ffmpeg_pipe(
            [*TONE, "-t", "600", "-f", "matroska", "pipe:1"],
            ["-f", "matroska", "-i", "pipe:0", str(tmp_path / "missing" / "b.wav")],
        )
    assert "missing" in second.value.stderr
