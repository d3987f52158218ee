"""What the covenant pages and listings show: one function per page or listing.

Like `library.catalogue.queries`, each takes the caller's session and applies the access rule
itself (published covenants are public; the recordings that sing a clause pass
`visible_recordings`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..access import Viewer, visible_recordings
from ..catalogue.recordings import title
from ..errors import CovenantNotFound
from ..models import Clause, ClauseSpan, Covenant, CovenantVersion, Recording, Segment
from .versions import get_covenant


def covenant_list(session: Session) -> list[Covenant]:
    """Every covenant, published or not, in the order they were imported."""
    return list(
        session.scalars(
            select(Covenant)
            .order_by(Covenant.id)
            .options(selectinload(Covenant.versions).selectinload(CovenantVersion.clauses))
        )
    )


def published_covenants(session: Session) -> list[Covenant]:
    """The home page: published covenants by village, with their versions and clauses."""
    return list(
        session.scalars(
            select(Covenant)
            .where(Covenant.published)
            .order_by(Covenant.village)
            .options(selectinload(Covenant.versions).selectinload(CovenantVersion.clauses))
        )
    )


def render_size(session: Session, ref: str, keys: Collection[str] = ()) -> int:
    """How many clauses `kuanyue render` goes through: `keys`, or the current version's all."""
    covenant = get_covenant(session, ref)
    return len(covenant.current.clauses) if covenant.current and not keys else len(keys)


@dataclass(frozen=True)
class CovenantPage:
    """A published covenant's current version, each clause with its media and songs."""

    covenant: Covenant
    version: CovenantVersion | None
    clauses: list[Clause]  # with their segments and files loaded
    sung: dict[str, list[tuple[ClauseSpan, str]]]  # clause key → (span, recording title)


def covenant_page(session: Session, viewer: Viewer, slug: str) -> CovenantPage | None:
    """The covenant's page, or None when there is no such published covenant."""
    try:
        cov = get_covenant(session, slug)
    except CovenantNotFound:
        return None
    if not cov.published:
        return None
    version = cov.current
    clauses = (
        list(
            session.scalars(
                select(Clause)
                .where(Clause.version_id == version.id)
                .order_by(Clause.position)
                .options(selectinload(Clause.segments).selectinload(Segment.files))
            )
        )
        if version
        else []
    )
    # The recordings that sing each clause, as far as this visitor may see them.
    sung: dict[str, list[tuple[ClauseSpan, str]]] = {}
    spans = session.scalars(
        select(ClauseSpan)
        .join(Recording)
        .where(ClauseSpan.clause_key.in_([c.key for c in clauses]), visible_recordings(viewer))
        .options(selectinload(ClauseSpan.recording).selectinload(Recording.texts))
    )
    for span in spans:
        sung.setdefault(span.clause_key, []).append((span, title(span.recording)))
    return CovenantPage(cov, version, clauses, sung)
