"""`kuanyue playlist …`, `kuanyue schedule …` and `kuanyue timeline`: what devices play, when.

A playlist holds clauses (by key: always the newest version), whole covenants, recordings
(only those that may be broadcast), teaching reels (a clause's card, then the song that
teaches it: made and stored on first use), announcements, a village's praise and warning
lists (表扬榜/黑榜) and pauses; items can be removed and moved, and a playlist no schedule or
device uses can be deleted. A schedule plays a playlist in a window in the village's time on
villages, zones (村名/寨名) or devices; it can be edited (each edit raises its version, so
devices fetch it again) or deleted. `timeline` prints a device's day plan, each line with
its reason.
"""

from __future__ import annotations

from datetime import date

import click

from .common import State, friendly_errors

LAYERS = ("emergency", "interrupt", "scheduled", "rotation", "default")  # models.LAYERS
ITEM_KINDS = ("clause", "covenant", "recording", "reel", "announcement", "list", "pause")
OVERRUNS = ("finish", "cut")


def _layer_zh(layer: str) -> str:
    """The layer's Chinese name (library.broadcast.timeline.LAYER_ZH, one table for both)."""
    from library.broadcast.timeline import LAYER_ZH

    return LAYER_ZH.get(layer, layer)


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


def _day_or_none(value: str, field: str) -> date | None:
    """A YYYY-MM-DD date, or None for `none` (no last day)."""
    return None if value.strip().lower() in ("none", "-") else _day(value, field)


@click.group()
def playlist() -> None:
    """播放列表：条款、村规民约、录音、教唱短片、通知、榜单和停顿 / playlists of clauses,
    covenants, recordings, reels, announcements, village lists and pauses."""


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


# ignore_unknown_options: a negative pause ("-3") reaches the library, which names SECONDS.
@playlist.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("kind", type=click.Choice(ITEM_KINDS))
@click.argument("value", metavar="KEY|SLUG|ID|LIST|SECONDS")
@click.option("--repeat", default=1, show_default=True, type=int, help="连播次数 / plays in a row")
@click.pass_obj
@friendly_errors
def playlist_add(state: State, name: str, kind: str, value: str, repeat: int) -> None:
    """加入一项 / append an item. KIND 与 VALUE / KIND and VALUE:

    \b
    clause        条款 KEY / a clause key (its newest version)
    covenant      村规民约 SLUG，全部条款 / a covenant slug: all its clauses
    recording     录音 ID（须可广播）/ a recording id (broadcast consent needed)
    reel          教唱短片 KEY[@录音ID]，首次使用时制作 / a reel KEY[@ID], made on first use
    announcement  通知 ID / an announcement id
    list          表扬榜 或 黑榜（本村列表）/ praise or warning (a village's playlist)
    pause         停顿秒数 / pause SECONDS
    """
    from library.broadcast.playlists import add_item

    info = add_item(state.db, name, kind, value, repeat, make_reel=_reel_maker(state))
    click.echo(f"已加入 / added: {info.items[-1].label}（{len(info.items)} 项 items）")


def _reel_maker(state: State):  # noqa: ANN202 - a library.broadcast.playlists.ReelMaker
    """Make (or find) a stored reel as the county's cultural workers do: an admin viewer, who
    may use any recording whose consent allows streaming and broadcast."""

    def make(clause_key: str, recording_id: int | None) -> int:
        from library.access import Viewer
        from library.catalogue.reels import store_reel

        def planned(plan) -> None:  # noqa: ANN001 - a ReelPlan
            click.echo(
                f"正在制作教唱短片 / composing reel: {clause_key} + #{plan.recording_id}"
                f" {plan.start_s:.1f}–{plan.end_s:.1f} s …"
            )

        return store_reel(
            state.db,
            state.store,
            clause_key,
            Viewer.ADMIN,
            recording_id,
            font=state.config.subtitle_font,
            tools=state.config.tools,
            planned=planned,
        )

    return make


@playlist.command("remove")
@click.argument("name")
@click.argument("position", type=int)
@click.pass_obj
@friendly_errors
def playlist_remove(state: State, name: str, position: int) -> None:
    """删除第 POSITION 项（从 1 数起），后面的前移 / remove the item at POSITION (from 1)."""
    from library.broadcast.playlists import remove_item

    info = remove_item(state.db, name, position)
    click.echo(f"已删除第 {position} 项 / removed item {position}（{len(info.items)} 项 items）")


