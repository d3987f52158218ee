"""`kuanyue doctor` and `kuanyue serve`: the installation checked, and the site served."""

from __future__ import annotations

import sys

import click

from library.errors import LibraryError
from library.settings import SETTINGS, SettingsError

from .common import State, friendly_errors


@click.command()
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


@click.command()
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


@click.group()
def store() -> None:
    """媒体库维护 / media store upkeep."""


@store.command("gc")
@click.option(
    "--delete", is_flag=True, help="真的删除（默认只列出）/ remove them (default: only list)"
)
@click.pass_obj
@friendly_errors
def store_gc(state: State, delete: bool) -> None:
    """列出（或删除）没有任何记录引用的媒体文件 / list (or remove) stored files no row refers to."""
    from library.store_gc import collect

    found = collect(state.db, state.store, remove=delete)
    for path in found.files:
        click.echo(path)
    mb = found.bytes / 1e6
    if delete:
        click.echo(
            f"已删除 {len(found.files)} 个文件，{mb:.1f} MB / removed {len(found.files)} files, {mb:.1f} MB"
        )
    else:
        click.echo(
            f"{len(found.files)} 个文件无人引用，共 {mb:.1f} MB；加 --delete 删除 / {len(found.files)}"
            f" files no row refers to, {mb:.1f} MB; add --delete to remove them"
        )
