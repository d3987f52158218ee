"""A covenant's backgrounds: the village's own photos or video loops its clips are shown over.

A cultural worker may choose a picture of the drum tower, the wind-and-rain bridge or the
fields for the whole covenant, and another per topic (消防安全 over the fire pond, …); a
topic's wins over the covenant's, and with neither the generated indigo pattern is drawn.
The picture is darkened towards indigo and panned slowly by media_pipeline.clip_background;
a video loop gives one still. The file is copied into the content-addressed store, so a
clause's render key holds its sha256 and changing a background re-renders only the clauses
it is shown behind. Backgrounds belong to the covenant, so they are kept across versions.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline.tools import DEFAULT_TOOLS, Tools

from ..db import Database
from ..errors import LibraryError
from ..models import Covenant, CovenantBackground
from ..names import printable
from ..store import MediaStore, file_row
from .versions import get_covenant

WHOLE = ""  # the topic of the background shown behind every clause without its own


class BackgroundError(LibraryError):
    """A file that cannot be a background, a topic the covenant has not, nothing to clear."""


@dataclass(frozen=True)
class BackgroundChange:
    """A background set or cleared, and the clauses of the current version it changes."""

    slug: str
    topic: str | None  # None: the whole covenant
    source_name: str | None  # the file set; None when cleared
    kind: str | None  # "background-image" | "background-video"; None when cleared
    clause_keys: tuple[str, ...]  # clauses whose videos now look different


def check_file(path: Path, tools: Tools = DEFAULT_TOOLS) -> str:
    """ "image" or "video" if `path` will render as a background; BackgroundError otherwise."""
    from media_pipeline.clip_background import NO_PICTURE, check_background
    from media_pipeline.errors import MediaError
    from media_pipeline.files import FILE_KINDS, NotRegularFile, open_regular

    name = printable(str(path))
    try:
        with open_regular(path):  # a FIFO or a folder is named as such, not probed
            pass
        return check_background(Path(path), tools)
    except NotRegularFile as exc:
        zh, en = FILE_KINDS[exc.kind]
        raise BackgroundError(
            f"背景须是照片或视频，{name} 是{zh} / a background must be a photo or a video;"
            f" {name} is {en}"
        ) from None
    except FileNotFoundError:
        raise BackgroundError(f"找不到文件：{name} / file not found: {name}") from None
    except MediaError as exc:
        reason, detail = MediaError.REASONS[exc.reason], exc.detail
        if detail == NO_PICTURE:
            reason, detail = NO_PICTURE, ""
        zh, en = reason.split(" / ", 1)
        # libav's own words ("Invalid data found…") add nothing for a cultural worker.
        more = f"\n  {detail}" if detail and "Errno" not in detail else ""
        raise BackgroundError(
            f"背景须是照片或视频，{name}：{zh} / a background must be a photo or a video;"
            f" {name}: {en}{more}"
        ) from None
    except OSError as exc:
        raise BackgroundError(
            f"无法读取：{name}（{exc.strerror}）/ cannot read {name}: {exc.strerror}"
        ) from None


def set_background(
    db: Database,
    store: MediaStore,
    ref: str,
    path: Path,
    *,
    topic: str | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> BackgroundChange:
    """Show the photo or video loop `path` behind the clips of covenant `ref` (slug or id),
    or behind its clauses of `topic` only; the file is checked, then copied into the store."""
    path = Path(path)
    topic = _topic(topic)
    with db.session() as session:  # a typo'd slug or topic is refused before any media work
        _known_topic(get_covenant(session, ref), topic)
    kind = f"background-{check_file(path, tools)}"
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    from media_pipeline.files import MadeFile

    # Copied, not moved: the photo is the cultural worker's own. Stored before the row is
    # written; a crash between leaves a file `kuanyue store gc` removes.
    row = file_row(store, MadeFile(kind, str(path), mime), CovenantBackground(), move=False)
    with db.session(write=True) as session:
        covenant = get_covenant(session, ref)
        _known_topic(covenant, topic)
        before = _shown(session, covenant)
        entry = _entry(session, covenant.id, topic)
        if entry is None:
            entry = row
            entry.covenant_id, entry.topic = covenant.id, topic or WHOLE
            session.add(entry)
        else:
            for column in ("kind", "sha256", "store_path", "mime", "size", "duration_s"):
                setattr(entry, column, getattr(row, column))
        entry.source_name = printable(path.name)
        session.flush()
        changed = _changed(before, _shown(session, covenant))
        return BackgroundChange(covenant.slug, topic, entry.source_name, kind, changed)


def clear_background(db: Database, ref: str, *, topic: str | None = None) -> BackgroundChange:
    """Stop showing the covenant's (or the topic's) background: the pattern, or the
    covenant's own background for a topic's clauses, is drawn again."""
    topic = _topic(topic)
    with db.session(write=True) as session:
        covenant = get_covenant(session, ref)
        entry = _entry(session, covenant.id, topic)
        if entry is None:
            listed = (
                "、".join(_label(b.topic) for b in backgrounds(session, ref)) or "（无 / none）"
            )
            what = f"主题 {topic} " if topic else ""
            raise BackgroundError(
                f"{covenant.slug} 的{what}没有设置背景，已设置：{listed}"
                f" / {covenant.slug} has no background{f' for topic {topic}' if topic else ''}"
                f" to clear; set: {listed}"
            )
        before = _shown(session, covenant)
        session.delete(entry)
        session.flush()
        changed = _changed(before, _shown(session, covenant))
        return BackgroundChange(covenant.slug, topic, None, None, changed)


def backgrounds(session: Session, ref: str) -> list[CovenantBackground]:
    """The covenant's backgrounds: the whole covenant's first, then by topic."""
    covenant = get_covenant(session, ref)
    return list(
        session.scalars(
            select(CovenantBackground)
            .where(CovenantBackground.covenant_id == covenant.id)
            .order_by(CovenantBackground.topic)
        )
    )


def backgrounds_of(session: Session, covenant_id: int) -> dict[str, tuple[str, str]]:
    """The covenant's backgrounds as topic ("" for the whole covenant) → (store path, sha256)."""
    rows = session.execute(
        select(
            CovenantBackground.topic, CovenantBackground.store_path, CovenantBackground.sha256
        ).where(CovenantBackground.covenant_id == covenant_id)
    )
    return {topic: (store_path, sha) for topic, store_path, sha in rows}


