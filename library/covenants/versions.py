"""Covenants and their versions: import a text, keep clause identity, show what changed."""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..db import Database
from ..errors import CovenantNotFound, LibraryError
from ..models import Clause, Covenant, CovenantVersion
from ..names import printable
from ..textfiles import MAX_TEXT_BYTES
from .segments import copy_segments

if TYPE_CHECKING:
    from .parser import ParsedClause, ParsedCovenant


@dataclass(frozen=True)
class ClauseChange:
    """How one clause differs between two versions."""

    kind: str  # "added" | "removed" | "changed" | "renumbered" | "unchanged"
    key: str
    old: Clause | None
    new: Clause | None

    def text_diff(self) -> str:
        """A character-level diff of the Chinese text: [-removed-]{+added+}."""
        old = self.old.text_zh if self.old else ""
        new = self.new.text_zh if self.new else ""
        out: list[str] = []
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        for op, a0, a1, b0, b1 in matcher.get_opcodes():
            if op == "equal":
                out.append(old[a0:a1])
            if op in ("delete", "replace"):
                out.append(f"[-{old[a0:a1]}-]")
            if op in ("insert", "replace"):
                out.append(f"{{+{new[b0:b1]}+}}")
        return "".join(out)


@dataclass(frozen=True)
class ImportResult:
    """What an import did: the covenant, its current version, and the changes."""

    covenant: Covenant
    version: CovenantVersion
    new_version: bool
    changes: tuple[ClauseChange, ...]
    warnings: tuple[str, ...]


def slugify(text: str) -> str:
    """A URL-safe ASCII slug from Chinese or Latin text (榕溪村 → rongxicun)."""
    from pypinyin import lazy_pinyin  # imported here: its dictionaries take a moment to load

    # Characters without pinyin (Latin, digits, punctuation) are kept as they are.
    latin = "".join(lazy_pinyin(text))
    slug = re.sub(r"[^a-z0-9]+", "-", latin.lower()).strip("-")
    return slug[:60] or "covenant"


def _content(c: Clause | ParsedClause) -> tuple:
    return (c.text_zh.strip(), (c.text_dong or "").strip(), (c.penalty or "").strip())


def _same_text(version: CovenantVersion, parsed: ParsedCovenant) -> bool:
    if (
        version.preamble != parsed.preamble
        or version.closing != parsed.closing
        or len(version.clauses) != len(parsed.clauses)
    ):
        return False
    return all(
        _content(a) == _content(b)
        and (a.number, a.label, a.section, a.chapter) == (b.number, b.label, b.section, b.chapter)
        for a, b in zip(version.clauses, parsed.clauses, strict=True)
    )


def _assign_keys(
    slug: str, previous: list[Clause], parsed: tuple[ParsedClause, ...], used: set[str]
) -> list[str]:
    """Match new clauses to old ones: same text first, then same number; the rest get new keys."""
    keys: list[str | None] = [None] * len(parsed)
    free = {id(c): c for c in previous}
    by_content: dict[tuple, list[Clause]] = {}
    for c in previous:
        by_content.setdefault(_content(c), []).append(c)
    for i, p in enumerate(parsed):
        for c in by_content.get(_content(p), []):
            if id(c) in free:
                keys[i] = c.key
                del free[id(c)]
                break
    by_number = {c.number: c for c in free.values()}
    for i, p in enumerate(parsed):
        if keys[i] is None and (same := by_number.get(p.number)) is not None and id(same) in free:
            keys[i] = same.key
            del free[id(same)]
    counter = max((int(k.rsplit("-", 1)[1]) for k in used if re.search(r"-\d+$", k)), default=0)
    assigned: list[str] = []
    for key in keys:
        if key is None:
            counter += 1
            key = f"{slug}-{counter:02d}"
        assigned.append(key)
    return assigned


