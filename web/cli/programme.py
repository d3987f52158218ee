"""`kuanyue playlist …`, `kuanyue schedule …` and `kuanyue timeline`: what devices play, when.

A playlist holds clauses (by key: always the newest version), recordings (only those that
may be broadcast) and pauses. A schedule plays a playlist in a daily window in the village's
time on villages, zones (村名/寨名) or devices; `timeline` prints a device's day plan.
"""

from __future__ import annotations

from datetime import date

import click

from .common import State, friendly_errors

LAYERS = ("emergency", "interrupt", "scheduled", "rotation", "default")
LAYER_ZH = {
    "emergency": "紧急",
    "interrupt": "插播",
    "scheduled": "定时",
    "rotation": "轮播",
    "default": "默认",
    "fallback": "本机",
}


def _day(value: str | None, field: str) -> date | None:
    """A YYYY-MM-DD date, or a one-line error naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.ClickException(
            f"日期（{field}）应为 YYYY-MM-DD：{value} / {field} must be YYYY-MM-DD: {value}"
        ) from None


@click.group()
def playlist() -> None:
    """播放列表：条款、录音和停顿 / playlists of clauses, recordings and pauses."""


@playlist.command("create")
@click.argument("name")
@click.option(
    "--village", "village_name", help="属于哪个村（不写则全县）/ its village (else county-wide)"
)
@click.option("--shuffle", is_flag=True, help="每个时段随机排序 / shuffle per window")
@click.pass_obj
@friendly_errors
def playlist_create(state: State, name: str, village_name: str | None, shuffle: bool) -> None:
    """新建播放列表 / create an empty playlist."""
    from library.broadcast.playlists import create_playlist

    info = create_playlist(state.db, name, village_name, shuffle)
    click.echo(f"已新建播放列表 / created playlist: {info.name}（{info.village or '全县 county'}）")


@playlist.command("add")
@click.argument("name")
@click.argument("kind", type=click.Choice(("clause", "recording", "pause")))
@click.argument("value", metavar="KEY|ID|SECONDS")
@click.option("--repeat", default=1, show_default=True, type=int, help="连播次数 / plays in a row")
@click.pass_obj
@friendly_errors
def playlist_add(state: State, name: str, kind: str, value: str, repeat: int) -> None:
    """加入条款（KEY）、录音（ID）或停顿（秒）/ append a clause, recording or pause."""
    from library.broadcast.playlists import add_item

    info = add_item(state.db, name, kind, value, repeat)
    click.echo(f"已加入 / added: {info.items[-1].label}（{len(info.items)} 项 items）")


@playlist.command("show")
@click.argument("name")
@click.pass_obj
@friendly_errors
def playlist_show(state: State, name: str) -> None:
    """列出播放列表的条目和总时长 / list a playlist's items and total duration."""
    from library.broadcast.playlists import show_playlist

    info = show_playlist(state.db, name)
    shuffle = "，随机 / shuffled" if info.shuffle else ""
    click.echo(f"{info.name}（{info.village or '全县 county'}{shuffle}）")
    for item in info.items:
        length = f"{item.duration_s:.1f} s" if item.duration_s else "未渲染 / not rendered"
        click.echo(f"{item.position}\t{item.label}\t×{item.repeat}\t{length}")
    click.echo(f"总时长 / total: {info.total_s:.1f} s")


@playlist.command("export")
@click.argument("name")
@click.option(
    "--device-kind",
    default="loudspeaker",
    show_default=True,
    type=click.Choice(("loudspeaker", "screen")),
    help="哪种设备的文件 / which device's files",
)
@click.option("-o", "--output", help="写到文件（默认标准输出）/ write to FILE (default stdout)")
@click.pass_obj
@friendly_errors
def playlist_export(state: State, name: str, device_kind: str, output: str | None) -> None:
    """导出为 M3U8 / export a playlist as extended M3U8."""
    from library.broadcast.exports import playlist_m3u8, write_atomically

    text = playlist_m3u8(state.db, name, device_kind, state.store.root.resolve())
    if output is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"已导出 / exported: {write_atomically(output, text)}")


@click.group()
def schedule() -> None:
    """节目时间表 / schedules: a playlist in a window on villages, zones or devices."""


