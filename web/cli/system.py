"""`kuanyue doctor` and `kuanyue serve`: the installation checked, and the site served."""

from __future__ import annotations

import errno
import socket
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
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="端口（0：任一空闲端口）/ port (0: any free one) [KUANYUE_PORT]",
)
@click.pass_obj
@friendly_errors
def serve(state: State, host: str | None, port: int | None) -> None:
    """用 waitress 提供网站 / serve the site with waitress."""
    # A plain click group rather than FlaskGroup: commands like `render` must not build the
    # web app (and `--help` must not touch the database).
    import logging

    from waitress.server import create_server

    from web import create_app

    app = create_app({"KUANYUE_CONFIG": state.config})
    host = host or state.config.host
    port = state.config.port if port is None else port
    logging.basicConfig()  # waitress's warnings (a full task queue …), as waitress.serve does
    try:
        server = create_server(app, host=host, port=port, threads=8, ident="kuanyue")
    except (OSError, ValueError) as exc:  # name look-up and bind, before anything is served
        raise click.ClickException(listen_problem(exc, host, port)) from exc
    # The port actually bound (port 0 takes any free one; a name with several addresses
    # gets several sockets and keeps the port asked for).
    port = getattr(server, "effective_port", port)
    click.echo(f"款约网站 / Kuanyue site: http://{_address(host, port)}/  (Ctrl-C 停止 / to stop)")
    try:
        server.run()  # returns on Ctrl-C, once waitress has stopped its threads
    finally:
        server.close()
    click.echo("已停止 / stopped", err=True)


def _address(host: str, port: int) -> str:
    """host:port, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen_problem(exc: OSError | ValueError, host: str, port: int) -> str:
    """Why the site cannot listen on host:port, and what to do, in one bilingual line."""
    where = _address(host, port)
    if isinstance(exc, ValueError):
        # waitress reports a failed name look-up as "Invalid host/port specified."
        if not isinstance(exc.__context__, OSError):
            return f"无效的监听地址 {where}：{exc} / cannot listen on {where}: {exc}"
        exc = exc.__context__
    if isinstance(exc, socket.gaierror):
        return (
            f"找不到主机 {host}：请用 --host（或 KUANYUE_HOST）给出本机的地址，如 127.0.0.1 / cannot"
            f" resolve {host}: give an address of this machine with --host (or KUANYUE_HOST),"
            " e.g. 127.0.0.1"
        )
    if exc.errno == errno.EADDRINUSE:
        return (
            f"地址 {where} 已被占用：请用 --port（或 KUANYUE_PORT）换一个端口，或先停止占用它的程序"
            f" / {where} is already in use: choose another port with --port (or KUANYUE_PORT),"
            " or stop the program using it"
        )
    if exc.errno == errno.EACCES:
        return (
            f"无权监听 {where}（1024 以下的端口要管理员权限）：请用 --port 换一个 1024 以上的端口"
            f" / not allowed to listen on {where} (ports below 1024 need root): choose a port"
            " above 1024 with --port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"{host} 不是本机的地址：请用 --host 换一个，如 127.0.0.1 或 0.0.0.0 / {host} is not"
            " an address of this machine: choose another with --host, e.g. 127.0.0.1 or 0.0.0.0"
        )
    return (
        f"无法监听 {where}：{exc.strerror or exc} / cannot listen on {where}: {exc.strerror or exc}"
    )


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