def _unique_slug(session: Session, base: str) -> str:
    slug, n = base, 1
    while session.scalar(select(Covenant.id).where(Covenant.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def import_covenant(
    db: Database,
    path: Path,
    *,
    village: str | None = None,
    title: str | None = None,
    slug: str | None = None,
    max_bytes: int = MAX_TEXT_BYTES,
) -> ImportResult:
    """Import a covenant file; changed text becomes a new version, unchanged text is a no-op."""
    from .parser import load_covenant  # the parser's imports are heavy; render needs none

    path = Path(path)
    parsed = load_covenant(path, max_bytes=max_bytes)
    village = (village or parsed.village or "").strip()
    if not village:
        raise LibraryError(
            f"{printable(path)}: 无法从文本判断村名，请用 --village 指定 / "
            "cannot tell the village from the text; pass --village"
        )
    title = (title or parsed.title or f"{village}村规民约").strip()
    source_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with db.session() as session:
        if slug:
            covenant = _find(session, slug)
        else:
            covenant = session.scalar(
                select(Covenant).where(Covenant.village == village, Covenant.title == title)
            )
        if covenant is None:
            covenant = Covenant(
                slug=_unique_slug(session, slug or slugify(village)), village=village, title=title
            )
            session.add(covenant)
            session.flush()
        previous = covenant.current
        if previous is not None and _same_text(previous, parsed):
            return ImportResult(covenant, previous, False, (), tuple(parsed.warnings))
        used = set(
            session.scalars(
                select(Clause.key)
                .join(CovenantVersion)
                .where(CovenantVersion.covenant_id == covenant.id)
            )
        )
        old_clauses = list(previous.clauses) if previous else []
        keys = _assign_keys(covenant.slug, old_clauses, parsed.clauses, used)
        version = CovenantVersion(
            covenant=covenant,
            number=(previous.number + 1) if previous else 1,
            source_name=printable(path.name),
            source_sha256=source_sha,
            source_format=parsed.format,
            encoding=parsed.encoding,
            preamble=parsed.preamble,
            dong_note=getattr(parsed, "dong_note", "") or "",
            closing=parsed.closing,
        )
        old_by_key = {c.key: c for c in old_clauses}
        for position, (p, key) in enumerate(zip(parsed.clauses, keys, strict=True), start=1):
            old = old_by_key.get(key)
            keep_topic = old is not None and old.topic_edited
            clause = Clause(
                key=key,
                position=position,
                number=p.number,
                label=p.label,
                chapter=p.chapter,
                section=p.section,
                topic=old.topic if old is not None and keep_topic else p.topic,
                topic_edited=keep_topic,
                text_zh=p.text_zh,
                text_dong=p.text_dong,
                penalty=p.penalty,
                source_line=p.line,
            )
            version.clauses.append(clause)
        session.add(version)
        session.flush()
        for clause in version.clauses:
            old = old_by_key.get(clause.key)
            if old is not None:
                # Unchanged clauses keep their rendered media; the render's input hash decides.
                copy_segments(session, old, clause)
        changes = diff_clauses(old_clauses, list(version.clauses))
        return ImportResult(covenant, version, True, tuple(changes), tuple(parsed.warnings))


def diff_clauses(old: list[Clause], new: list[Clause]) -> list[ClauseChange]:
    """Compare two versions' clauses by stable key, in the new version's order."""
    old_by_key = {c.key: c for c in old}
    changes: list[ClauseChange] = []
    for c in new:
        before = old_by_key.pop(c.key, None)
        if before is None:
            kind = "added"
        elif _content(before) != _content(c):
            kind = "changed"
        elif before.number != c.number:
            kind = "renumbered"
        else:
            kind = "unchanged"
        changes.append(ClauseChange(kind, c.key, before, c))
    changes.extend(ClauseChange("removed", c.key, c, None) for c in old_by_key.values())
    return changes


def _find(session: Session, ref: str) -> Covenant | None:
    query = select(Covenant).options(selectinload(Covenant.versions))
    if ref.isdigit():
        return session.scalar(query.where(Covenant.id == int(ref)))
    return session.scalar(query.where(Covenant.slug == ref))


def get_covenant(session: Session, ref: str) -> Covenant:
    """Find a covenant by slug or id, or say which ones exist."""
    covenant = _find(session, ref)
    if covenant is None:
        known = ", ".join(session.scalars(select(Covenant.slug))) or "（无 / none）"
        raise CovenantNotFound(
            f"找不到村规民约 {ref!r}，已有：{known} / no covenant {ref!r}; known: {known}"
        )
    return covenant


def diff_versions(
    session: Session, ref: str, old: int | None = None, new: int | None = None
) -> list[ClauseChange]:
    """Changes between two versions of a covenant (default: the last two)."""
    covenant = get_covenant(session, ref)
    numbers = [v.number for v in covenant.versions]
    new = new or numbers[-1]
    old = old or (new - 1)
    by_number = {v.number: v for v in covenant.versions}
    if new not in by_number or (old not in by_number and old != 0):
        raise LibraryError(f"{covenant.slug} 只有版本 {numbers} / has versions {numbers} only")
    before = list(by_number[old].clauses) if old in by_number else []
    return diff_clauses(before, list(by_number[new].clauses))


def set_topic(session: Session, key: str, topic: str) -> Clause:
    """Set a clause's topic by hand; it survives later re-imports."""
    clause = session.scalar(select(Clause).where(Clause.key == key).order_by(Clause.id.desc()))
    if clause is None:
        raise LibraryError(f"找不到条款 {key!r} / no clause {key!r}")
    clause.topic = topic
    clause.topic_edited = True
    return clause
