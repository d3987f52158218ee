"""Playlists: ordered items a schedule plays, one village's or county-wide.

An item is a clause (by key: always the newest version's clause and its newest rendered
segment), a whole covenant (its newest version's clauses in order), a recording, a reel
(a clause's card, then the recording span that sings it), an announcement, a village list
(表扬榜 praise or 黑榜 warning: its reviewed, unexpired entries; only in a village's
playlist) or a pause; each plays `repeat` times in a row.

A recording (and a reel's recording) enters a playlist only when it may be broadcast now (a
broadcast consent not withdrawn, a protocol that allows broadcast, and the playlist's village
admitted by `library.access.may`); device_rules asks again at every call. Every write is one
transaction: nothing is half-saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import models as lib
from ..db import Database
from .device_rules import item_media
from .devices import find_device
from .models import (
    ITEM_KINDS,
    LIST_KINDS,
    Announcement,
    Device,
    Playlist,
    PlaylistItem,
    Schedule,
)
from .places import clean_name, find_village
from .programme import (
    ProgrammeError,
    find_playlist,
    find_recording,
    may_broadcast,
    newest_clause,
)

LIST_NAMES = {"表扬榜": "praise", "红榜": "praise", "黑榜": "warning", "黄榜": "warning"}
# Makes (or finds) the stored reel of a clause key and an optional recording id: its row id.
ReelMaker = Callable[[str, int | None], int]


@dataclass(frozen=True)
class ItemInfo:
    """A playlist entry as `playlist show` lists it."""

    position: int
    kind: str
    label: str
    repeat: int
    duration_s: float | None  # one play on a loudspeaker; None when not rendered


@dataclass(frozen=True)
class PlaylistInfo:
    """A playlist with its items and their total loudspeaker duration."""

    name: str
    village: str | None
    shuffle: bool
    items: tuple[ItemInfo, ...]

    @property
    def total_s(self) -> float:
        """Seconds of one pass on a loudspeaker (repeats counted, unrendered items left out)."""
        return sum((i.duration_s or 0.0) * i.repeat for i in self.items)


def create_playlist(db: Database, name: str, village: str | None, shuffle: bool) -> PlaylistInfo:
    """Make an empty playlist, one village's or county-wide; ProgrammeError if it exists."""
    name = clean_name(name, "播放列表名", "playlist name")
    with db.session(write=True) as session:
        found = find_village(session, village) if village else None
        village_id = found.id if found is not None else None
        same_place = (
            Playlist.village_id.is_(None)
            if village_id is None
            else Playlist.village_id == village_id
        )
        clash = session.scalar(select(Playlist.id).where(Playlist.name == name, same_place))
        if clash is not None:
            raise ProgrammeError(f"播放列表已存在：{name} / playlist exists: {name} (NAME)")
        playlist = Playlist(name=name, village=found, shuffle=shuffle)
        session.add(playlist)
        session.flush()
        return _playlist_info(playlist, session)


def add_item(
    db: Database,
    playlist_ref: str,
    kind: str,
    value: str,
    repeat: int = 1,
    *,
    make_reel: ReelMaker | None = None,
) -> PlaylistInfo:
    """Append an item; VALUE is a clause key, covenant slug, recording id, reel `KEY[@ID]`,
    announcement id, list name (表扬榜/黑榜, praise/warning) or pause seconds."""
    if repeat < 1:
        raise ProgrammeError("重复次数（--repeat）至少为 1 / --repeat must be at least 1")
    if kind not in ITEM_KINDS:
        raise ProgrammeError(f"未知条目类型（KIND）：{kind} / unknown item kind {kind!r}")
    value = value.strip()
    reel_id = None
    if kind == "reel":
        # Find the playlist before the slow composing, so a typo in NAME costs nothing.
        with db.session() as session:
            find_playlist(session, playlist_ref)
        reel_id = _reel(value, make_reel)
    with db.session(write=True) as session:
        playlist = find_playlist(session, playlist_ref)
        item = PlaylistItem(kind=kind, repeat=repeat, position=len(playlist.items) + 1)
        where = playlist.village.name if playlist.village is not None else None
        if kind == "clause":
            if newest_clause(session, value) is None:
                raise ProgrammeError(f"找不到条款（KEY）：{value} / no clause with key {value!r}")
            item.clause_key = value
        elif kind == "covenant":
            if session.scalar(select(lib.Covenant.id).where(lib.Covenant.slug == value)) is None:
                raise ProgrammeError(f"找不到村规民约（SLUG）：{value} / no covenant {value!r}")
            item.covenant_slug = value
        elif kind == "recording":
            recording = find_recording(session, value)
            _check_broadcast(recording, where)
            item.recording_id = recording.id
        elif kind == "reel":
            reel = session.get(lib.Reel, reel_id)
            if reel is None:
                raise ProgrammeError(f"找不到教唱短片：{value} / no reel {value} (VALUE)")
            # The reel was made by a county-wide maker: its song must also suit this village.
            _check_broadcast(find_recording(session, str(reel.recording_id)), where)
            item.reel_id = reel.id
        elif kind == "announcement":
            item.announcement_id = _announcement(session, value, playlist).id
        elif kind == "list":
            item.list_kind = _list_kind(value, playlist)
        elif kind == "pause":
            item.pause_s = _pause_seconds(value)
        else:  # ITEM_KINDS and this chain disagree
            raise ProgrammeError(f"未知条目类型（KIND）：{kind} / unknown item kind {kind!r}")
        playlist.items.append(item)
        session.flush()
        return _playlist_info(playlist, session)


