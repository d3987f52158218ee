"""The speech engine interface, and the wrapper that falls back to an offline engine."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from ..errors import EngineUnavailable, SpeechError

log = logging.getLogger(__name__)


class SpeechEngine(ABC):
    """Turns spoken text (text.spoken_text) into a mono WAV file."""

    name: str
    voice: str

    @abstractmethod
    def identity(self) -> dict[str, str]:
        """Engine, voice and every setting that changes the audio (the cache key)."""

    @abstractmethod
    def synthesize(self, spoken: str, out_wav: Path) -> None:
        """Write a mono WAV of `spoken` to out_wav, atomically."""

    @abstractmethod
    def check(self) -> None:
        """Raise EngineUnavailable or ToolMissing, saying what to install, if this cannot run here."""


def require_text(spoken: str) -> str:
    """Return spoken stripped; raise SpeechError if nothing is left to say."""
    spoken = spoken.strip()
    if not spoken:
        raise SpeechError("没有可朗读的文字 / nothing to say: the spoken text is empty")
    return spoken


class FallbackEngine(SpeechEngine):
    """An online engine that switches, once and for good, to an offline one when unreachable.

    name, voice and identity() always describe the engine in use now, so a cache keys the
    fallback's audio under the fallback's identity and never passes it off as the primary's.
    """

    def __init__(
        self,
        primary: SpeechEngine,
        fallback: SpeechEngine,
        on_fallback: Callable[[str], None] | None = None,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self._on_fallback = on_fallback or log.warning
        self._active = primary
        self._lock = threading.Lock()

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._active.name

    @property
    def voice(self) -> str:  # type: ignore[override]
        return self._active.voice

    @property
    def fell_back(self) -> bool:
        """True once the primary engine was found unreachable."""
        return self._active is self.fallback

    def identity(self) -> dict[str, str]:
        """The identity of the engine in use now."""
        return self._active.identity()

    def synthesize(self, spoken: str, out_wav: Path) -> None:
        """Synthesise with the primary engine; on EngineUnavailable switch to the fallback."""
        if self._active is self.primary:
            try:
                self.primary.synthesize(spoken, out_wav)
                return
            except EngineUnavailable as exc:
                self._switch(exc)
        self.fallback.synthesize(spoken, out_wav)

    def _switch(self, exc: EngineUnavailable) -> None:
        with self._lock:
            if self._active is self.fallback:
                return  # another thread already switched and told the user
            self._active = self.fallback
        self._on_fallback(
            f"{self.primary.name} 无法连接，改用离线引擎 {self.fallback.name}（{self.fallback.voice}）"
            f" / {self.primary.name} unreachable, falling back to offline {self.fallback.name}"
            f" ({self.fallback.voice}): {exc.__cause__ or exc}"
        )

    def check(self) -> None:
        """The fallback must work; the primary may be unreachable (that is what it is for)."""
        self.fallback.check()
