"""The one place external programs are found and run (argument lists, stderr kept)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence

from .errors import ToolFailed, ToolMissing

# Each program can be pointed elsewhere with an environment variable; these are
# declared (with help text) in library.settings so `kuanyue doctor` prints them.
_ENV = {"ffmpeg": "KUANYUE_FFMPEG", "ffprobe": "KUANYUE_FFPROBE", "espeak-ng": "KUANYUE_ESPEAK"}

INSTALL_HINTS = {
    "ffmpeg": "Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg",
    "ffprobe": "Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg",
    "espeak-ng": "Debian/Ubuntu: sudo apt-get install espeak-ng; macOS: brew install espeak-ng",
}

# How many times each program was started in this process ("libav": in-process decodes
# and probes). Tests read it to prove that a warm render or a re-scan does no media work.
CALLS: Counter[str] = Counter()


def binary(name: str) -> str:
    """Return the full path of program `name`, honouring its KUANYUE_* override."""
    configured = os.environ.get(_ENV.get(name, ""), "") or name
    found = shutil.which(configured)
    if not found:
        raise ToolMissing(name, INSTALL_HINTS.get(name, f"install {name}"))
    return found


def run(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `argv` (never through a shell); raise ToolFailed carrying stderr on failure."""
    args = [binary(argv[0]), *map(str, argv[1:])]
    CALLS[argv[0]] += 1
    try:
        proc = subprocess.run(args, input=input, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        stderr = (exc.stderr or b"").decode("utf-8", "replace")
        raise ToolFailed([argv[0], *args[1:]], -1, f"timed out after {timeout}s\n{stderr}") from exc
    if proc.returncode != 0:
        raise ToolFailed(
            [argv[0], *args[1:]], proc.returncode, proc.stderr.decode("utf-8", "replace")
        )
    return proc


def ffmpeg(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg quietly with the given arguments (overwrite, no stdin)."""
    return run(["ffmpeg", "-hide_banner", "-nostdin", "-y", *args], timeout=timeout)