def remove_item(db: Database, playlist_ref: str, position: int) -> PlaylistInfo:
    """Take the item at `position` (1-based) out; the items after it move up."""
    with db.session(write=True) as session:
        playlist = find_playlist(session, playlist_ref)
        item = _at(playlist, position)
        playlist.items.remove(item)
        session.flush()  # the delete first: positions are unique within a playlist
        _renumber(session, playlist, list(playlist.items))
        return _playlist_info(playlist, session)


def move_item(db: Database, playlist_ref: str, position: int, to: int) -> PlaylistInfo:
    """Move the item at `position` to position `to` (both 1-based)."""
    with db.session(write=True) as session:
        playlist = find_playlist(session, playlist_ref)
        items = list(playlist.items)
        item = _at(playlist, position)
        if not 1 <= to <= len(items):
            raise ProgrammeError(f"位置（TO）应在 1–{len(items)}：{to} / TO must be 1–{len(items)}")
        items.remove(item)
        items.insert(to - 1, item)
        _renumber(session, playlist, items)
        return _playlist_info(playlist, session)


def delete_playlist(db: Database, playlist_ref: str) -> str:
    """Delete a playlist that no schedule plays and no device falls back to; ProgrammeError
    naming the schedules or devices if any (deleting would silently change what they play)."""
    with db.session(write=True) as session:
        playlist = find_playlist(session, playlist_ref)
        used = list(session.scalars(select(Schedule.id).where(Schedule.playlist_id == playlist.id)))
        if used:
            ids = ", ".join(str(i) for i in used)
            raise ProgrammeError(
                f"播放列表 {playlist.name} 还在时间表 {ids} 中，请先删除时间表 / playlist"
                f" {playlist.name} is played by schedule {ids}; remove those first (NAME)"
            )
        fallback = list(
            session.scalars(
                select(Device).where(Device.fallback_playlist_id == playlist.id).order_by(Device.id)
            )
        )
        if fallback:
            names = ", ".join(f"{d.id} {d.name}" for d in fallback)
            raise ProgrammeError(
                f"播放列表 {playlist.name} 是设备 {names} 的本机备播，请先用 kuanyue device"
                f" fallback 设备 --clear 取消 / playlist {playlist.name} is the fallback of"
                f" device {names}; clear it first with kuanyue device fallback DEVICE --clear"
                " (NAME)"
            )
        name = playlist.name
        session.delete(playlist)
        return name


def list_playlists(db: Database, village: str | None = None) -> list[PlaylistInfo]:
    """The playlists cultural workers made (not announcements' own), county-wide ones first,
    or one village's and the county-wide ones a village may also play."""
    with db.session() as session:
        query = select(Playlist).where(Playlist.announcement_id.is_(None))
        if village is not None:
            found = find_village(session, village)
            query = query.where((Playlist.village_id == found.id) | Playlist.village_id.is_(None))
        query = query.order_by(Playlist.village_id.is_not(None), Playlist.village_id, Playlist.name)
        return [_playlist_info(p, session) for p in session.scalars(query)]


def set_fallback(db: Database, device_ref: str, playlist_ref: str | None) -> str | None:
    """Set (or with None clear) what a device loops when nothing is scheduled; its name."""
    with db.session(write=True) as session:
        device = find_device(session, device_ref)
        if playlist_ref is None:
            device.fallback_playlist = None
            return None
        playlist = find_playlist(session, playlist_ref)
        if playlist.village_id not in (None, device.village_id):
            raise ProgrammeError(
                f"播放列表 {playlist.name} 属于别的村 / playlist {playlist.name} belongs to"
                " another village (PLAYLIST)"
            )
        device.fallback_playlist = playlist
        return playlist.name


def show_playlist(db: Database, playlist_ref: str) -> PlaylistInfo:
    """A playlist's items with their loudspeaker durations."""
    with db.session() as session:
        playlist = find_playlist(session, playlist_ref)
        return _playlist_info(playlist, session)


