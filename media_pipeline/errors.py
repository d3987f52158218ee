"""Exception hierarchy of the media pipeline (one base, a few specific kinds)."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the media pipeline raises on purpose."""

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        # Errors cross from worker processes to the parent; pickle rebuilds an exception
        # from `args`, which for the subclasses below is not their constructor's signature.
        return _rebuild, (type(self), self.__dict__, self.args)


def _rebuild(cls: type[PipelineError], state: dict, args: tuple) -> PipelineError:
    error = Exception.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


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


class MediaError(PipelineError):
    """A file cannot be used as a recording; `reason` says why, `path` names it.

    Reasons: "missing", "empty", "not-media", "corrupt" (truncated or undecodable),
    "unsupported" (a codec this ffmpeg cannot decode), "unreadable" (no permission, or a
    FIFO, a device or a folder where a file was expected).
    """

    REASONS = {
        "missing": "文件不存在 / file not found",
        "empty": "文件为空（0 字节） / file is empty (0 bytes)",
        "not-media": "不是音频或视频文件 / not an audio or video file",
        "corrupt": "文件不完整或已损坏 / file is truncated or corrupt",
        "unsupported": "不支持的编码格式 / unsupported codec",
        "unreadable": "无法读取 / cannot read",
    }

    def __init__(self, path: object, reason: str, detail: str = "") -> None:
        self.path = path
        self.reason = reason
        self.detail = detail
        message = f"{self.REASONS[reason]}: {path}"
        super().__init__(f"{message} ({detail})" if detail else message)
