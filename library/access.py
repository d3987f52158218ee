"""The one access rule: who may see, stream or broadcast which recording, at the moment of use.

Every list, search, export, reel, feed and file route asks this module, in SQL (`permitted`,
and its forms `visible_recordings`, `visible_tracks`, `query_recordings`,
`broadcastable_clause`) or in Python for one loaded object (`may`, `can_see`, `can_see_track`,
`broadcastable`); tests prove both forms agree. The file route asks `media_file_for`, which
applies the same rule to a stored file's name. Nothing is cached: each request and command
asks again, so a withdrawal or a change of protocol holds from the next request on.

Three uses of a recording (`USES`):

- `show`: it is listed, found by search, exported, and has a page (its metadata and the text
  tracks the viewer may read);
- `stream`: its derived media are served (the web copy, waveform, peaks and poster; the
  original never), its page has a player, it may go into a reel's screen video;
- `broadcast`: it may go to loudspeakers (the loudspeaker copy, reels' loudspeaker MP3 and,
  later, playlists).

Who, by the recording's protocol (DESIGN.md, "Access"):

- `public` recordings: everyone.
- `village` recordings: residents and devices of the recording's village (and stewards who
  carry that village), never anyone of another village.
- `restricted` recordings: the stewards named on the recording.
- admins: everything.

Consent (`Consent`, scopes archive, stream and broadcast) narrows this. A consent "stands
withdrawn" when its person withdrew it and has not given that scope again since (a new row):

- archive withdrawn: the recording is hidden from everyone but admins, and is neither
  streamed nor broadcast (admins keep the metadata; the original stays in the archive);
- stream withdrawn: nothing of it reaches the public or the village: it is shown (metadata
  and readable tracks, no media) only to admins and to the stewards named on it whom the
  protocol admits, and streamed to nobody, admins included;
- broadcast withdrawn: it leaves the loudspeakers and reels at once; the site is unchanged.

Scopes are independent otherwise: a person may agree to the village loudspeakers and not to
the internet. Archive and stream need no consent on record (the protocol already bounds the
audience; a withdrawal takes them back), but broadcast does: at least one broadcast consent
not withdrawn, and only for `public` or `village` recordings (restricted songs are never
broadcast). With two singers, one withdrawing takes the song off at once, even though the
other still agrees. For broadcast the viewer (a village's device, a person making a reel) must
be admitted by the protocol; that a recording is shown to nobody on the site (stream
withdrawn) does not stop a broadcast its singers agreed to.

A text track is visible when its own protocol admits the viewer AND its recording is shown,
so a public lyrics track of a restricted recording stays hidden.

Anything not matched by a rule is denied: an unknown viewer kind or use is refused outright.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    exists,
    false,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

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
USES = ("show", "stream", "broadcast")
BROADCAST_PROTOCOLS = ("public", "village")


@dataclass(frozen=True)
class Viewer:
    """Who is asking: the public, a resident or device of a village, a named steward, an admin."""

    kind: str
    village: str | None = None
    name: str | None = None

    PUBLIC: ClassVar[Viewer]
    ADMIN: ClassVar[Viewer]

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
Viewer.ADMIN = Viewer("admin")


def _check_use(use: str) -> None:
    if use not in USES:
        raise ValueError(f"unknown use {use!r}; expected one of {USES}")


# --- the rule in SQL ----------------------------------------------------------------------------


def _protocol_rule(viewer: Viewer, protocol: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """Whether an item with `protocol` on the current Recording row admits `viewer` (not admin)."""
    rules: list[ColumnElement[bool]] = [protocol == "public"]
    if village := viewer._village:
        # Guarded in Python: comparing with None would compile to IS NULL and admit
        # every village item that has no village recorded.
        rules.append(and_(protocol == "village", Recording.village == village))
    if viewer._steward:
        rules.append(and_(protocol == "restricted", _stewarded_by(viewer)))
    return or_(*rules)


def _stewarded_by(viewer: Viewer) -> ColumnElement[bool]:
    """Whether the current Recording row names `viewer` as a steward."""
    if not (name := viewer._steward):
        return false()
    # Uncorrelated IN keeps the clause valid in any query that selects from recording.
    return Recording.id.in_(select(Steward.recording_id).where(Steward.name == name))


def _withdrawn(*scopes: str) -> ColumnElement[bool]:
    """Whether someone's consent of one of `scopes` stands withdrawn on the current Recording row.

    Withdrawn and not given again since by the same person for the same scope (a new row).
    """
    gone, again = aliased(Consent), aliased(Consent)
    # Uncorrelated, like the steward rule: SQLite works the list out once per statement.
    standing = select(gone.recording_id).where(
        gone.scope.in_(scopes),
        gone.withdrawn_at.is_not(None),
        ~exists(
            select(again.id).where(
                again.recording_id == gone.recording_id,
                again.scope == gone.scope,
                again.person == gone.person,
                again.withdrawn_at.is_(None),
            )
        ),
    )
    return Recording.id.in_(standing)


def _broadcast_consented() -> ColumnElement[bool]:
    """Whether the current Recording row has a broadcast consent that is not withdrawn."""
    return Recording.id.in_(
        select(Consent.recording_id).where(
            Consent.scope == "broadcast", Consent.withdrawn_at.is_(None)
        )
    )


def permitted(viewer: Viewer, use: str) -> ColumnElement[bool]:
    """A WHERE clause over `Recording` admitting the recordings `viewer` may put to `use`.

    `use` is one of `USES`; the rule is the module docstring's.
    """
    _check_use(use)
    admin = viewer.kind == "admin"
    if use == "broadcast":
        return and_(
            true() if admin else _protocol_rule(viewer, Recording.protocol),
            Recording.protocol.in_(BROADCAST_PROTOCOLS),
            _broadcast_consented(),
            ~_withdrawn("archive", "broadcast"),
        )
    shown = (
        true()
        if admin
        else and_(
            _protocol_rule(viewer, Recording.protocol),
            ~_withdrawn("archive"),
            or_(~_withdrawn("stream"), _stewarded_by(viewer)),
        )
    )
    if use == "show":
        return shown
    return and_(shown, ~_withdrawn("archive", "stream"))


def visible_recordings(viewer: Viewer) -> ColumnElement[bool]:
    """A WHERE clause over `Recording` admitting exactly the recordings `viewer` may see."""
    return permitted(viewer, "show")


def visible_tracks(viewer: Viewer) -> ColumnElement[bool]:
    """A WHERE clause over `TextTrack`: its own protocol admits `viewer` and its recording is shown."""
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


def query_recordings(viewer: Viewer) -> Select[Recording]:
    """`select(Recording)` restricted to what `viewer` may see; add filters and order to it."""
    return select(Recording).where(visible_recordings(viewer))


def broadcastable_clause() -> ColumnElement[bool]:
    """A WHERE clause over `Recording` admitting recordings that may be broadcast (to anyone
    the protocol admits: the consent half of the rule)."""
    return permitted(Viewer.ADMIN, "broadcast")


# --- the rule in Python, for one loaded recording ------------------------------------------------


def _admits(viewer: Viewer, protocol: str, recording: Recording) -> bool:
    """The Python twin of `_protocol_rule`."""
    if protocol == "public":
        return True
    if protocol == "village":
        return viewer._village is not None and recording.village == viewer._village
    if protocol == "restricted":
        return _names_steward(viewer, recording)
    return False


def _names_steward(viewer: Viewer, recording: Recording) -> bool:
    """The Python twin of `_stewarded_by`."""
    name = viewer._steward
    return name is not None and any(s.name == name for s in recording.stewards)


def withdrawn_scopes(consents: Iterable[Consent]) -> set[str]:
    """The scopes in which someone's consent stands withdrawn (the Python twin of `_withdrawn`)."""
    consents = list(consents)
    given = {(c.person, c.scope) for c in consents if c.withdrawn_at is None}
    return {
        c.scope for c in consents if c.withdrawn_at is not None and (c.person, c.scope) not in given
    }


