"""Demo: catalogue a few GENERATED recordings (clearly labelled), with lyrics, links and consent.

The recordings are synthetic — melodies made by ffmpeg and an espeak-ng voice — because this
project ships no real Dong recordings. Every title and note says so. Run again and nothing is
added twice.

    .venv/bin/python scripts/demo_catalogue.py [--folder DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from library.catalogue.copies import make_pending_copies
from library.catalogue.ingest import scan_folder
from library.catalogue.lyrics import add_track
from library.catalogue.recordings import (
    RecordingMeta,
    add_consent,
    apply_meta,
    get_recording,
    link_clause,
)
from library.db import open_database
from library.errors import LibraryError
from library.settings import load_config
from library.store import MediaStore
from media_pipeline.tools import DEFAULT_TOOLS

LABEL = "生成的测试素材，不是真实录音 / generated test material, not a real recording"
# A pentatonic tune (Hz, beats): a stand-in for a song, nothing more.
TUNE = [
    (392, 1),
    (440, 1),
    (523, 2),
    (440, 1),
    (392, 1),
    (330, 2),
    (392, 1),
    (440, 1),
    (392, 1),
    (330, 1),
    (294, 2),
    (330, 1),
    (392, 1),
    (440, 2),
]
BEAT_S = 0.6


def melody_graph(repeats: int) -> str:
    """An aevalsrc expression playing TUNE `repeats` times with a soft envelope per note."""
    notes = TUNE * repeats
    terms, t = [], 0.0
    for freq, beats in notes:
        d = beats * BEAT_S
        env = f"between(t,{t:.2f},{t + d:.2f})*exp(-2*(t-{t:.2f}))"
        terms.append(f"{env}*(sin(2*PI*{freq}*t)+0.3*sin(4*PI*{freq}*t))")
        t += d
    return f"aevalsrc='0.3*({'+'.join(terms)})':s=44100:d={t:.2f}"


def lyrics_file(folder: Path) -> Path:
    """The demo song's lyrics, kept beside (not inside) the scanned folder."""
    return folder.with_name(folder.name + "-lyrics") / "防火歌（生成）.lrc"


def make_media(folder: Path) -> None:
    """Write the demo recordings into `folder` (skipping those already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    song = folder / "防火歌（生成）.m4a"
    if not song.exists():
        DEFAULT_TOOLS.ffmpeg(
            "-f", "lavfi", "-i", melody_graph(3), "-c:a", "aac", "-b:a", "96k", f"file:{song}"
        )
    drama = folder / "侗戏片段（生成）.mp4"
    if not drama.exists():
        DEFAULT_TOOLS.ffmpeg(
            "-f",
            "lavfi",
            "-i",
            melody_graph(2),
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25",
            "-shortest",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
            f"file:{drama}",
        )
    drinking = folder / "酒歌（生成）.mp3"
    if not drinking.exists():
        DEFAULT_TOOLS.ffmpeg(
            "-f",
            "lavfi",
            "-i",
            melody_graph(2),
            "-af",
            "asetrate=44100*1.12,aresample=44100",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            f"file:{drinking}",
        )
    lyrics = lyrics_file(folder)
    if not lyrics.exists():
        lyrics.parent.mkdir(parents=True, exist_ok=True)
        step = BEAT_S * 18  # one pass of the tune
        lyrics.write_text(
            "\n".join(
                f"[{int(t // 60):02d}:{t % 60:05.2f}]{line}"
                for t, line in zip(
                    (0.0, step, 2 * step),
                    (
                        "领：夜里火塘要熄灭（示意歌词）",
                        "合：鸣锣喊寨保平安（示意歌词）",
                        "领：柴草莫堆木楼旁（示意歌词）",
                    ),
                    strict=True,
                )
            )
            + "\n",
            encoding="utf-8",
        )


def main(argv: list[str] | None = None) -> int:
    """Generate, scan and describe the demo recordings."""
    config = load_config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=config.home / "demo-recordings")
    parser.add_argument("--clause", default="rongxi-01", help="clause the demo song teaches")
    args = parser.parse_args(argv)
    make_media(args.folder)
    db = open_database(config.database_url_resolved)
    store = MediaStore(config.media_dir)
    defaults = RecordingMeta(
        village="榕溪村",
        township="（虚构）",
        notes=LABEL,
        protocol="public",
        tags=["生成的测试素材"],
    )
    report = scan_folder(db, store, args.folder, workers=config.workers, defaults=defaults)
    added = [line for line in report.lines if line.status == "added"]
    copies = make_pending_copies(db, store, workers=config.workers)
    print(
        f"demo recordings: added {len(added)}, unchanged {report.count('unchanged')}, "
        f"refused {report.count('refused')}; copies made {copies.count('done')},"
        f" failed {copies.count('failed')}"
    )
    genres = {"防火歌": "大歌", "侗戏片段": "侗戏", "酒歌": "酒歌"}
    with db.session() as session:
        for line in added:
            recording = get_recording(session, line.recording_id)
            name = Path(line.path).stem.removesuffix("（生成）")
            title = f"{name}（生成的测试素材）"
            apply_meta(
                session, recording, RecordingMeta(titles={"zh-Hans": title}, genre=genres[name])
            )
            if name == "防火歌":
                add_track(recording, lyrics_file(args.folder), kind="lyrics", lang="zh-Hans")
                add_consent(session, recording, "示例歌师（虚构）", "broadcast", note=LABEL)
                try:
                    link_clause(session, recording, args.clause, 0.0, BEAT_S * 18 * 2)
                except (
                    LibraryError
                ) as exc:  # the sample covenant is not imported in this data directory
                    print(f"  (not linked: {exc})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
