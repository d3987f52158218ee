"""The content-addressed media store and the database basics."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from library.db import SCHEMA_HEAD, open_database
from library.models import MediaFile, SegmentFile
from library.store import MediaStore, file_row
from media_pipeline.files import MadeFile


def test_put_names_files_by_hash_and_stores_once(tmp_path):
    store = MediaStore(tmp_path / "media")
    src = tmp_path / "a.MP3"
    src.write_bytes(b"same bytes")
    digest = hashlib.sha256(b"same bytes").hexdigest()
    first = store.put(src)
    assert first.store_path == f"{digest[:2]}/{digest}.mp3"
    assert not src.exists()  # moved, not copied
    again = tmp_path / "b.mp3"
    again.write_bytes(b"same bytes")
    second = store.put(again, move=False)
    assert second == first and again.exists()
    assert store.path(first.store_path).read_bytes() == b"same bytes"
    assert not list((tmp_path / "media").rglob("*.part"))


@pytest.mark.parametrize("row_type", [SegmentFile, MediaFile], ids=["segment", "recording"])
def test_file_row_stores_a_made_file_and_fills_either_row(tmp_path, row_type):
    """One helper turns a made file into a stored row, for rendered clauses and recordings alike."""
    store = MediaStore(tmp_path / "media")
    src = tmp_path / "out.opus"
    src.write_bytes(b"opus bytes")
    made = MadeFile("web", str(src), "audio/ogg", 3.5, -16.1, -1.2, 4.0, reencoded=True)
    row = file_row(store, made, row_type())
    assert (row.kind, row.mime, row.size, row.duration_s) == ("web", "audio/ogg", 10, 3.5)
    assert (row.integrated_lufs, row.true_peak_dbtp, row.loudness_range_lu) == (-16.1, -1.2, 4.0)
    assert store.path(row.store_path).read_bytes() == b"opus bytes" and not src.exists()
    assert row.public_name == f"{row.sha256}.opus"
    assert getattr(row, "reencoded", True) is True


def test_store_refuses_paths_outside(tmp_path):
    with pytest.raises(ValueError):
        MediaStore(tmp_path / "media").path("../../etc/passwd")


def test_database_is_migrated_and_in_wal_mode(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_HEAD
        tables = set(
            conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars()
        )
    assert {"covenant", "covenant_version", "clause", "segment", "segment_file"} <= tables
    open_database(db.url)  # a second open is a no-op


def test_read_only_database_gets_a_clear_error(tmp_path):
    from library.db import Database
    from library.errors import DatabaseError

    path = tmp_path / "k.db"
    open_database(f"sqlite:///{path}").engine.dispose()
    # SQLite's read-only mode refuses writes even to root, unlike file permissions.
    db = Database(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(DatabaseError, match="read-only"), db.session() as session:
        session.execute(text("CREATE TABLE x (a)"))


def test_schema_head_constant_matches_alembic():
    from alembic.script import ScriptDirectory

    from library.db import SCHEMA_HEAD, alembic_config

    assert (
        ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() == SCHEMA_HEAD
    )


def test_models_match_the_migrations(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from library.models import Base

    db = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # The full-text index is SQLite's own virtual table, made by hand in the migration.
    diff = [
        d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("recording_fts"))
    ]
    assert diff == []


def test_pipeline_errors_survive_the_trip_from_a_worker_process():
    import pickle

    from media_pipeline.errors import MediaError, ToolFailed, ToolMissing

    for error in (
        MediaError("/x.mp3", "corrupt", "cut short"),
        ToolFailed(["ffmpeg", "-i"], 1, "boom"),
        ToolMissing("ffmpeg", "apt-get install ffmpeg"),
    ):
        again = pickle.loads(pickle.dumps(error))
        assert (
            type(again) is type(error)
            and str(again) == str(error)
            and again.__dict__ == error.__dict__
        )
