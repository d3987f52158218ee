"""gTTS: Google Translate's online voice, converted to WAV; needs the internet."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import EngineUnavailable
from ..files import atomic_output
from ..tools import DEFAULT_TOOLS, Tools
from .base import SpeechEngine, require_text

VOICES = {
    "zh-CN": "普通话（简体）/ Mandarin (Simplified)",
    "zh-TW": "普通话（台湾）/ Mandarin (Taiwan)",
    "zh": "普通话 / Mandarin",
    "yue": "粤语 / Cantonese",
}
DEFAULT_VOICE = "zh-CN"
# gTTS has only a normal and a slow rate: a requested speed below this (espeak words per
# minute) asks for the slow one.
SLOW_BELOW = 130


class GttsEngine(SpeechEngine):
    """gTTS MP3 converted to mono WAV with ffmpeg; EngineUnavailable when offline."""

    name = "gtts"

    def __init__(
        self,
        voice: str = DEFAULT_VOICE,
        speed: int | None = None,
        timeout: float = 10.0,
        tools: Tools = DEFAULT_TOOLS,
    ) -> None:
        self.voice = voice
        self.tools = tools
        self.slow = speed is not None and speed < SLOW_BELOW
        self.timeout = timeout

    def identity(self) -> dict[str, str]:
        """Engine, language and slow mode (the timeout does not change the audio)."""
        return {"engine": self.name, "voice": self.voice, "slow": str(self.slow)}

    def synthesize(self, spoken: str, out_wav: Path) -> None:
        """Fetch the MP3 from Google and convert it to mono WAV."""
        # Imported here: requests and gTTS take ~0.1 s to import, which a render with the
        # offline engine (every clause's process, and the one that starts them) need not pay.
        import requests
        from gtts import gTTS, gTTSError

        spoken = require_text(spoken)
        self.tools.binary(
            "ffmpeg"
        )  # fail before the network round trip if we could not convert anyway
        with tempfile.TemporaryDirectory(prefix="kuanyue-gtts-") as tmpdir:
            mp3 = Path(tmpdir) / "speech.mp3"
            # Voices are checked against VOICES already; gTTS's own check wrongly warns that
            # "zh-CN" is deprecated (it compares case-insensitively with "zh-cn").
            tts = gTTS(
                spoken, lang=self.voice, slow=self.slow, timeout=self.timeout, lang_check=False
            )
            try:
                with mp3.open("wb") as fp:
                    tts.write_to_fp(fp)
            except (gTTSError, requests.RequestException, OSError) as exc:
                raise EngineUnavailable(
                    f"无法连接 gTTS（谷歌语音），请检查网络或改用离线引擎 espeak / gTTS (Google) is"
                    f" unreachable: check the internet connection or use the offline engine"
                    f" espeak: {exc}"
                ) from exc
            with atomic_output(out_wav) as tmp:
                self.tools.ffmpeg("-i", str(mp3), "-ac", "1", "-c:a", "pcm_s16le", str(tmp))

    def check(self) -> None:
        """ffmpeg is installed (reaching Google is only known by trying)."""
        self.tools.binary("ffmpeg")
