"""`kuanyue catalogue scan | add | import-sheet | copies`: recordings in, copies made.

Each command is one library workflow (`library.catalogue.workflows`), followed here with
progress bars and a line per file; the `catalogue` group (web/cli/catalogue.py) adds them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from .common import State, friendly_errors
from .metadata import build_meta, meta_options

_MARK = {
    "added": ("+", "green"),
    "updated": ("~", "green"),
    "unchanged": ("=", None),
    "duplicate": ("≡", "cyan"),
    "refused": ("×", "red"),
    "elsewhere": ("…", "yellow"),
}


def _format_line(line) -> str:  # noqa: ANN001
    mark, colour = _MARK[line.status]
    rid = f" #{line.recording_id}" if line.recording_id else ""
    reason = f"  {line.reason}" if line.reason and line.status != "unchanged" else ""
    return click.style(f"{mark} {line.path}{rid}{reason}", fg=colour)


WORKERS_OPTION = click.option(
    "--workers", type=int, help="并行进程数 / parallel processes [KUANYUE_WORKERS]"
)
LATER_OPTION = click.option(
    "--later",
    is_flag=True,
    help="只编目，稍后用 `catalogue copies` 生成播放与广播副本 / catalogue only; make the web"
    " and loudspeaker copies later with `catalogue copies`",
)
QUIET_OPTION = click.option(
    "--quiet", is_flag=True, help="只显示摘要与问题 / only the summary and problems"
)
SCAN_INTERRUPTED = (
    "已中断：已导入的文件已保存，重新扫描即可继续。 / Interrupted: imported files are saved;"
    " scan again to continue."
)
COPIES_INTERRUPTED = (
    "已中断：已完成的副本已保存，其余待 `kuanyue catalogue copies` 继续。 / Interrupted:"
    " finished copies are saved; `kuanyue catalogue copies` makes the rest."
)


def _interrupted(what: str) -> NoReturn:
    click.secho(f"\n{what}", fg="yellow", err=True)
    sys.exit(130)


def _watch(*, quiet: bool = False, scan_bar: bool = False, summary=None):  # noqa: ANN001, ANN202
    """A library `Watch` that draws the progress bars and prints each line as it comes.

    Defined when a command runs, so tqdm and the library load then, not for `--help`.
    """
    from tqdm import tqdm

    from library.catalogue.copies import FAILED
    from library.catalogue.workflows import Watch

    class Progress(Watch):
        def __init__(self) -> None:
            self.copying = False
            self.bar = (
                tqdm(unit="个", desc="编目 / scan", disable=None, file=sys.stderr)
                if scan_bar
                else None
            )

        def _write(self, text: str) -> None:
            if self.bar is None:
                click.echo(text)
                return
            # click.echo drops the colours when the report goes to a file or a pipe.
            with self.bar.external_write_mode():
                click.echo(text)

        def catalogued(self, line) -> None:  # noqa: ANN001
            if self.bar is not None:
                self.bar.update(1)
            if not quiet or line.status == "refused":
                self._write(_format_line(line))

        def catalogue_done(self, report) -> None:  # noqa: ANN001
            self.close()
            if summary:
                summary(report)

        def copies_started(self, count: int) -> None:
            self.copying = True
            self.bar = tqdm(
                total=count, unit="个", desc="副本 / copies", disable=None, file=sys.stderr
            )

        def copied(self, line) -> None:  # noqa: ANN001
            self.bar.update(1)
            if line.status == FAILED or not quiet:
                mark, colour = ("×", "red") if line.status == FAILED else ("✓", "green")
                reason = f"  {line.reason}" if line.reason else ""
                self._write(
                    click.style(f"{mark} #{line.recording_id} {line.name}{reason}", fg=colour)
                )

        def close(self) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return Progress()


def _run(watch, workflow, *, interrupted: str | None = None):  # noqa: ANN001, ANN202
    """Run a workflow with `watch`; on Ctrl-C say what was kept, for the half that was running."""
    try:
        result = workflow()
    except KeyboardInterrupt:
        watch.close()
        if watch.copying:
            _interrupted(COPIES_INTERRUPTED)
        if interrupted is None:
            raise
        _interrupted(interrupted)
    watch.close()
    return result


def _copies_summary(report) -> None:  # noqa: ANN001
    from library.catalogue.copies import FAILED

    click.echo(
        f"副本 / copies: 完成 done {report.count('done')}，失败 failed {report.count(FAILED)}；"
        f"{report.seconds:.1f} s"
        + ("（`catalogue copies --retry` 重试 / to retry）" if report.count(FAILED) else "")
    )
    if report.elsewhere:
        click.echo(
            f"另有 {len(report.elsewhere)} 条录音的副本正由另一个进程制作 / another run is making"
            f" the copies of {len(report.elsewhere)} recordings"
        )


def _after(result) -> None:  # noqa: ANN001
    """The copies' summary, or how many copies wait for `catalogue copies`."""
    if result.copies is not None:
        _copies_summary(result.copies)
    elif result.waiting:
        click.echo(
            f"副本待做 / copies waiting: {result.waiting}（`kuanyue catalogue copies` 生成 / to make them）"
        )