def _playlist_info(playlist: Playlist, session: Session) -> PlaylistInfo:
    items = []
    for item in playlist.items:
        if item.kind == "pause":
            label, seconds = f"停顿 / pause {item.pause_s:g} s", item.pause_s
        else:
            # What a loudspeaker would play, without the access check (a worker's view).
            files = list(item_media(session, item, "loudspeaker", None, {}, playlist))
            seconds = sum(m.duration_s for m, _ in files) if files else None
            label = _label(session, item)
        items.append(ItemInfo(item.position, item.kind, label, item.repeat, seconds))
    village = playlist.village.name if playlist.village is not None else None
    return PlaylistInfo(playlist.name, village, playlist.shuffle, tuple(items))


def _label(session: Session, item: PlaylistItem) -> str:
    if item.kind == "clause":
        return f"条款 / clause {item.clause_key}"
    if item.kind == "covenant":
        return f"村规民约全文 / covenant {item.covenant_slug}"
    if item.kind == "recording":
        return f"录音 / recording #{item.recording_id}"
    if item.kind == "reel":
        return f"教唱短片 / reel #{item.reel_id}"
    if item.kind == "announcement":
        from .announcements import short_title

        found = session.get(Announcement, item.announcement_id)
        return short_title(found) if found is not None else "通知 / announcement (gone)"
    names = {"praise": "表扬榜 / praise list", "warning": "黑榜 / rule-breaking list"}
    return names.get(item.list_kind or "", str(item.list_kind))


def _at(playlist: Playlist, position: int) -> PlaylistItem:
    item = next((i for i in playlist.items if i.position == position), None)
    if item is None:
        raise ProgrammeError(
            f"{playlist.name} 没有第 {position} 项（POSITION）/ {playlist.name} has no item"
            f" {position}"
        )
    return item


def _renumber(session: Session, playlist: Playlist, items: list[PlaylistItem]) -> None:
    """Give `items` positions 1..n, through negative ones so the unique index never clashes."""
    for n, item in enumerate(items, start=1):
        item.position = -n
    session.flush()
    for item in items:
        item.position = -item.position
    playlist.items[:] = items
    session.flush()


def _check_broadcast(recording: lib.Recording, where: str | None) -> None:
    if not may_broadcast(recording, where):
        raise ProgrammeError(
            f"录音 {recording.id} 不能广播（需广播授权且未撤回{f'，并允许{where}' if where else ''}）"
            f" / recording {recording.id} may not be broadcast"
            f"{f' in {where}' if where else ''} (ID: it needs a broadcast consent"
            " that is not withdrawn and a public or village protocol)"
        )


def _reel(value: str, make_reel: ReelMaker | None) -> int:
    key, _, rec = value.partition("@")
    if not key or (rec and not rec.isdigit()):
        raise ProgrammeError(f"教唱短片应写成 条款KEY[@录音ID]：{value} / write a reel as KEY[@ID]")
    if make_reel is None:
        raise ProgrammeError("不能在这里制作教唱短片 / reels cannot be made here")
    return make_reel(key, int(rec) if rec else None)


def _announcement(session: Session, value: str, playlist: Playlist) -> Announcement:
    number = int(value) if value.isdigit() else 0
    found = session.get(Announcement, number) if lib.is_row_id(number) else None
    if found is None:
        raise ProgrammeError(f"找不到通知（ID）：{value} / no announcement {value}")
    if found.kind == "rota":
        raise ProgrammeError(
            f"鸣锣喊寨的轮值呼叫由轮值表安排，不能加入播放列表：{value} / a gong-round call"
            " plays on its rota's evenings, not in a playlist (ID)"
        )
    if found.kind in LIST_KINDS:
        raise ProgrammeError(
            f"表扬榜/黑榜的条目请用 list 加入：{value} / add praise and warning entries with the"
            " `list` kind (ID)"
        )
    if playlist.village_id != found.village_id:
        raise ProgrammeError(
            f"通知 {value} 只能加入本村的播放列表 / announcement {value} belongs in its own"
            " village's playlist (ID)"
        )
    return found


def _list_kind(value: str, playlist: Playlist) -> str:
    kind = LIST_NAMES.get(value, value)
    if kind not in LIST_KINDS:
        raise ProgrammeError(
            f"榜单（VALUE）应为 表扬榜 或 黑榜：{value} / list must be praise or warning"
        )
    if playlist.village is None:
        raise ProgrammeError(
            "表扬榜和黑榜只在本村播放，请用村的播放列表 / praise and warning lists are"
            " village-only: use a village's playlist (NAME)"
        )
    return kind


def _pause_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 86400:
        raise ProgrammeError(
            f"停顿秒数（SECONDS）须为正数：{value} / pause SECONDS must be a positive number: {value}"
        )
    return seconds
