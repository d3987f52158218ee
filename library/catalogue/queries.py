"""What the catalogue's pages and listings show: one function per page or listing.

Each takes the caller's session (the caller's `with db.session()` is the transaction and keeps
lazy attributes loadable while a template or a command prints them) and applies the access
rule itself, so a route or command only parses its input, calls one of these and presents
the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..access import PUBLIC_KINDS, Viewer, can_see_track, may, visible_recordings
from ..models import (
    Clause,
    Covenant,
    CovenantVersion,
    Genre,
    MediaFile,
    Recording,
    TextTrack,
    is_row_id,
)
from ..search import MAX_QUERY_CHARS, MAX_TERMS, SearchFilters, SearchHit, read_query, search
from .recordings import LOAD_ALL, find_genre, near_duplicates, title


@dataclass(frozen=True)
class SearchResults:
    """Search hits, and whether the query was cut to the search's bounds (say so to the reader)."""

    hits: list[SearchHit]
    cut: bool
    max_terms: int = MAX_TERMS
    max_chars: int = MAX_QUERY_CHARS


def find_recordings(
    session: Session,
    query: str,
    viewer: Viewer,
    *,
    genre: str | None = None,
    limit: int = 50,
    **filters: Unpack[SearchFilters],
) -> SearchResults:
    """`search`, with the genre named by key or Chinese name and refused when unknown."""
    if genre:
        genre = find_genre(session, genre).key
    hits = search(session, query, viewer, genre=genre, limit=limit, **filters)
    return SearchResults(hits, read_query(query).cut)


@dataclass(frozen=True)
class Listed:
    """One line of the recordings page."""

    hit: SearchHit
    recording: Recording
    waveform: MediaFile | None  # its thumbnail, only when the visitor may stream it


@dataclass(frozen=True)
class RecordingList:
    """The recordings page: its lines, and whether the query was cut to the search's bounds."""

    items: list[Listed]
    cut: bool
    max_terms: int = MAX_TERMS
    max_chars: int = MAX_QUERY_CHARS


def recording_list(
    session: Session, viewer: Viewer, query: str = "", *, limit: int = 200
) -> RecordingList:
    """The recordings page: hits for `query` (all visible when empty) with their recordings."""
    hits = search(session, query, viewer, limit=limit)
    by_id = {
        r.id: r
        for r in session.scalars(
            select(Recording)
            .where(Recording.id.in_([h.recording_id for h in hits]))
            .options(
                selectinload(Recording.texts),
                selectinload(Recording.genre),
                selectinload(Recording.files),
                selectinload(Recording.consents),
                selectinload(Recording.stewards),
            )
        )
    }
    items = []
    for hit in hits:
        if (rec := by_id.get(hit.recording_id)) is None:
            continue
        wave = next((f for f in rec.files if f.kind == "waveform"), None)
        items.append(Listed(hit, rec, wave if may(viewer, rec, "stream") else None))
    return RecordingList(items, read_query(query).cut)


@dataclass(frozen=True)
class RecordingPage:
    """One recording as a visitor may see it."""

    recording: Recording
    tracks: list[TextTrack]  # only those the visitor may read
    # kind → file, public kinds only (never the original), and only when the visitor may
    # stream the recording (else empty, and `streamable` is False)
    files: dict[str, MediaFile]
    clauses: dict[str, Clause]  # linked clause key → clause of a published covenant
    streamable: bool = True


def recording_page(session: Session, viewer: Viewer, recording_id: int) -> RecordingPage | None:
    """A recording's page: player, readable lyrics, linked clauses; None when hidden or absent.

    Hidden and absent are the same answer: a hidden recording does not exist for this viewer;
    so is an id no recording could have (negative, zero, beyond 2**63-1).
    """
    if not is_row_id(recording_id):
        return None
    rec = session.scalar(
        select(Recording)
        .where(Recording.id == recording_id, visible_recordings(viewer))
        .options(*LOAD_ALL)
    )
    if rec is None:
        return None
    keys = [s.clause_key for s in rec.spans]
    clauses = {
        c.key: c
        for c in session.scalars(
            select(Clause)
            .join(CovenantVersion)
            .join(Covenant)
            .where(Clause.key.in_(keys), Covenant.published)
        )
    }
    streamable = may(viewer, rec, "stream")
    return RecordingPage(
        recording=rec,
        tracks=[t for t in rec.tracks if can_see_track(viewer, t)],
        files={f.kind: f for f in rec.files if f.kind in PUBLIC_KINDS} if streamable else {},
        clauses=clauses,
        streamable=streamable,
    )


def genre_list(session: Session) -> list[Genre]:
    """The controlled list of genres, in its order."""
    return list(session.scalars(select(Genre).order_by(Genre.position)))


@dataclass(frozen=True)
class DuplicatePair:
    """Two recordings whose originals sound like the same take, as a person decides on them."""

    id: int
    recording_a: int
    title_a: str
    recording_b: int
    title_b: str
    similarity: float
    decision: str


def duplicate_pairs(session: Session, *, pending_only: bool = True) -> list[DuplicatePair]:
    """The near-duplicate pairs (undecided ones only unless asked), with both titles."""
    pairs = near_duplicates(session, pending_only=pending_only)
    ids = {i for p in pairs for i in (p.file_a_id, p.file_b_id)}
    files = {
        f.id: f
        for f in session.scalars(
            select(MediaFile)
            .where(MediaFile.id.in_(ids))
            .options(selectinload(MediaFile.recording).selectinload(Recording.texts))
        )
    }
    out = []
    for pair in pairs:
        a, b = files[pair.file_a_id], files[pair.file_b_id]
        out.append(
            DuplicatePair(
                pair.id,
                a.recording_id,
                title(a.recording),
                b.recording_id,
                title(b.recording),
                pair.similarity,
                pair.decision,
            )
        )
    return out