def may(viewer: Viewer, recording: Recording, use: str) -> bool:
    """Whether `viewer` may put this loaded recording to `use` (the same rule as `permitted`).

    Reads the recording's protocol, village, stewards and consents as loaded now.
    """
    _check_use(use)
    admin = viewer.kind == "admin"
    withdrawn = withdrawn_scopes(recording.consents)
    if use == "broadcast":
        return (
            (admin or _admits(viewer, recording.protocol, recording))
            and recording.protocol in BROADCAST_PROTOCOLS
            and any(c.scope == "broadcast" and c.withdrawn_at is None for c in recording.consents)
            and not withdrawn & {"archive", "broadcast"}
        )
    shown = admin or (
        _admits(viewer, recording.protocol, recording)
        and "archive" not in withdrawn
        and ("stream" not in withdrawn or _names_steward(viewer, recording))
    )
    if use == "show":
        return shown
    return shown and not withdrawn & {"archive", "stream"}


def can_see(viewer: Viewer, recording: Recording) -> bool:
    """Whether `viewer` may see this loaded recording (the same rule as `visible_recordings`)."""
    return may(viewer, recording, "show")


def can_see_track(viewer: Viewer, track: TextTrack) -> bool:
    """Whether `viewer` may see this loaded text track (the same rule as `visible_tracks`)."""
    if viewer.kind == "admin":
        return True
    return can_see(viewer, track.recording) and _admits(viewer, track.protocol, track.recording)


