"""The `kuanyue` command: parses input, calls the library, prints results (Chinese first)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from library.errors import LibraryError
from library.settings import SETTINGS, SettingsError, load_config
from media_pipeline.errors import PipelineError
from media_pipeline.jobs import VIDEO_SIZES

PROFILES = ("loudspeaker", "web", "archive")


class State:
    """Settings, database and store, opened on first use so `--help` stays instant."""

    def __init__(self) -> None:
        self._config = None
        self._db = None

    @property
    def config(self):  # noqa: ANN201
        if self._config is None:
            self._config = load_config()
        return self._config

    @property
    def db(self):  # noqa: ANN201
        if self._db is None:
            from library.db import open_database

            self._db = open_database(self.config.database_url_resolved)
        return self._db

    @property
    def store(self):  # noqa: ANN201
        from library.store import MediaStore

        return MediaStore(self.config.media_dir)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's and pipeline's errors into clean CLI messages (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (LibraryError, PipelineError, SettingsError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """款约 Kuanyue：村规民约的广播、字幕与视频 / village covenants narrated, subtitled and broadcast."""
    ctx.obj = State()


# --- covenants -------------------------------------------------------------------------------


@main.group()
def covenant() -> None:
    """导入、查看与比较村规民约 / import, show and compare covenants."""


@covenant.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--village", help="村名 / village name (guessed from the text when absent)")
@click.option("--title", help="标题 / title (default: the file's title line, or 「村名村规民约」)")
@click.option("--slug", help="网址名 / short name used in URLs and clause keys")
@click.pass_obj
@friendly_errors
def covenant_import(
    state: State, file: Path, village: str | None, title: str | None, slug: str | None
) -> None:
    """导入文本、Markdown 或 YAML；文本有变化时生成新版本 / import text, Markdown or YAML; changes make a new version."""
    from library.covenants.versions import import_covenant

    result = import_covenant(state.db, file, village=village, title=title, slug=slug)
    for w in result.warnings:
        click.secho(f"注意 / warning: {w}", fg="yellow", err=True)
    cov, ver = result.covenant, result.version
    if not result.new_version:
        click.echo(
            f"{cov.title}（{cov.slug}）内容未变，仍为第 {ver.number} 版 / unchanged, still version {ver.number}"
        )
        return
    click.echo(
        f"已导入 {cov.title}（{cov.slug}）第 {ver.number} 版：{len(ver.clauses)} 条，编码 {ver.encoding}"
        f" / imported version {ver.number}: {len(ver.clauses)} clauses, {ver.encoding}"
    )
    if ver.number > 1:
        _print_changes(result.changes, only_changed=True)
    click.echo(f"下一步 / next: kuanyue render --covenant {cov.slug}")


@covenant.command("list")
@click.pass_obj
@friendly_errors
def covenant_list(state: State) -> None:
    """列出所有村规民约 / list covenants."""
    from sqlalchemy import select

    from library.models import Covenant

    with state.db.session() as session:
        rows = session.scalars(select(Covenant).order_by(Covenant.id)).all()
        if not rows:
            click.echo(
                "还没有村规民约 / no covenants yet: kuanyue covenant import FILE --village NAME"
            )
        for c in rows:
            cur = c.current
            click.echo(
                f"{c.slug}\t{c.village}\t{c.title}\tv{cur.number if cur else 0}\t"
                f"{len(cur.clauses) if cur else 0} 条/clauses"
            )


@covenant.command("show")
@click.argument("ref")
@click.pass_obj
@friendly_errors
def covenant_show(state: State, ref: str) -> None:
    """显示当前版本的条款 / show the clauses of the current version."""
    from library.covenants.versions import get_covenant

    with state.db.session() as session:
        cov = get_covenant(session, ref)
        ver = cov.current
        click.echo(
            f"{cov.title}（{cov.village}）第 {ver.number} 版 / version {ver.number}, {ver.source_name}"
        )
        if ver.preamble:
            click.echo(f"序言 / preamble: {ver.preamble}")
        for c in ver.clauses:
            rendered = "✓" if c.segments else "·"
            click.echo(f"{rendered} {c.key}\t{c.label}\t[{c.topic}]\t{c.text_zh}")
            if c.text_dong:
                click.echo(f"\t侗文 / Dong: {c.text_dong}")


@covenant.command("diff")
@click.argument("ref")
@click.option("--from", "old", type=int, help="旧版本号 / older version (default: the one before)")
@click.option("--to", "new", type=int, help="新版本号 / newer version (default: the newest)")
@click.option(
    "--all", "show_all", is_flag=True, help="也列出未变的条款 / list unchanged clauses too"
)
@click.pass_obj
@friendly_errors
def covenant_diff(state: State, ref: str, old: int | None, new: int | None, show_all: bool) -> None:
    """比较两个版本 / show what changed between two versions."""
    from library.covenants.versions import diff_versions

    with state.db.session() as session:
        _print_changes(diff_versions(session, ref, old, new), only_changed=not show_all)


@covenant.command("topic")
@click.argument("key")
@click.argument("topic")
@click.pass_obj
@friendly_errors
def covenant_topic(state: State, key: str, topic: str) -> None:
    """修改条款的主题（重新导入时保留）/ set a clause's topic (kept across re-imports)."""
    from library.covenants.versions import set_topic

    with state.db.session() as session:
        clause = set_topic(session, key, topic)
        click.echo(f"{clause.key}: {clause.topic}")


