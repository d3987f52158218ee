"""Plain descriptions of render work and results (cheap to import, picklable)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from .files import MadeFile
from .profiles import PROFILES

# Bump when a change to the pipeline should re-render everything already stored.
PIPELINE_VERSION = "1"

VIDEO_SIZES: dict[str, tuple[int, int]] = {"16x9": (1280, 720), "9x16": (720, 1280)}


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
    chime: bool = True
    music_bed: str | None = None


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

    def inputs_hash(self) -> str:
        """SHA-256 of every input that changes the output (the clause key excluded)."""
        data = asdict(self)
        data.pop("key")
        data["options"].pop("music_bed")  # the bed's bytes count (its sha256), not where it lies
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
