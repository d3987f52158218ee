"""`kuanyue village …` and `kuanyue device …`: the places broadcasts go to and their devices.

Villages sit under a township and a county (黎平县 unless --county), made on first use; a
village may have zones (寨/组) and a time zone (Asia/Shanghai unless --tz). A device's token
is printed once, when it is made or rotated, and never again: only its hash is kept. A
device may have a fallback playlist it loops when nothing is scheduled (`device fallback`).
"""

from __future__ import annotations

import click

from .common import State, friendly_errors

KINDS = ("loudspeaker", "screen", "stream")  # library.broadcast.models.DEVICE_KINDS
ONCE = (
    "请现在抄下并装到设备上：此密钥不会再显示（丢了可用 kuanyue device token 重新生成）/ copy it"
    " onto the device now: this token will not be shown again (if lost, make a new one with"
    " kuanyue device token)"
)


@click.group()
def village() -> None:
    """村、寨/组与时区 / villages, their zones (寨/组) and time zones."""


@village.command("add")
@click.argument("name")
@click.option("--township", required=True, help="所属乡镇 / the township it belongs to")
@click.option("--county", default="黎平县", show_default=True, help="所属县 / the county")
@click.option("--tz", default="Asia/Shanghai", show_default=True, help="时区 / IANA time zone")
@click.pass_obj
@friendly_errors
def village_add(state: State, name: str, township: str, county: str, tz: str) -> None:
    """添加一个村（县、乡镇没有就新建）/ add a village (its county and township made if new)."""
    from library.broadcast.places import add_village

    info = add_village(state.db, name, township, county=county, tz=tz)
    click.echo(f"已添加 / added: {info.county}/{info.township}/{info.name}（{info.tz}）")


@village.command("list")
@click.option("--township", help="只列这个乡镇的村 / only this township's villages")
@click.pass_obj
@friendly_errors
def village_list(state: State, township: str | None) -> None:
    """列出各村、时区和寨/组 / list villages with their time zones and zones."""
    from library.broadcast.places import list_villages

    villages = list_villages(state.db, township)
    if not villages:
        click.echo("还没有村 / no villages yet: kuanyue village add 村名 --township 乡镇")
    for info in villages:
        zones = "、".join(info.zones) or "-"
        click.echo(f"{info.county}/{info.township}/{info.name}\t{info.tz}\t寨/组 zones: {zones}")


@village.group("zone")
def zone() -> None:
    """村里的寨/组 / a village's zones (寨/组)."""


@zone.command("add")
@click.argument("village_name", metavar="VILLAGE")
@click.argument("zone_name", metavar="ZONE")
@click.pass_obj
@friendly_errors
def zone_add(state: State, village_name: str, zone_name: str) -> None:
    """给村添加一个寨/组（村名或 乡镇/村名）/ add a zone to a village (name or township/village)."""
    from library.broadcast.places import add_zone

    info = add_zone(state.db, village_name, zone_name)
    click.echo(f"{info.township}/{info.name} 寨/组 zones: {'、'.join(info.zones)}")


@click.group()
def device() -> None:
    """村里的喇叭、屏幕和流 / a village's loudspeakers, screens and streams."""


@device.command("add")
@click.argument("name")
@click.option("--village", "village_name", required=True, help="所在村 / the village it is in")
@click.option("--kind", required=True, type=click.Choice(KINDS), help="设备类型 / kind of device")
@click.option(
    "--zone", "zones", multiple=True, help="服务的寨/组，可重复 / a zone it serves (repeatable)"
)
@click.pass_obj
@friendly_errors
def device_add(
    state: State, name: str, village_name: str, kind: str, zones: tuple[str, ...]
) -> None:
    """添加设备并显示其密钥（仅此一次）/ add a device and show its token (this once only)."""
    from library.broadcast.devices import add_device

    made = add_device(state.db, name, village_name, kind, zones)
    _show_token(made.device.id, made.device.name, made.token)


@device.command("list")
@click.option("--village", "village_name", help="只列这个村的 / only this village's")
@click.pass_obj
@friendly_errors
def device_list(state: State, village_name: str | None) -> None:
    """列出设备（不显示密钥）/ list devices (never their tokens)."""
    from library.broadcast.devices import list_devices

    devices = list_devices(state.db, village_name)
    if not devices:
        click.echo("还没有设备 / no devices yet")
    for info in devices:
        zones = "、".join(info.zones) or "全村 / whole village"
        state_word = "" if info.enabled else "\t已停用 / disabled"
        click.echo(
            f"{info.id}\t{info.name}\t{info.kind}\t{info.township}/{info.village}\t{zones}"
            f"{state_word}\t{_health(info.health)}"
        )


