"""A small ffprobe wrapper: raw JSON for storage, and a few typed helpers over it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import PipelineError
from .tools import run


def probe_argv(path: Path | str) -> list[str]:
    """The ffprobe command that describes every stream and the container as JSON."""
    return [
        "ffprobe", "-v", "error", "-print_format", "json",
        "-show_format", "-show_streams", str(path),
    ]  # fmt: skip


def probe(path: Path | str) -> dict[str, Any]:
    """Run ffprobe on `path` and return its JSON (keys "format" and "streams")."""
    out = run(probe_argv(path)).stdout
    try:
        return json.loads(out)
    except json.JSONDecodeError as exc:
        raise PipelineError(
            f"ffprobe 输出无法解析：{path} / unreadable ffprobe output for {path}"
        ) from exc


def streams(info: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The streams of one codec_type ("video", "audio", "subtitle") in file order."""
    return [s for s in info.get("streams", []) if s.get("codec_type") == kind]


def duration_s(info: dict[str, Any]) -> float:
    """Container duration in seconds (the longest stream), or 0.0 when unknown."""
    return float(info.get("format", {}).get("duration") or 0.0)


def stream_duration_s(stream: dict[str, Any]) -> float:
    """One stream's duration in seconds, or 0.0 when unknown."""
    return float(stream.get("duration") or 0.0)


def video_size(info: dict[str, Any]) -> tuple[int, int] | None:
    """(width, height) of the first video stream, or None if there is none."""
    video = streams(info, "video")
    return (int(video[0]["width"]), int(video[0]["height"])) if video else None
