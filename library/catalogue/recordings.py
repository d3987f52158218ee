"""Recordings of Dong songs and drama: metadata, performers, consent and clause links.

The edits take the recording as a loaded `Recording` or by its id, so a command can pass on
the number a person typed. None of them touches the search index: the session's hook
(`library.search`) keeps it in step with whatever they write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..errors import LibraryError
from ..langs import TEXT_LANGS
from ..models import (
    CONSENT_SCOPES,
    PROTOCOLS,
    ROLES,
    ClauseSpan,
    Consent,
    Genre,
    NearDuplicate,
    Performer,
    Recording,
    RecordingPerformer,
    RecordingText,
    Steward,
    TextTrack,
    is_row_id,
    utcnow,
)

if TYPE_CHECKING:
    from ..store import MediaStore


@dataclass
class RecordingMeta:
    """Metadata a person gives when adding or editing a recording (None: leave as is)."""

    titles: dict[str, str] = field(default_factory=dict)  # lang → title
    descriptions: dict[str, str] = field(default_factory=dict)
    genre: str | None = None  # genre key or Chinese name
    village: str | None = None
    township: str | None = None
    date: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD
    occasion: str | None = None
    language: str | None = None
    performers: list[tuple[str, str]] = field(default_factory=list)  # (name, role)
    tags: list[str] | None = None
    notes: str | None = None
    protocol: str | None = None
    stewards: list[str] | None = None


def parse_date(text: str) -> tuple[int, int | None, int | None]:
    """'2019', '2019-07' or '2019-07-14' → (year, month, day) with the unknown parts None."""
    match = re.fullmatch(
        r"(\d{4})(?:[-./年](\d{1,2})(?:[-./月](\d{1,2})日?)?月?)?年?", text.strip()
    )
    if not match:
        raise LibraryError(
            f"日期格式应为 2019、2019-07 或 2019-07-14：{text!r} / date must be YYYY, YYYY-MM or YYYY-MM-DD: {text!r}"
        )
    year_text, month_text, day_text = match.groups()
    year = int(year_text)  # the year group is not optional
    month = int(month_text) if month_text else None
    day = int(day_text) if day_text else None
    try:
        date(year, month or 1, day or 1)
    except ValueError as exc:
        raise LibraryError(f"日期无效 / invalid date {text!r}: {exc}") from exc
    return year, month, day


def format_date(recording: Recording) -> str:
    """The date to the precision it is known: 2019, 2019-07 or 2019-07-14; '' when unknown."""
    parts = [recording.date_year, recording.date_month, recording.date_day]
    if parts[0] is None:
        return ""
    return "-".join(f"{p:02d}" if i else str(p) for i, p in enumerate(parts) if p is not None)


def parse_performer(spec: str) -> tuple[str, str]:
    """'吴培三:lead' → ('吴培三', 'lead'); the role defaults to lead."""
    name, sep, role = spec.replace("：", ":").rpartition(":")
    if not sep:
        name, role = spec, "lead"
    name, role = name.strip(), role.strip().lower() or "lead"
    if not name:
        raise LibraryError(f"演唱者姓名为空：{spec!r} / performer name is empty: {spec!r}")
    if role not in ROLES:
        raise LibraryError(
            f"角色 {role!r} 无效，可选：{', '.join(ROLES)} / unknown role {role!r}; choose: {', '.join(ROLES)}"
        )
    return name, role


def find_genre(session: Session, ref: str) -> Genre:
    """A genre by key or Chinese name, or an error listing the controlled list."""
    genre = session.scalar(select(Genre).where((Genre.key == ref) | (Genre.name_zh == ref)))
    if genre is None:
        names = ", ".join(
            f"{g.name_zh} ({g.key})"
            for g in session.scalars(select(Genre).order_by(Genre.position))
        )
        raise LibraryError(
            f"未知曲种 {ref!r}，可选：{names} / unknown genre {ref!r}; choose from: {names}"
        )
    return genre


# Everything a recording carries, loaded in a few queries rather than one per attribute.
LOAD_ALL = (
    selectinload(Recording.texts),
    selectinload(Recording.performers).selectinload(RecordingPerformer.performer),
    selectinload(Recording.files),
    selectinload(Recording.tracks).selectinload(TextTrack.lines),
    selectinload(Recording.spans),
    selectinload(Recording.consents),
    selectinload(Recording.stewards),
    selectinload(Recording.genre),
)


def get_recording(session: Session, recording_id: int) -> Recording:
    """A recording with everything it carries, or a clear error (also for an impossible id)."""
    recording = (
        session.scalar(select(Recording).where(Recording.id == recording_id).options(*LOAD_ALL))
        if is_row_id(recording_id)
        else None
    )
    if recording is None:
        raise LibraryError(f"找不到录音 {recording_id} / no recording {recording_id}")
    return recording


def _resolve(session: Session, recording: Recording | int) -> Recording:
    """The recording itself, or the one with this id (everything loaded), or a clear error."""
    return recording if isinstance(recording, Recording) else get_recording(session, recording)


def apply_meta(session: Session, recording: Recording | int, meta: RecordingMeta) -> Recording:
    """Write the given metadata onto a recording; fields left None stay as they are."""
    recording = _resolve(session, recording)
    for lang, value in meta.titles.items():
        _set_text(recording, "title", lang, value)
    for lang, value in meta.descriptions.items():
        _set_text(recording, "description", lang, value)
    if meta.genre is not None:
        genre = find_genre(session, meta.genre)
        recording.genre = genre
        recording.discourse = genre.discourse
    for attr in ("village", "township", "occasion", "language", "notes"):
        if (value := getattr(meta, attr)) is not None:
            setattr(recording, attr, value)
    if meta.date is not None:
        recording.date_year, recording.date_month, recording.date_day = parse_date(meta.date)
    if meta.tags is not None:
        recording.tags = sorted(set(meta.tags))
    if meta.protocol is not None:
        if meta.protocol not in PROTOCOLS:
            raise LibraryError(
                f"访问规则 {meta.protocol!r} 无效，可选：{', '.join(PROTOCOLS)} / unknown protocol; choose: {', '.join(PROTOCOLS)}"
            )
        recording.protocol = meta.protocol
    if meta.stewards is not None:
        recording.stewards = [Steward(name=n) for n in dict.fromkeys(meta.stewards)]
    for name, role in meta.performers:
        performer = session.scalar(
            select(Performer).where(Performer.name == name, Performer.village == recording.village)
        )
        if performer is None:
            performer = Performer(name=name, village=recording.village)
            session.add(performer)
        if not any(rp.performer is performer and rp.role == role for rp in recording.performers):
            recording.performers.append(RecordingPerformer(performer=performer, role=role))
    recording.updated_at = utcnow()
    return recording


def _set_text(recording: Recording, field_name: str, lang: str, value: str) -> None:
    if lang not in TEXT_LANGS:
        raise LibraryError(
            f"语言标签 {lang!r} 无效，可选：{', '.join(TEXT_LANGS)} / unknown language tag; choose: {', '.join(TEXT_LANGS)}"
        )
    for text in recording.texts:
        if text.field == field_name and text.lang == lang:
            text.value = value
            return
    recording.texts.append(RecordingText(field=field_name, lang=lang, value=value))


def title(recording: Recording, lang: str = "zh-Hans") -> str:
    """The recording's title in `lang`, else in any language, else its id."""
    titles = {t.lang: t.value for t in recording.texts if t.field == "title"}
    return titles.get(lang) or next(iter(titles.values()), f"#{recording.id}")


