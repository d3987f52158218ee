"""Announcements: typed by a cultural worker, rendered with a gong or chime, scheduled.

Kinds (models.ANNOUNCEMENT_KINDS): a `oneoff` (now or at a time, optionally repeated at an
interval), a `recurring` one (an RRULE), a `notice` (通知, with an expiry), an `emergency`
(fire, flood, a missing child: the emergency layer, looping until it expires or is stopped),
and the village lists' entries, `praise` (表扬榜) and `warning` (黑榜/黄榜), which a second
person must review before they play, which expire, and which are village-protocol only: never
on a public page or in an export. `rota` announcements are a gong-round household's call,
made by library/broadcast/rota.py.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Announcement

KIND_ZH = {
    "notice": "通知",
    "oneoff": "广播",
    "recurring": "定时广播",
    "emergency": "紧急通知",
    "praise": "表扬榜",
    "warning": "黑榜",
    "rota": "鸣锣喊寨",
}
KIND_EN = {
    "notice": "notice",
    "oneoff": "announcement",
    "recurring": "recurring announcement",
    "emergency": "emergency",
    "praise": "praise list",
    "warning": "rule-breaking list",
    "rota": "gong round",
}


def short_title(announcement: Announcement) -> str:
    """「通知 #3：明天上午停电…」 / notice #3, for plans, lists and playlists."""
    text = " ".join(announcement.text.split())
    text = text if len(text) <= 16 else text[:16] + "…"
    kind = announcement.kind
    who = f"（{announcement.person}）" if announcement.person else ""
    return f"{KIND_ZH[kind]} #{announcement.id}{who}：{text} / {KIND_EN[kind]}"


def list_entries(
    session: Session, village_id: int, kind: str, today: date | None = None
) -> list[Announcement]:
    """A village list's entries that may play: reviewed, not stopped, not expired before
    `today` (None: every unexpired-or-not entry; the timeline applies expiry per window)."""
    query = (
        select(Announcement)
        .where(
            Announcement.village_id == village_id,
            Announcement.kind == kind,
            Announcement.reviewed_by.is_not(None),
            Announcement.stopped_at.is_(None),
        )
        .order_by(Announcement.id)
    )
    if today is not None:
        query = query.where(Announcement.expires_on >= today)
    return list(session.scalars(query))
