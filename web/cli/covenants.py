"""`kuanyue covenant …` and `kuanyue render`: covenants imported, compared and narrated."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from media_pipeline.jobs import VIDEO_SIZES
from media_pipeline.profiles import PROFILES

from .common import State, friendly_errors


@click.group()
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

    result = import_covenant(
        state.db,
        file,
        village=village,
        title=title,
        slug=slug,
        max_bytes=state.config.covenant_max_bytes,
    )
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
    from library.covenants.queries import covenant_list as all_covenants

    with state.db.session() as session:
        rows = all_covenants(session)
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
    from library.covenants.backgrounds import backgrounds
    from library.covenants.versions import get_covenant

    with state.db.session() as session:
        cov = get_covenant(session, ref)
        ver = cov.current
        click.echo(
            f"{cov.title}（{cov.village}）第 {ver.number} 版 / version {ver.number}, {ver.source_name}"
        )
        if chosen := backgrounds(session, ref):
            shown = "；".join(f"{b.topic or '全约 whole'} {b.source_name}" for b in chosen)
            click.echo(f"背景 / backgrounds: {shown}")
        if ver.preamble:
            click.echo(f"序言 / preamble: {ver.preamble}")
        chapter = section = None
        for c in ver.clauses:
            if c.chapter and c.chapter != chapter:
                click.secho(f"【{c.chapter}】", bold=True)
            if c.section and (c.section != section or c.chapter != chapter):
                click.secho(f"  〔{c.section}〕", bold=True)
            chapter, section = c.chapter, c.section
            rendered = "✓" if c.segments else "·"
            click.echo(f"{rendered} {c.key}\t{c.label}\t[{c.topic}]\t{c.text_zh}")
            if c.text_dong:
                click.echo(f"\t侗文 / Dong: {c.text_dong}")
        if ver.closing:
            click.echo(f"结尾 / closing: {ver.closing}")


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


@click.command()
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
    type=click.Choice(list(PROFILES)),
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

    from library.covenants.queries import render_size
    from library.covenants.rendering import RenderOptions, render_covenant

    cfg = state.config
    options = RenderOptions(
        engine=engine or cfg.engine,
        voice=voice or cfg.voice or None,
        piper_model=str(piper_model or cfg.piper_model or "") or None,
        gtts_timeout=cfg.gtts_timeout,
        profiles=tuple(dict.fromkeys(profiles)) or tuple(PROFILES),
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

    with state.db.session() as session:
        bar.total = render_size(session, ref, keys)
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
    if report.elsewhere:
        click.echo(
            f"另有 {len(report.elsewhere)} 条正由另一个渲染进程处理 / {len(report.elsewhere)} clauses"
            f" are being rendered by another run: {', '.join(report.elsewhere)}"
        )
    if report.failed:
        for key, why in report.failed:
            click.secho(f"✗ {key}: {why}", fg="red", err=True)
        sys.exit(1)
