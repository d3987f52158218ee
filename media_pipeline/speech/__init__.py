"""Speech synthesis: one engine interface (espeak, gtts, piper) and a synthesis cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import SpeechError
from ..tools import DEFAULT_TOOLS, Tools
from . import espeak, gtts_engine, piper_engine
from .base import FallbackEngine, SpeechEngine
from .cache import SynthesisCache, SynthResult
from .espeak import EspeakEngine
from .gtts_engine import GttsEngine
from .piper_engine import PiperEngine

__all__ = [
    "ENGINES",
    "EspeakEngine",
    "FallbackEngine",
    "GttsEngine",
    "PiperEngine",
    "SpeechEngine",
    "SynthResult",
    "SynthesisCache",
    "create_engine",
    "voices",
]

ENGINES: tuple[str, ...] = ("espeak", "gtts", "piper")


def voices(engine: str) -> tuple[str, ...]:
    """The voice names an engine accepts (piper's voice is its model file's name)."""
    return {"espeak": tuple(espeak.VOICES), "gtts": tuple(gtts_engine.VOICES)}.get(engine, ())


def _check_voice(engine: str, voice: str) -> None:
    if voice not in voices(engine):
        raise SpeechError(
            f"{engine} 没有语音 “{voice}”，可选：{', '.join(voices(engine))}"
            f" / unknown {engine} voice '{voice}': choose one of {', '.join(voices(engine))}"
        )


def create_engine(
    name: str,
    voice: str | None = None,
    *,
    speed: int | None = None,
    piper_model: Path | None = None,
    gtts_timeout: float = 10.0,
    fallback: str | None = "espeak",
    on_fallback: Callable[[str], None] | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> SpeechEngine:
    """Build the named engine; gtts is wrapped to fall back to `fallback` when offline.

    `speed` is in espeak's words per minute (default 150); Piper maps it onto its length
    scale and gTTS onto its slow mode. `fallback` and `on_fallback` only concern gtts, the
    one engine that needs the network; without them (fallback=None) gtts raises
    EngineUnavailable when Google is unreachable. Without on_fallback the switch is logged.
    """
    if name not in ENGINES:
        raise SpeechError(
            f"未知的语音引擎 “{name}”，可选：{', '.join(ENGINES)}"
            f" / unknown speech engine '{name}': choose one of {', '.join(ENGINES)}"
        )
    if name == "espeak":
        voice = voice or espeak.DEFAULT_VOICE
        _check_voice(name, voice)
        return EspeakEngine(voice, speed=speed, tools=tools)
    if name == "piper":
        return _create_piper(voice, piper_model, speed)
    voice = voice or gtts_engine.DEFAULT_VOICE
    _check_voice(name, voice)
    engine = GttsEngine(voice, speed=speed, timeout=gtts_timeout, tools=tools)
    if fallback is None:
        return engine
    if fallback == name:
        raise SpeechError(
            "gtts 不能作为自己的后备引擎 / gtts cannot be its own fallback: use espeak or piper"
        )
    backup = create_engine(
        fallback, speed=speed, piper_model=piper_model, fallback=None, tools=tools
    )
    return FallbackEngine(engine, backup, on_fallback)


def _create_piper(voice: str | None, model: Path | None, speed: int | None) -> PiperEngine:
    # A voice given as a path to a .onnx file is accepted in place of piper_model.
    if model is None and voice and voice.endswith(".onnx"):
        model = Path(voice)
    if model is None:
        raise SpeechError(
            "Piper 需要语音模型文件 / the piper engine needs a voice model:"
            " give the .onnx file (kuanyue render --piper-model FILE, or KUANYUE_PIPER_MODEL), with its .onnx.json beside it"
        )
    engine = PiperEngine(model, speed=speed)
    if voice and voice not in (engine.voice, str(model)):
        raise SpeechError(
            f"Piper 模型 {model} 只有语音 “{engine.voice}” / the Piper model {model} has only"
            f" the voice '{engine.voice}', not '{voice}'"
        )
    piper_engine.check_model(engine.model)
    return engine
