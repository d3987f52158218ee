"""Full-text search of the catalogue (SQLite FTS5, trigram), filtered by the access rule.

The index `recording_fts(title, lyrics, performers, places, notes)` holds two kinds of rows:

- the recording row, rowid = recording id: titles, performers, places and notes, and an
  empty `lyrics` column;
- one row per text track, rowid = -(recording_id << 32 | track_id): that track's lines in
  `lyrics` and nothing else.

Why text tracks have rows of their own: a track carries its own protocol, so its words may
only make a recording findable for viewers who may read that very track. A track row counts
only when `visible_tracks(viewer)` admits the track whose id is packed in the rowid; its
words are never copied into the recording row. A consumer who joins `recording_fts.rowid` to
`recording.id` by hand sees no track rows at all (their rowids are negative), so a careless
query can miss lyrics but cannot leak them. Snippets are cut from the same admitted rows.

Each column stores folded text (`fold_zh`), then a unit separator, then the Dong keys of its
Latin words (`fold_dong`, each wrapped as `_key_`), so Traditional or Simplified queries and
Dong with or without tone letters all meet the same row. Wrapping makes even a two-letter
syllable a trigram-searchable whole word ("_ga_"), so "Ga" finds "Kgal" but not "gang".

Queries: terms (whitespace-separated, or "quoted phrases") are folded the same way and ANDed;
a term of three characters or more uses FTS5 MATCH, a shorter one LIKE over the same columns.
Every term reaches FTS5 as one quoted string, so its syntax (NEAR, AND, `*`, `^`, `col:`,
parentheses) is only ever text to find. The plan is bounded (`read_query`): control
characters are dropped, the query is cut to `MAX_QUERY_CHARS`, each term to
`MAX_TERM_CHARS`, repeated terms count once and only the first `MAX_TERMS` are used; the
caller learns whether anything was cut, to say so.

Upkeep: the index follows every write by itself. A session hook (`_note_writes`,
`_reindex_after_flush`) notes the recordings each flush touched — their titles and
descriptions, performers, places, genre, tags, notes, text tracks and lines, and any renamed
genre or performer — and rewrites their rows in the same transaction, so the index commits or
rolls back with the change. No caller reindexes by hand; `index_recording` and
`rebuild_index` remain for repairs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TypedDict, Unpack

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    SQLColumnExpression,
    Subquery,
    and_,
    case,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
)
from sqlalchemy.orm import Session

from media_pipeline.hanzi import to_simplified

from .access import Viewer, visible_recordings, visible_tracks
from .langs import TEXT_LANGS
from .models import (
    ROW_ID_MAX,
    ClauseSpan,
    Genre,
    Recording,
    RecordingText,
    TextTrack,
)

FTS_TABLE = "recording_fts"
COLUMNS = ("title", "lyrics", "performers", "places", "notes")
# Column weights for ranking: a title hit outweighs a performer, a place, lyrics, then notes.
WEIGHTS = {"title": 10.0, "lyrics": 2.0, "performers": 5.0, "places": 3.0, "notes": 1.0}

# FTS5's ranking function with our column weights, in the form `rank MATCH` accepts.
_BM25 = "bm25(" + ", ".join(str(WEIGHTS[c]) for c in COLUMNS) + ")"
_fts = table(FTS_TABLE, column("rowid", Integer), *(column(c) for c in COLUMNS))
_KEYS = "\x1f"  # separates folded text from its Dong keys inside one column
_TRACK_BITS = 32
_TRACK_MASK = (1 << _TRACK_BITS) - 1
_TRIGRAM = 3  # FTS5's trigram tokenizer cannot MATCH fewer characters than this
# The bounds of a query (each term is a join of its own: SQLite allows 64 tables in one).
MAX_QUERY_CHARS = 200
MAX_TERMS = 16
MAX_TERM_CHARS = 40


# --- folding ----------------------------------------------------------------------------------


def fold_zh(text: str) -> str:
    """Traditional → Simplified (OpenCC t2s), full-width → half-width (NFKC), lower-case."""
    return to_simplified(unicodedata.normalize("NFKC", text)).casefold()


# Southern Dong orthography (1958) ends every syllable with a tone letter: l p c s t x v k h.
# Stop codas are spelt b, d, g, so a final p/t/k is always a tone, never a coda.
_TONE_LETTERS = frozenset("lpcstxvkh")
_VOWELS = frozenset("aeiou")
_LATIN_WORD = re.compile(r"[a-z]+")


def _dong_syllable(word: str) -> str:
    """The toneless key of one lower-case Latin word (see `fold_dong`)."""
    if word[-1] in _TONE_LETTERS and _VOWELS.intersection(word[:-1]):
        word = word[:-1]
    if word.startswith("kg"):
        word = word[1:]
    return word


def fold_dong(text: str) -> str:
    """Lower-case Latin Dong text and drop each syllable's tone letter: "Kgal Laox" → "ga lao".

    An approximation awaiting a Dong speaker's review:
    - a word's last letter is dropped when it is a tone letter (l p c s t x v k h) and a
      vowel precedes it, so "laox" → "lao", "nyenc" → "nyen", while "ga" and "lao" (written
      without tones) stay as they are;
    - a leading "kg" is read as "g": the 1958 scheme has no "kg" initial (g is /k/, k is /kʰ/),
      but the common published spelling "Kgal Laox" must meet "Ga Lao";
    - accents are removed (pinyin-style "Gā Lǎo"); Chinese text is only lower-cased.
    Pinyin and English words are folded too; that is harmless because queries fold alike,
    but it means "this" and "thi" meet.
    """
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _LATIN_WORD.sub(lambda m: _dong_syllable(m.group()), text)


def _dong_keys(folded: str) -> str:
    """The wrapped Dong keys of the Latin words in already folded text, e.g. "_ga_ _lao_"."""
    return " ".join(f"_{key}_" for key in _LATIN_WORD.findall(fold_dong(folded)))


def _index_value(parts: list[str | None]) -> str:
    """One column's stored text: folded text, then the Dong keys of its Latin words."""
    folded = fold_zh("\n".join(p for p in parts if p)).replace(_KEYS, " ")
    keys = _dong_keys(folded)
    return f"{folded}{_KEYS}{keys}" if keys else folded


