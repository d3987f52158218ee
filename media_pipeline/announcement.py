"""Render one village announcement (通知, 紧急通知, the 鸣锣喊寨 call) the way a clause is rendered.

Two paths, the same outputs as a clause (every audio profile, SRT/VTT/ASS, the videos with
their posters, per RenderOptions):
- synthesis (`voice` None): the announcement *is* a clause to render_clause — the heading
  is its spoken label, the kind its topic, "村广播" its covenant — so it shares the synthesis
  cache, the timings and every later improvement of the clause path;
- a person's recording (`voice`, as Dong-language announcements need: no engine speaks
  Dong): the file is checked and decoded (any audio or video ffmpeg reads, at most
  MAX_VOICE_S long), the intro put before it, and it is mastered and filmed by the same
  code as a clause (render.render_outputs). The typed text becomes its subtitles, spread
  over the recording in proportion to each phrase's characters (`spread_timings`): an
  approximation, as nothing aligns the text with the speech.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .audio import assemble_narration
from .errors import MediaError, PipelineError, ToolFailed
from .files import FILE_KINDS, NotRegularFile, open_regular
from .jobs import PIPELINE_VERSION, ClauseJob, ClauseOutput, RenderOptions, check_intro
from .loudness import wav_duration_s
from .recordings.analysis import decode_error
from .recordings.probe import media_url
from .render import render_clause, render_outputs
from .subtitles import build_cues
from .text import split_phrases
from .tools import DEFAULT_TOOLS, Tools
from .video import TitleCard

# What the title card names in place of a covenant.
BROADCAST_TITLE = "村广播"
# A recording longer than this is refused: an announcement is a notice, not a programme
# (a recording of a song or a meeting belongs in the catalogue), and the whole recording is
# held in memory as samples while it is assembled (10 min at 48 kHz: ~230 MB of float64).
MAX_VOICE_S = 600.0
# The decoding ffmpeg is stopped after this long: a 10-minute recording decodes in seconds,
# so only a file that stalls its reader (a name swapped for a FIFO after the check) gets here.
_DECODE_TIMEOUT_S = 300.0
_SAMPLE_RATE = 48000
# Quieter than this at its loudest (−60 dBFS), a recording has nothing to master or hear;
# the same bar audio.assemble_narration sets for a phrase.
_SILENT_PEAK = 10 ** (-60 / 20)
# The engine options a recording makes irrelevant (left out of its inputs hash).
_ENGINE_OPTIONS = ("engine", "voice", "piper_model", "gtts_timeout")


@dataclass(frozen=True)
class AnnouncementJob:
    """Everything needed to render one announcement, as plain values.

    `intro` decides the opening sound; the `intro` and `chime` of `options` are ignored.
    `voice`: a person's recording to use instead of synthesis, with `voice_sha256` the hash
    of its bytes (required with it: the bytes, not the path, are the render input).
    """

    key: str  # e.g. "announcement-12"
    text_zh: str  # the typed text (also the subtitle)
    heading: str  # spoken and shown first, e.g. "通知" / "紧急通知" / "鸣锣喊寨"
    village: str
    kind_label: str  # shown on the card header, e.g. "通知 / notice"
    text_dong: str | None = None
    intro: str = "gong"  # gong | chime | none
    voice: str | None = None
    voice_sha256: str | None = None
    options: RenderOptions = field(default_factory=RenderOptions)
    readings: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_intro(self.intro)
        if not self.text_zh.strip():
            raise PipelineError("通知内容为空 / the announcement text is empty")
        if self.voice is not None and not self.voice_sha256:
            raise PipelineError(
                f"录音缺少 sha256：{self.voice} / voice recording given without its sha256"
            )

    def inputs_hash(self) -> str:
        """SHA-256 of every input that changes the output (key and voice path excluded)."""
        data = asdict(self)
        data.pop("key")
        data.pop("voice")  # the recording's bytes count (voice_sha256), not where it lies
        options = data["options"]
        for name in ("intro", "chime"):
            options.pop(name)  # the job's own `intro` decides the opening
        if self.voice is not None:
            for name in _ENGINE_OPTIONS:
                options.pop(name)  # nothing is synthesised: a new default voice changes nothing
        # options.music_bed stays as a path: an announcement job has no bed sha256 (the
        # library renders announcements without a bed).
        data["pipeline"] = PIPELINE_VERSION
        data["what"] = "announcement"  # never the key of a clause made of the same words
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    def clause_job(self) -> ClauseJob:
        """The announcement as a clause for render_clause (the synthesis path)."""
        return ClauseJob(
            key=self.key,
            number=0,
            text_zh=self.text_zh,
            text_dong=self.text_dong,
            village=self.village,
            covenant_title=BROADCAST_TITLE,
            clause_label=self.heading,
            topic=self.kind_label,
            options=replace(self.options, intro=self.intro, chime=True),
            readings=self.readings,
        )


def render_announcement(
    job: AnnouncementJob,
    cache_dir: Path,
    workdir: Path,
    tools: Tools = DEFAULT_TOOLS,
    *,
    threads: int | None = None,
) -> ClauseOutput:
    """Render every output of one announcement into `workdir` and describe them.

    Synthesised through render_clause, or made from `job.voice` (see the module doc).
    Raises MediaError or PipelineError naming the recording when it cannot be used.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if job.voice is None:
        return render_clause(job.clause_job(), cache_dir, workdir, tools, threads=threads)
    started = time.perf_counter()
    options = job.options
    voice = Path(job.voice)
    decoded = decode_voice(voice, workdir / "voice.wav", tools)
    narration = assemble_narration(
        [decoded],
        [],
        workdir / "narration.wav",
        intro=job.intro,
        music_bed=Path(options.music_bed) if options.music_bed else None,
        tools=tools,
    )
    body = split_phrases(job.text_zh, readings=job.readings)
    if not body:
        raise PipelineError("通知内容没有可显示的文字 / the announcement text has nothing to show")
    # The recording is one "phrase" to assemble_narration: its audible span.
    span = narration.phrases[0]
    displays = [p.display for p in body]
    cues = build_cues(displays, spread_timings(displays, span.start_ms, span.end_ms), job.text_dong)
    title = TitleCard(
        job.village,
        BROADCAST_TITLE,
        job.heading,
        job.kind_label,
        card_ms=narration.speech_start_ms,
    )
    files = render_outputs(
        narration,
        cues,
        title,
        options,
        workdir,
        text="".join(displays),
        heading_cues=0,  # the heading is on the card; the recording need not say it
        threads=threads,
        tools=tools,
    )
    return ClauseOutput(
        key=job.key,
        files=tuple(files),
        duration_s=narration.duration_ms / 1000,
        engine="recording",
        voice=job.voice_sha256 or "",
        seconds=time.perf_counter() - started,
        synthesised=0,
    )