@schedule.command("add")
@click.argument("playlist_name", metavar="PLAYLIST")
@click.option("--rrule", required=True, help="重复规则 / RFC 5545 rule, e.g. FREQ=DAILY")
@click.option("--window", required=True, help="时段 / HH:MM-HH:MM (past midnight ok) or all-day")
@click.option("--from", "from_", help="开始日期（默认今天）/ first day YYYY-MM-DD (default today)")
@click.option("--until", help="结束日期（含）/ last day YYYY-MM-DD (inclusive)")
@click.option("--village", "villages", multiple=True, help="目标村 / target village (repeatable)")
@click.option("--zone", "zones", multiple=True, help="目标寨/组 村名/寨名 / target zone V/Z")
@click.option("--device", "devices", multiple=True, help="目标设备 / target device")
@click.option("--layer", default="scheduled", show_default=True, type=click.Choice(LAYERS))
@click.option(
    "--overrun", default="finish", show_default=True, type=click.Choice(("finish", "cut"))
)
@click.pass_obj
@friendly_errors
def schedule_add(
    state: State,
    playlist_name: str,
    rrule: str,
    window: str,
    from_: str | None,
    until: str | None,
    villages: tuple[str, ...],
    zones: tuple[str, ...],
    devices: tuple[str, ...],
    layer: str,
    overrun: str,
) -> None:
    """把播放列表排进时间表 / schedule a playlist."""
    from library.broadcast.schedules import add_schedule

    info = add_schedule(
        state.db,
        playlist_name,
        rrule=rrule,
        window=window,
        starts_on=_day(from_, "--from") or date.today(),
        ends_on=_day(until, "--until"),
        villages=villages,
        zones=zones,
        devices=devices,
        layer=layer,
        overrun=overrun,
    )
    click.echo(f"已排期 / scheduled: {info.id} {info.playlist} {info.window} {info.rrule}")


@schedule.command("list")
@click.option("--village", "village_name", help="只列到达这个村的 / only those reaching a village")
@click.pass_obj
@friendly_errors
def schedule_list(state: State, village_name: str | None) -> None:
    """列出时间表 / list schedules."""
    from library.broadcast.schedules import list_schedules

    found = list_schedules(state.db, village_name)
    if not found:
        click.echo("还没有时间表 / no schedules yet")
    for s in found:
        days = f"{s.starts_on}…{s.ends_on or ''}"
        click.echo(
            f"{s.id}\t{s.playlist}\t{s.window}\t{s.rrule}\t{days}\t"
            f"{LAYER_ZH.get(s.layer, s.layer)} {s.layer}\t{s.overrun}\t{'；'.join(s.targets)}"
        )


@schedule.command("export")
@click.option(
    "--village", "village_name", help="只导出到达这个村的 / only those reaching a village"
)
@click.option("-o", "--output", help="写到文件（默认标准输出）/ write to FILE (default stdout)")
@click.pass_obj
@friendly_errors
def schedule_export(state: State, village_name: str | None, output: str | None) -> None:
    """导出为 iCalendar（.ics）/ export schedules as iCalendar."""
    from library.broadcast.exports import schedules_ics, write_atomically

    text = schedules_ics(state.db, village_name)
    if output is None:
        click.get_text_stream("stdout").write(text)
    else:
        click.echo(f"已导出 / exported: {write_atomically(output, text)}")


@click.command()
@click.argument("device_ref", metavar="DEVICE")
@click.option("--date", "day", required=True, help="哪一天（当地）/ the local date YYYY-MM-DD")
@click.pass_obj
@friendly_errors
def timeline(state: State, device_ref: str, day: str) -> None:
    """打印设备一天的节目单 / print a device's plan for one day."""
    from library.broadcast.device_rules import day_plan

    when = _day(day, "--date")
    assert when is not None
    name, tz, lines = day_plan(state.db, device_ref, when)
    click.echo(f"{name} {when}（{tz}）")
    if not lines:
        click.echo("这天没有节目 / nothing plays on this day")
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    for line in lines:
        item = line.item
        start, end = item.start.astimezone(zone), item.end.astimezone(zone)
        layer = item.layer.name.lower()
        cut = " 被截断 / cut" if item.cut else ""
        click.echo(
            f"{start.strftime('%H:%M:%S')}–{end.strftime('%H:%M:%S')}\t"
            f"{LAYER_ZH.get(layer, layer)} {layer}\t{line.what}{cut}\t"
            f"《{line.playlist}》 {item.why}"
        )