def _health(health) -> str:  # noqa: ANN001 - a library.broadcast.device_reports.Health
    """Last seen, plays today, cache and clock, in one tab-free phrase."""
    if health.last_seen_at is None:
        return "从未联系 / never seen"
    seen = health.last_seen_at.astimezone().strftime("%m-%d %H:%M")
    parts = [f"最后联系 / last seen {seen}", f"今日播放 / plays today {health.plays_today}"]
    if health.cache_bytes is not None:
        parts.append(f"缓存 / cache {health.cache_bytes / 1e6:.0f} MB")
    if health.free_bytes is not None:
        parts.append(f"空闲 / free {health.free_bytes / 1e9:.1f} GB")
    if health.clock_offset_s is not None and abs(health.clock_offset_s) > 5:
        parts.append(f"时钟偏差 / clock off {health.clock_offset_s:+.0f} s")
    if health.player_version:
        parts.append(f"播放器 / player {health.player_version}")
    if health.stale:
        parts.insert(0, "⚠ 已停止回报 / stopped reporting")
    return "，".join(parts)


@device.command("pair")
@click.argument("code")
@click.argument("ref", metavar="DEVICE")
@click.pass_obj
@friendly_errors
def device_pair(state: State, code: str, ref: str) -> None:
    """把屏幕上显示的配对码配给这块屏幕 / pair the kiosk screen showing CODE with screen DEVICE."""
    from library.broadcast.screen_pairing import pair_screen

    name = pair_screen(state.db, code, ref)
    click.echo(f"已配对，屏幕将自动开始播放 / paired: {name} starts playing by itself")


@device.command("token")
@click.argument("ref", metavar="DEVICE")
@click.pass_obj
@friendly_errors
def device_token(state: State, ref: str) -> None:
    """换新密钥（旧的立即失效），显示一次 / make a new token (the old one stops at once), shown once."""
    from library.broadcast.devices import rotate_token

    made = rotate_token(state.db, ref)
    _show_token(made.device.id, made.device.name, made.token)


@device.command("disable")
@click.argument("ref", metavar="DEVICE")
@click.pass_obj
@friendly_errors
def device_disable(state: State, ref: str) -> None:
    """停用设备：其密钥不再被接受 / disable a device: its token is refused."""
    from library.broadcast.devices import set_enabled

    info = set_enabled(state.db, ref, False)
    click.echo(f"已停用 / disabled: {info.id} {info.name}")


@device.command("enable")
@click.argument("ref", metavar="DEVICE")
@click.pass_obj
@friendly_errors
def device_enable(state: State, ref: str) -> None:
    """重新启用设备 / enable a disabled device again."""
    from library.broadcast.devices import set_enabled

    info = set_enabled(state.db, ref, True)
    click.echo(f"已启用 / enabled: {info.id} {info.name}")


@device.command("fallback")
@click.argument("ref", metavar="DEVICE")
@click.argument("playlist_name", metavar="PLAYLIST", required=False)
@click.option("--clear", is_flag=True, help="取消本机备播 / play nothing when nothing is scheduled")
@click.pass_obj
@friendly_errors
def device_fallback(state: State, ref: str, playlist_name: str | None, clear: bool) -> None:
    """设置没有节目时设备自己循环的播放列表 / set what a device loops when nothing is scheduled."""
    from library.broadcast.playlists import set_fallback

    if clear == (playlist_name is not None):
        raise click.ClickException(
            "请给出播放列表（PLAYLIST）或 --clear，二者选一 / give PLAYLIST or --clear, not both"
            " or neither"
        )
    name = set_fallback(state.db, ref, playlist_name)
    if name is None:
        click.echo(f"已取消本机备播 / fallback cleared: {ref}")
    else:
        click.echo(f"本机备播 / fallback: {ref} → {name}")


def _show_token(device_id: int, name: str, token: str) -> None:
    """Print a device's id and its credential (id.token), with the warning that it is shown once."""
    click.echo(f"设备 / device {device_id}: {name}")
    click.echo(f"密钥 / credential: {device_id}.{token}")
    click.echo(ONCE, err=True)