@playlist.command("move")
@click.argument("name")
@click.argument("position", type=int)
@click.argument("to", type=int)
@click.pass_obj
@friendly_errors
def playlist_move(state: State, name: str, position: int, to: int) -> None:
    """把第 POSITION 项移到第 TO 项 / move the item at POSITION to TO."""
    from library.broadcast.playlists import move_item

    info = move_item(state.db, name, position, to)
    click.echo(f"已移动 / moved: {to}\t{info.items[to - 1].label}")


@playlist.command("delete")
@click.argument("name")
@click.pass_obj
@friendly_errors
def playlist_delete(state: State, name: str) -> None:
    """删除没有时间表和设备在用的播放列表 / delete a playlist no schedule or device uses."""
    from library.broadcast.playlists import delete_playlist

    click.echo(f"已删除播放列表 / deleted playlist: {delete_playlist(state.db, name)}")


@playlist.command("list")
@click.option(
    "--village", "village_name", help="只列这个村的和全县的 / only a village's and county-wide"
)
@click.pass_obj
@friendly_errors
def playlist_list(state: State, village_name: str | None) -> None:
    """列出播放列表（通知自带的除外）/ list playlists (not announcements' own)."""
    from library.broadcast.playlists import list_playlists

    found = list_playlists(state.db, village_name)
    if not found:
        click.echo("还没有播放列表 / no playlists yet")
    for info in found:
        shuffle = "\t随机 / shuffled" if info.shuffle else ""
        click.echo(
            f"{info.name}\t{info.village or '全县 county'}\t{len(info.items)} 项 items\t"
            f"{info.total_s:.1f} s{shuffle}"
        )


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
@click.option("--overrun", default="finish", show_default=True, type=click.Choice(OVERRUNS))
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
            f"{_layer_zh(s.layer)} {s.layer}\t{s.overrun}\t{'；'.join(s.targets)}"
        )


@schedule.command("edit")
@click.argument("schedule_id", metavar="ID")
@click.option("--window", help="新时段 / new window HH:MM-HH:MM or all-day")
@click.option("--rrule", help="新重复规则 / new RFC 5545 rule")
@click.option("--from", "from_", help="新开始日期 / new first day YYYY-MM-DD")
@click.option("--until", help="新结束日期（含），none 为不限 / new last day, or none for no end")
@click.option("--layer", type=click.Choice(LAYERS), help="新层级 / new layer")
@click.option("--overrun", type=click.Choice(OVERRUNS), help="新超时策略 / new overrun policy")
@click.option(
    "--village", "villages", multiple=True, help="替换目标：村 / replace targets: village"
)
@click.option("--zone", "zones", multiple=True, help="替换目标：寨/组 村名/寨名 / zone V/Z")
@click.option("--device", "devices", multiple=True, help="替换目标：设备 / device")
@click.pass_obj
@friendly_errors
def schedule_edit(
    state: State,
    schedule_id: str,
    window: str | None,
    rrule: str | None,
    from_: str | None,
    until: str | None,
    layer: str | None,
    overrun: str | None,
    villages: tuple[str, ...],
    zones: tuple[str, ...],
    devices: tuple[str, ...],
) -> None:
    """修改时间表；给出任一目标即替换全部目标 / edit a schedule; any target replaces them all."""
    from library.broadcast.schedules import KEEP, edit_schedule

    replace = bool(villages or zones or devices)
    info = edit_schedule(
        state.db,
        schedule_id,
        window=window,
        rrule=rrule,
        starts_on=_day(from_, "--from"),
        ends_on=KEEP if until is None else _day_or_none(until, "--until"),
        layer=layer,
        overrun=overrun,
        villages=villages if replace else None,
        zones=zones if replace else None,
        devices=devices if replace else None,
    )
    click.echo(
        f"已修改 / edited: {info.id} {info.playlist} {info.window} {info.rrule}"
        f"（版本 / version {info.version}）"
    )


@schedule.command("delete")
@click.argument("schedule_id", metavar="ID")
@click.pass_obj
@friendly_errors
def schedule_delete(state: State, schedule_id: str) -> None:
    """删除时间表 / delete a schedule."""
    from library.broadcast.schedules import delete_schedule

    info = delete_schedule(state.db, schedule_id)
    click.echo(f"已删除时间表 / deleted schedule: {info.id} {info.playlist} {info.window}")


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
            f"{_layer_zh(layer)} {layer}\t{line.what}{cut}\t"
            f"《{line.playlist}》 {item.why}"
        )
