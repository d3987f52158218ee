"""Render orchestration: plan clause jobs, skip unchanged ones, run the rest on all cores."""

from __future__ import annotations

import functools
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from media_pipeline.errors import PipelineError
from media_pipeline.jobs import ClauseJob, ClauseOutput, RenderOptions
from media_pipeline.tools import DEFAULT_TOOLS, Tools

from ..claims import claim, claiming
from ..db import Database
from ..errors import LibraryError
from ..models import Clause, Covenant, Segment, SegmentFile
from ..parallel import RunScratch, run_items
from ..store import MediaStore, file_row, sha256_file
from .backgrounds import background_for, backgrounds_of
from .pronunciations import readings_of
from .segments import clone_segment, find_segment_by_inputs, promote_segment
from .versions import get_covenant


@dataclass
class RenderReport:
    """What a render did, clause by clause."""

    rendered: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)  # being rendered by another run
    failed: list[tuple[str, str]] = field(default_factory=list)
    synthesised: int = 0
    media_seconds: float = 0.0
    seconds: float = 0.0


Progress = Callable[[str, str], None]  # (clause key, status) after each clause
CLAIM = "render"


def make_job(
    covenant: Covenant,
    clause: Clause,
    options: RenderOptions,
    readings: tuple[tuple[str, str], ...] = (),
    background: tuple[str, str] | None = None,
) -> ClauseJob:
    """The plain render job of one clause; of the covenant's pronunciation list (`readings`)
    it holds only the words the clause says, so other entries never change its key.
    `background`: the (path, sha256) of the picture its videos are shown over, if any."""
    if not options.video_sizes:
        background = None  # only videos show it: audio-only renders keep their key
    bed_sha = _file_sha(options.music_bed) if options.music_bed else None
    label = clause_heading(clause)
    if readings:
        from media_pipeline.text import readings_used

        readings = readings_used(f"{label}\n{clause.text_zh}", readings)
    return ClauseJob(
        key=clause.key,
        number=clause.number,
        text_zh=clause.text_zh,
        text_dong=clause.text_dong,
        village=covenant.village,
        covenant_title=covenant.title,
        clause_label=label,
        topic=clause.topic,
        options=options,
        music_bed_sha256=bed_sha,
        readings=readings,
        chapter=clause.chapter,
        section=clause.section,
        background=background[0] if background else None,
        background_sha256=background[1] if background else None,
    )


def clause_heading(clause: Clause) -> str:
    """How the clause is announced, titled and shown on its page: its 第…条 label, else 第N条."""
    label = clause.label.strip().replace("條", "条")
    if label.startswith("第") and label.endswith("条"):
        return label
    import cn2an  # a tenth of a second to load; most labels need none

    return f"第{cn2an.an2cn(clause.number)}条"  # "1." and （一） items read 第一条, as YAML's do


def preflight(
    options: RenderOptions, warn: Callable[[str], None], tools: Tools = DEFAULT_TOOLS
) -> RenderOptions:
    """Fail early if the engine or font is missing; an unreachable gTTS falls back to espeak."""
    from media_pipeline.checks import check_font
    from media_pipeline.errors import EngineUnavailable, ToolMissing
    from media_pipeline.speech import create_engine

    if options.video_sizes and not (font := check_font(options.font, tools)).ok:
        # libass would quietly fall back to another font, often without Chinese glyphs.
        raise ToolMissing(options.font, f"{font.detail}; {font.hint}")

    engine = create_engine(
        options.engine,
        options.voice,
        piper_model=_path(options.piper_model),
        gtts_timeout=options.gtts_timeout,
        fallback=None,
        tools=tools,
    )
    try:
        engine.check()
        if options.engine == "gtts":
            # Reaching Google is only known by trying: one short phrase, once per run, so an
            # offline village machine does not wait for a timeout in every clause.
            with tempfile.TemporaryDirectory() as tmp:
                engine.synthesize("你好", Path(tmp) / "probe.wav")
    except EngineUnavailable as exc:
        if options.engine != "gtts":
            raise
        warn(f"{exc}\n→ 改用离线引擎 espeak / falling back to the offline espeak engine")
        return replace(options, engine="espeak", voice=None)
    return options


