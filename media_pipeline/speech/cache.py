"""A synthesis cache: the same engine settings and spoken text are synthesised only once."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .base import SpeechEngine


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


class SynthesisCache:
    """WAVs stored as root/ab/abcdef….wav; safe to share between threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
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
        if path.is_file():
            with self._lock:
                self.hits += 1
            return SynthResult(path, engine.name, engine.voice, cached=True)
        with self._lock:
            self.misses += 1
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.root, prefix=".synth-") as tmpdir:
            tmp = Path(tmpdir) / "speech.wav"
            engine.synthesize(spoken, tmp)
            # Asked again after synthesis: an engine that fell back offline now reports the
            # fallback's identity, so its audio is never stored as the online engine's.
            path = self.path_for(engine.identity(), spoken)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Workers racing on the same phrase each rename a complete file; the last wins.
            os.replace(tmp, path)
        return SynthResult(path, engine.name, engine.voice, cached=False)
