"""SQLAlchemy 2 models of the content library (schema changes go through Alembic)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Index, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Timezone-aware now, stored as UTC."""
    return datetime.now(UTC)


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


class SegmentFile(Base):
    """One file of a segment, stored content-addressed in the media store."""

    __tablename__ = "segment_file"
    __table_args__ = (UniqueConstraint("segment_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segment.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    store_path: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    duration_s: Mapped[float | None]
    integrated_lufs: Mapped[float | None]
    true_peak_dbtp: Mapped[float | None]
    loudness_range_lu: Mapped[float | None]

    segment: Mapped[Segment] = relationship(back_populates="files")

    @property
    def public_name(self) -> str:
        """The file's name in URLs: its hash plus extension."""
        return self.sha256 + (
            "." + self.store_path.rsplit(".", 1)[1] if "." in self.store_path else ""
        )
