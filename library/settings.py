"""Every setting, declared once (name, default, help), read from KUANYUE_* variables."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from media_pipeline.tools import Tools


class SettingsError(ValueError):
    """A KUANYUE_* setting has an invalid value."""


@dataclass(frozen=True)
class Setting:
    """One documented configuration value."""

    name: str
    default: Callable[[Mapping[str, str]], str] | str
    help: str
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] = ()

    @property
    def env(self) -> str:
        """The environment variable that sets it."""
        return "KUANYUE_" + self.name.upper()


def _default_home(env: Mapping[str, str]) -> str:
    # XDG's data directory is where a per-user store belongs on Linux.
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/share")
    return str(Path(base) / "kuanyue")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be ≥ 1")
    return number


def _positive_number(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be > 0")
    return number


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "home",
        _default_home,
        "数据目录：数据库、媒体库与合成缓存 / data directory: database, media store, synthesis cache (default $XDG_DATA_HOME/kuanyue, i.e. ~/.local/share/kuanyue)",
        lambda v: Path(v).expanduser(),
    ),
    Setting(
        "database_url",
        "",
        "SQLAlchemy 数据库地址；留空则用数据目录中的 SQLite / SQLAlchemy database URL; empty means SQLite at $KUANYUE_HOME/kuanyue.db",
    ),
    Setting(
        "engine",
        "espeak",
        "默认语音引擎 / default speech engine",
        choices=("espeak", "gtts", "piper"),
    ),
    Setting("voice", "", "默认语音（留空用引擎默认）/ default voice (empty: the engine's default)"),
    Setting(
        "piper_model",
        "",
        "Piper 语音模型 .onnx 文件路径 / path of a Piper voice model (.onnx, with its .onnx.json beside it)",
    ),
    Setting(
        "covenant_max_mb",
        "2",
        "导入村规民约文件的大小上限（MB）/ largest covenant file `covenant import` reads, in MB",
        _positive_number,
    ),
    Setting("gtts_timeout", "10", "gTTS 联网超时（秒）/ gTTS network timeout in seconds", float),
    Setting(
        "workers",
        lambda env: str(min(os.cpu_count() or 1, 4)),
        "渲染并行进程数 / parallel render processes (default: CPU cores, at most 4)",
        _positive_int,
    ),
    Setting(
        "subtitle_font",
        "Noto Sans CJK SC",
        "字幕字体族名 / subtitle font family name (libass, fontconfig)",
    ),
    Setting("ffmpeg", "ffmpeg", "ffmpeg 程序路径 / ffmpeg program"),
    Setting("ffprobe", "ffprobe", "ffprobe 程序路径 / ffprobe program"),
    Setting("espeak", "espeak-ng", "espeak-ng 程序路径 / espeak-ng program"),
    Setting(
        "secret_key",
        "",
        "网站会话密钥；留空则在数据目录生成 / web session secret; empty: generated once into $KUANYUE_HOME/secret_key",
    ),
    Setting("host", "127.0.0.1", "kuanyue serve 监听地址 / address kuanyue serve listens on"),
    Setting("port", "5000", "kuanyue serve 端口 / port kuanyue serve listens on", int),
)

BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    """Validated settings; build with load_config()."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def database_url_resolved(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory."""
        return self.values["database_url"] or f"sqlite:///{self.values['home'] / 'kuanyue.db'}"

    @property
    def media_dir(self) -> Path:
        """Root of the content-addressed media store."""
        return self.values["home"] / "media"

    @property
    def covenant_max_bytes(self) -> int:
        """The size limit of an imported covenant file, in bytes."""
        return int(self.values["covenant_max_mb"] * 1_000_000)

    @property
    def tools(self) -> Tools:
        """Where the external programs are, as the value the pipeline takes."""
        return Tools(self.values["ffmpeg"], self.values["ffprobe"], self.values["espeak"])

    @property
    def cache_dir(self) -> Path:
        """Root of the speech synthesis cache."""
        return self.values["home"] / "cache" / "speech"


def load_config(env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Read and validate every setting from `env` (default os.environ) plus overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for s in SETTINGS:
        if s.name in overrides and overrides[s.name] is not None:
            raw = overrides[s.name]
            if not isinstance(raw, str):
                values[s.name] = raw
                continue
        else:
            raw = env.get(s.env)
            if raw is None or raw == "":
                raw = s.default(env) if callable(s.default) else s.default
        if s.choices and raw not in s.choices:
            raise SettingsError(
                f"设置 {s.env}={raw!r} 无效，可选：{', '.join(s.choices)} / "
                f"invalid {s.env}={raw!r}; choose one of: {', '.join(s.choices)}"
            )
        try:
            values[s.name] = s.parse(raw)
        except (ValueError, TypeError) as exc:
            raise SettingsError(
                f"设置 {s.env}={raw!r} 无效 / invalid {s.env}={raw!r}: {exc}"
            ) from exc
    return Config(values)