def broadcastable(recording: Recording) -> bool:
    """Whether this loaded recording may be broadcast (the same rule as `broadcastable_clause`)."""
    return may(Viewer.ADMIN, recording, "broadcast")


def may_ever_broadcast(recording: Recording) -> bool:
    """Whether this recording could go to loudspeakers at all, so that a loudspeaker copy is
    worth making: its protocol allows broadcast.

    Consent is left out on purpose: it can be given (or given again) at any time, and is
    checked at the moment of use (`may(…, "broadcast")`); a restricted recording is never
    broadcast unless a person changes its protocol.
    """
    return recording.protocol in BROADCAST_PROTOCOLS


# --- files ------------------------------------------------------------------------------------

# Originals stay in the archive; pages stream the derived copies and show the pictures.
PUBLIC_KINDS = ("web", "waveform", "peaks", "poster")
_MEDIA_NAME = re.compile(r"^([0-9a-f]{64})(\.[a-z0-9]{1,5})?$")


@dataclass(frozen=True)
class ServedFile:
    """A stored file a viewer may fetch, and whether anyone at all may (then shared caches may
    keep it; otherwise only the viewer's own browser, revalidating each time)."""

    row: SegmentFile | MediaFile
    public: bool


def media_file_for(session: Session, viewer: Viewer, public_name: str) -> ServedFile | None:
    """The stored file `viewer` may fetch under `public_name` (its hash and extension), or None.

    Files of published covenants' clauses are public. A recording's file is served only when
    it is one of the `PUBLIC_KINDS` (never the original) and `viewer` may stream the
    recording now; it is public when the public may stream it. A name that is not a hash, a
    hidden file and a missing one all get None alike, so the answer never tells that a hidden
    file exists.
    """
    match = _MEDIA_NAME.match(public_name)
    if not match:
        return None
    sha256 = match.group(1)
    segment_file = session.scalar(
        select(SegmentFile)
        .join(Segment)
        .join(Clause)
        .join(CovenantVersion)
        .join(Covenant)
        .where(SegmentFile.sha256 == sha256, Covenant.published)
        .limit(1)
    )
    if segment_file is not None:
        return ServedFile(segment_file, public=True)
    found = session.execute(
        select(MediaFile, permitted(Viewer.PUBLIC, "stream").label("public"))
        .join(Recording)
        .where(
            MediaFile.sha256 == sha256,
            MediaFile.kind.in_(PUBLIC_KINDS),
            permitted(viewer, "stream"),
        )
        .order_by(MediaFile.id)
        .limit(1)
    ).first()
    return ServedFile(found[0], public=bool(found[1])) if found else None
