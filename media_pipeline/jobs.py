"""Plain descriptions of render work and results (cheap to import, picklable)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from .errors import PipelineError
from .files import MadeFile
from .profiles import PROFILES

# Bump when a change to the pipeline should re-render everything already stored.
# 3: the clip layout of issue 9 item 5 (the whole clause on screen, the spoken phrase lit).
# 2: the readings of issue 9 (地 de5, 幺 in service numbers, …).
PIPELINE_VERSION = "3"

VIDEO_SIZES: dict[str, tuple[int, int]] = {"16x9": (1280, 720), "9x16": (720, 1280)}

# The sounds a narration can open with (audio.intro_samples): the gong of the 鸣锣喊寨 round,
# a public-address two-tone chime (叮咚), or nothing.
INTROS = ("gong", "chime", "none")


def check_intro(intro: str) -> None:
    """Raise PipelineError unless `intro` is one of INTROS."""
    if intro not in INTROS:
        raise PipelineError(
            f"未知的开场音：{intro!r}（可选 {'、'.join(INTROS)}） / "
            f"unknown intro {intro!r} (one of {', '.join(INTROS)})"
        )


@dataclass(frozen=True)
class RenderOptions:
    """How to render: engine, voice and outputs. Every field changes the output."""

    engine: str = "espeak"
    voice: str | None = None
    piper_model: str | None = None
    gtts_timeout: float = 10.0
    profiles: tuple[str, ...] = tuple(PROFILES)
    video_sizes: tuple[str, ...] = ("16x9", "9x16")
    font: str = "Noto Sans CJK SC"
    chime: bool = True  # False: no intro at all, whatever `intro` says (the older switch)
    music_bed: str | None = None
    intro: str = "gong"  # one of INTROS

    def __post_init__(self) -> None:
        check_intro(self.intro)

    @property
    def intro_sound(self) -> str:
        """The intro the narration opens with: `intro`, or "none" when `chime` is off."""
        return self.intro if self.chime else "none"


@dataclass(frozen=True)
class ClauseJob:
    """Everything needed to render one clause, as plain values."""

    key: str
    number: int
    text_zh: str
    text_dong: str | None
    village: str
    covenant_title: str
    clause_label: str
    topic: str
    options: RenderOptions = field(default_factory=RenderOptions)
    music_bed_sha256: str | None = None
    # The covenant's pronunciation list, only the words this clause holds (text.readings_used):
    # (word, reading) pairs, sorted.
    readings: tuple[tuple[str, str], ...] = ()
    # The clause's chapter (第一章 消防安全) and section headings as stored: the title card's
    # to draw, through text.display_text like the clause text.
    chapter: str | None = None
    section: str | None = None
    # The photo or video loop the cultural worker chose for the clause's videos (its topic's,
    # else the covenant's), and its sha256: None draws the generated pattern.
    background: str | None = None
    background_sha256: str | None = None

    def inputs_hash(self) -> str:
        """SHA-256 of every input that changes the output (the clause key excluded)."""
        data = asdict(self)
        data.pop("key")
        data["options"].pop("music_bed")  # the bed's bytes count (its sha256), not where it lies
        if data["options"]["intro"] == "gong" or not data["options"]["chime"]:
            # The gong (or no intro at all): the key of clauses rendered before intros had kinds.
            del data["options"]["intro"]
        if not data["readings"]:
            del data["readings"]  # no listed word: the key of clauses rendered before lists existed
        for heading in ("chapter", "section"):
            if data[heading] is None:
                del data[heading]  # no heading: the key of clauses rendered before headings were
        data.pop("background")  # the picture's bytes count (its sha256), not where it lies
        if data["background_sha256"] is None:
            del data["background_sha256"]  # the pattern: the key of clauses rendered before
        data["pipeline"] = PIPELINE_VERSION
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class ClauseOutput:
    """The result of rendering one clause."""

    key: str
    files: tuple[MadeFile, ...]
    duration_s: float
    engine: str
    voice: str
    seconds: float
    synthesised: int
