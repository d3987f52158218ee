"""Copies made after cataloguing: the pending queue, failures and retries, Ctrl-C, CLI, page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from library.catalogue.copies import (
    BATCH_MAX,
    BATCH_MEDIA_S,
    _Item,
    batches,
    make_pending_copies,
    waiting,
)
from library.catalogue.ingest import scan_folder
from library.models import MediaFile
from tests.recordings import make_recording

COPY_KINDS = {"web", "loudspeaker"}


def _kinds(db) -> dict[int, set[str]]:
    with db.session() as session:
        found: dict[int, set[str]] = {}
        for f in session.scalars(select(MediaFile)):
            found.setdefault(f.recording_id, set()).add(f.kind)
        return found


def _originals(db) -> dict[int, MediaFile]:
    with db.session() as session:
        rows = session.scalars(select(MediaFile).where(MediaFile.kind == "original")).all()
        return {f.recording_id: f for f in rows}


@pytest.fixture
def library(tmp_path, db, store):
    folder = tmp_path / "in"
    for i, freq in enumerate((330, 440, 550)):
        make_recording(folder / f"歌 {i}.wav", "wav", 1.0, freq=freq)
    report = scan_folder(db, store, folder, workers=1)
    assert report.count("added") == 3
    return db, store


def test_cataloguing_leaves_copies_pending_and_makes_none(library):
    db, _store = library
    assert all(kinds == {"original", "waveform", "peaks"} for kinds in _kinds(db).values())
    assert {f.copies for f in _originals(db).values()} == {"pending"}
    assert len(waiting(db)) == 3


def test_no_loudspeaker_copy_for_what_may_never_be_broadcast(library):
    """A restricted recording is never broadcast, so it gets a web copy and no loudspeaker one."""
    from library.models import Recording

    db, store = library
    with db.session() as session:
        session.get(Recording, 2).protocol = "restricted"
    make_pending_copies(db, store, workers=1)
    kinds = _kinds(db)
    assert "loudspeaker" not in kinds[2] and "web" in kinds[2]
    assert kinds[1] >= COPY_KINDS and kinds[3] >= COPY_KINDS


def test_a_failed_copy_is_recorded_and_retried_only_when_asked(library):
    db, store = library
    victim = _originals(db)[2]
    stored = store.path(victim.store_path)
    kept = stored.read_bytes()
    stored.unlink()  # a disk fault: the original has gone from the store

    report = make_pending_copies(db, store, workers=1)
    assert sorted((line.recording_id, line.status) for line in report.lines) == [
        (1, "done"), (2, "failed"), (3, "done"),
    ]  # fmt: skip
    (failed,) = [line for line in report.lines if line.status == "failed"]
    assert "file not found" in failed.reason and str(store.root) not in failed.reason
    originals = _originals(db)
    assert (originals[2].copies, originals[2].copies_error) == ("failed", failed.reason)
    assert _kinds(db)[2] == {"original", "waveform", "peaks"}  # nothing half-made
    assert make_pending_copies(db, store, workers=1).lines == []  # not retried unasked

    stored.write_bytes(kept)
    again = make_pending_copies(db, store, workers=1, retry_failed=True)
    assert [(line.recording_id, line.status) for line in again.lines] == [(2, "done")]
    assert _originals(db)[2].copies_error is None
    assert all(kinds >= COPY_KINDS for kinds in _kinds(db).values())


def test_ctrl_c_keeps_finished_copies_and_leaves_the_rest_pending(library):
    db, store = library

    def interrupt(line) -> None:  # noqa: ANN001
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_pending_copies(db, store, workers=1, progress=interrupt)
    states = sorted(f.copies for f in _originals(db).values())
    assert states == ["done", "pending", "pending"]
    for rid, kinds in _kinds(db).items():
        assert kinds >= COPY_KINDS or not (COPY_KINDS & kinds), rid
    assert not list(store.root.rglob("*.part"))
    make_pending_copies(db, store, workers=2)
    assert {f.copies for f in _originals(db).values()} == {"done"}


def test_scan_later_then_copies_on_the_command_line(runner, tmp_path):
    folder = tmp_path / "phone"
    make_recording(folder / "a.wav", "wav", 1.0)
    scan = runner.invoke("catalogue", "scan", str(folder), "--later", "--workers", "1")
    assert scan.exit_code == 0, scan.output
    assert "copies waiting: 1" in scan.output
    show = runner.invoke("catalogue", "show", "1", "--as", "admin")
    assert "副本待做 copies waiting" in show.output and "dBFS" in show.output
    made = runner.invoke("catalogue", "copies", "--workers", "1")
    assert made.exit_code == 0, made.output
    assert "✓ #1 a.wav" in made.output and "完成 done 1，失败 failed 0" in made.output
    show = runner.invoke("catalogue", "show", "1", "--as", "admin")
    assert "copies waiting" not in show.output and "LUFS" in show.output
    assert "no copies are waiting" in runner.invoke("catalogue", "copies").output


def test_scan_makes_the_copies_unless_told_later(runner, tmp_path):
    folder = tmp_path / "phone"
    make_recording(folder / "a.m4a", "m4a", 1.0)
    result = runner.invoke("catalogue", "scan", str(folder), "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "副本 / copies: 完成 done 1" in result.output


def test_the_page_says_the_copy_is_coming_and_serves_no_original(tmp_path, db, store, client):
    folder = tmp_path / "in"
    make_recording(folder / "a.wav", "wav", 1.0)
    from library.catalogue.recordings import RecordingMeta

    scan_folder(db, store, folder, workers=1, defaults=RecordingMeta(protocol="public"))
    page = client.get("/recordings/1").get_data(as_text=True)
    assert "data-copy-pending" in page and "<audio" not in page
    original = _originals(db)[1]
    assert client.get(f"/media/{original.public_name}").status_code == 404
    make_pending_copies(db, store, workers=1)
    page = client.get("/recordings/1").get_data(as_text=True)
    assert "data-copy-pending" not in page and "<audio" in page


def test_batches_share_runs_by_length_and_put_the_most_media_first():
    lengths = [5.0] * 40 + [60.0] * 20 + [170.0] * 10 + [3600.0]
    items = [_Item(i, i, f"r{i}", f"/s/{i}", s) for i, s in enumerate(lengths)]
    made = batches(items, workers=2)
    # Every recording exactly once.
    assert sorted(i.file_id for b in made for i in b) == list(range(len(items)))
    for batch in made:
        media = sum(i.duration_s for i in batch)
        assert len(batch) <= BATCH_MAX
        assert len(batch) == 1 or media <= BATCH_MEDIA_S  # only a lone recording runs over
    assert made[0] == (items[-1],)  # the hour-long one alone, and first
    totals = [sum(i.duration_s for i in b) for b in made]
    assert totals == sorted(totals, reverse=True)
    assert any(len(b) == BATCH_MAX for b in made)  # short recordings share their runs
    # Little to do: still some four batches per worker, so both workers have work.
    few = batches(items[:8], workers=2)
    assert len(few) >= 4
