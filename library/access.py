"""The one access filter: who may see which recordings and text tracks, and what may be broadcast.

Every list, search, export, reel, feed and file route asks this module, in SQL
(`visible_recordings`, `visible_tracks`, `query_recordings`) or in Python for one loaded object
(`can_see`, `can_see_track`); tests prove both forms agree. The file route asks
`media_file_for`, which applies the same rule to a stored file's name. The rule (DESIGN.md, "Access"):

- `public` items: everyone.
- `village` items: residents and devices of the recording's village (and stewards who carry
  that village), never anyone of another village.
- `restricted` items: the stewards named on the recording.
- admins: everything.

A text track is visible when its own protocol admits the viewer AND its recording is visible,
so a public lyrics track of a restricted recording stays hidden.

Anything not matched by a rule is denied: an unknown viewer kind is refused outright.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, exists, or_, select, true
from sqlalchemy.orm import Session

from .models import (
    Clause,
    Consent,
    Covenant,
    CovenantVersion,
    MediaFile,
    Recording,
    Segment,
    SegmentFile,
    Steward,
    TextTrack,
)

VIEWER_KINDS = ("public", "resident", "device", "steward", "admin")
# Kinds that belong to a village and so see that village's items.
_VILLAGE_KINDS = ("resident", "device", "steward")


@dataclass(frozen=True)
class Viewer:
    """Who is asking: the public, a resident or device of a village, a named steward, an admin."""

    kind: str
    village: str | None = None
    name: str | None = None

    PUBLIC: ClassVar[Viewer]

    def __post_init__(self) -> None:
        """Refuse unknown kinds, so a typo cannot become a new kind of access."""
        if self.kind not in VIEWER_KINDS:
            raise ValueError(f"unknown viewer kind {self.kind!r}; expected one of {VIEWER_KINDS}")

    @property
    def _village(self) -> str | None:
        """The village whose `village` items this viewer may see, if any."""
        return self.village if self.kind in _VILLAGE_KINDS and self.village else None

    @property
    def _steward(self) -> str | None:
        """The steward name under which this viewer sees restricted items, if any."""
        return self.name if self.kind == "steward" and self.name else None


Viewer.PUBLIC = Viewer("public")


def _protocol_rule(viewer: Viewer, protocol: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """Whether an item with `protocol` on the current Recording row admits `viewer` (not admin)."""
    rules: list[ColumnElement[bool]] = [protocol == "public"]
    if village := viewer._village:
        # Guarded in Python: comparing with None would compile to IS NULL and admit
        # every village item that has no village recorded.
        rules.append(and_(protocol == "village", Recording.village == village))
    if name := viewer._steward:
        # Uncorrelated IN keeps the clause valid in any query that selects from recording.
        stewarded = select(Steward.recording_id).where(Steward.name == name)
        rules.append(and_(protocol == "restricted", Recording.id.in_(stewarded)))
    return or_(*rules)


def visible_recordings(viewer: Viewer) -> ColumnElement[bool]:
    """A WHERE clause over `Recording` admitting exactly the recordings `viewer` may see."""
    if viewer.kind == "admin":
        return true()
    return _protocol_rule(viewer, Recording.protocol)


def visible_tracks(viewer: Viewer) -> ColumnElement[bool]:
    """A WHERE clause over `TextTrack`: its own protocol admits `viewer` and its recording is visible."""
    if viewer.kind == "admin":
        return true()
    # The recording is looked up inside the clause (never correlated to an outer `recording`),
    # so the clause means the same whether or not the caller joined the track's recording.
    return exists(
        select(Recording.id)
        .where(
            Recording.id == TextTrack.recording_id,
            visible_recordings(viewer),
            _protocol_rule(viewer, TextTrack.protocol),
        )
        .correlate_except(Recording)
    )


def _admits(viewer: Viewer, protocol: str, recording: Recording) -> bool:
    """The Python twin of `_protocol_rule`."""
    if protocol == "public":
        return True
    if protocol == "village":
        return viewer._village is not None and recording.village == viewer._village
    if protocol == "restricted":
        name = viewer._steward
        return name is not None and any(s.name == name for s in recording.stewards)
    return False


def can_see(viewer: Viewer, recording: Recording) -> bool:
    """Whether `viewer` may see this loaded recording (the same rule as `visible_recordings`)."""
    return viewer.kind == "admin" or _admits(viewer, recording.protocol, recording)


def can_see_track(viewer: Viewer, track: TextTrack) -> bool:
    """Whether `viewer` may see this loaded text track (the same rule as `visible_tracks`)."""
    if viewer.kind == "admin":
        return True
    return can_see(viewer, track.recording) and _admits(viewer, track.protocol, track.recording)


def query_recordings(viewer: Viewer) -> Select[Recording]:
    """`select(Recording)` restricted to what `viewer` may see; add filters and order to it."""
    return select(Recording).where(visible_recordings(viewer))


# --- files ------------------------------------------------------------------------------------

# Originals stay in the archive; pages stream the derived copies and show the pictures.
PUBLIC_KINDS = ("web", "waveform", "peaks", "poster")
_MEDIA_NAME = re.compile(r"^([0-9a-f]{64})(\.[a-z0-9]{1,5})?$")


def media_file_for(
    session: Session, viewer: Viewer, public_name: str
) -> SegmentFile | MediaFile | None:
    """The stored file `viewer` may fetch under `public_name` (its hash and extension), or None.

    Files of published covenants' clauses are public. A recording's file is served only when
    it is one of the `PUBLIC_KINDS` (never the original) and the recording passes
    `visible_recordings(viewer)`. A name that is not a hash, a hidden file and a missing one
    all get None alike, so the answer never tells that a hidden file exists.
    """
    match = _MEDIA_NAME.match(public_name)
    if not match:
        return None
    sha256 = match.group(1)
    return session.scalar(
        select(SegmentFile)
        .join(Segment)
        .join(Clause)
        .join(CovenantVersion)
        .join(Covenant)
        .where(SegmentFile.sha256 == sha256, Covenant.published)
        .limit(1)
    ) or session.scalar(
        select(MediaFile)
        .join(Recording)
        .where(
            MediaFile.sha256 == sha256,
            MediaFile.kind.in_(PUBLIC_KINDS),
            visible_recordings(viewer),
        )
        .limit(1)
    )


# --- broadcast --------------------------------------------------------------------------------
#
# A recording may go to loudspeakers (and have broadcast copies made) when
#   1. its protocol is `public` or `village` (restricted songs are never broadcast), and
#   2. at least one person has given consent with scope `broadcast` that is not withdrawn, and
#   3. nobody's broadcast consent stands withdrawn: a person who withdrew must give consent
#      again (a new Consent row) before the recording goes back on air.
# Rule 3 goes beyond "at least one consent": with two singers, one withdrawing must take the
# song off the loudspeakers at once, even though the other still agrees.

BROADCAST_PROTOCOLS = ("public", "village")


def broadcastable_clause() -> ColumnElement[bool]:
    """A WHERE clause over `Recording` admitting recordings that may be broadcast (rule above)."""
    withdrawn = Consent.__table__.alias("withdrawn")
    again = Consent.__table__.alias("again")
    still_withdrawn = (
        select(withdrawn.c.id)
        .where(
            withdrawn.c.recording_id == Recording.id,
            withdrawn.c.scope == "broadcast",
            withdrawn.c.withdrawn_at.is_not(None),
            ~exists(
                select(again.c.id).where(
                    again.c.recording_id == Recording.id,
                    again.c.scope == "broadcast",
                    again.c.person == withdrawn.c.person,
                    again.c.withdrawn_at.is_(None),
                )
            ),
        )
        .correlate(Recording)
    )
    return and_(
        Recording.protocol.in_(BROADCAST_PROTOCOLS),
        exists(
            select(Consent.id)
            .where(
                Consent.recording_id == Recording.id,
                Consent.scope == "broadcast",
                Consent.withdrawn_at.is_(None),
            )
            .correlate(Recording)
        ),
        ~exists(still_withdrawn),
    )


def broadcastable(recording: Recording) -> bool:
    """Whether this loaded recording may be broadcast (the same rule as `broadcastable_clause`)."""
    if recording.protocol not in BROADCAST_PROTOCOLS:
        return False
    consents = [c for c in recording.consents if c.scope == "broadcast"]
    active = {c.person for c in consents if c.withdrawn_at is None}
    withdrawn = {c.person for c in consents if c.withdrawn_at is not None}
    return bool(active) and withdrawn <= active
