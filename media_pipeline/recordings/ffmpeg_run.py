"""One ffmpeg run put together from several sources' parts (derive.py's runs).

Each source's labels carry its tag, so parts never collide. Audio is decoded by `amovie`
filters inside the graph rather than by `-i` inputs (see `SourcePart`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .copy_rules import first_stream, movie_source
from .probe import media_url


def thread_args(threads: int) -> list[str]:
    return ["-threads", str(threads)] if threads else []


class FfmpegRun:
    """One ffmpeg run being put together: inputs, one filter graph and outputs. Several
    sources' work can share a run (derive_many); each source's labels carry its own tag."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._inputs: list[str] = []
        self._count = 0
        self._graph: list[str] = []
        self._first: list[str] = []
        self._outputs: list[str] = []

    def add_input(self, args: list[str]) -> int:
        """Add an input (its options, ending in `-i URL`); return its index."""
        self._inputs += [*thread_args(self.threads), *args]
        self._count += 1
        return self._count - 1

    def add_chains(self, chains: list[str]) -> None:
        """Add filter chains (with their labels) to the run's graph."""
        self._graph += chains

    def output(self, args: list[str], out: Path, *, first: bool = False) -> None:
        """Add an output: its arguments (maps, codecs, muxer options), written to `out`;
        `first`: listed before the others."""
        (self._first if first else self._outputs).extend(
            [*args, *thread_args(self.threads), media_url(out)]
        )

    def argv(self) -> list[str]:
        n = str(self.threads)
        threading = ["-filter_threads", n, "-filter_complex_threads", n] if self.threads else []
        graph = ["-filter_complex", ";".join(self._graph)] if self._graph else []
        return ["-nostats", *threading, *self._inputs, *graph, *self._first, *self._outputs]


class SourcePart:
    """A source's part of the decode run: an `amovie` filter that decodes its first audio
    stream once, split to every branch when the part is closed, and an input (`-i`) only
    for what copies or re-encodes its streams as they are.

    Why `amovie` and not `-i`: in a run of several inputs ffmpeg 5.1 reads each input in a
    thread of its own and hands every packet over to the main thread, which costs more
    than the shared run saves (4 three-minute AAC files: 1.92 s of CPU in one run with
    `-i`, 1.65 s in four runs, 1.53 s in one run with `amovie`)."""

    def __init__(self, run: FfmpegRun, src: Path, info: dict[str, Any], tag: str) -> None:
        self.run, self.src, self.tag = run, src, tag
        self._input: int | None = None
        self._audio = first_stream(info, "audio")
        self._taps: list[str] = []

    @property
    def input(self) -> int:
        """The source as an input of the run (added on first use)."""
        if self._input is None:
            self._input = self.run.add_input(["-i", media_url(self.src)])
        return self._input

    def tap(self, chain: str) -> None:
        """Feed the decoded audio into `chain`: filters ending in an output label or a sink."""
        self._taps.append(chain)

    def close(self) -> None:
        if not self._taps or self._audio is None:
            return
        pads = [f"[a{self.tag}_{i}]" for i in range(len(self._taps))]
        source = movie_source(self.src, int(self._audio["index"]), self.run.threads)
        self.run.add_chains(
            [f"{source},asplit={len(pads)}{''.join(pads)}"]
            + [pad + chain for pad, chain in zip(pads, self._taps, strict=True)]
        )