def add_consent(
    session: Session,
    recording: Recording | int,
    person: str,
    scope: str,
    *,
    given_on: str | None = None,
    evidence: tuple[str, str] | None = None,
    note: str = "",
) -> Consent:
    """Record a person's consent to a use (archive, stream or broadcast)."""
    recording = _resolve(session, recording)
    if scope not in CONSENT_SCOPES:
        raise LibraryError(
            f"授权范围 {scope!r} 无效，可选：{', '.join(CONSENT_SCOPES)} / unknown scope; choose: {', '.join(CONSENT_SCOPES)}"
        )
    if given_on:
        parse_date(given_on)
    consent = Consent(
        person=person,
        scope=scope,
        given_on=given_on,
        note=note,
        evidence_sha256=evidence[0] if evidence else None,
        evidence_path=evidence[1] if evidence else None,
    )
    recording.consents.append(consent)
    return consent


def record_consent(
    session: Session,
    store: MediaStore,
    recording: Recording | int,
    person: str,
    scope: str,
    *,
    given_on: str | None = None,
    evidence_file: Path | None = None,
    note: str = "",
) -> Consent:
    """`add_consent`, keeping the evidence (a photo of the signed form …) in the media store.

    The evidence is stored only once the consent itself is valid, so a refused consent
    leaves no file behind.
    """
    consent = add_consent(session, recording, person, scope, given_on=given_on, note=note)
    if evidence_file is not None:
        stored = store.put(Path(evidence_file), move=False)
        consent.evidence_sha256, consent.evidence_path = stored.sha256, stored.store_path
    return consent


