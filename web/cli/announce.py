"""`kuanyue announce …` and `kuanyue rota …`: announcements and the gong-round rota.

An announcement is typed here, rendered at once (a gong or chime, the narration or a
person's own recording, a subtitled card) and scheduled on the village's devices: a one-off
(now, or at a time, repeated), a recurring one, a notice until its expiry, an emergency that
cuts into everything, or a praise or warning list entry that a second person must review.
A rota names the households that take the nightly gong round (鸣锣喊寨) in turn.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, time
from pathlib import Path

import click

from .common import State, friendly_errors

KINDS = ("oneoff", "notice", "recurring", "emergency", "praise", "warning")
CAUSES = ("fire", "flood", "missing", "other")


def _render(state: State):  # noqa: ANN202 - a library.broadcast.announcements.Render
    """How announcements are rendered here: the configured engine, voice, font and tools."""
    from library.broadcast.announcements import Render
    from media_pipeline.jobs import RenderOptions

    cfg = state.config
    options = RenderOptions(
        engine=cfg.engine,
        voice=cfg.voice or None,
        piper_model=str(cfg.piper_model or "") or None,
        gtts_timeout=cfg.gtts_timeout,
        font=cfg.subtitle_font,
    )
    return Render(options, cfg.cache_dir, cfg.tools)


def _when(value: str | None) -> datetime | time | None:
    """`--at`: "YYYY-MM-DD HH:MM", or "HH:MM" for today, in the village's time."""
    if value is None:
        return None
    text = value.strip().replace("T", " ")
    try:
        return datetime.fromisoformat(text) if " " in text else time.fromisoformat(text)
    except ValueError:
        raise click.ClickException(
            f"时间（--at）应为 HH:MM 或 YYYY-MM-DD HH:MM：{value} / --at must be HH:MM or"
            f" YYYY-MM-DD HH:MM"
        ) from None


