"""A small catalogue written straight into the database, with stand-in files (no ffmpeg).

Three recordings (public, village, restricted), each with every kind of file a scan and its
copies make; a published covenant whose first clause has a rendered video and which the
public recording sings; lyrics; stewards; a broadcast consent. The files hold a few bytes
each, unique per recording and kind, so every hash names one file: the routes, the access
rule and the headers are what is tested, not the media. Builds in well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from library.models import (
    Clause,
    ClauseSpan,
    Consent,
    Covenant,
    CovenantVersion,
    MediaFile,
    Recording,
    RecordingText,
    Segment,
    SegmentFile,
    Steward,
    TextLine,
    TextTrack,
)
from library.store import MediaStore

VILLAGE = "榕溪村"
STEWARD = "杨秀珠"
SINGER = "吴培三"
CLAUSE = "rongxi-01"
SLUG = "rongxi"
TITLES = {"public": "蝉之歌", "village": "榕溪鼓楼歌", "restricted": "祭萨秘歌"}
LYRICS = {"public": "蝉鸣满山", "village": "鼓楼对唱", "restricted": "萨岁神坛"}
# kind → (suffix, mime); the poster is made for video only, but every recording has one
# here so that each kind can be asked for.
KINDS = {
    "original": (".wav", "audio/wav"),
    "web": (".m4a", "audio/mp4"),
    "loudspeaker": (".mp3", "audio/mpeg"),
    "waveform": (".png", "image/png"),
    "peaks": (".json", "application/json"),
    "poster": (".jpg", "image/jpeg"),
}
SERVED_KINDS = ("web", "waveform", "peaks", "poster")
ARCHIVE_KINDS = ("original", "loudspeaker")


@dataclass(frozen=True)
class StoredName:
    """What a test needs of a stored file: its URL name, hash and bytes."""

    public_name: str
    sha256: str
    data: bytes


@dataclass
class Small:
    """The ids of the catalogue's recordings and the names of their files."""

    ids: dict[str, int]
    files: dict[str, dict[str, StoredName]]  # recording key → kind → file
    clause_video: StoredName


def _put(store: MediaStore, folder: Path, name: str, suffix: str, data: bytes) -> tuple:
    path = folder / f"{name}{suffix}"
    path.write_bytes(data)
    entry = store.put(path)
    return entry, StoredName(
        f"{entry.sha256}{suffix}" if suffix else entry.sha256, entry.sha256, data
    )


def build_small_catalogue(db, store: MediaStore, folder: Path) -> Small:  # noqa: ANN001 - Database
    """Write the catalogue into `db` and `store` (stand-in files are made in `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, StoredName]] = {}
    ids: dict[str, int] = {}
    with db.session() as session:
        entry, clause_video = _put(store, folder, "clause", ".mp4", b"clause video " * 64)
        session.add(
            Covenant(
                slug=SLUG,
                village=VILLAGE,
                title=f"{VILLAGE}村规民约",
                versions=[
                    CovenantVersion(
                        number=1,
                        source_name="rongxi.txt",
                        source_sha256="0" * 64,
                        source_format="txt",
                        encoding="utf-8",
                        clauses=[
                            Clause(
                                key=CLAUSE,
                                position=1,
                                number=1,
                                label="第一条",
                                topic="消防安全",
                                text_zh="每晚鸣锣喊寨，提醒各家熄灭火塘。",
                                segments=[
                                    Segment(
                                        inputs_hash="1" * 64,
                                        engine="espeak",
                                        voice="cmn",
                                        duration_s=2.0,
                                        files=[
                                            SegmentFile(
                                                kind="video-16x9",
                                                sha256=entry.sha256,
                                                store_path=entry.store_path,
                                                mime="video/mp4",
                                                size=entry.size,
                                            )
                                        ],
                                    )
                                ],
                            )
                        ],
                    )
                ],
            )
        )
        for key, protocol in (
            ("public", "public"),
            ("village", "village"),
            ("restricted", "restricted"),
        ):
            rec = Recording(
                protocol=protocol,
                village=VILLAGE,
                texts=[RecordingText(field="title", lang="zh-Hans", value=TITLES[key])],
                tracks=[
                    TextTrack(
                        kind="lyrics",
                        lang="zh-Hans",
                        format="lrc",
                        protocol=protocol,
                        lines=[TextLine(position=0, start_s=0.5, end_s=1.5, text=LYRICS[key])],
                    )
                ],
                spans=[ClauseSpan(clause_key=CLAUSE, start_s=0.0, end_s=1.5)],
                stewards=[Steward(name=STEWARD)],
                consents=[Consent(person=SINGER, scope="broadcast")]
                if protocol != "restricted"
                else [],
            )
            files[key] = {}
            for kind, (suffix, mime) in KINDS.items():
                data = f"{key} {kind} ".encode() * 32
                entry, files[key][kind] = _put(store, folder, f"{key}-{kind}", suffix, data)
                rec.files.append(
                    MediaFile(
                        kind=kind,
                        sha256=entry.sha256,
                        store_path=entry.store_path,
                        mime=mime,
                        size=entry.size,
                        duration_s=2.0 if mime.startswith("audio/") else None,
                        copies="done" if kind == "original" else None,
                    )
                )
            session.add(rec)
            session.flush()
            ids[key] = rec.id
    return Small(ids, files, clause_video)