_MARKS = {
    "added": ("+", "green", "新增 added"),
    "removed": ("-", "red", "删除 removed"),
    "changed": ("~", "yellow", "修改 changed"),
    "renumbered": ("#", "cyan", "改号 renumbered"),
    "unchanged": ("=", None, "未变 unchanged"),
}


def _print_changes(changes, only_changed: bool) -> None:  # noqa: ANN001
    counts: dict[str, int] = {}
    for ch in changes:
        counts[ch.kind] = counts.get(ch.kind, 0) + 1
        if only_changed and ch.kind == "unchanged":
            continue
        mark, colour, label = _MARKS[ch.kind]
        clause = ch.new or ch.old
        number = (
            f"第{ch.old.number}条→第{ch.new.number}条" if ch.kind == "renumbered" else clause.label
        )
        click.secho(f"{mark} {ch.key} {number} [{label}]", fg=colour)
        if ch.kind == "changed":
            click.echo(f"    {ch.text_diff()}")
        elif ch.kind in ("added", "removed"):
            click.echo(f"    {clause.text_zh}")
    summary = "，".join(f"{_MARKS[k][2]} {v}" for k, v in counts.items())
    click.echo(f"共 / total: {summary or '无变化 / no changes'}")


# --- rendering -------------------------------------------------------------------------------


