"""SQLAlchemy 2 models of the content library (schema changes go through Alembic)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Timezone-aware now, stored as UTC."""
    return datetime.now(UTC)


# The largest row id SQLite's INTEGER (and PostgreSQL's bigint) can hold.
ROW_ID_MAX = 2**63 - 1


def is_row_id(value: object) -> bool:
    """Whether `value` could be a row's id: an int in 1 … 2**63-1.

    Lookups answer "not found" for anything else (a typed 99999999999999999999, a negative
    number) rather than handing the database a number it cannot bind.
    """
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= ROW_ID_MAX


class StoredFile:
    """The columns of a row naming a file in the content-addressed store, declared once.

    Shared by a segment's files and a recording's files; `library.store.file_row` fills them.
    """

    kind: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    store_path: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    duration_s: Mapped[float | None]
    integrated_lufs: Mapped[float | None]
    true_peak_dbtp: Mapped[float | None]
    loudness_range_lu: Mapped[float | None]

    @property
    def public_name(self) -> str:
        """The file's name in URLs: its hash plus extension."""
        suffix = self.store_path.rsplit(".", 1)[1] if "." in self.store_path else ""
        return f"{self.sha256}.{suffix}" if suffix else self.sha256


class Base(DeclarativeBase):
    """Declarative base with constraint names Alembic can refer to."""

    # Timestamps keep their zone so PostgreSQL (timestamptz) and SQLite agree.
    type_annotation_map = {datetime: DateTime(timezone=True)}
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Covenant(Base):
    """A village's covenant (村规民约); its text lives in versions."""

    __tablename__ = "covenant"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    village: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    published: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[CovenantVersion]] = relationship(
        back_populates="covenant", order_by="CovenantVersion.number", cascade="all, delete-orphan"
    )

    @property
    def current(self) -> CovenantVersion | None:
        """The newest version."""
        return self.versions[-1] if self.versions else None