def spread_timings(phrases: Sequence[str], start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """Cut [start_ms, end_ms) into consecutive spans, one per phrase, in proportion to each
    phrase's spoken characters (CJK and alphanumerics; at least one each).

    An approximation for a recording nobody aligned with its text: it assumes an even pace
    and no pauses, so a cue may run a little ahead of or behind the voice.
    """
    if not phrases:
        return []
    weights = [max(1, sum(ch.isalnum() for ch in p)) for p in phrases]
    if end_ms - start_ms < len(phrases):
        raise PipelineError(
            f"录音太短，放不下 {len(phrases)} 条字幕 / recording too short for "
            f"{len(phrases)} subtitle cues"
        )
    total = sum(weights)
    edges, acc = [start_ms], 0
    for k, weight in enumerate(weights):
        acc += weight
        edge = start_ms + round((end_ms - start_ms) * acc / total)
        # Every span at least 1 ms, leaving 1 ms for each phrase still to come.
        edges.append(min(max(edge, edges[-1] + 1), end_ms - (len(weights) - 1 - k)))
    return list(zip(edges, edges[1:], strict=False))


def decode_voice(path: Path, out_wav: Path, tools: Tools = DEFAULT_TOOLS) -> Path:
    """Check a person's recording and decode its first audio stream to mono 48 kHz 16-bit WAV.

    Refused (MediaError, or PipelineError when too long, each naming the file): a path that
    is missing, empty or not a regular file (a FIFO or a device is never opened for a
    blocking read), a file that is not audio or video or is broken, one without an audio
    stream, one longer than MAX_VOICE_S, or a silent one.
    """
    from .recordings.libav import probe_media  # PyAV: loaded only for recordings

    try:
        # Opened non-blocking and checked before anything reads it: a FIFO or a device is
        # refused at once rather than waited on.
        held = open_regular(path)
    except FileNotFoundError:
        raise MediaError(path, "missing") from None
    except NotRegularFile as exc:
        zh, en = FILE_KINDS[exc.kind]
        raise MediaError(
            path, "unreadable", f"不是普通文件，而是{zh} / not a regular file but {en}"
        ) from None
    except OSError as exc:
        raise MediaError(path, "unreadable", exc.strerror or str(exc)) from None
    with held:
        info = probe_media(path)  # in-process: refuses empty files, text, broken media
        if not info.has_audio:
            raise MediaError(path, "not-media", "没有音频流 / no audio stream")
        if info.audio_duration_s > MAX_VOICE_S:
            raise _too_long(path, info.audio_duration_s)
        # ffmpeg reads the file held open and checked here, through this process's /proc
        # entry: what was checked is what is decoded, even if the name changes meanwhile.
        proc_fd = f"/proc/{os.getpid()}/fd/{held.fileno()}"
        url = f"file:{proc_fd}" if os.path.exists(proc_fd) else media_url(path)
        try:
            tools.ffmpeg(*decode_voice_args(url, out_wav), timeout=_DECODE_TIMEOUT_S)
        except ToolFailed as exc:
            exc.stderr = exc.stderr.replace(url, media_url(path))
            raise decode_error(path, exc) from None
    decoded_s = wav_duration_s(out_wav) or 0.0
    if decoded_s > MAX_VOICE_S:  # a container that did not tell its length
        raise _too_long(path, decoded_s)
    if _peak(out_wav) < _SILENT_PEAK:
        # Said here, naming the person's file: assembly would name the decoded copy.
        raise PipelineError(f"录音没有声音：{path} / the voice recording is silent: {path}")
    return out_wav


def decode_voice_args(url: str, out_wav: Path) -> list[str]:
    """ffmpeg arguments decoding the first audio stream of `url` to mono 48 kHz s16 WAV.

    Decoding stops a little past MAX_VOICE_S, so a file whose header understated its length
    costs no more than that and is still found too long.
    """
    return [
        "-nostats", "-i", url, "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-t", f"{MAX_VOICE_S + 1:.0f}", "-ac", "1", "-ar", str(_SAMPLE_RATE),
        "-c:a", "pcm_s16le", "-f", "wav", str(out_wav),
    ]  # fmt: skip


def _peak(wav_path: Path) -> float:
    """The largest absolute sample of a 16-bit PCM WAV, in [0, 1]."""
    with wave.open(str(wav_path), "rb") as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return float(np.max(np.abs(pcm.astype(np.int32)))) / 32768 if len(pcm) else 0.0


def _too_long(path: Path, seconds: float) -> PipelineError:
    length = f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    limit = int(MAX_VOICE_S // 60)
    return PipelineError(
        f"录音太长：{path} 长 {length}，最长 {limit} 分钟 / "
        f"voice recording too long: {path} is {length}, at most {limit} minutes"
    )
