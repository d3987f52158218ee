"""Text tracks of recordings: lyrics, transcripts and translations, plain or time-synced.

Formats: LRC (`[01:20.50]text`, several time tags per line allowed), WebVTT or SRT (read with
pysubs2), or plain text (one line per line, no times). A line may name its voice with a
prefix — 领：/领唱：/lead: for the lead singer, 合：/合唱：/chorus: for the chorus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from ..errors import LibraryError
from ..langs import TEXT_LANGS
from ..models import PROTOCOLS, TEXT_KINDS, Recording, TextLine, TextTrack
from ..textfiles import read_text
from .recordings import get_recording

_LRC_TIME = re.compile(r"\[(\d{1,3}):(\d{1,2}(?:[.:]\d{1,3})?)\]")
_LRC_META = re.compile(r"^\[[a-z]+:.*\]$", re.I)
_VOICE = re.compile(r"^(领唱|领|合唱|合|lead|chorus)\s*[:：]\s*", re.I)
_VOICES = {
    "领唱": "lead",
    "领": "lead",
    "lead": "lead",
    "合唱": "chorus",
    "合": "chorus",
    "chorus": "chorus",
}


@dataclass(frozen=True)
class Line:
    """One parsed line."""

    start_s: float | None
    end_s: float | None
    voice: str | None
    text: str


def _voice(text: str) -> tuple[str | None, str]:
    match = _VOICE.match(text)
    if not match:
        return None, text.strip()
    return _VOICES[match.group(1).lower()], text[match.end() :].strip()


def parse_lrc(text: str, source: str = "<lrc>") -> list[Line]:
    """LRC lines with their start times; each ends where the next begins."""
    timed: list[tuple[float, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        raw = raw.strip()
        if not raw or _LRC_META.match(raw) and not _LRC_TIME.match(raw):
            continue
        stamps = list(_LRC_TIME.finditer(raw))
        if not stamps or stamps[0].start() != 0:
            raise LibraryError(
                f"{source}:{number}: 不是 LRC 时间标签行 / not an LRC time-tagged line: {raw!r}"
            )
        body = raw[stamps[-1].end() :]
        for stamp in stamps:
            minutes, seconds = stamp.group(1), stamp.group(2).replace(":", ".")
            timed.append((int(minutes) * 60 + float(seconds), body))
    timed.sort(key=lambda item: item[0])
    lines = []
    for i, (start, body) in enumerate(timed):
        end = timed[i + 1][0] if i + 1 < len(timed) else None
        voice, words = _voice(body)
        if words:
            lines.append(Line(start, end, voice, words))
    return lines


def parse_subtitles(text: str, fmt: str, source: str) -> list[Line]:
    """WebVTT or SRT cues (pysubs2) as lines."""
    import pysubs2

    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt)
    except Exception as exc:  # pysubs2 raises several kinds for malformed files
        raise LibraryError(f"{source}: 无法读取字幕 / cannot read {fmt.upper()}: {exc}") from exc
    lines = []
    for event in subs:
        voice, words = _voice(event.plaintext.replace("\n", " "))
        if words:
            lines.append(Line(event.start / 1000, event.end / 1000, voice, words))
    return lines


def parse_lyrics_file(path: Path) -> tuple[str, list[Line]]:
    """(format, lines) of a lyrics file: .lrc, .vtt, .srt or plain text, in any encoding we read."""
    text, _encoding = read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".lrc" or (suffix == ".txt" and _LRC_TIME.match(text.lstrip())):
        return "lrc", parse_lrc(text, str(path))
    if suffix in (".vtt", ".srt"):
        fmt = suffix[1:]
        return fmt if fmt == "vtt" else "srt", parse_subtitles(text, fmt, str(path))
    lines = [Line(None, None, *_voice(raw)) for raw in text.splitlines() if raw.strip()]
    return "plain", [line for line in lines if line.text]


def add_track(
    recording: Recording, path: Path, *, kind: str, lang: str, protocol: str | None = None
) -> TextTrack:
    """Attach a lyrics/transcript/translation file to a recording as a text track."""
    if kind not in TEXT_KINDS:
        raise LibraryError(
            f"文本类型 {kind!r} 无效，可选：{', '.join(TEXT_KINDS)} / unknown kind; choose: {', '.join(TEXT_KINDS)}"
        )
    if lang not in TEXT_LANGS:
        raise LibraryError(
            f"语言标签 {lang!r} 无效，可选：{', '.join(TEXT_LANGS)} / unknown language; choose: {', '.join(TEXT_LANGS)}"
        )
    protocol = protocol or recording.protocol
    if protocol not in PROTOCOLS:
        raise LibraryError(
            f"访问规则 {protocol!r} 无效 / unknown protocol; choose: {', '.join(PROTOCOLS)}"
        )
    fmt, lines = parse_lyrics_file(Path(path))
    if not lines:
        raise LibraryError(f"{path}: 没有文字 / no text in the file")
    track = TextTrack(
        kind=kind, lang=lang, format="vtt" if fmt == "srt" else fmt, protocol=protocol
    )
    track.lines = [
        TextLine(position=i, start_s=ln.start_s, end_s=ln.end_s, voice=ln.voice, text=ln.text)
        for i, ln in enumerate(lines)
    ]
    recording.tracks.append(track)
    return track


def attach_track(
    session: Session,
    recording_id: int,
    path: Path,
    *,
    kind: str = "lyrics",
    lang: str = "kmc-Latn",
    protocol: str | None = None,
) -> TextTrack:
    """`add_track` for the recording with this id, written at once (the search index follows)."""
    track = add_track(
        get_recording(session, recording_id), path, kind=kind, lang=lang, protocol=protocol
    )
    session.flush()
    return track