class CovenantVersion(Base):
    """One imported text of a covenant; re-importing changed text adds a version."""

    __tablename__ = "covenant_version"
    __table_args__ = (UniqueConstraint("covenant_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    covenant_id: Mapped[int] = mapped_column(ForeignKey("covenant.id", ondelete="CASCADE"))
    number: Mapped[int]
    source_name: Mapped[str] = mapped_column(String(500))
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_format: Mapped[str] = mapped_column(String(20))
    encoding: Mapped[str] = mapped_column(String(40))
    preamble: Mapped[str] = mapped_column(Text, default="")
    dong_note: Mapped[str] = mapped_column(Text, default="")
    # What follows the last clause and belongs to none (signature, date, unnumbered 附则
    # sentences): shown with the covenant, never narrated.
    closing: Mapped[str] = mapped_column(Text, default="", server_default="")
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    covenant: Mapped[Covenant] = relationship(back_populates="versions")
    clauses: Mapped[list[Clause]] = relationship(
        back_populates="version", order_by="Clause.position", cascade="all, delete-orphan"
    )


class Clause(Base):
    """A clause of one covenant version; `key` is stable across versions."""

    __tablename__ = "clause"
    __table_args__ = (UniqueConstraint("version_id", "key"), Index("ix_clause_key", "key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("covenant_version.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    position: Mapped[int]
    number: Mapped[int]
    label: Mapped[str] = mapped_column(String(50))
    chapter: Mapped[str | None] = mapped_column(String(200))
    section: Mapped[str | None] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(50))
    # A person's choice of topic survives re-imports; a guessed one is guessed again.
    topic_edited: Mapped[bool] = mapped_column(default=False)
    text_zh: Mapped[str] = mapped_column(Text)
    text_dong: Mapped[str | None] = mapped_column(Text)
    penalty: Mapped[str | None] = mapped_column(Text)
    source_line: Mapped[int] = mapped_column(default=0)

    version: Mapped[CovenantVersion] = relationship(back_populates="clauses")
    segments: Mapped[list[Segment]] = relationship(
        back_populates="clause", order_by="Segment.id", cascade="all, delete-orphan"
    )


class Segment(Base):
    """Rendered media of one clause version for one set of render inputs."""

    __tablename__ = "segment"
    __table_args__ = (UniqueConstraint("clause_id", "inputs_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clause_id: Mapped[int] = mapped_column(ForeignKey("clause.id", ondelete="CASCADE"))
    inputs_hash: Mapped[str] = mapped_column(String(64), index=True)
    engine: Mapped[str] = mapped_column(String(30))
    voice: Mapped[str] = mapped_column(String(200))
    duration_s: Mapped[float]
    render_seconds: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    clause: Mapped[Clause] = relationship(back_populates="segments")
    files: Mapped[list[SegmentFile]] = relationship(
        back_populates="segment", order_by="SegmentFile.kind", cascade="all, delete-orphan"
    )

    def file(self, kind: str) -> SegmentFile | None:
        """The file of the given kind (e.g. 'video-16x9'), if rendered."""
        return next((f for f in self.files if f.kind == kind), None)


class SegmentFile(StoredFile, Base):
    """One file of a segment, stored content-addressed in the media store."""

    __tablename__ = "segment_file"
    __table_args__ = (UniqueConstraint("segment_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segment.id", ondelete="CASCADE"))

    segment: Mapped[Segment] = relationship(back_populates="files")


# --- catalogue of recordings (Dong song and drama) ---------------------------------------------

PROTOCOLS = ("public", "village", "restricted")
ROLES = ("lead", "chorus", "musician", "actor", "recorder")
TEXT_KINDS = ("lyrics", "transcript", "translation")
CONSENT_SCOPES = ("archive", "stream", "broadcast")
MEDIA_KINDS = ("original", "web", "loudspeaker", "waveform", "peaks", "poster")


class Genre(Base):
    """A genre from the editable controlled list (大歌 Kgal Laox, 琵琶歌, 侗戏 …)."""

    __tablename__ = "genre"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_kmc: Mapped[str | None] = mapped_column(String(100))
    discourse: Mapped[str] = mapped_column(String(20), default="song")  # song | drama | other
    position: Mapped[int] = mapped_column(default=0)


class Recording(Base):
    """A performance: who sang or played it, where, when, and who may hear it."""

    __tablename__ = "recording"

    id: Mapped[int] = mapped_column(primary_key=True)
    genre_id: Mapped[int | None] = mapped_column(ForeignKey("genre.id", ondelete="SET NULL"))
    discourse: Mapped[str] = mapped_column(String(20), default="song")
    village: Mapped[str | None] = mapped_column(String(200), index=True)
    township: Mapped[str | None] = mapped_column(String(200))
    # A date known to the year, the month or the day; the unknown parts stay NULL.
    date_year: Mapped[int | None]
    date_month: Mapped[int | None]
    date_day: Mapped[int | None]
    occasion: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(35), default="kmc")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    protocol: Mapped[str] = mapped_column(String(20), default="village", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    genre: Mapped[Genre | None] = relationship()
    texts: Mapped[list[RecordingText]] = relationship(
        back_populates="recording", cascade="all, delete-orphan"
    )
    performers: Mapped[list[RecordingPerformer]] = relationship(
        back_populates="recording", cascade="all, delete-orphan"
    )
    files: Mapped[list[MediaFile]] = relationship(
        back_populates="recording", cascade="all, delete-orphan"
    )
    tracks: Mapped[list[TextTrack]] = relationship(
        back_populates="recording", cascade="all, delete-orphan"
    )
    spans: Mapped[list[ClauseSpan]] = relationship(
        back_populates="recording", cascade="all, delete-orphan"
    )
    consents: Mapped[list[Consent]] = relationship(
        back_populates="recording", cascade="all, delete-orphan"
    )
    stewards: Mapped[list[Steward]] = relationship(
        back_populates="recording", cascade="all, delete-orphan"
    )


class RecordingText(Base):
    """A language-tagged title or description of a recording (zh-Hans, kmc-Latn, doc-Latn)."""

    __tablename__ = "recording_text"
    __table_args__ = (UniqueConstraint("recording_id", "field", "lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(20))  # title | description
    lang: Mapped[str] = mapped_column(String(35))
    value: Mapped[str] = mapped_column(Text)

    recording: Mapped[Recording] = relationship(back_populates="texts")


class Performer(Base):
    """A singer, musician, actor or the person who recorded."""

    __tablename__ = "performer"
    __table_args__ = (UniqueConstraint("name", "village"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    name_kmc: Mapped[str | None] = mapped_column(String(200))
    village: Mapped[str | None] = mapped_column(String(200))


class RecordingPerformer(Base):
    """A performer's role in one recording."""

    __tablename__ = "recording_performer"
    __table_args__ = (UniqueConstraint("recording_id", "performer_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    performer_id: Mapped[int] = mapped_column(ForeignKey("performer.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))  # lead | chorus | musician | actor | recorder

    recording: Mapped[Recording] = relationship(back_populates="performers")
    performer: Mapped[Performer] = relationship()


class MediaFile(StoredFile, Base):
    """A file of a recording: the original (never modified) or a derived copy, stored by hash."""

    __tablename__ = "media_file"
    __table_args__ = (UniqueConstraint("recording_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(
        String(20)
    )  # original | web | loudspeaker | waveform | peaks | poster
    original_name: Mapped[str | None] = mapped_column(String(500))
    container: Mapped[str | None] = mapped_column(String(100))
    reencoded: Mapped[bool | None]
    # An original's true peak is metered when its copies are made.
    sample_peak_dbfs: Mapped[float | None]
    leading_silence_s: Mapped[float | None]
    trailing_silence_s: Mapped[float | None]
    fingerprint: Mapped[str | None] = mapped_column(Text)  # Chromaprint raw values, comma-separated
    # ffprobe's raw JSON once the copies are made; until then the catalogue's libav reading
    # in the same shape (format.probed_by says which).
    probe: Mapped[dict | None] = mapped_column(JSON)
    # Originals only: whether their derived copies are pending, done or failed (and why).
    copies: Mapped[str | None] = mapped_column(String(10), index=True)
    copies_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    recording: Mapped[Recording] = relationship(back_populates="files")
    streams: Mapped[list[MediaStream]] = relationship(
        back_populates="media_file", order_by="MediaStream.index", cascade="all, delete-orphan"
    )


class MediaStream(Base):
    """One audio or video stream of a media file (real columns to filter on)."""

    __tablename__ = "media_stream"
    __table_args__ = (UniqueConstraint("media_file_id", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_file_id: Mapped[int] = mapped_column(ForeignKey("media_file.id", ondelete="CASCADE"))
    index: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10))  # audio | video
    codec: Mapped[str] = mapped_column(String(40))
    sample_rate: Mapped[int | None]
    channels: Mapped[int | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    fps: Mapped[float | None]

    media_file: Mapped[MediaFile] = relationship(back_populates="streams")


class TextTrack(Base):
    """Lyrics, a transcript or a translation, plain or time-synced, with its own protocol."""

    __tablename__ = "text_track"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # lyrics | transcript | translation
    lang: Mapped[str] = mapped_column(String(35))
    format: Mapped[str] = mapped_column(String(10))  # plain | lrc | vtt
    protocol: Mapped[str] = mapped_column(String(20), default="village")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    recording: Mapped[Recording] = relationship(back_populates="tracks")
    lines: Mapped[list[TextLine]] = relationship(
        back_populates="track", order_by="TextLine.position", cascade="all, delete-orphan"
    )


class TextLine(Base):
    """A line of a text track, with its time span when the source is time-synced."""

    __tablename__ = "text_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("text_track.id", ondelete="CASCADE"))
    position: Mapped[int]
    start_s: Mapped[float | None]
    end_s: Mapped[float | None]
    voice: Mapped[str | None] = mapped_column(String(20))  # lead | chorus
    text: Mapped[str] = mapped_column(Text)

    track: Mapped[TextTrack] = relationship(back_populates="lines")


class ClauseSpan(Base):
    """A time-coded span of a recording linked to the covenant clause it teaches."""

    __tablename__ = "clause_span"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    clause_key: Mapped[str] = mapped_column(String(100), index=True)
    start_s: Mapped[float]
    end_s: Mapped[float]
    relation: Mapped[str] = mapped_column(String(20), default="teaches")
    note: Mapped[str] = mapped_column(Text, default="")

    recording: Mapped[Recording] = relationship(back_populates="spans")


class Consent(Base):
    """A person's consent to a use of a recording, with evidence; withdrawable."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    person: Mapped[str] = mapped_column(String(200))
    given_on: Mapped[str | None] = mapped_column(String(10))  # ISO date
    scope: Mapped[str] = mapped_column(String(20))  # archive | stream | broadcast
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    evidence_path: Mapped[str | None] = mapped_column(String(200))
    withdrawn_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")

    recording: Mapped[Recording] = relationship(back_populates="consents")


class Steward(Base):
    """A named person who may see a restricted recording."""

    __tablename__ = "steward"
    __table_args__ = (UniqueConstraint("recording_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))

    recording: Mapped[Recording] = relationship(back_populates="stewards")


class ScannedFile(Base):
    """What a scan decided about a file on disk, so the next scan can skip it unchanged."""

    __tablename__ = "scanned_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    size: Mapped[int]
    mtime_ns: Mapped[int]
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))  # added | duplicate | refused
    reason: Mapped[str] = mapped_column(Text, default="")
    recording_id: Mapped[int | None] = mapped_column(
        ForeignKey("recording.id", ondelete="SET NULL")
    )
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)


class NearDuplicate(Base):
    """Two originals that sound like the same take; a person decides, nothing is deleted."""

    __tablename__ = "near_duplicate"
    __table_args__ = (UniqueConstraint("file_a_id", "file_b_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_a_id: Mapped[int] = mapped_column(ForeignKey("media_file.id", ondelete="CASCADE"))
    file_b_id: Mapped[int] = mapped_column(ForeignKey("media_file.id", ondelete="CASCADE"))
    similarity: Mapped[float]
    decision: Mapped[str] = mapped_column(
        String(20), default="pending"
    )  # pending | same | different
    decided_at: Mapped[datetime | None]


# --- work in progress, shared by processes -----------------------------------------------------


class WorkClaim(Base):
    """Work a running command has taken on (a clause render, a recording's copies, a file to
    catalogue), so that two commands sharing a data folder never do it twice at once.

    `owner` names the run's scratch folder, whose lock says whether the run is still alive
    (library.parallel.RunScratch); a dead run's claims are taken over.
    """

    __tablename__ = "work_claim"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # render | copies | catalogue
    key: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(64), index=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- how a covenant's own words are said -------------------------------------------------------


class Pronunciation(Base):
    """How one word of a covenant is said (pinyin with tone numbers, or Hanzi said in its
    place), kept across the covenant's versions and used by every speech engine."""

    __tablename__ = "pronunciation"
    __table_args__ = (UniqueConstraint("covenant_id", "word"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    covenant_id: Mapped[int] = mapped_column(ForeignKey("covenant.id", ondelete="CASCADE"))
    word: Mapped[str] = mapped_column(String(50))  # as matched: zh-Hans, half-width digits
    reading: Mapped[str] = mapped_column(String(300))  # "chong2 qing4" or Hanzi
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- what a covenant's clips are shown over -----------------------------------------------------


class CovenantBackground(StoredFile, Base):
    """A photo or video loop the clips of a covenant are shown over (darkened, slowly panned):
    one for the whole covenant (`topic` "") and one per topic, the topic's winning. Kept across
    the covenant's versions; the file is in the content-addressed store."""

    __tablename__ = "covenant_background"
    __table_args__ = (UniqueConstraint("covenant_id", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    covenant_id: Mapped[int] = mapped_column(ForeignKey("covenant.id", ondelete="CASCADE"))
    # "" rather than NULL for the whole covenant: a unique constraint treats NULLs as distinct.
    topic: Mapped[str] = mapped_column(String(50), default="")
    source_name: Mapped[str] = mapped_column(String(500))  # the file it was set from, as shown
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Reel(Base):
    """A stored teaching reel (a clause's card, then the recording span that sings it), for
    playlists; library/catalogue/reels.py makes it."""

    __tablename__ = "reel"
    __table_args__ = (UniqueConstraint("clause_key", "recording_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clause_key: Mapped[str] = mapped_column(String(100))
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    files: Mapped[list[ReelFile]] = relationship(
        back_populates="reel", order_by="ReelFile.id", cascade="all, delete-orphan"
    )

    def file(self, kind: str) -> ReelFile | None:
        """The stored file of this kind (`video` for screens, `audio-loudspeaker`)."""
        return next((f for f in self.files if f.kind == kind), None)


class ReelFile(StoredFile, Base):
    """One stored file of a reel."""

    __tablename__ = "reel_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    reel_id: Mapped[int] = mapped_column(ForeignKey("reel.id", ondelete="CASCADE"), index=True)

    reel: Mapped[Reel] = relationship(back_populates="files")


# --- places and devices (library/broadcast/models.py, imported so Base.metadata holds them) ---

from .broadcast import models as _broadcast_models  # noqa: E402, F401


class ChangeCount(Base):
    """One row counting the commits that changed content (library.changes): caches of what
    devices play are kept, in every process sharing the database, until it moves."""

    __tablename__ = "change_count"

    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(default=0)
