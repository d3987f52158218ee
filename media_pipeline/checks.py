"""Checks of every external piece the pipeline needs (for `kuanyue doctor`)."""

from __future__ import annotations

import importlib.util
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import PipelineError
from .tools import DEFAULT_TOOLS, INSTALL_HINTS, Tools

APT = "sudo apt-get install"


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ok, or what is wrong and how to fix it."""

    name: str
    ok: bool
    detail: str
    hint: str = ""
    required: bool = True


def _program(name: str, tools: Tools) -> Check:
    try:
        path = tools.binary(name)
        out = tools.run([name, "-version" if name.startswith("ff") else "--version"]).stdout.decode(
            errors="replace"
        )
    except PipelineError as exc:
        return Check(name, False, str(exc).splitlines()[0], INSTALL_HINTS.get(name, ""))
    return Check(name, True, f"{path}: {out.splitlines()[0] if out else ''}".strip())


def check_ffmpeg_features(tools: Tools = DEFAULT_TOOLS) -> Check:
    """ffmpeg has libass, EBU R128 filters and the encoders our profiles use."""
    try:
        filters = tools.run(["ffmpeg", "-hide_banner", "-filters"]).stdout.decode(errors="replace")
        encoders = tools.run(["ffmpeg", "-hide_banner", "-encoders"]).stdout.decode(
            errors="replace"
        )
    except PipelineError as exc:
        return Check("ffmpeg features", False, str(exc).splitlines()[0], INSTALL_HINTS["ffmpeg"])
    need_filters = ("subtitles", "ebur128", "loudnorm", "alimiter", "acompressor")
    need_encoders = ("libx264", "aac", "libmp3lame", "libopus", "flac")
    missing = [f for f in need_filters if not re.search(rf"^\s*\S+\s+{f}\s", filters, re.M)]
    missing += [e for e in need_encoders if not re.search(rf"^\s*\S+\s+{e}\s", encoders, re.M)]
    if missing:
        return Check(
            "ffmpeg features",
            False,
            "缺少 / missing: " + ", ".join(missing),
            f"{APT} ffmpeg (Debian's build has them all)",
        )
    return Check(
        "ffmpeg features",
        True,
        "libass, ebur128, loudnorm, libx264, aac, libmp3lame, libopus, flac",
    )


def check_espeak_voice(voice: str = "cmn-latn-pinyin", tools: Tools = DEFAULT_TOOLS) -> Check:
    """espeak-ng has the Mandarin pinyin voice."""
    try:
        out = tools.run(["espeak-ng", "--voices=cmn"]).stdout.decode(errors="replace")
    except PipelineError as exc:
        return Check("espeak-ng voice", False, str(exc).splitlines()[0], f"{APT} espeak-ng")
    if voice not in out:
        return Check(
            "espeak-ng voice", False, f"缺少语音 / voice missing: {voice}", f"{APT} espeak-ng-data"
        )
    return Check("espeak-ng voice", True, voice)


def check_font(family: str = "Noto Sans CJK SC", tools: Tools = DEFAULT_TOOLS) -> Check:
    """fontconfig resolves the subtitle font family by name (as libass will)."""
    try:
        out = tools.run(["fc-match", "-f", "%{family}|%{file}", family]).stdout.decode(
            errors="replace"
        )
    except PipelineError as exc:
        return Check("font", False, str(exc).splitlines()[0], f"{APT} fontconfig fonts-noto-cjk")
    families, _, file = out.partition("|")
    if family not in families.split(","):
        return Check("font", False, f"{family} → {families} ({file})", f"{APT} fonts-noto-cjk")
    return Check("font", True, f"{family}: {file}")


def check_python_module(module: str, extra: str, required: bool = False) -> Check:
    """An optional Python package is importable."""
    if importlib.util.find_spec(module) is None:
        return Check(
            module, False, "未安装 / not installed", f"pip install 'kuanyue[{extra}]'", required
        )
    return Check(module, True, "已安装 / installed", required=required)


def check_gtts(timeout: float = 3.0) -> Check:
    """gTTS can reach its online service (optional: renders fall back to espeak offline)."""
    from .speech import create_engine

    engine = create_engine("gtts", fallback=None, gtts_timeout=timeout)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            engine.synthesize("你好", Path(tmp) / "probe.wav")
        except PipelineError as exc:
            return Check(
                "gtts",
                False,
                str(exc).splitlines()[0],
                "离线时自动改用 espeak / offline renders fall back to espeak",
                required=False,
            )
    return Check("gtts", True, "在线 / online", required=False)


def check_libav() -> Check:
    """PyAV's own libav (the catalogue reads recordings in-process with it)."""
    try:
        import av
    except ImportError as exc:
        return Check("libav (PyAV)", False, str(exc), "pip install av")
    version = ".".join(map(str, av.library_versions["libavformat"]))
    return Check("libav (PyAV)", True, f"PyAV {av.__version__}, libavformat {version}")


def check_chromaprint() -> Check:
    """libchromaprint, which fingerprints recordings to find the same take twice."""
    from .recordings.fingerprint import _chromaprint

    try:
        chromaprint = _chromaprint()
    except PipelineError as exc:
        return Check("libchromaprint", False, str(exc).splitlines()[0], f"{APT} libchromaprint1")
    # pyacoustid has no version call of its own; the library's is one C call away.
    version = chromaprint._libchromaprint.chromaprint_get_version().decode()
    return Check("libchromaprint", True, f"libchromaprint {version}")


def run_checks(font: str = "Noto Sans CJK SC", tools: Tools = DEFAULT_TOOLS) -> list[Check]:
    """Every external piece: programs, ffmpeg features, the espeak voice, fonts, optional engines."""
    return [
        _program("ffmpeg", tools),
        _program("ffprobe", tools),
        check_ffmpeg_features(tools),
        check_libav(),
        check_chromaprint(),
        _program("espeak-ng", tools),
        check_espeak_voice(tools=tools),
        check_font(font, tools),
        check_python_module("piper", "piper"),
        check_gtts(),
    ]
