"""Mastering every output of one narration together (master_many), the way
loudness.master masters one, in three ffmpeg runs in all.

`master_many` makes every output of one clause's narration the same way in three ffmpeg
runs in all, where `master` would take four per output (each run spends ~70 ms loading 200
shared libraries before it reads a byte):
1. the source loudness comes from the caller, who holds the samples (dsp.integrated_loudness,
   BS.1770 in numpy: within ebur128's 0.1 LU display), else from one meter run;
2. outputs that share shaping, format and aim share one chain ("branch"; web, archive and the
   video's AAC are one branch: one master, three encodes, limited to the lowest ceiling among
   them). ONE run renders every branch's chain at once (an `asplit` per branch) and writes
   its samples, whose loudness is computed here (dsp.integrated_loudness) → makeup gains;
3. ONE run renders every branch and writes every file (one `asplit` per branch to its
   encoders), metering the lossless outputs in-pass. A branch with filters starts from its
   shaped signal, which the meter run wrote, so its filters run once. The limiter runs at
   the sample rate (_MANY_OVERSAMPLE: see there), in both runs, so the render has the chain
   that was metered, plus the makeup gain;
4. ONE run decodes and meters (ebur128, true peak) every lossy output that reports its
   loudness; or the caller's next run does (`meter`: a clause's video run), one start fewer;
5. an output off target is corrected alone, as in `master` step 5.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from .errors import PipelineError
from .files import atomic_output
from .loudness import (
    ENCODER_GAIN_DB,
    ENCODER_OVERSHOOT_DB,
    LIMIT_MARGIN_DB,
    LOSSLESS_CODECS,
    METER,
    SILENCE_LUFS,
    TOLERANCE_LU,
    Loudness,
    ebur128_summaries,
    encoder_name,
    format_filters,
    limiter_filters,
    loudness_of,
    measure_source,
    meter_files,
    parse_out_time_s,
    wav_duration_s,
)
from .tools import DEFAULT_TOOLS, Tools

# master_many limits at the sample rate itself: on speech at 44.1/48 kHz the true peak then
# comes out at most 0.1 dB over the limit (the sample covenant; 4× oversampling: 0.0 dB),
# inside LIMIT_MARGIN_DB, and at a fifth of the cost. A file that still exceeds its
# ceiling is corrected like any other (a lower ceiling, rendered again).
_MANY_OVERSAMPLE = 1


@dataclass(frozen=True)
class Target:
    """One file for master_many to make: where, how encoded, at what level.

    `verify`: meter the file written, report its loudness and correct it if off target;
    False for a file whose level is left to the chain it shares with verified ones (the
    video's AAC, encoded beside the web and archive files from the same samples).
    """

    path: Path
    codec_args: tuple[str, ...]
    sample_rate: int
    channels: int = 1
    target_lufs: float = -16.0
    true_peak_dbtp: float = -1.0
    pre_filters: tuple[str, ...] = ()
    verify: bool = True


@dataclass(frozen=True)
class Made:
    """A file master_many wrote: its loudness as measured (None if not verified), duration (s)."""

    path: Path
    loudness: Loudness | None
    duration_s: float


@dataclass
class _Branch:
    """Targets mastered through one chain: the same shaping, format and aim.

    `shaped`: the chain up to its profile filters (format, gain, filters), written by the
    meter run for a branch with filters, so the render run starts from it.
    """

    pre_filters: tuple[str, ...]
    sample_rate: int
    channels: int
    aim: float
    gain: float
    ceiling: float
    members: list[int]
    makeup: float = 0.0
    shaped: Path | None = None

    def head(self) -> list[str]:
        """Format, gain and profile filters: what the makeup gain and the limiter follow."""
        format_ = format_filters(self.sample_rate, self.channels)
        return [*format_, f"volume={self.gain:.2f}dB", *self.pre_filters]

    def tail(self) -> list[str]:
        """Makeup gain and limiter."""
        makeup = [f"volume={self.makeup:.2f}dB"] if self.makeup else []
        return [*makeup, *limiter_filters(self.ceiling, self.sample_rate, _MANY_OVERSAMPLE)]


def _aim_and_ceiling(target: Target) -> tuple[float, float]:
    """The level to feed the encoder and the limiter's ceiling, planning for the encoder."""
    encoder = encoder_name(target.path, target.codec_args)
    codec_gain = ENCODER_GAIN_DB.get(encoder, 0.0)
    ceiling = target.true_peak_dbtp - LIMIT_MARGIN_DB - ENCODER_OVERSHOOT_DB.get(encoder, 0.0)
    return target.target_lufs - codec_gain, ceiling - codec_gain


def _is_lossless(target: Target) -> bool:
    return encoder_name(target.path, target.codec_args).startswith(LOSSLESS_CODECS)


def master_many(
    src: Path,
    targets: Sequence[Target],
    *,
    source_lufs: float | None = None,
    meter: Callable[[Sequence[Path]], Sequence[Loudness]] | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> list[Made]:
    """Master `src` into every target (atomically) in three ffmpeg runs; see the module doc.

    `source_lufs`: the source's integrated loudness if the caller knows it (e.g. from
    dsp.integrated_loudness on the samples it wrote), saving a meter run.
    `meter`: meters the written lossy files (decoded, true peak included) and returns their
    loudness in order, e.g. within an ffmpeg run the caller makes next anyway (see
    `meter_inputs`); by default a run of their own (`meter_files`). Corrections, if any,
    are metered by `meter_files`.
    """
    src = Path(src)
    if not src.is_file():
        raise PipelineError(f"找不到音频文件：{src} / audio file not found: {src}")
    targets = list(targets)
    if not targets:
        return []
    if source_lufs is None:
        source_lufs = measure_source(src, tools)[0].integrated_lufs
    if not source_lufs > SILENCE_LUFS:
        raise PipelineError(
            f"音频无声，无法标准化：{src} / audio is silent, cannot normalise: {src}"
        )
    branches: dict[tuple, _Branch] = {}
    for i, target in enumerate(targets):
        aim, ceiling = _aim_and_ceiling(target)
        key = (target.pre_filters, target.sample_rate, target.channels, round(aim, 2))
        branch = branches.setdefault(
            key,
            _Branch(
                target.pre_filters, target.sample_rate, target.channels, aim,
                aim - source_lufs, ceiling, [],
            ),
        )  # fmt: skip
        branch.ceiling = min(branch.ceiling, ceiling)
        branch.members.append(i)
    plan = list(branches.values())
    with tempfile.TemporaryDirectory(prefix="kuanyue-master-") as tmp:
        for k, branch in enumerate(plan):
            if branch.pre_filters:
                branch.shaped = Path(tmp) / f"shaped{k}.wav"
        metered_chains = _meter_chains(src, plan, tools, Path(tmp))
        for branch, metered in zip(plan, metered_chains, strict=True):
            if not metered > SILENCE_LUFS:
                raise PipelineError(
                    f"音频无声，无法标准化：{src} / audio is silent, cannot normalise: {src}"
                )
            branch.makeup = branch.aim - metered
        found, progress_s = _render_branches(src, plan, targets, tools)
    for branch in plan:
        branch.shaped = None  # gone with the directory; a correction starts from the source
    found.update(
        _verify_lossy(targets, found, meter or functools.partial(meter_files, tools=tools))
    )

    # Correct an output that is off target alone (the loudness error maps onto makeup gain
    # almost 1:1; the limiter touches only peaks), lowering its ceiling by any overshoot.
    redo = []
    for branch in plan:
        for i in branch.members:
            if (result := found.get(i)) is None:
                continue
            error = targets[i].target_lufs - result.integrated_lufs
            overshoot = result.true_peak_dbtp - targets[i].true_peak_dbtp
            if abs(error) <= TOLERANCE_LU and overshoot <= 0:
                continue
            alone = _Branch(**{**branch.__dict__, "members": [i]})
            alone.makeup += error
            if overshoot > 0:
                alone.ceiling -= overshoot + 0.2
            redo.append(alone)
    if redo:
        corrected, _ = _render_branches(src, redo, targets, tools)
        meter_again = functools.partial(meter_files, tools=tools)
        corrected.update(
            _verify_lossy(targets, corrected, meter_again, [b.members[0] for b in redo])
        )
        found.update(corrected)
    duration_s = wav_duration_s(src) or progress_s
    return [Made(t.path, found.get(i), duration_s) for i, t in enumerate(targets)]


def _split(source: str, labels: Sequence[str]) -> str:
    """`source` fanned out to `labels` (no asplit for one)."""
    if len(labels) == 1:
        return f"{source}anull{labels[0]}"
    return f"{source}asplit={len(labels)}{''.join(labels)}"


def _meter_chains(src: Path, plan: Sequence[_Branch], tools: Tools, tmp: Path) -> list[float]:
    """Integrated loudness at the end of each branch's chain (makeup 0), from one ffmpeg run.

    The run writes each chain's output as raw 32-bit floats and the loudness is computed
    here (dsp.integrated_loudness: BS.1770, within 0.05 LU of ebur128; ebur128 itself would
    cost more than writing and reading the samples). A branch with `shaped` set also writes
    its shaped signal there (32-bit float WAV), for the render run to start from.
    """
    import numpy as np

    from .dsp import integrated_loudness

    inputs = [f"[in{k}]" for k in range(len(plan))]
    graph = [_split("[0:a:0]", inputs)]
    writes: list[str] = []
    for k, branch in enumerate(plan):
        head = f"{inputs[k]}{','.join(branch.head())}"
        tail = ",".join(branch.tail())
        if branch.shaped is None:
            graph.append(f"{head},{tail}[m{k}]")
        else:
            graph += [f"{head},asplit[w{k}][s{k}]", f"[s{k}]{tail}[m{k}]"]
            writes += ["-map", f"[w{k}]", "-c:a", "pcm_f32le", str(branch.shaped)]
        writes += ["-map", f"[m{k}]", "-f", "f32le", "-c:a", "pcm_f32le", str(tmp / f"m{k}.f32")]
    tools.ffmpeg("-nostats", "-i", str(src), "-filter_complex", ";".join(graph), *writes)
    return [
        integrated_loudness(np.fromfile(tmp / f"m{k}.f32", dtype="<f4"), branch.sample_rate)
        for k, branch in enumerate(plan)
    ]


def _render_branches(
    src: Path, plan: Sequence[_Branch], targets: Sequence[Target], tools: Tools
) -> tuple[dict[int, Loudness], float]:
    """Render every branch into its targets in one ffmpeg run; meter lossless ones in-pass.

    Returns the loudness of the lossless verified targets and the duration processed (s).
    """
    files = [] if all(b.shaped for b in plan) else [src]
    sources = {k: f"[in{k}]" for k, branch in enumerate(plan) if branch.shaped is None}
    graph = [_split("[0:a:0]", list(sources.values()))] if files else []
    for k, branch in enumerate(plan):
        if branch.shaped is not None:
            sources[k] = f"[{len(files)}:a:0]"
            files.append(branch.shaped)
    argv = ["-nostats", "-progress", "pipe:1"]
    for path in files:
        argv += ["-i", str(path)]
    outputs: list[tuple[str, int]] = []
    metered: list[list[int]] = []  # per meter, in graph order: the targets it measures
    for k, branch in enumerate(plan):
        labels = [f"[b{k}o{j}]" for j in range(len(branch.members))]
        lossless = [i for i in branch.members if targets[i].verify and _is_lossless(targets[i])]
        if lossless:
            # One meter for the branch: its lossless files hold the same samples.
            labels.append(f"[b{k}m]")
        chain = branch.tail() if branch.shaped else [*branch.head(), *branch.tail()]
        chain_graph = f"{sources[k]}{','.join(chain)}"
        graph.append(
            chain_graph + labels[0] if len(labels) == 1 else _split(f"{chain_graph},", labels)
        )
        if lossless:
            graph.append(f"[b{k}m]{METER},anullsink")
            metered.append(lossless)
        outputs += zip(labels, branch.members, strict=False)
    argv += ["-filter_complex", ";".join(graph)]
    with ExitStack() as stack:
        for label, i in outputs:
            tmp = stack.enter_context(atomic_output(targets[i].path))
            argv += ["-map", label, "-map_metadata", "-1", *targets[i].codec_args, str(tmp)]
        proc = tools.ffmpeg(*argv)
    found: dict[int, Loudness] = {}
    summaries = ebur128_summaries(proc.stderr.decode("utf-8", "replace"))
    for members, summary in zip(metered, summaries, strict=True):
        for i in members:
            found[i] = loudness_of(summary)
    return found, parse_out_time_s(proc.stdout.decode("utf-8", "replace"))


def _verify_lossy(
    targets: Sequence[Target],
    found: dict[int, Loudness],
    meter: Callable[[Sequence[Path]], Sequence[Loudness]],
    among: Sequence[int] | None = None,
) -> dict[int, Loudness]:
    """Meter the verified (lossy) targets not measured yet."""
    todo = [
        i
        for i in (range(len(targets)) if among is None else among)
        if targets[i].verify and i not in found
    ]
    if not todo:
        return {}
    measured = meter([targets[i].path for i in todo])
    return dict(zip(todo, measured, strict=True))