# --- indexing ---------------------------------------------------------------------------------


def _track_rowid(recording_id: int, track_id: int) -> int:
    """The index rowid of a text track's row (negative; see the module docstring)."""
    return -((recording_id << _TRACK_BITS) | track_id)


def _delete_rows(session: Session, recording_id: int) -> None:
    """Remove a recording's row and all its track rows (including tracks since deleted)."""
    first, last = _track_rowid(recording_id, _TRACK_MASK), _track_rowid(recording_id, 0)
    session.execute(
        delete(_fts).where(
            or_(_fts.c.rowid == recording_id, _fts.c.rowid.between(first, last)),
        )
    )


def index_recording(session: Session, recording_id: int, *, new: bool = False) -> None:
    """(Re)write the index rows of one recording (deletes too).

    Every flush calls this for the recordings it touched (see "keeping the index in step"
    below); call it by hand only to repair an index written outside the library.
    `new`: the recording was just added, so it has no rows to remove (a scan saves the
    delete, which FTS5 makes a search of the whole index).
    """
    if session.get_bind().dialect.name != "sqlite":
        return  # the FTS5 table exists on SQLite only (migration 0002)
    if not new:
        _delete_rows(session, recording_id)
    rec = session.get(Recording, recording_id, populate_existing=not new)
    if rec is None:
        return
    genre = rec.genre
    values: dict[str, list[str | None]] = {
        "title": [t.value for t in rec.texts if t.field == "title"],
        "lyrics": [],
        "performers": [
            p for rp in rec.performers for p in (rp.performer.name, rp.performer.name_kmc)
        ],
        "places": [rec.village, rec.township],
        "notes": [
            *(t.value for t in rec.texts if t.field == "description"),
            rec.occasion,
            *(rec.tags or []),
            genre.name_zh if genre else None,
            genre.name_kmc if genre else None,
            rec.notes,
        ],
    }
    rows = [{"rowid": rec.id, **{k: _index_value(v) for k, v in values.items()}}]
    for track in rec.tracks:
        if track.lines:
            rows.append(
                {
                    "rowid": _track_rowid(rec.id, track.id),
                    **dict.fromkeys(COLUMNS, ""),
                    "lyrics": _index_value([line.text for line in track.lines]),
                }
            )
    session.execute(insert(_fts), rows)