@main.command()
@click.option(
    "--covenant", "ref", required=True, help="村规民约的网址名或编号 / covenant slug or id"
)
@click.option(
    "--engine",
    type=click.Choice(["espeak", "gtts", "piper"]),
    help="语音引擎 / speech engine [KUANYUE_ENGINE]",
)
@click.option("--voice", help="语音 / voice (default: the engine's)")
@click.option(
    "--piper-model",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Piper .onnx 模型 / Piper voice model",
)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    type=click.Choice(PROFILES),
    help="音频输出（可多次）/ audio outputs, repeatable (default: all)",
)
@click.option(
    "--video",
    "videos",
    multiple=True,
    type=click.Choice([*VIDEO_SIZES, "none"]),
    help="视频画幅（可多次）/ video formats, repeatable (default: 16x9 and 9x16)",
)
@click.option(
    "--music-bed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="背景音乐，自动压低 / background music, ducked under speech",
)
@click.option("--clause", "keys", multiple=True, help="只渲染这些条款 / only these clause keys")
@click.option("--workers", type=int, help="并行进程数 / parallel processes [KUANYUE_WORKERS]")
@click.pass_obj
@friendly_errors
def render(
    state: State,
    ref: str,
    engine: str | None,
    voice: str | None,
    piper_model: Path | None,
    profiles: tuple[str, ...],
    videos: tuple[str, ...],
    music_bed: Path | None,
    keys: tuple[str, ...],
    workers: int | None,
) -> None:
    """逐条朗读并生成字幕与视频，跳过未变的条款 / narrate and render each clause; unchanged ones are skipped."""
    from tqdm import tqdm

    from library.covenants.rendering import RenderOptions, render_covenant

    cfg = state.config
    options = RenderOptions(
        engine=engine or cfg.engine,
        voice=voice or cfg.voice or None,
        piper_model=str(piper_model or cfg.piper_model or "") or None,
        gtts_timeout=cfg.gtts_timeout,
        profiles=tuple(dict.fromkeys(profiles)) or PROFILES,
        video_sizes=()
        if "none" in videos
        else (tuple(dict.fromkeys(videos)) or tuple(VIDEO_SIZES)),
        font=cfg.subtitle_font,
        music_bed=str(music_bed.resolve()) if music_bed else None,
    )
    bar = tqdm(total=0, unit="条", desc="渲染 / render", disable=None, file=sys.stderr)

    def progress(key: str, status: str) -> None:
        if bar.total == 0:
            return
        bar.set_postfix_str(f"{key} {status}")
        bar.update(1)

    def warn(message: str) -> None:
        tqdm.write(click.style(f"注意 / warning: {message}", fg="yellow"), file=sys.stderr)

    from library.covenants.versions import get_covenant

    with state.db.session() as session:
        cov = get_covenant(session, ref)
        bar.total = len(cov.current.clauses) if cov.current and not keys else len(keys)
        bar.refresh()
    try:
        report = render_covenant(
            state.db,
            state.store,
            ref,
            options,
            cache_dir=cfg.cache_dir,
            workers=workers or cfg.workers,
            keys=set(keys) or None,
            progress=progress,
            warn=warn,
            tools=cfg.tools,
        )
    except KeyboardInterrupt:
        bar.close()
        click.secho(
            "\n已中断：已完成的条款已保存，重新运行同一命令即可继续。"
            " / Interrupted: finished clauses are saved; run the same command to continue.",
            fg="yellow",
            err=True,
        )
        sys.exit(130)
    bar.close()
    speed = (
        f"，{report.media_seconds / report.seconds:.1f}× 实时 / real time"
        if report.rendered and report.seconds
        else ""
    )
    click.echo(
        f"完成 / done: 渲染 rendered {len(report.rendered)}，复用 reused {len(report.reused)}，"
        f"跳过 skipped {len(report.skipped)}，失败 failed {len(report.failed)}；"
        f"合成 synthesised {report.synthesised} 句 phrases；{report.seconds:.1f} s{speed}"
    )
    if report.failed:
        for key, why in report.failed:
            click.secho(f"✗ {key}: {why}", fg="red", err=True)
        sys.exit(1)


# --- operations ------------------------------------------------------------------------------


@main.command()
@click.pass_obj
def doctor(state: State) -> None:
    """检查 ffmpeg、espeak-ng、字体、引擎与设置 / check every external piece and print the settings."""
    from media_pipeline.checks import run_checks

    failed = False
    try:
        cfg = state.config
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    for check in run_checks(cfg.subtitle_font, cfg.tools):
        mark = (
            click.style("✓", fg="green")
            if check.ok
            else click.style(
                "✗" if check.required else "!", fg="red" if check.required else "yellow"
            )
        )
        click.echo(f"{mark} {check.name}: {check.detail}")
        if not check.ok:
            click.echo(f"    → {check.hint}")
            failed = failed or check.required
    try:
        db = state.db
        click.echo(f"{click.style('✓', fg='green')} database: {db.url}")
    except LibraryError as exc:
        click.echo(f"{click.style('✗', fg='red')} database: {exc}")
        failed = True
    click.echo("\n设置 / settings (KUANYUE_*):")
    for s in SETTINGS:
        value = cfg.values[s.name]
        shown = "******" if s.name == "secret_key" and value else value
        click.echo(f"  {s.env} = {shown}")
    if failed:
        sys.exit(1)


@main.command()
@click.option("--host", help="监听地址 / address [KUANYUE_HOST]")
@click.option("--port", type=int, help="端口 / port [KUANYUE_PORT]")
@click.pass_obj
@friendly_errors
def serve(state: State, host: str | None, port: int | None) -> None:
    """用 waitress 提供网站 / serve the site with waitress."""
    # A plain click group rather than FlaskGroup: commands like `render` must not build the
    # web app (and `--help` must not touch the database).
    import waitress

    from web import create_app

    app = create_app({"KUANYUE_CONFIG": state.config})
    host = host or state.config.host
    port = port or state.config.port
    click.echo(f"款约网站 / Kuanyue site: http://{host}:{port}/  (Ctrl-C 停止 / to stop)")
    waitress.serve(app, host=host, port=port, threads=8, ident="kuanyue")


# Sub-command groups in their own modules; imported last so they can decorate `main`.
from . import catalogue_cli  # noqa: E402, F401

if __name__ == "__main__":  # pragma: no cover
    main()
