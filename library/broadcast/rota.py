"""The gong-round rota (鸣锣喊寨轮值): who calls tonight, and its evenings as timeline rules.

Households take the nightly fire-safety round in turn. The rule (`duty`, pure):
- from `starts_on`, each evening passes the turn to the next active member in order, and
  after the last the first comes again;
- a `skip` evening (a festival, a village meeting) has no call and passes no turn: the
  household due calls the next evening instead;
- a `swap` evening names who calls that evening instead; the order is not moved (the next
  evening goes to whoever was next anyway), so two households trading evenings record
  two swaps;
- a member taken off the rota (`active` False) drops out of the order from then on, so the
  count runs over the members still on it.

Each member's call is rendered once, when the member is added (the template filled with the
household's name, with the gong before it), as an Announcement of kind `rota`; an evening's
rule plays it once at `at`, at the interrupt layer, so the evening programme stops for the
call and resumes after it. The village's devices (or one zone's) carry it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import Database
from ..store import MediaStore
from . import rules
from .announcements import (
    KIND_ZH,
    WINDOW_SLACK_S,
    Render,
    announcement_options,
    render_and_store,
)
from .models import (
    Announcement,
    AnnouncementFile,
    Device,
    Rota,
    RotaChange,
    RotaMember,
    Village,
)
from .places import clean_name, find_village
from .programme import ProgrammeError

DEFAULT_TEMPLATE = (
    "今晚轮到{户主}家鸣锣喊寨。各家各户注意防火：火塘要熄灭，电器要断电，"
    "柴草远离火源，老人小孩要照看好。"
)
FIELD = "{户主}"
MAX_DAYS = 400  # how far `rota show` looks ahead


@dataclass(frozen=True)
class Duty:
    """One evening of a rota: who calls (None: skipped), and whether by a swap."""

    day: date
    member: str | None
    swapped: bool = False


@dataclass(frozen=True)
class RotaInfo:
    """A rota, its members in order, and the coming evenings."""

    id: int
    village: str
    zone: str | None
    name: str
    at: str
    starts_on: date
    members: tuple[tuple[str, bool], ...]  # (name, active)
    coming: tuple[Duty, ...]


def duty(
    starts_on: date,
    members: Sequence[str],
    skips: frozenset[date],
    swaps: dict[date, str],
    day: date,
) -> Duty:
    """Who calls on `day` under the rota's rule (see the module's docstring)."""
    if day < starts_on or not members:
        return Duty(day, None)
    if day in skips:
        return Duty(day, None)
    turns = (day - starts_on).days - sum(1 for s in skips if starts_on <= s < day)
    if day in swaps:
        return Duty(day, swaps[day], swapped=True)
    return Duty(day, members[turns % len(members)])


def create_rota(
    db: Database,
    store: MediaStore,
    render: Render,
    *,
    village: str,
    name: str,
    at: str,
    starts_on: date,
    members: Sequence[str],
    template: str = DEFAULT_TEMPLATE,
    zone: str | None = None,
    intro: str = "gong",
    progress: Callable[[str], None] | None = None,
) -> RotaInfo:
    """Make a rota and render each household's call; ProgrammeError naming a bad field."""
    name = clean_name(name, "轮值名", "rota name")
    at_time = _at(at)
    if FIELD not in template:
        raise ProgrammeError(f"模板（--template）须含 {FIELD} / --template must contain {FIELD}")
    names = _member_names(members)
    with db.session() as session:
        place = find_village(session, village)
        if session.scalar(select(Rota.id).where(Rota.village_id == place.id, Rota.name == name)):
            raise ProgrammeError(f"轮值已存在：{name} / rota exists: {name} (NAME)")
        zone_id = _zone_id(place, zone)
        village_id, village_name = place.id, place.name
    calls = [_render_call(store, render, village_name, template, n, intro, progress) for n in names]
    with db.session(write=True) as session:
        rota = Rota(
            village_id=village_id,
            zone_id=zone_id,
            name=name,
            at=at_time,
            starts_on=starts_on,
            template=template,
            intro=intro,
        )
        for position, (member, files) in enumerate(zip(names, calls, strict=True), start=1):
            rota.members.append(
                RotaMember(
                    position=position,
                    name=member,
                    announcement=_call_row(village_id, template, member, intro, files),
                )
            )
        session.add(rota)
        session.flush()
        return _info(rota, starts_on, 14)


