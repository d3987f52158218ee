"""`kuanyue stream …`: each `stream` device as an Icecast MP3 stream, made by icecast2 and
liquidsoap from the device's timeline (library/broadcast/stream.py; docs/STREAM.md).

`stream start` writes the configuration (new random passwords, kept only in the config
folder) and runs icecast2 and one liquidsoap per stream device until Ctrl-C; `stream config`
only writes it, for a service manager to run; `stream next` is what liquidsoap asks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import State, friendly_errors


@click.group()
def stream() -> None:
    """村里的网络电台（Icecast 流）/ village radio streams (Icecast) for IP speakers, FM and phones."""


_host = click.option(
    "--host", default="127.0.0.1", show_default=True, help="监听地址 / address to listen on"
)
_port = click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="端口 / port"
)
_config_dir = click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="配置写到哪里（默认：数据目录/stream）/ where the configuration goes (default: <data dir>/stream)",
)
_fallback = click.option(
    "--fallback-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="没有节目时随机播放这个文件夹（默认：静音）/ a folder played at random when nothing is"
    " scheduled (default: silence)",
)


@stream.command("config")
@_host
@_port
@_config_dir
@_fallback
@click.pass_obj
@friendly_errors
def stream_config(
    state: State, host: str, port: int, config_dir: Path | None, fallback_dir: Path | None
) -> None:
    """只写 icecast2 和 liquidsoap 的配置 / only write the icecast2 and liquidsoap configuration."""
    config = _write(state, host, port, config_dir, fallback_dir)
    click.echo(f"已写入 / written: {config.icecast_xml}")
    for mount in config.mounts:
        click.echo(f"{config.scripts[mount.mount]}\t{config.url(mount)}")


@stream.command("start")
@_host
@_port
@_config_dir
@_fallback
@click.pass_obj
@friendly_errors
def stream_start(
    state: State, host: str, port: int, config_dir: Path | None, fallback_dir: Path | None
) -> None:
    """写配置并运行 icecast2 和 liquidsoap，Ctrl-C 停止 / write the configuration and run
    icecast2 and liquidsoap until Ctrl-C."""
    import time

    from library.broadcast.stream import StreamServers

    config = _write(state, host, port, config_dir, fallback_dir)
    with StreamServers(config) as servers:
        servers.wait_live()
        for mount in config.mounts:
            click.echo(f"{mount.village} {mount.device}: {config.url(mount)}")
        click.echo(f"日志 / logs: {config.out_dir}  (Ctrl-C 停止 / to stop)")
        try:
            while True:
                servers.check()
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    click.echo("已停止 / stopped", err=True)


@stream.command("next")
@click.argument("ref", metavar="DEVICE")
@click.option(
    "--at",
    type=float,
    help="问的时刻，Unix 秒（默认：现在）/ the instant asked about, Unix seconds (default: now)",
)
@click.pass_obj
@friendly_errors
def stream_next(state: State, ref: str, at: float | None) -> None:
    """给 liquidsoap：此刻该放什么 / for liquidsoap: what the stream device plays at an instant.

    第一行是 Unix 时间（节目结束或下次再问的时刻），第二行（若有）是要放的文件 / the first line
    is a Unix time (the item's end, or when to ask again), the second (if any) the file to play.
    """
    import time

    from library.broadcast.stream import next_answer, utc_from_unix

    moment = utc_from_unix(time.time() if at is None else at)
    for line in next_answer(state.db, state.store, ref, moment):
        click.echo(line)


def _write(state: State, host: str, port: int, config_dir: Path | None, fallback_dir: Path | None):  # noqa: ANN202
    """Write the configuration for every stream device; liquidsoap asks this same
    installation (same program, same KUANYUE_HOME and database) what to play."""
    import os

    from library.broadcast.stream import stream_mounts, write_stream_config

    cfg = state.config
    env = {"KUANYUE_HOME": str(cfg.home)}
    if os.environ.get("KUANYUE_DATABASE_URL"):
        env["KUANYUE_DATABASE_URL"] = os.environ["KUANYUE_DATABASE_URL"]
    return write_stream_config(
        config_dir or Path(cfg.home) / "stream",
        host=host,
        port=port,
        mounts=stream_mounts(state.db),
        next_command=[sys.executable, "-m", "web.cli", "stream", "next"],
        env=env,
        fallback_dir=fallback_dir.resolve() if fallback_dir else None,
    )
