"""The one place external programs are found and run (argument lists, stderr kept).

Where each program lives is a plain value, `Tools`, built by the library from its settings
(KUANYUE_FFMPEG, KUANYUE_FFPROBE, KUANYUE_ESPEAK) and handed to every pipeline function
that runs a program; nothing here reads the environment. `DEFAULT_TOOLS` finds each program
by its usual name on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ToolFailed, ToolMissing

INSTALL_HINTS = {
    "ffmpeg": "Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg",
    "ffprobe": "Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg",
    "espeak-ng": "Debian/Ubuntu: sudo apt-get install espeak-ng; macOS: brew install espeak-ng",
}

# How many times each program was started in this process ("libav": in-process decodes
# and probes). Instrumentation only, never read by the pipeline: tests read it to prove that
# a warm render or a re-scan does no media work.
CALLS: Counter[str] = Counter()


@dataclass(frozen=True)
class Tools:
    """Where the external programs are: a name on PATH or a full path, for each."""

    ffmpeg_program: str = "ffmpeg"
    ffprobe_program: str = "ffprobe"
    espeak_program: str = "espeak-ng"

    def binary(self, name: str) -> str:
        """Return the full path of program `name` (ffmpeg, ffprobe, espeak-ng or any other)."""
        configured = {
            "ffmpeg": self.ffmpeg_program,
            "ffprobe": self.ffprobe_program,
            "espeak-ng": self.espeak_program,
        }.get(name, name)
        found = shutil.which(configured)
        if not found:
            raise ToolMissing(name, INSTALL_HINTS.get(name, f"install {name}"))
        return found

    def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run `argv` (never through a shell); raise ToolFailed carrying stderr on failure."""
        args = [self.binary(argv[0]), *map(str, argv[1:])]
        CALLS[argv[0]] += 1
        try:
            proc = subprocess.run(
                args, input=input, capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            stderr = (exc.stderr or b"").decode("utf-8", "replace")
            raise ToolFailed(
                [argv[0], *args[1:]], -1, f"timed out after {timeout}s\n{stderr}"
            ) from exc
        if proc.returncode != 0:
            raise ToolFailed(
                [argv[0], *args[1:]], proc.returncode, proc.stderr.decode("utf-8", "replace")
            )
        return proc

    def ffmpeg(
        self, *args: str, timeout: float | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ffmpeg quietly with the given arguments (overwrite, no stdin)."""
        return self.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", *args], timeout=timeout)

    def ffmpeg_pipe(
        self, first: Sequence[str], second: Sequence[str]
    ) -> tuple[subprocess.CompletedProcess[bytes], subprocess.CompletedProcess[bytes]]:
        """Run two ffmpegs at once, the first writing to `pipe:1` what the second reads from
        `pipe:0` (two cores for work that one ffmpeg would do in one thread).

        Raises ToolFailed carrying the stderr of the run that failed first.
        """
        program = self.binary("ffmpeg")
        head = [program, "-hide_banner", "-nostdin", "-y", *map(str, first)]
        tail = [program, "-hide_banner", "-nostdin", "-y", *map(str, second)]
        CALLS["ffmpeg"] += 2
        # The first's stderr goes to a file, so neither can block the other on a full pipe.
        with tempfile.TemporaryFile() as first_err:
            writer = subprocess.Popen(
                head, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=first_err
            )
            try:
                reader = subprocess.run(tail, stdin=writer.stdout, capture_output=True, check=False)
            finally:
                assert writer.stdout is not None
                writer.stdout.close()
                writer.wait()
            first_err.seek(0)
            written = subprocess.CompletedProcess(head, writer.returncode, b"", first_err.read())
        failed = [(p, a) for p, a in ((written, head), (reader, tail)) if p.returncode != 0]
        if failed:
            # When one stops, the other fails too (a broken pipe, or a stream cut short):
            # report the first whose error is not the pipe's.
            proc, argv = next(
                ((p, a) for p, a in failed if b"Broken pipe" not in p.stderr), failed[0]
            )
            raise ToolFailed(
                ["ffmpeg", *argv[1:]], proc.returncode, proc.stderr.decode("utf-8", "replace")
            )
        return written, reader


DEFAULT_TOOLS = Tools()