def add_members(
    db: Database,
    store: MediaStore,
    render: Render,
    rota_ref: str,
    members: Sequence[str],
    progress: Callable[[str], None] | None = None,
) -> RotaInfo:
    """Add households at the end of the order (one taken off before comes back in place)."""
    names = _member_names(members)
    with db.session() as session:
        rota = find_rota(session, rota_ref)
        village_id, village, template, intro = (
            rota.village_id,
            rota.village.name,
            rota.template,
            rota.intro,
        )
    calls = {n: _render_call(store, render, village, template, n, intro, progress) for n in names}
    with db.session(write=True) as session:
        rota = find_rota(session, rota_ref)
        existing = {m.name: m for m in rota.members}
        for member in names:
            if member in existing:
                existing[member].active = True
                continue
            rota.members.append(
                RotaMember(
                    position=len(rota.members) + 1,
                    name=member,
                    announcement=_call_row(village_id, template, member, intro, calls[member]),
                )
            )
        rota.version += 1
        session.flush()
        return _info(rota, _today(rota), 14)


def remove_member(db: Database, rota_ref: str, member: str) -> RotaInfo:
    """Take a household off the order (kept, inactive, so its swaps and history stay)."""
    with db.session(write=True) as session:
        rota = find_rota(session, rota_ref)
        _member(rota, member).active = False
        rota.version += 1
        return _info(rota, _today(rota), 14)


def skip(db: Database, rota_ref: str, day: date) -> RotaInfo:
    """No call on `day`; the household due calls the next evening instead."""
    return _change(db, rota_ref, day, "skip", None)


def swap(db: Database, rota_ref: str, day: date, member: str) -> RotaInfo:
    """`member` calls on `day` instead of the household due; the order does not move."""
    return _change(db, rota_ref, day, "swap", member)


def unchange(db: Database, rota_ref: str, day: date) -> RotaInfo:
    """Undo a skip or swap on `day`."""
    return _change(db, rota_ref, day, None, None)


def show_rota(db: Database, rota_ref: str, start: date | None = None, days: int = 14) -> RotaInfo:
    """A rota with who calls on each of `days` evenings from `start` (default today)."""
    if not 1 <= days <= MAX_DAYS:
        raise ProgrammeError(f"天数（--days）应在 1–{MAX_DAYS} / --days must be 1–{MAX_DAYS}")
    with db.session() as session:
        rota = find_rota(session, rota_ref)
        return _info(rota, start or _today(rota), days)


def find_rota(session: Session, ref: str) -> Rota:
    """The rota named `ref` ("名" or "村名/名"); ProgrammeError if none or ambiguous."""
    village, _, name = ref.strip().rpartition("/")
    query = select(Rota).where(Rota.name == name.strip())
    if village:
        query = query.where(Rota.village_id == find_village(session, village).id)
    found = list(session.scalars(query))
    if len(found) != 1:
        problem = "找不到" if not found else "有几个叫这个名字的"
        raise ProgrammeError(f"{problem}轮值：{ref}（可写成 村名/名）/ no single rota {ref} (ROTA)")
    return found[0]


def rota_rules(
    session: Session, device: Device, first: date, last: date, labels: dict[str, str]
) -> Iterator[tuple[rules.Schedule, str]]:
    """One single-play interrupt rule per rota evening in first..last reaching `device`."""
    zone_ids = {z.id for z in device.zones}
    rotas = session.scalars(select(Rota).where(Rota.village_id == device.village_id))
    for rota in rotas:
        if rota.zone_id is not None and rota.zone_id not in zone_ids:
            continue
        active = [m for m in rota.members if m.active]
        by_name = {m.name: m for m in rota.members}
        skips, swaps = _changes(rota)
        target = (
            rules.Target(zones=frozenset({f"z{rota.zone_id}"}))
            if rota.zone_id is not None
            else rules.Target(villages=frozenset({f"v{rota.village_id}"}))
        )
        at = time.fromisoformat(rota.at)
        created = rota.created_at if rota.created_at.tzinfo else rota.created_at.replace(tzinfo=UTC)
        day = first
        while day <= last:
            tonight = duty(rota.starts_on, [m.name for m in active], skips, swaps, day)
            member = by_name.get(tonight.member or "")
            media = _call_media(member, device.kind == "screen", labels)
            if media is not None:
                length = media.duration_s + WINDOW_SLACK_S
                end = (datetime.combine(day, at) + timedelta(seconds=length)).time()
                rule_id = f"rota{rota.id}:{day.isoformat()}"
                yield (
                    rules.Schedule(
                        id=rule_id,
                        playlist=rules.Playlist(
                            id=f"rota{rota.id}:m{member.id}",  # type: ignore[union-attr]
                            items=(rules.PlaylistItem(media=media),),
                        ),
                        recurrence="FREQ=DAILY;COUNT=1",
                        window_start=at,
                        window_end=end.replace(microsecond=0),
                        starts_on=day,
                        ends_on=day,
                        target=target,
                        created_at=created,
                        layer=rules.Layer.INTERRUPT,
                        version=rota.version,
                        loop=False,
                    ),
                    f"{KIND_ZH['rota']}轮值 {rota.name} / gong-round rota",
                )
            day += timedelta(days=1)


