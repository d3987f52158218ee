"""A covenant's pronunciation list: how its own words are said, kept across its versions.

A village's names, Dong words written in Chinese characters and terms the reader gets wrong
are listed once per covenant as word → reading, the reading being tone-numbered pinyin
("chong2 qing4") or Hanzi said in the word's place (media_pipeline.text.normalise_reading).
Every engine gets the list through the spoken text (espeak-ng's pinyin and gTTS's Chinese
alike), and a clause's render key holds only the entries whose word it contains, so changing
one reading re-renders only the clauses that say that word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import Database
from ..errors import LibraryError
from ..models import Covenant, Pronunciation
from .versions import get_covenant

if TYPE_CHECKING:
    from media_pipeline.text import PhraseReading


class PronunciationError(LibraryError):
    """A word or reading that cannot go on a pronunciation list, or a word not on it."""


@dataclass(frozen=True)
class SetReading:
    """A reading just set: the entry, what the reader now says, and the clauses it changes."""

    entry: Pronunciation
    said: str  # the Hanzi the engines are given in the word's place
    pinyin: str  # how espeak-ng says it (tone sandhi applied)
    clause_keys: tuple[str, ...]  # clauses of the current version that hold the word


def _checked(word: str, reading: str) -> tuple[str, str]:
    """The word and reading as stored, or PronunciationError saying what is wrong."""
    from media_pipeline.text import ReadingError, normalise_reading, normalise_word

    try:
        return normalise_word(word), normalise_reading(reading)
    except ReadingError as exc:
        raise PronunciationError(str(exc)) from exc


def set_pronunciation(session: Session, ref: str, word: str, reading: str) -> SetReading:
    """Add or change how `word` is said in the covenant `ref` (slug or id)."""
    from media_pipeline.text import pinyin_for_speech, readings_used, respell

    covenant = get_covenant(session, ref)
    word, reading = _checked(word, reading)
    entry = _entry(session, covenant, word)
    if entry is None:
        entry = Pronunciation(covenant_id=covenant.id, word=word, reading=reading)
        session.add(entry)
    else:
        entry.reading = reading
    session.flush()
    said = respell(reading)
    clauses = covenant.current.clauses if covenant.current else []
    keys = tuple(
        c.key for c in clauses if readings_used(f"{c.label}\n{c.text_zh}", [(word, reading)])
    )
    return SetReading(entry, said, pinyin_for_speech(said), keys)


def pronunciation_list(session: Session, ref: str) -> list[Pronunciation]:
    """The covenant's pronunciation list, by word."""
    covenant = get_covenant(session, ref)
    return list(
        session.scalars(
            select(Pronunciation)
            .where(Pronunciation.covenant_id == covenant.id)
            .order_by(Pronunciation.word)
        )
    )


def remove_pronunciation(session: Session, ref: str, word: str) -> Pronunciation:
    """Take `word` off the covenant's list (the reader says it its own way again)."""
    covenant = get_covenant(session, ref)
    word, _ = _checked(word, "a1")
    entry = _entry(session, covenant, word)
    if entry is None:
        listed = "、".join(p.word for p in pronunciation_list(session, ref)) or "（无 / none）"
        raise PronunciationError(
            f"{covenant.slug} 的读音表里没有 “{word}”，已有：{listed}"
            f" / {word!r} is not on the pronunciation list of {covenant.slug}; listed: {listed}"
        )
    session.delete(entry)
    session.flush()
    return entry


def readings_of(session: Session, covenant_id: int) -> tuple[tuple[str, str], ...]:
    """The covenant's list as plain (word, reading) pairs, for rendering and reading aloud."""
    rows = session.execute(
        select(Pronunciation.word, Pronunciation.reading)
        .where(Pronunciation.covenant_id == covenant_id)
        .order_by(Pronunciation.word)
    )
    return tuple((word, reading) for word, reading in rows)


def read_text(db: Database | None, text: str, ref: str | None = None) -> list[PhraseReading]:
    """Each phrase of `text` as a render would show, say and spell it in pinyin, with the
    pronunciation list of the covenant `ref` applied when one is named (`db` is needed then
    only: reading without a covenant opens no database)."""
    from media_pipeline.text import ReadingError, read_aloud

    readings: tuple[tuple[str, str], ...] = ()
    if ref is not None:
        if db is None:
            raise PronunciationError(
                "需要数据库才能查读音表 / a covenant's list needs the database"
            )
        with db.session() as session:
            readings = readings_of(session, get_covenant(session, ref).id)
    try:
        return read_aloud(text, readings)
    except ReadingError as exc:  # a stored entry the reader no longer accepts
        raise PronunciationError(str(exc)) from exc


def _entry(session: Session, covenant: Covenant, word: str) -> Pronunciation | None:
    return session.scalar(
        select(Pronunciation).where(
            Pronunciation.covenant_id == covenant.id, Pronunciation.word == word
        )
    )