def background_for(chosen: dict[str, tuple[str, str]], topic: str) -> tuple[str, str] | None:
    """The (store path, sha256) shown behind a clause of `topic`: its topic's, else the whole
    covenant's, else None (the pattern)."""
    return chosen.get(topic) or chosen.get(WHOLE)


def _label(topic: str) -> str:
    return topic or "全约 / whole covenant"


def _topic(topic: str | None) -> str | None:
    topic = (topic or "").strip()
    return topic or None


def _known_topic(covenant: Covenant, topic: str | None) -> None:
    """Refuse a topic no clause of the current version has: a typo would never be shown."""
    if topic is None:
        return
    topics = list(
        dict.fromkeys(c.topic for c in (covenant.current.clauses if covenant.current else []))
    )
    if topic not in topics:
        listed = "、".join(topics) or "（无 / none）"
        raise BackgroundError(
            f"{covenant.slug} 没有主题为 {topic} 的条款，已有主题：{listed}"
            f" / no clause of {covenant.slug} has the topic {topic!r}; its topics: {listed}"
            f" (kuanyue covenant topic KEY TOPIC sets a clause's)"
        )


def _entry(session: Session, covenant_id: int, topic: str | None) -> CovenantBackground | None:
    return session.scalar(
        select(CovenantBackground).where(
            CovenantBackground.covenant_id == covenant_id,
            CovenantBackground.topic == (topic or WHOLE),
        )
    )


def _shown(session: Session, covenant: Covenant) -> dict[str, str | None]:
    """Each clause of the current version → the sha256 of the background shown behind it."""
    chosen = backgrounds_of(session, covenant.id)
    clauses = covenant.current.clauses if covenant.current else []
    return {
        c.key: (found[1] if (found := background_for(chosen, c.topic)) else None) for c in clauses
    }


def _changed(before: dict[str, str | None], after: dict[str, str | None]) -> tuple[str, ...]:
    return tuple(key for key in after if before.get(key) != after[key])