# --- helpers ------------------------------------------------------------------------------------


def _call_media(
    member: RotaMember | None, screen: bool, labels: dict[str, str]
) -> rules.Media | None:
    if member is None or member.announcement is None:
        return None
    from .device_rules import announcement_media

    return announcement_media(member.announcement, screen, labels)


def _render_call(
    store: MediaStore,
    render: Render,
    village: str,
    template: str,
    member: str,
    intro: str,
    progress: Callable[[str], None] | None,
) -> list[AnnouncementFile]:
    from media_pipeline.announcement import AnnouncementJob

    job = AnnouncementJob(
        key=f"rota-{member}",
        text_zh=template.replace(FIELD, member),
        heading=KIND_ZH["rota"],
        village=village,
        kind_label=f"{KIND_ZH['rota']} / gong round",
        intro=intro,
        options=announcement_options(render.options),
    )
    files = render_and_store(store, render, job)
    if progress is not None:
        progress(member)
    return files


def _call_row(
    village_id: int, template: str, member: str, intro: str, files: list[AnnouncementFile]
) -> Announcement:
    return Announcement(
        village_id=village_id,
        kind="rota",
        text=template.replace(FIELD, member),
        person=member,
        intro=intro,
        created_by="rota",
        files=files,
    )


def _change(
    db: Database, rota_ref: str, day: date, kind: str | None, member: str | None
) -> RotaInfo:
    with db.session(write=True) as session:
        rota = find_rota(session, rota_ref)
        if day < rota.starts_on:
            raise ProgrammeError(
                f"日期（--date）早于轮值开始 {rota.starts_on} / --date is before the rota starts"
            )
        for old in [c for c in rota.changes if c.on == day]:
            rota.changes.remove(old)
        session.flush()
        if kind is not None:
            who = _member(rota, member) if member is not None else None
            rota.changes.append(RotaChange(on=day, kind=kind, member=who))
        rota.version += 1
        session.flush()
        return _info(rota, day, 7)


def _changes(rota: Rota) -> tuple[frozenset[date], dict[date, str]]:
    skips = frozenset(c.on for c in rota.changes if c.kind == "skip")
    swaps = {c.on: c.member.name for c in rota.changes if c.kind == "swap" and c.member}
    return skips, swaps


def _info(rota: Rota, start: date, days: int) -> RotaInfo:
    active = [m.name for m in rota.members if m.active]
    skips, swaps = _changes(rota)
    coming = tuple(
        duty(rota.starts_on, active, skips, swaps, start + timedelta(days=n)) for n in range(days)
    )
    return RotaInfo(
        id=rota.id,
        village=rota.village.name,
        zone=rota.zone.name if rota.zone is not None else None,
        name=rota.name,
        at=rota.at,
        starts_on=rota.starts_on,
        members=tuple((m.name, m.active) for m in rota.members),
        coming=coming,
    )


def _member(rota: Rota, name: str) -> RotaMember:
    found = next((m for m in rota.members if m.name == name.strip()), None)
    if found is None:
        raise ProgrammeError(
            f"{rota.name} 没有这户：{name}（MEMBER）/ no member {name} on the rota"
        )
    return found


def _member_names(members: Sequence[str]) -> list[str]:
    names = [clean_name(m, "户主", "household") for m in members]
    if not names:
        raise ProgrammeError("请至少给出一户（--member）/ give at least one --member")
    if len(set(names)) != len(names):
        raise ProgrammeError("户主重复（--member）/ a --member is listed twice")
    return names


def _at(value: str) -> str:
    try:
        at = time.fromisoformat(value.strip())
    except ValueError:
        raise ProgrammeError(f"时间（--at）应为 HH:MM：{value} / --at must be HH:MM") from None
    return at.strftime("%H:%M")


def _zone_id(village: Village, zone: str | None) -> int | None:
    if zone is None:
        return None
    found = next((z for z in village.zones if z.name == zone.strip()), None)
    if found is None:
        raise ProgrammeError(f"{village.name} 没有寨/组（--zone）：{zone} / no zone {zone}")
    return found.id


def _today(rota: Rota) -> date:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(rota.village.tz)).date()


__all__ = [
    "DEFAULT_TEMPLATE",
    "Duty",
    "RotaInfo",
    "add_members",
    "create_rota",
    "duty",
    "find_rota",
    "remove_member",
    "rota_rules",
    "show_rota",
    "skip",
    "swap",
    "unchange",
]