def withdraw_consent(
    session: Session, recording: Recording | int, person: str, scope: str | None = None
) -> int:
    """Withdraw a person's consents (all scopes, or one); returns how many were withdrawn."""
    recording = _resolve(session, recording)
    count = 0
    for consent in recording.consents:
        if (
            consent.person == person
            and consent.withdrawn_at is None
            and scope in (None, consent.scope)
        ):
            consent.withdrawn_at = utcnow()
            count += 1
    if not count:
        raise LibraryError(
            f"{person} 没有可撤回的授权 / {person} has no consent to withdraw on #{recording.id}"
        )
    return count


def link_clause(
    session: Session,
    recording: Recording | int,
    clause_key: str,
    start_s: float,
    end_s: float,
    relation: str = "teaches",
    note: str = "",
) -> ClauseSpan:
    """Link a time-coded span of the recording to the covenant clause it teaches."""
    from ..models import Clause

    recording = _resolve(session, recording)
    if session.scalar(select(Clause.id).where(Clause.key == clause_key).limit(1)) is None:
        raise LibraryError(
            f"找不到条款 {clause_key!r}（见 kuanyue covenant show）/ no clause {clause_key!r} (see kuanyue covenant show)"
        )
    duration = next((f.duration_s for f in recording.files if f.kind == "original"), None)
    if not 0 <= start_s < end_s or (duration is not None and end_s > duration + 0.05):
        limit = f"0–{duration:.1f} s" if duration is not None else "≥ 0"
        raise LibraryError(
            f"片段 {start_s:.1f}–{end_s:.1f} 秒无效（录音长 {limit}）/ span {start_s:.1f}–{end_s:.1f} s is invalid (recording: {limit})"
        )
    span = ClauseSpan(
        clause_key=clause_key, start_s=start_s, end_s=end_s, relation=relation, note=note
    )
    recording.spans.append(span)
    return span


def parse_timecode(text: str) -> float:
    """'01:20', '1:02:05', '80' or '80.5' → seconds."""
    parts = text.strip().split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise LibraryError(
            f"时间格式应为 分:秒 或 秒：{text!r} / time must be MM:SS or seconds: {text!r}"
        ) from None
    seconds = 0.0
    for value in values:
        seconds = seconds * 60 + value
    return seconds


def save_genre(
    session: Session, key: str, name_zh: str, name_kmc: str | None = None, discourse: str = "song"
) -> Genre:
    """Add a genre to the controlled list, or rename an existing one (by key)."""
    if not re.fullmatch(r"[a-z0-9-]{2,40}", key):
        raise LibraryError(
            f"曲种代码只能用小写字母、数字和 - / genre key must be lower-case letters, digits, '-': {key!r}"
        )
    genre = session.scalar(select(Genre).where(Genre.key == key))
    if genre is None:
        position = (session.scalar(select(func.max(Genre.position))) or 0) + 1
        genre = Genre(key=key, position=position)
        session.add(genre)
    genre.name_zh, genre.name_kmc, genre.discourse = name_zh, name_kmc, discourse
    return genre


def near_duplicates(session: Session, *, pending_only: bool = True) -> list[NearDuplicate]:
    """Pairs of originals that sound like the same take, for a person to decide."""
    query = select(NearDuplicate).order_by(NearDuplicate.id)
    if pending_only:
        query = query.where(NearDuplicate.decision == "pending")
    return list(session.scalars(query))


def decide_near_duplicate(session: Session, pair_id: int, decision: str) -> NearDuplicate:
    """Record a person's decision on a pair: "same" take or "different"; nothing is deleted."""
    if decision not in ("same", "different", "pending"):
        raise LibraryError(
            f"决定只能是 same 或 different / decision must be same or different: {decision!r}"
        )
    pair = session.get(NearDuplicate, pair_id) if is_row_id(pair_id) else None
    if pair is None:
        raise LibraryError(f"找不到疑似重复 {pair_id} / no near-duplicate pair {pair_id}")
    pair.decision = decision
    pair.decided_at = None if decision == "pending" else utcnow()
    return pair
