"""Exception hierarchy of the media pipeline (one base, a few specific kinds)."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the media pipeline raises on purpose."""


class ToolMissing(PipelineError):
    """An external program (ffmpeg, espeak-ng, …) is not installed."""

    def __init__(self, name: str, hint: str) -> None:
        self.name = name
        self.hint = hint
        super().__init__(f"找不到程序 {name} / program {name} not found: {hint}")


class ToolFailed(PipelineError):
    """An external program exited with an error; carries its stderr."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        super().__init__(
            f"{argv[0]} 运行失败 / failed (exit {returncode}): {' '.join(argv[:12])}"
            f"{' …' if len(argv) > 12 else ''}\n{tail}"
        )


class SpeechError(PipelineError):
    """Speech synthesis failed or an engine/voice is unknown or unavailable."""


class EngineUnavailable(SpeechError):
    """A speech engine cannot run here (no network, no model file, not installed)."""


class SubtitleError(PipelineError):
    """Subtitles cannot be built from the given phrases and timings."""
