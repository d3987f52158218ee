"""A covenant's backgrounds: the village's own photo or video loop behind its clips.

Real ffmpeg, SQLite and espeak-ng; the pictures are made here with lavfi (no binaries kept).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from library.covenants.backgrounds import BackgroundError, clear_background, set_background
from library.covenants.rendering import RenderOptions, _plan, render_covenant
from library.covenants.versions import import_covenant
from tests.conftest import SMALL_COVENANT, make_library

ORANGE, GREEN = "0xd08030", "0x30c040"


def _picture(path: Path, colour: str, *, seconds: float | None = None) -> Path:
    """A flat-coloured photo (or, with `seconds`, a video loop) made by ffmpeg's lavfi."""
    source = f"color=c={colour}:s=640x360:r=10" + (f":d={seconds}" if seconds else "")
    frames = [] if seconds else ["-frames:v", "1"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, *frames,
                    "-pix_fmt", "yuv420p" if seconds else "rgb24", str(path)],
                   check=True)  # fmt: skip
    return path


def _import(db, tmp_path: Path, source_text: str = SMALL_COVENANT) -> str:
    source = tmp_path / "yanjiao.txt"
    source.write_text(source_text, encoding="utf-8")
    return import_covenant(db, source).covenant.slug


def test_the_render_key_counts_the_pictures_bytes_not_where_it_lies():
    from media_pipeline.jobs import ClauseJob

    job = ClauseJob("k", 1, "不得倒入河中", None, "村", "公约", "第一条", "环境卫生")
    shown = replace(job, background="/a/bridge.jpg", background_sha256="ab" * 32)
    moved = replace(shown, background="/b/elsewhere.jpg")
    other = replace(shown, background_sha256="cd" * 32)
    assert job.inputs_hash() != shown.inputs_hash() == moved.inputs_hash() != other.inputs_hash()


def test_the_migration_adds_the_table_to_an_older_database(tmp_path):
    from alembic import command

    from library.db import SCHEMA_HEAD, alembic_config, open_database

    path = tmp_path / "kuanyue.db"
    command.upgrade(alembic_config(f"sqlite:///{path}"), "0006")
    db = open_database(f"sqlite:///{path}")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_HEAD
        assert conn.execute(text("SELECT count(*) FROM covenant_background")).scalar() == 0
    db.engine.dispose()
    command.downgrade(alembic_config(f"sqlite:///{path}"), "0006")  # and back, cleanly


def test_backgrounds_are_chosen_per_topic_and_kept_across_versions(db, store, tmp_path):
    slug = _import(db, tmp_path)
    bridge = _picture(tmp_path / "bridge.jpg", ORANGE)
    pond = _picture(tmp_path / "pond.png", GREEN)
    whole = set_background(db, store, slug, bridge)
    assert whole.clause_keys == (f"{slug}-01", f"{slug}-02", f"{slug}-03")
    assert whole.kind == "background-image" and whole.source_name == "bridge.jpg"
    fire = set_background(db, store, slug, pond, topic="消防安全")
    assert fire.clause_keys == (f"{slug}-01", f"{slug}-02")  # 第三条 is 环境卫生
    assert bridge.exists()  # copied into the store, never moved: the photo is the worker's
    from library.store_gc import referenced

    assert {j.background for _, j in _plan(db, slug, None, RenderOptions())[0]} <= referenced(db)

    _import(db, tmp_path, SMALL_COVENANT.replace("200元", "300元"))  # version 2 keeps them
    jobs = [job for _, job in _plan(db, slug, None, RenderOptions(), store)[0]]
    from library.store import sha256_file

    shas = [job.background_sha256 for job in jobs]
    assert shas == [sha256_file(pond), sha256_file(pond), sha256_file(bridge)]
    assert all(job.background and store.root in Path(job.background).parents for job in jobs)
    # Audio-only renders never show it: their keys stay the pattern's.
    audio_only = _plan(db, slug, None, RenderOptions(video_sizes=()), store)[0]
    assert {job.background_sha256 for _, job in audio_only} == {None}

    assert clear_background(db, slug, topic="消防安全").clause_keys == (f"{slug}-01", f"{slug}-02")
    assert clear_background(db, slug).clause_keys == (f"{slug}-01", f"{slug}-02", f"{slug}-03")
    assert {job.background for _, job in _plan(db, slug, None, RenderOptions(), store)[0]} == {None}
    with pytest.raises(BackgroundError, match="没有设置背景.*no background"):
        clear_background(db, slug)
    with pytest.raises(BackgroundError, match="消防安全、环境卫生"):
        set_background(db, store, slug, bridge, topic="消防")  # a typo is shown the topics


def _fifo(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "photo.jpg")
    return tmp_path / "photo.jpg"


def _truncated(tmp_path: Path) -> Path:
    whole = _picture(tmp_path / "whole.jpg", ORANGE).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    return tmp_path / "cut.jpg"


def _song(tmp_path: Path) -> Path:
    song = tmp_path / "song.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=1", str(song)], check=True
    )
    return song