@click.command()
@WORKERS_OPTION
@click.option("--retry", is_flag=True, help="也重试失败的 / also retry those that failed")
@QUIET_OPTION
@click.pass_obj
@friendly_errors
def copies(state: State, workers: int | None, retry: bool, quiet: bool) -> None:
    """生成待做的播放与广播副本 / make the pending web and loudspeaker copies."""
    from library.catalogue.workflows import make_copies

    watch = _watch(quiet=quiet)
    report = _run(
        watch,
        lambda: make_copies(
            state.db,
            state.store,
            workers=workers or state.config.workers,
            retry_failed=retry,
            tools=state.config.tools,
            watch=watch,
        ),
    )
    if report is None:
        click.echo("没有待做的副本 / no copies are waiting")
    else:
        _copies_summary(report)


def _scan_summary(report) -> None:  # noqa: ANN001
    for a, b, score in report.near_duplicates:
        click.secho(
            f"≈ 可能是同一录音 / possibly the same take: #{a} ~ #{b} ({score:.0%})"
            " — 请人工确认 / for a person to decide",
            fg="yellow",
        )
    speed = (
        f"，{report.media_seconds / report.seconds:.1f}× 实时"
        if report.seconds and report.media_seconds
        else ""
    )
    click.echo(
        f"完成 / done: 新增 added {report.count('added')}，未变 unchanged {report.count('unchanged')}，"
        f"重复 duplicate {report.count('duplicate')}，拒绝 refused {report.count('refused')}；"
        f"{report.seconds:.1f} s{speed}"
    )


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@WORKERS_OPTION
@LATER_OPTION
@QUIET_OPTION
@click.option(
    "--follow-links",
    is_flag=True,
    help="也跟随指向文件夹之外的符号链接（循环仍会跳过）/ also follow symlinks that lead out"
    " of the folder (loops are still skipped)",
)
@meta_options
@click.pass_obj
@friendly_errors
def scan(
    state: State,
    folder: Path,
    workers: int | None,
    later: bool,
    quiet: bool,
    follow_links: bool,
    **values,  # noqa: ANN003
) -> None:
    """扫描文件夹，增量、可续传 / scan a folder: incremental, resumable, on every core.

    先编目（探测、响度、静音、波形、指纹），再生成播放与广播副本。
    Catalogues first (probe, loudness, silence, waveform, fingerprint), then makes the web
    and loudspeaker copies.

    隐藏文件、管道、设备和指向文件夹之外的符号链接不读取，各有一行说明。
    Hidden files, pipes, devices and symlinks out of the folder are not read; each gets a
    line saying why.
    """
    from library.catalogue.workflows import catalogue_folder

    defaults = build_meta(values)
    watch = _watch(quiet=quiet, scan_bar=True, summary=_scan_summary)
    result = _run(
        watch,
        lambda: catalogue_folder(
            state.db,
            state.store,
            folder,
            workers=workers or state.config.workers,
            defaults=defaults,
            later=later,
            follow_links=follow_links,
            tools=state.config.tools,
            watch=watch,
        ),
        interrupted=SCAN_INTERRUPTED,
    )
    _after(result)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@LATER_OPTION
@meta_options
@click.pass_obj
@friendly_errors
def add(state: State, file: Path, later: bool, **values) -> None:  # noqa: ANN003
    """添加一个录音文件及其信息 / add one recording with its metadata."""
    from library.catalogue.workflows import catalogue_file

    meta = build_meta(values)
    watch = _watch()
    result = _run(
        watch,
        lambda: catalogue_file(
            state.db, state.store, file, meta, later=later, tools=state.config.tools, watch=watch
        ),
    )
    _after(result)


@click.command("import-sheet")
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@WORKERS_OPTION
@LATER_OPTION
@click.pass_obj
@friendly_errors
def import_sheet(state: State, sheet: Path, workers: int | None, later: bool) -> None:
    """按清单导入（CSV，每行一个文件，路径相对于清单）/ import a manifest: CSV, one row per file."""
    from library.catalogue.workflows import catalogue_sheet

    def summary(report) -> None:  # noqa: ANN001
        click.echo(
            f"完成 / done: 新增 added {report.count('added')}，更新 updated {report.count('updated')}，"
            f"拒绝 refused {report.count('refused')}"
        )

    watch = _watch(summary=summary)
    result = _run(
        watch,
        lambda: catalogue_sheet(
            state.db,
            state.store,
            sheet,
            workers=workers or state.config.workers,
            later=later,
            tools=state.config.tools,
            watch=watch,
        ),
    )
    _after(result)