def rebuild_index(session: Session) -> int:
    """Empty the index and index every recording again; returns how many were indexed."""
    session.execute(delete(_fts))
    ids = session.scalars(select(Recording.id)).all()
    for recording_id in ids:
        index_recording(session, recording_id)
    return len(ids)


# --- searching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    """One recording found: its id, titles, a snippet of matching text, and rank (lower is better)."""

    recording_id: int
    title: str
    snippet: str
    rank: float


@dataclass(frozen=True)
class _Term:
    """One query term, folded both ways."""

    text: str  # fold_zh form, matched as a substring
    key: str  # wrapped Dong keys ("_ga_"), matched as whole syllables; "" if not Latin

    @property
    def latin(self) -> bool:
        """Whether the term is Latin words only (then it is also matched by Dong key)."""
        return bool(self.key)


_QUERY_TERM = re.compile(r'"([^"]*)"|(\S+)')
_LATIN_ONLY = re.compile(r"[a-z]+(?:[\s'’-]+[a-z]+)*")


@dataclass(frozen=True)
class ParsedQuery:
    """A query's folded terms, within the bounds, and whether anything was cut to fit them."""

    terms: tuple[_Term, ...]
    cut: bool


def _printable(text: str) -> str:
    """`text` with control characters, lone surrogates and the like turned into spaces."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") else c for c in text)


def read_query(query: str) -> ParsedQuery:
    """Split a query into folded terms: words, or "quoted phrases", within the bounds."""
    query = query.strip()
    cut = len(query) > MAX_QUERY_CHARS
    folded = fold_zh(_printable(query[:MAX_QUERY_CHARS])).replace(_KEYS, " ")
    terms: dict[str, _Term] = {}  # by text: a repeated term adds nothing but cost
    for m in _QUERY_TERM.finditer(folded):
        text = " ".join((m.group(1) if m.group(1) is not None else m.group(2)).split())
        if len(text) > MAX_TERM_CHARS:
            text, cut = text[:MAX_TERM_CHARS].rstrip(), True
        if not text or text in terms:
            continue
        if len(terms) == MAX_TERMS:
            cut = True
            break
        latin = _LATIN_ONLY.fullmatch(fold_dong(text)) is not None
        terms[text] = _Term(text, _dong_keys(text) if latin else "")
    return ParsedQuery(tuple(terms.values()), cut)


def parse_query(query: str) -> list[_Term]:
    """The folded terms of a query (`read_query`'s, without saying whether it was cut)."""
    return list(read_query(query).terms)


def _clamp(value: int) -> int:
    """An integer filter or limit brought within what the database can bind."""
    return max(-ROW_ID_MAX, min(value, ROW_ID_MAX))


def _fts_string(text: str) -> str:
    """An FTS5 string literal: with trigrams, a quoted string matches as a substring."""
    return '"' + text.replace('"', '""') + '"'


def _like_pattern(text: str) -> str:
    """A LIKE pattern finding `text` anywhere, with wildcards in it escaped."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def _row_admitted(viewer: Viewer) -> ColumnElement[bool]:
    """Whether an index row may count for `viewer` (its recording's visibility is checked outside)."""
    packed = -_fts.c.rowid
    track_admitted = exists(
        select(TextTrack.id).where(
            TextTrack.id == packed.op("&")(_TRACK_MASK),
            TextTrack.recording_id == packed.op(">>")(_TRACK_BITS),
            visible_tracks(viewer),
        )
    )
    return or_(_fts.c.rowid > 0, track_admitted)


def _recording_of_row() -> ColumnElement[int]:
    """The recording id of an index row."""
    return case((_fts.c.rowid > 0, _fts.c.rowid), else_=(-_fts.c.rowid).op(">>")(_TRACK_BITS))


def _term_hits(term: _Term, viewer: Viewer) -> Subquery:
    """(rid, score) of recordings with an admitted row matching `term`; score: lower is better."""
    matches: list[str] = []  # FTS5 strings, ORed into one MATCH expression
    if len(term.text) >= _TRIGRAM:
        matches.append(_fts_string(term.text))
    if term.latin:
        matches.append(_fts_string(term.key))
    score: ColumnElement[float]
    if matches:
        expr = " OR ".join(matches)
        # The hidden `rank` column with its function set in the query: unlike bm25() itself,
        # it may be read through the grouping subquery below.
        score = literal_column(f"{FTS_TABLE}.rank")
        where = and_(
            literal_column(FTS_TABLE).op("MATCH")(expr),
            score.op("MATCH")(_BM25),
        )
    else:
        # Short non-Latin terms ("防火", "大歌"): LIKE over the same columns, scored by the
        # best column it occurs in, on a scale comparable with bm25's negative numbers.
        pattern = _like_pattern(term.text)
        hit = {c: _fts.c[c].like(pattern, escape="\\") for c in COLUMNS}
        score = case(
            *(
                (hit[c], -WEIGHTS[c])
                for c in sorted(COLUMNS, key=WEIGHTS.__getitem__, reverse=True)
            ),
            else_=0.0,
        )
        where = or_(*hit.values())
    rows = (
        select(_recording_of_row().label("rid"), score.label("score"))
        .select_from(_fts)
        .where(where, _row_admitted(viewer))
        .subquery()
    )
    return select(rows.c.rid, func.min(rows.c.score).label("score")).group_by(rows.c.rid).subquery()


class SearchFilters(TypedDict, total=False):
    """The filters of `search` other than the genre; an absent or None filter admits all."""

    village: str | None
    date_from: int | None
    date_to: int | None
    has_lyrics: bool | None
    protocol: str | None
    clause_key: str | None


def _filters(
    viewer: Viewer,
    *,
    genre: str | None = None,
    village: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    has_lyrics: bool | None = None,
    protocol: str | None = None,
    clause_key: str | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the search filters, always starting with the access filter."""
    where = [visible_recordings(viewer)]
    if genre is not None:
        genres = select(Genre.id).where(
            or_(Genre.key == genre, Genre.name_zh == genre, Genre.name_kmc == genre)
        )
        where.append(Recording.genre_id.in_(genres))
    if village is not None:
        where.append(Recording.village == village)
    if date_from is not None:
        where.append(Recording.date_year >= _clamp(date_from))
    if date_to is not None:
        where.append(Recording.date_year <= _clamp(date_to))
    if has_lyrics is not None:
        # Only lyrics the viewer may read count, or the filter would reveal hidden tracks.
        lyrics = exists(
            select(TextTrack.id).where(
                TextTrack.recording_id == Recording.id,
                TextTrack.kind == "lyrics",
                visible_tracks(viewer),
            )
        )
        where.append(lyrics if has_lyrics else not_(lyrics))
    if protocol is not None:
        where.append(Recording.protocol == protocol)
    if clause_key is not None:
        spans = select(ClauseSpan.recording_id).where(ClauseSpan.clause_key == clause_key)
        where.append(Recording.id.in_(spans))
    return where


def search_statement(
    query: str,
    viewer: Viewer,
    *,
    limit: int = 50,
    genre: str | None = None,
    **filters: Unpack[SearchFilters],
) -> Select[int, float]:
    """The SQL of `search`: (recording id, rank) rows, best first."""
    terms = [_term_hits(term, viewer) for term in read_query(query).terms]
    rank = sum((t.c.score for t in terms), start=literal(0.0))
    stmt = select(Recording.id, rank.label("rank"))
    for hits in terms:
        stmt = stmt.join(hits, hits.c.rid == Recording.id)
    return (
        stmt.where(*_filters(viewer, genre=genre, **filters))
        .order_by(rank, Recording.id)
        .limit(max(0, _clamp(limit)))
    )


def search(
    session: Session,
    query: str,
    viewer: Viewer,
    *,
    genre: str | None = None,
    village: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    has_lyrics: bool | None = None,
    protocol: str | None = None,
    clause_key: str | None = None,
    limit: int = 50,
) -> list[SearchHit]:
    """Recordings `viewer` may see that match every term of `query` and every filter given.

    An empty query lists the visible recordings that pass the filters, in id order. A query
    beyond the bounds is cut to them (`read_query` says whether it was).
    """
    stmt = search_statement(
        query,
        viewer,
        limit=limit,
        genre=genre,
        village=village,
        date_from=date_from,
        date_to=date_to,
        has_lyrics=has_lyrics,
        protocol=protocol,
        clause_key=clause_key,
    )
    found = session.execute(stmt).all()
    ids = [rid for rid, _ in found]
    titles = _titles(session, ids)
    snippets = _snippets(session, ids, parse_query(query), viewer)
    return [
        SearchHit(rid, titles.get(rid, ""), snippets.get(rid, ""), float(rank))
        for rid, rank in found
    ]


def _titles(session: Session, ids: list[int]) -> dict[int, str]:
    """Each recording's titles joined with " / ", Chinese first, then Dong."""
    rows = session.execute(
        select(RecordingText.recording_id, RecordingText.lang, RecordingText.value).where(
            RecordingText.recording_id.in_(ids), RecordingText.field == "title"
        )
    ).all()
    order = {lang: n for n, lang in enumerate(TEXT_LANGS)}
    by_id: dict[int, list[tuple[int, str, str]]] = {}
    for rid, lang, value in rows:
        by_id.setdefault(rid, []).append((order.get(lang, len(order)), lang, value))
    return {rid: " / ".join(v for *_, v in sorted(items)) for rid, items in by_id.items()}


# Where a snippet is cut from, first choice first (the title is shown separately anyway).
_SNIPPET_COLUMNS = ("lyrics", "notes", "performers", "places", "title")
_SNIPPET_CONTEXT = 16  # characters each side of the match


def _snippets(
    session: Session, ids: list[int], terms: list[_Term], viewer: Viewer
) -> dict[int, str]:
    """A short passage around the first term found, from rows `viewer` may read only."""
    if not ids or not terms:
        return {}
    cols = [_fts.c[c] for c in _SNIPPET_COLUMNS]
    own = select(_fts.c.rowid, *cols).where(_fts.c.rowid.in_(ids))
    tracks = (
        select(TextTrack.recording_id, *cols)
        .join(_fts, _fts.c.rowid == _track_row_of(TextTrack.recording_id, TextTrack.id))
        .where(TextTrack.recording_id.in_(ids), visible_tracks(viewer))
    )
    texts: dict[int, list[str]] = {rid: [] for rid in ids}
    for rid, *values in [*session.execute(tracks), *session.execute(own)]:
        texts[rid].extend(v.split(_KEYS, 1)[0] for v in values if v)
    result = {}
    for rid, candidates in texts.items():
        for text in candidates:
            if span := _locate(text, terms):
                result[rid] = _cut(text, *span)
                break
    return result


def _cut(text: str, start: int, end: int) -> str:
    """The match at `start:end` in brackets, with some context, on one line."""
    left = max(0, start - _SNIPPET_CONTEXT)
    right = min(len(text), end + _SNIPPET_CONTEXT)
    cut = f"{'…' if left else ''}{text[left:start]}[{text[start:end]}]{text[end:right]}"
    return " ".join((cut + ("…" if right < len(text) else "")).split())


def _track_row_of(
    recording_id: SQLColumnExpression[int], track_id: SQLColumnExpression[int]
) -> ColumnElement[int]:
    """`_track_rowid` in SQL."""
    return -(recording_id.op("<<")(_TRACK_BITS).op("|")(track_id))


def _locate(text: str, terms: list[_Term]) -> tuple[int, int] | None:
    """Where the first term occurs in folded `text`, as a substring or by Dong key."""
    for term in terms:
        if (at := text.find(term.text)) >= 0:
            return at, at + len(term.text)
    keys = {k.strip("_") for term in terms for k in term.key.split()}
    for m in _LATIN_WORD.finditer(text):
        if _dong_syllable(m.group()) in keys:
            return m.span()
    return None