def _notes(tmp_path: Path) -> Path:
    (tmp_path / "notes.jpg").write_text("鼓楼的照片在相册里", encoding="utf-8")
    return tmp_path / "notes.jpg"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        pytest.param(_notes, "不是音频或视频文件 / .*not an audio or video file", id="text"),
        pytest.param(_song, "没有画面.*no picture", id="audio"),
        pytest.param(_truncated, "不完整或已损坏.*truncated or corrupt", id="truncated"),
        pytest.param(_fifo, "命名管道.*named pipe", id="fifo"),
    ],
)
def test_a_file_that_is_no_picture_is_refused_plainly(db, store, tmp_path, make, says):
    slug = _import(db, tmp_path)
    bad = make(tmp_path)
    with pytest.raises(BackgroundError) as caught:
        set_background(db, store, slug, bad)
    message = str(caught.value)
    assert message.startswith("背景须是照片或视频") and bad.name in message
    assert "a background must be a photo or a video" in message
    assert re.search(says, message), message
    assert not store.root.exists() or not list(store.root.rglob("*.*"))  # nothing stored


def _corner_colour(video: Path) -> np.ndarray:
    """Mean RGB of the bottom-right corner (no type there: only the background) at 1 s."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "1", "-i", str(video), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    frame = np.frombuffer(raw, np.uint8).reshape(720, 1280, 3)
    return frame[640:720, 1120:1280].reshape(-1, 3).mean(axis=0)


@pytest.mark.slow
def test_clips_render_over_the_chosen_background_and_only_changed_ones_again(tmp_path):
    from tests.test_render import current_segments

    config, db, store = make_library(tmp_path)
    slug = _import(db, tmp_path)
    options = RenderOptions(profiles=("web",), video_sizes=("16x9",))

    def render():  # noqa: ANN202
        report = render_covenant(db, store, slug, options, cache_dir=config.cache_dir, workers=2)
        assert not report.failed, report.failed
        return report

    def corners() -> dict[str, np.ndarray]:
        segments = current_segments(db, slug)
        return {k: _corner_colour(store.path(s.file("video-16x9").store_path))
                for k, s in segments.items()}  # fmt: skip

    render()
    first = {k: s.inputs_hash for k, s in current_segments(db, slug).items()}
    pattern = corners()
    assert all(c[2] > c[0] + 10 for c in pattern.values())  # indigo: blue over red

    set_background(db, store, slug, _picture(tmp_path / "bridge.jpg", ORANGE))
    loop = _picture(tmp_path / "fire-pond.mp4", GREEN, seconds=2)
    set_background(db, store, slug, loop, topic="消防安全")
    assert sorted(render().rendered) == [f"{slug}-01", f"{slug}-02", f"{slug}-03"]
    shown = corners()
    fire, rest = shown[f"{slug}-01"], shown[f"{slug}-03"]
    assert fire[1] > fire[0] + 10 and fire[1] > fire[2]  # the green loop's still, darkened
    assert rest[0] > rest[2] + 10  # the orange photo: red over blue, unlike the pattern
    assert np.abs(rest - pattern[f"{slug}-03"]).sum() > 30

    # Another picture for one topic: only its clauses are rendered again.
    set_background(db, store, slug, _picture(tmp_path / "drum-tower.png", "0x3050e0"),
                   topic="环境卫生")  # fmt: skip
    again = render()
    assert again.rendered == [f"{slug}-03"]
    assert sorted(again.skipped) == [f"{slug}-01", f"{slug}-02"]

    # Cleared: the pattern's clips match again, nothing is made, and they are the ones shown.
    clear_background(db, slug, topic="消防安全")
    clear_background(db, slug, topic="环境卫生")
    clear_background(db, slug)
    cleared = render()
    assert cleared.rendered == [] and cleared.synthesised == 0
    assert {k: s.inputs_hash for k, s in current_segments(db, slug).items()} == first
    assert all(np.abs(c - pattern[k]).sum() < 3 for k, c in corners().items())


def test_background_command(runner, tmp_path):
    source = tmp_path / "yanjiao.txt"
    source.write_text(SMALL_COVENANT, encoding="utf-8")
    assert runner.invoke("covenant", "import", source).exit_code == 0
    slug = "yanjiaocun"
    photo = _picture(tmp_path / "bridge.jpg", ORANGE)
    done = runner.invoke("covenant", "background", slug, photo, "--topic", "消防安全")
    assert done.exit_code == 0, done.output
    assert "bridge.jpg" in done.output and f"{slug}-01, {slug}-02" in done.output
    shown = runner.invoke("covenant", "show", slug).output
    assert "背景 / backgrounds: 消防安全 bridge.jpg" in shown
    refused = runner.invoke("covenant", "background", slug, _notes(tmp_path))
    assert refused.exit_code == 1 and "notes.jpg" in refused.output
    assert runner.invoke("covenant", "background", slug).exit_code == 2  # neither FILE nor --clear
    cleared = runner.invoke("covenant", "background", slug, "--clear", "--topic", "消防安全")
    assert cleared.exit_code == 0 and "background removed" in cleared.output
    assert "背景" not in runner.invoke("covenant", "show", slug).output
