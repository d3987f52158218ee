"""A synthesis cache: the same engine settings and spoken text are synthesised only once."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

from ..errors import SpeechError
from .base import SpeechEngine

# Below this much free space, an incomplete synthesis is taken for a full disk.
_LOW_SPACE = 4 << 20


@dataclass(frozen=True)
class SynthResult:
    """A synthesised phrase: its WAV and the engine and voice that really produced it."""

    wav: Path
    engine: str
    voice: str
    cached: bool


def cache_key(identity: dict[str, str], spoken: str) -> str:
    """sha256 of the engine identity and the spoken text."""
    payload = json.dumps(
        {"identity": identity, "spoken": spoken}, ensure_ascii=False, sort_keys=True
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def is_complete_wav(path: Path) -> bool:
    """A WAV file whose header and data agree, with at least one frame."""
    try:
        with wave.open(str(path), "rb") as wav:
            frames, width, channels = wav.getnframes(), wav.getsampwidth(), wav.getnchannels()
    except (OSError, EOFError, wave.Error):
        return False
    return frames > 0 and path.stat().st_size >= 44 + frames * width * channels


def _require_complete(wav: Path, engine: SpeechEngine, spoken: str) -> None:
    """Never cache a truncated WAV: an engine writing to a full disk may still exit 0."""
    if is_complete_wav(wav):
        return
    if shutil.disk_usage(wav.parent).free < _LOW_SPACE:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(wav))
    raise SpeechError(
        f"{engine.name} 没有合成出完整的音频 / {engine.name} produced no complete audio for {spoken!r}"
    )


class SynthesisCache:
    """WAVs stored as root/ab/abcdef….wav; safe to share between threads and processes."""

    def __init__(self, root: Path, scratch: Path | None = None) -> None:
        """`scratch`: where to synthesise before a phrase is moved into the cache (default: the
        cache itself). A caller's scratch folder, removed whatever happens to the process,
        leaves nothing behind when a worker is stopped mid-phrase (a full disk, Ctrl-C)."""
        self.root = Path(root)
        self.scratch = Path(scratch) if scratch is not None else None
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def path_for(self, identity: dict[str, str], spoken: str) -> Path:
        """Where the WAV for this identity and text is (or will be) stored."""
        key = cache_key(identity, spoken)
        return self.root / key[:2] / f"{key}.wav"

    def synthesize(self, engine: SpeechEngine, spoken: str) -> SynthResult:
        """Return the cached WAV for (engine identity, spoken), synthesising it on a miss."""
        path = self.path_for(engine.identity(), spoken)
        if is_complete_wav(path):
            with self._lock:
                self.hits += 1
            return SynthResult(path, engine.name, engine.voice, cached=True)
        with self._lock:
            self.misses += 1
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch or self.root, prefix=".synth-") as tmpdir:
            tmp = Path(tmpdir) / "speech.wav"
            engine.synthesize(spoken, tmp)
            _require_complete(tmp, engine, spoken)
            # Asked again after synthesis: an engine that fell back offline now reports the
            # fallback's identity, so its audio is never stored as the online engine's.
            path = self.path_for(engine.identity(), spoken)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Workers racing on the same phrase each rename a complete file; the last wins.
            _move_into(tmp, path)
        return SynthResult(path, engine.name, engine.voice, cached=False)


def _move_into(tmp: Path, path: Path) -> None:
    """Rename `tmp` to `path` atomically, by way of a hidden name beside `path` when the
    two lie on different file systems (a scratch folder elsewhere than the cache)."""
    try:
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        beside = path.with_name(f".{path.name}.{os.getpid()}.part")
        try:
            shutil.copyfile(tmp, beside)
            os.replace(beside, path)
        finally:
            beside.unlink(missing_ok=True)