def _date(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.ClickException(
            f"日期（{field}）应为 YYYY-MM-DD：{value} / {field} must be YYYY-MM-DD"
        ) from None


def _times(values: tuple[str, ...]) -> tuple[time, ...]:
    out = []
    for value in values:
        found = _when(value)
        if not isinstance(found, time):
            raise click.ClickException(f"--time 应为 HH:MM：{value} / --time must be HH:MM")
        out.append(found)
    return tuple(out)


def _echo_info(info) -> None:  # noqa: ANN001 - an AnnouncementInfo
    length = f"{info.duration_s:.1f} s" if info.duration_s else "-"
    state = "已停止 / stopped" if info.stopped else ""
    review = ""
    if info.kind in ("praise", "warning"):
        review = (
            f"审核 / reviewed by {info.reviewed_by}"
            if info.reviewed_by
            else "待审核（未审核不播出）/ awaiting review (not broadcast)"
        )
    until = f"至 / until {info.expires_on}" if info.expires_on else ""
    sched = f"时间表 / schedules {', '.join(map(str, info.schedules))}" if info.schedules else ""
    parts = [p for p in (length, until, review, sched, state) if p]
    click.echo(f"#{info.id}\t{info.title}\t{info.village}\t" + "\t".join(parts))


@click.group()
def announce() -> None:
    """广播通知：一次、定时、通知、紧急、表扬榜/黑榜 / announcements, notices, emergencies, lists."""


@announce.command("add")
@click.argument("text")
@click.option("--village", required=True, help="村名 / village")
@click.option("--kind", default="oneoff", show_default=True, type=click.Choice(KINDS))
@click.option("--by", "by", required=True, help="谁发的 / who is announcing (name)")
@click.option("--at", "at", help="何时（默认现在）/ when: HH:MM or YYYY-MM-DD HH:MM (default now)")
@click.option("--time", "times", multiple=True, help="通知每天的播出时间 / a notice's daily time")
@click.option("--rrule", help="定时广播的重复规则 / recurring rule, e.g. FREQ=WEEKLY;BYDAY=MO")
@click.option("--repeat", default=1, show_default=True, type=int, help="播几遍 / plays")
@click.option("--every", default=0, type=int, help="每隔几分钟 / minutes between plays")
@click.option("--until", help="截止日期（含）/ expiry, last day YYYY-MM-DD")
@click.option(
    "--for",
    "for_minutes",
    default=30,
    show_default=True,
    type=int,
    help="紧急广播持续分钟 / an emergency's minutes",
)
@click.option(
    "--cause",
    default="other",
    show_default=True,
    type=click.Choice(CAUSES),
    help="紧急原因 / emergency cause",
)
@click.option("--zone", "zones", multiple=True, help="只在这个寨/组 / only this zone")
@click.option("--device", "devices", multiple=True, help="只在这台设备 / only this device")
@click.option(
    "--intro",
    default="gong",
    show_default=True,
    type=click.Choice(("gong", "chime", "none")),
    help="开头 / intro sound",
)
@click.option(
    "--voice",
    type=click.Path(path_type=Path, dir_okay=False),
    help="用这段录音代替合成语音（如侗语）/ a person's recording instead of synthesis",
)
@click.option("--dong", help="侗文 / Dong text shown with the Chinese")
@click.option("--person", help="表扬榜/黑榜上的人 / the person a list entry names")
@click.pass_obj
@friendly_errors
def announce_add(
    state: State,
    text: str,
    village: str,
    kind: str,
    by: str,
    at: str | None,
    times: tuple[str, ...],
    rrule: str | None,
    repeat: int,
    every: int,
    until: str | None,
    for_minutes: int,
    cause: str,
    zones: tuple[str, ...],
    devices: tuple[str, ...],
    intro: str,
    voice: Path | None,
    dong: str | None,
    person: str | None,
) -> None:
    """录入并渲染一条广播，排进时间表 / type, render and schedule an announcement."""
    from library.broadcast.announcements import When, announce

    when = When(
        at=_when(at),
        times=_times(times),
        rrule=rrule,
        repeat=repeat,
        every_min=every,
        until=_date(until, "--until"),
        for_minutes=for_minutes,
    )
    click.echo("渲染中 / rendering …", err=True)
    info = announce(
        state.db,
        state.store,
        _render(state),
        village=village,
        kind=kind,
        text=text,
        created_by=by,
        when=when,
        zones=zones,
        devices=devices,
        intro=intro,
        voice=voice,
        dong_text=dong,
        person=person,
        emergency=cause,
    )
    _echo_info(info)


@announce.command("list")
@click.option("--village", help="村名 / village")
@click.option("--kind", type=click.Choice(KINDS))
@click.pass_obj
@friendly_errors
def announce_list(state: State, village: str | None, kind: str | None) -> None:
    """列出广播通知 / list announcements, newest first."""
    from library.broadcast.announcements import list_announcements

    found = list_announcements(state.db, village, kind)
    for info in found:
        _echo_info(info)
    if not found:
        click.echo("没有广播通知 / no announcements")


@announce.command("review")
@click.argument("announcement_id", metavar="ID", type=int)
@click.option("--by", "by", required=True, help="审核人（不能是录入人）/ reviewer, not the author")
@click.pass_obj
@friendly_errors
def announce_review(state: State, announcement_id: int, by: str) -> None:
    """审核表扬榜/黑榜条目，审核后才播出 / review a list entry so it may be broadcast."""
    from library.broadcast.announcements import review

    _echo_info(review(state.db, announcement_id, by))


@announce.command("stop")
@click.argument("announcement_id", metavar="ID", type=int)
@click.pass_obj
@friendly_errors
def announce_stop(state: State, announcement_id: int) -> None:
    """立即停播（如解除紧急）/ take an announcement off the air now."""
    from library.broadcast.announcements import stop

    _echo_info(stop(state.db, announcement_id))


@click.group()
def rota() -> None:
    """鸣锣喊寨轮值 / the gong-round rota: households take the evening call in turn."""


def _progress(total: int):  # noqa: ANN202 - a tqdm bar's update, called once per member
    from tqdm import tqdm

    bar = tqdm(total=total, unit="户", desc="渲染喊寨 / calls", disable=None, file=sys.stderr)

    def step(member: str) -> None:
        bar.set_postfix_str(member)
        bar.update(1)
        if bar.n >= total:
            bar.close()

    return step


def _echo_rota(info) -> None:  # noqa: ANN001 - a RotaInfo
    where = f"{info.village}/{info.zone}" if info.zone else info.village
    click.echo(f"{info.name}（{where}，每晚 / nightly {info.at}，自 / from {info.starts_on}）")
    order = "、".join(name if active else f"({name})" for name, active in info.members)
    click.echo(f"轮值顺序 / order: {order}")
    for duty in info.coming:
        who = duty.member or "不喊寨 / skipped"
        mark = "（调换 / swap）" if duty.swapped else ""
        click.echo(f"{duty.day}\t{who}{mark}")


@rota.command("create")
@click.argument("name")
@click.option("--village", required=True, help="村名 / village")
@click.option("--at", "at", default="20:00", show_default=True, help="每晚几点 / nightly HH:MM")
@click.option("--from", "from_", help="第一晚（默认今天）/ first evening YYYY-MM-DD")
@click.option(
    "--member", "members", multiple=True, help="户主（按顺序，可重复）/ household, in order"
)
@click.option(
    "--members-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="每行一户的文件 / a file with one household per line",
)
@click.option("--template", help="喊寨词，须含 {户主} / the call, with {户主}")
@click.option("--zone", help="只在这个寨/组 / only this zone")
@click.option(
    "--intro", default="gong", show_default=True, type=click.Choice(("gong", "chime", "none"))
)
@click.pass_obj
@friendly_errors
def rota_create(
    state: State,
    name: str,
    village: str,
    at: str,
    from_: str | None,
    members: tuple[str, ...],
    members_file: Path | None,
    template: str | None,
    zone: str | None,
    intro: str,
) -> None:
    """新建轮值并为每户渲染喊寨词 / create a rota and render each household's call."""
    from library.broadcast.rota import DEFAULT_TEMPLATE, create_rota
    from library.textfiles import read_text

    names = list(members)
    if members_file is not None:
        names += [line.strip() for line in read_text(members_file)[0].splitlines() if line.strip()]
    info = create_rota(
        state.db,
        state.store,
        _render(state),
        village=village,
        name=name,
        at=at,
        starts_on=_date(from_, "--from") or date.today(),
        members=names,
        template=template or DEFAULT_TEMPLATE,
        zone=zone,
        intro=intro,
        progress=_progress(len(names)),
    )
    _echo_rota(info)


@rota.command("add")
@click.argument("rota_name", metavar="ROTA")
@click.argument("members", nargs=-1, required=True)
@click.pass_obj
@friendly_errors
def rota_add(state: State, rota_name: str, members: tuple[str, ...]) -> None:
    """把户主加到轮值末尾 / add households at the end of the order."""
    from library.broadcast.rota import add_members

    _echo_rota(
        add_members(
            state.db, state.store, _render(state), rota_name, members, _progress(len(members))
        )
    )


@rota.command("remove")
@click.argument("rota_name", metavar="ROTA")
@click.argument("member")
@click.pass_obj
@friendly_errors
def rota_remove(state: State, rota_name: str, member: str) -> None:
    """把一户移出轮值 / take a household off the order."""
    from library.broadcast.rota import remove_member

    _echo_rota(remove_member(state.db, rota_name, member))


@rota.command("skip")
@click.argument("rota_name", metavar="ROTA")
@click.option("--date", "day", required=True, help="哪一晚 / YYYY-MM-DD")
@click.pass_obj
@friendly_errors
def rota_skip(state: State, rota_name: str, day: str) -> None:
    """这一晚不喊寨，轮次顺延 / no call that evening; the turn waits a day."""
    from library.broadcast.rota import skip

    _echo_rota(skip(state.db, rota_name, _date(day, "--date")))  # type: ignore[arg-type]


@rota.command("swap")
@click.argument("rota_name", metavar="ROTA")
@click.option("--date", "day", required=True, help="哪一晚 / YYYY-MM-DD")
@click.option("--member", required=True, help="这一晚由谁喊 / who calls that evening")
@click.pass_obj
@friendly_errors
def rota_swap(state: State, rota_name: str, day: str, member: str) -> None:
    """这一晚换人喊寨 / someone else calls that evening."""
    from library.broadcast.rota import swap

    _echo_rota(swap(state.db, rota_name, _date(day, "--date"), member))  # type: ignore[arg-type]


@rota.command("clear")
@click.argument("rota_name", metavar="ROTA")
@click.option("--date", "day", required=True, help="哪一晚 / YYYY-MM-DD")
@click.pass_obj
@friendly_errors
def rota_clear(state: State, rota_name: str, day: str) -> None:
    """撤销这一晚的跳过或调换 / undo that evening's skip or swap."""
    from library.broadcast.rota import unchange

    _echo_rota(unchange(state.db, rota_name, _date(day, "--date")))  # type: ignore[arg-type]


@rota.command("show")
@click.argument("rota_name", metavar="ROTA")
@click.option("--from", "from_", help="从哪天起（默认今天）/ first day YYYY-MM-DD")
@click.option("--days", default=14, show_default=True, type=int)
@click.pass_obj
@friendly_errors
def rota_show(state: State, rota_name: str, from_: str | None, days: int) -> None:
    """看接下来谁喊寨 / who calls on the coming evenings."""
    from library.broadcast.rota import show_rota

    _echo_rota(show_rota(state.db, rota_name, _date(from_, "--from"), days))