def _file_sha(path: str) -> str:
    st = Path(path).stat()
    return _sha_cached(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _sha_cached(path: str, _mtime_ns: int, _size: int) -> str:
    # Keyed on mtime and size too, so an edited file is hashed again.
    return sha256_file(Path(path))


def _has_segment(clause: Clause, job: ClauseJob) -> bool:
    digest = job.inputs_hash()
    return any(s.inputs_hash == digest for s in clause.segments)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _render(
    cache_dir: str, tools: Tools, threads: int, item: tuple[int, ClauseJob], scratch: Path
) -> ClauseOutput:
    # Imported here so the parent process stays light when nothing needs rendering.
    from media_pipeline.render import render_clause

    return render_clause(item[1], Path(cache_dir), scratch, tools, threads=threads)


def _threads(workers: int, items: int) -> int:
    """Encoder threads for each clause: the cores shared among the clauses rendered at once."""
    return max(1, (os.cpu_count() or 1) // max(1, min(workers, items)))


def _record(
    db: Database, store: MediaStore, clause_id: int, job_hash: str, out: ClauseOutput
) -> None:
    """Move the outputs into the store and record the segment, in one transaction."""
    files = [file_row(store, made, SegmentFile()) for made in out.files]
    with db.session(write=True) as session:
        session.add(
            Segment(
                clause_id=clause_id,
                inputs_hash=job_hash,
                engine=out.engine,
                voice=out.voice,
                duration_s=out.duration_s,
                render_seconds=out.seconds,
                files=files,
            )
        )


def render_covenant(
    db: Database,
    store: MediaStore,
    ref: str,
    options: RenderOptions,
    *,
    cache_dir: Path,
    workers: int = 2,
    keys: set[str] | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] = lambda _msg: None,
    tools: Tools = DEFAULT_TOOLS,
) -> RenderReport:
    """Render every clause of the covenant's current version whose inputs changed.

    Clauses already rendered with the same inputs are skipped without starting any program;
    segments rendered for an identical clause of another version are reused. Each finished
    clause is committed on its own, so Ctrl-C or a crash loses at most the clauses in flight.
    """
    started = time.perf_counter()
    report = RenderReport()
    jobs, rendered = _plan(db, ref, keys, options, store)
    if not all(rendered):
        checked = preflight(options, warn, tools)
        if checked != options:
            # The engine changed (gTTS unreachable): plan again with the fallback.
            jobs, rendered = _plan(db, ref, keys, checked, store)
    todo: list[tuple[int, ClauseJob]] = []
    # One write transaction: of two runs planning at once, the second sees the first's reuse.
    with db.session(write=True) as session:
        for clause_id, job in jobs:
            clause = session.get(Clause, clause_id)
            if clause is None:  # the covenant was re-imported meanwhile: its new run does it
                continue
            if _has_segment(clause, job):
                # Rendered before (a background cleared, a reading removed): pages show a
                # clause's newest segment, so the one matching these inputs becomes it.
                promote_segment(session, clause, job.inputs_hash())
                report.skipped.append(job.key)
                status = "skipped"
            elif (other := find_segment_by_inputs(session, job.inputs_hash())) is not None:
                clone_segment(other, clause)
                report.reused.append(job.key)
                status = "reused"
            else:
                todo.append((clause_id, job))
                continue
            if progress:
                progress(job.key, status)
    _execute(db, store, todo, cache_dir, workers, report, progress, warn, tools)
    report.seconds = time.perf_counter() - started
    return report


def _plan(
    db: Database,
    ref: str,
    keys: set[str] | None,
    options: RenderOptions,
    store: MediaStore | None = None,
) -> tuple[list[tuple[int, ClauseJob]], list[bool]]:
    """The job of each clause to render, and whether each is rendered already.

    `store` turns a background's store path into the file's path (keys do not depend on it).
    """
    with db.session() as session:
        covenant = get_covenant(session, ref)
        version = covenant.current
        every = version.clauses if version else []
        if keys and (unknown := keys - {c.key for c in every}):
            raise LibraryError(
                f"{covenant.slug} 没有条款 {', '.join(sorted(unknown))}；已有：{every[0].key} … {every[-1].key}"
                f" / no clause {', '.join(sorted(unknown))} in {covenant.slug}"
                f" (see kuanyue covenant show {covenant.slug})"
            )
        clauses = [c for c in every if keys is None or c.key in keys]
        readings = readings_of(session, covenant.id)
        chosen = {
            topic: (str(store.path(path)) if store else path, sha)
            for topic, (path, sha) in backgrounds_of(session, covenant.id).items()
        }
        jobs = [
            (c.id, make_job(covenant, c, options, readings, background_for(chosen, c.topic)))
            for c in clauses
        ]
        return jobs, [_has_segment(c, job) for c, (_, job) in zip(clauses, jobs, strict=True)]


def _execute(
    db: Database,
    store: MediaStore,
    todo: list[tuple[int, ClauseJob]],
    cache_dir: Path,
    workers: int,
    report: RenderReport,
    progress: Progress | None,
    warn: Callable[[str], None],
    tools: Tools,
) -> None:
    def finish(item: tuple[int, ClauseJob], result: ClauseOutput | PipelineError) -> None:
        clause_id, job = item
        if isinstance(result, PipelineError):
            report.failed.append((job.key, str(result)))
            warn(f"{job.key}: {result}")
            status = "failed"
        else:
            _record(db, store, clause_id, job.inputs_hash(), result)
            report.rendered.append(job.key)
            report.synthesised += result.synthesised
            report.media_seconds += result.duration_s
            status = "rendered"
        if progress:
            progress(job.key, status)

    if not todo:
        return
    with RunScratch(store.root.parent / "tmp") as run, claiming(db, run, CLAIM):
        # Clauses another live run is rendering are left to it (and counted as such).
        mine = claim(db, run, CLAIM, (_claim_key(item) for item in todo))
        for item in todo:
            if _claim_key(item) not in mine:
                report.elsewhere.append(item[1].key)
                if progress:
                    progress(item[1].key, "elsewhere")
        claimed = [item for item in todo if _claim_key(item) in mine]
        run_items(
            claimed,
            functools.partial(_render, str(cache_dir), tools, _threads(workers, len(claimed))),
            finish,
            store=store,
            workers=workers,
            run=run,
            prepare=_prepare_workers,
        )


def _prepare_workers() -> None:
    # Loaded once here and shared by the forked workers (jieba's dictionary alone is ~1 s).
    from media_pipeline.render import prepare

    prepare()


def _claim_key(item: tuple[int, ClauseJob]) -> str:
    return f"{item[0]}:{item[1].inputs_hash()}"
