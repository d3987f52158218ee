"""Piper: an offline neural voice from a model file (optional extra: kuanyue[piper])."""

from __future__ import annotations

import hashlib
import threading
import wave
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import EngineUnavailable
from ..files import atomic_output
from .base import SpeechEngine, require_text

INSTALL = "pip install 'kuanyue[piper]'"
# Piper's rate is a phoneme length scale; a speed in espeak's words per minute maps onto it
# with espeak's normal 175 as scale 1.0, so one speed setting means the same for both.
NORMAL_WPM = 175


def config_path(model: Path) -> Path:
    """The voice config Piper expects beside the model: voice.onnx → voice.onnx.json."""
    return model.with_name(model.name + ".json")


def check_model(model: Path) -> None:
    """Raise EngineUnavailable naming the file if the model or its config is missing."""
    for path in (model, config_path(model)):
        if not path.is_file():
            raise EngineUnavailable(
                f"找不到 Piper 语音模型文件 {path} / Piper voice file not found: {path}"
                " (a voice is a .onnx model with its .onnx.json beside it; download one from"
                " https://huggingface.co/rhasspy/piper-voices and give its path)"
            )


class PiperEngine(SpeechEngine):
    """Piper's Python API; the model is loaded once per engine and shared by threads."""

    name = "piper"

    def __init__(self, model: Path, speed: int | None = None) -> None:
        self.model = Path(model)
        self.voice = self.model.name.removesuffix(".onnx")
        self.length_scale = round(NORMAL_WPM / speed, 3) if speed else 1.0
        self._voice: Any = None  # piper.PiperVoice, imported lazily (optional dependency)
        self._lock = threading.Lock()

    @cached_property
    def _model_sha256(self) -> str:
        digest = hashlib.sha256()
        with self.model.open("rb") as fp:
            for block in iter(lambda: fp.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def identity(self) -> dict[str, str]:
        """Engine, voice name, the model's sha256 (a retrained file sounds different) and rate."""
        check_model(self.model)
        return {
            "engine": self.name,
            "voice": self.voice,
            "model_sha256": self._model_sha256,
            "length_scale": str(self.length_scale),
        }

    def _load(self) -> Any:
        with self._lock:
            if self._voice is None:
                self.check()
                from piper import PiperVoice

                self._voice = PiperVoice.load(self.model, config_path=config_path(self.model))
            return self._voice

    def synthesize(self, spoken: str, out_wav: Path) -> None:
        """Synthesise `spoken` with the model into a mono WAV."""
        spoken = require_text(spoken)
        voice = self._load()
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=self.length_scale)
        with atomic_output(out_wav) as tmp, wave.open(str(tmp), "wb") as wav:
            voice.synthesize_wav(spoken, wav, syn_config=config)

    def check(self) -> None:
        """piper-tts is installed and the model file and its config exist."""
        try:
            import piper  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable(
                f"未安装 Piper 语音引擎 / the Piper engine is not installed: {INSTALL}"
            ) from exc
        check_model(self.model)
