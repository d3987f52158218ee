"""espeak-ng: the offline default engine (Mandarin through the pinyin voice)."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import EngineUnavailable
from ..files import atomic_output
from ..text import READINGS_VERSION, pinyin_for_speech
from ..tools import DEFAULT_TOOLS, Tools
from .base import SpeechEngine, require_text

# Debian 12's plain `cmn` voice reads Chinese through pinyin spelled as English, and `hak`
# reads "Chinese letter" for every character; only these two speak Chinese properly.
# The value says what the voice is fed: tone-numbered pinyin, or the Chinese text itself.
VOICES = {"cmn-latn-pinyin": "pinyin", "yue": "hanzi"}
DEFAULT_VOICE = "cmn-latn-pinyin"
DEFAULT_SPEED = 150  # words per minute; espeak's own 175 is hurried for loudspeakers


def espeak_argv(voice: str, speed: int, out_wav: Path) -> list[str]:
    """The espeak-ng command line; the text itself goes in on stdin, never through a shell."""
    return ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out_wav), "--stdin"]


def espeak_input(voice: str, spoken: str) -> str:
    """What the voice is given to read for `spoken`."""
    return pinyin_for_speech(spoken) if VOICES[voice] == "pinyin" else spoken


class EspeakEngine(SpeechEngine):
    """espeak-ng with a Chinese voice; mono 22.05 kHz WAV."""

    name = "espeak"

    def __init__(
        self, voice: str = DEFAULT_VOICE, speed: int | None = None, tools: Tools = DEFAULT_TOOLS
    ) -> None:
        self.voice = voice
        self.tools = tools
        self.speed = speed or DEFAULT_SPEED

    def identity(self) -> dict[str, str]:
        """Engine, voice and speed; and the readings' version where it reads our pinyin."""
        identity = {"engine": self.name, "voice": self.voice, "speed": str(self.speed)}
        if VOICES[self.voice] == "pinyin":
            identity["readings"] = READINGS_VERSION
        return identity

    def synthesize(self, spoken: str, out_wav: Path) -> None:
        """Read `spoken` with espeak-ng into out_wav."""
        text = espeak_input(self.voice, require_text(spoken))
        with atomic_output(out_wav) as tmp:
            self.tools.run(
                espeak_argv(self.voice, self.speed, tmp), input=text.encode("utf-8"), timeout=120
            )

    def check(self) -> None:
        """espeak-ng is installed and lists this voice."""
        self.tools.binary("espeak-ng")
        language = self.voice.split("-")[0]
        listed = self.tools.run(["espeak-ng", f"--voices={language}"]).stdout.decode(
            "utf-8", "replace"
        )
        if not re.search(rf"\s{re.escape(self.voice)}\s", listed):
            raise EngineUnavailable(
                f"espeak-ng 没有语音 {self.voice} / espeak-ng has no voice {self.voice}:"
                " sudo apt-get install espeak-ng-data"
            )
