"""`kuanyue catalogue …`: the catalogue of Dong song and drama recordings, from the shell.

Bringing recordings in (scan, add, import-sheet, copies) lives in web/cli/ingest.py; the
commands about one recording and about the whole catalogue are here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import ingest
from .common import State, friendly_errors, not_found, viewer_option
from .metadata import build_meta, meta_options

if TYPE_CHECKING:
    from library.access import Viewer


@click.group()
def catalogue() -> None:
    """侗歌与侗戏录音编目 / the catalogue of Dong song and drama recordings."""


for _command in (ingest.scan, ingest.add, ingest.import_sheet, ingest.copies):
    catalogue.add_command(_command)


# --- one recording: edit, show, link, consent, lyrics --------------------------------------------


@catalogue.command()
@click.argument("recording_id", type=int)
@meta_options
@click.pass_obj
@friendly_errors
def edit(state: State, recording_id: int, **values) -> None:  # noqa: ANN003
    """修改录音信息 / edit a recording's metadata."""
    from library.catalogue.recordings import apply_meta

    meta = build_meta(values)
    with state.db.session() as session:
        apply_meta(session, recording_id, meta)
    click.echo(f"已保存 / saved #{recording_id}")


@catalogue.command()
@click.argument("recording_id", type=int)
@viewer_option
@click.pass_obj
@friendly_errors
def show(state: State, recording_id: int, viewer: Viewer) -> None:
    """显示一个录音的全部信息（此身份可见的）/ show everything about a recording the viewer may see."""
    from library.catalogue.queries import recording_page
    from library.catalogue.recordings import format_date

    with state.db.session() as session:
        page = recording_page(session, viewer, recording_id)
        if page is None:
            raise click.ClickException(not_found(recording_id, viewer))
        r = page.recording
        click.secho(f"#{r.id}", bold=True)
        for t in sorted(r.texts, key=lambda t: (t.field, t.lang)):
            click.echo(f"  {t.field} [{t.lang}]: {t.value}")
        genre = (
            f"{r.genre.name_zh}"
            + (f" ({r.genre.name_kmc})" if r.genre and r.genre.name_kmc else "")
            if r.genre
            else "—"
        )
        click.echo(f"  曲种 genre: {genre} · {r.discourse}")
        place = " · ".join(p for p in (r.village, r.township) if p) or "—"
        click.echo(
            f"  地点 place: {place}   日期 date: {format_date(r) or '—'}   场合 occasion: {r.occasion or '—'}"
        )
        click.echo(
            f"  语言 language: {r.language}   访问 protocol: {r.protocol}"
            + (f" (stewards: {', '.join(s.name for s in r.stewards)})" if r.stewards else "")
        )
        for rp in r.performers:
            click.echo(f"  演唱者 performer: {rp.performer.name} ({rp.role})")
        if r.tags:
            click.echo(f"  标签 tags: {', '.join(r.tags)}")
        if r.notes:
            click.echo(f"  备注 notes: {r.notes}")
        for f in sorted(r.files, key=lambda f: f.kind):
            click.echo(_file_line(f))
        for track in page.tracks:
            click.echo(
                f"  文本 {track.kind} [{track.lang}, {track.format}, {track.protocol}]: {len(track.lines)} 行 lines"
            )
        for span in r.spans:
            click.echo(
                f"  条款 clause {span.clause_key}: {span.start_s:.1f}–{span.end_s:.1f} s ({span.relation})"
            )
        for c in r.consents:
            state_ = (
                f"已撤回 withdrawn {c.withdrawn_at:%Y-%m-%d}" if c.withdrawn_at else "有效 valid"
            )
            click.echo(f"  授权 consent: {c.person} · {c.scope} · {c.given_on or '—'} · {state_}")


def _file_line(f) -> str:  # noqa: ANN001 - a MediaFile
    extra = []
    if f.duration_s is not None:
        extra.append(f"{f.duration_s:.1f} s")
    if f.integrated_lufs is not None:
        peak = (
            f"TP {f.true_peak_dbtp:.1f} dBTP"
            if f.true_peak_dbtp is not None
            else f"peak {f.sample_peak_dbfs:.1f} dBFS"
        )
        extra.append(f"{f.integrated_lufs:.1f} LUFS, {peak}, LRA {f.loudness_range_lu:.1f}")
    if f.copies == "pending":
        extra.append("副本待做 copies waiting")
    elif f.copies == "failed":
        extra.append(f"副本失败 copies failed: {f.copies_error}")
    if f.leading_silence_s is not None:
        extra.append(f"silence {f.leading_silence_s:.1f}/{f.trailing_silence_s:.1f} s")
    if f.reencoded is not None and f.kind != "original":
        extra.append("re-encoded" if f.reencoded else "copied, not re-encoded")
    name = f" ({f.original_name})" if f.original_name else ""
    return f"  文件 {f.kind}{name}: {f.mime}, {f.size / 1024:.0f} KB, {'; '.join(extra)}"


@catalogue.command()
@click.argument("recording_id", type=int)
@click.option(
    "--clause", "clause_key", required=True, help="条款键 / clause key (kuanyue covenant show)"
)
@click.option("--from", "start", required=True, help="开始 / start (MM:SS or seconds)")
@click.option("--to", "end", required=True, help="结束 / end (MM:SS or seconds)")
@click.option(
    "--relation", type=click.Choice(["teaches", "mentions", "illustrates"]), default="teaches"
)
@click.option("--note", default="")
@click.pass_obj
@friendly_errors
def link(
    state: State, recording_id: int, clause_key: str, start: str, end: str, relation: str, note: str
) -> None:
    """把录音片段与条款关联 / link a span of a recording to the clause it teaches."""
    from library.catalogue.recordings import link_clause, parse_timecode

    with state.db.session() as session:
        span = link_clause(
            session,
            recording_id,
            clause_key,
            parse_timecode(start),
            parse_timecode(end),
            relation,
            note,
        )
        click.echo(
            f"#{recording_id} {span.start_s:.1f}–{span.end_s:.1f} s → {clause_key} ({relation})"
        )


@catalogue.command()
@click.argument("recording_id", type=int)
@click.option("--person", required=True, help="授权人 / the person consenting")
@click.option("--scope", type=click.Choice(["archive", "stream", "broadcast"]), help="范围 / scope")
@click.option("--date", "given_on", help="日期 / date given (YYYY-MM-DD)")
@click.option(
    "--evidence",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="凭证（签字表照片等）/ evidence (a photo of the signed form …)",
)
@click.option("--withdraw", is_flag=True, help="撤回此人的授权 / withdraw this person's consent")
@click.option("--note", default="")
@click.pass_obj
@friendly_errors
def consent(
    state: State,
    recording_id: int,
    person: str,
    scope: str | None,
    given_on: str | None,
    evidence: Path | None,
    withdraw: bool,
    note: str,
) -> None:
    """记录或撤回授权 / record or withdraw consent."""
    from library.catalogue.recordings import record_consent, withdraw_consent

    if withdraw:
        with state.db.session() as session:
            n = withdraw_consent(session, recording_id, person, scope)
        click.echo(
            f"已撤回 {n} 项授权，立即停止公开与广播 / withdrew {n} consent(s); effective at once"
        )
        return
    if scope is None:
        raise click.UsageError("需要 --scope / --scope is required (archive, stream, broadcast)")
    with state.db.session() as session:
        record_consent(
            session,
            state.store,
            recording_id,
            person,
            scope,
            given_on=given_on,
            evidence_file=evidence,
            note=note,
        )
    click.echo(f"已记录授权 / consent recorded: {person} · {scope}")


@catalogue.command()
@click.argument("recording_id", type=int)
@click.argument("action", type=click.Choice(["add", "list"]))
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--kind",
    type=click.Choice(["lyrics", "transcript", "translation"]),
    default="lyrics",
    show_default=True,
)
@click.option("--lang", default="kmc-Latn", show_default=True, help="zh-Hans, kmc-Latn or doc-Latn")
@click.option(
    "--protocol",
    type=click.Choice(["public", "village", "restricted"]),
    help="此文本的访问规则（默认同录音）/ this text's protocol (default: the recording's)",
)
@viewer_option
@click.pass_obj
@friendly_errors
def lyrics(
    state: State,
    recording_id: int,
    action: str,
    file: Path | None,
    kind: str,
    lang: str,
    protocol: str | None,
    viewer: Viewer,
) -> None:
    """歌词、记录与译文（LRC、WebVTT、SRT 或纯文本）；list 只列此身份可读的 / lyrics, transcripts,
    translations (LRC, WebVTT, SRT, plain); list shows those the viewer may read."""
    from library.catalogue.lyrics import attach_track
    from library.catalogue.queries import recording_page

    if action == "add":
        if file is None:
            raise click.UsageError("需要文件 / a FILE is required: lyrics ID add FILE")
        with state.db.session() as session:
            track = attach_track(
                session, recording_id, file, kind=kind, lang=lang, protocol=protocol
            )
            click.echo(
                f"已添加 / added {track.kind} [{track.lang}, {track.format}]: {len(track.lines)} 行 lines"
            )
        return
    with state.db.session() as session:
        page = recording_page(session, viewer, recording_id)
        if page is None:
            raise click.ClickException(not_found(recording_id, viewer))
        for track in page.tracks:
            click.secho(f"{track.kind} [{track.lang}, {track.format}, {track.protocol}]", bold=True)
            for line in track.lines:
                when = f"{line.start_s:7.2f}" if line.start_s is not None else "       "
                voice = f"({line.voice}) " if line.voice else ""
                click.echo(f"  {when}  {voice}{line.text}")


# --- the whole catalogue: search, export, genres, duplicates --------------------------------------


@catalogue.command()
@click.argument("query", required=False, default="")
@click.option("--genre", help="曲种 / genre")
@click.option("--village", help="村寨 / village")
@click.option("--from", "date_from", type=int, help="起始年份 / from year")
@click.option("--to", "date_to", type=int, help="截止年份 / to year")
@click.option("--has-lyrics", is_flag=True, default=None, help="只要有歌词的 / only with lyrics")
@click.option("--protocol", type=click.Choice(["public", "village", "restricted"]))
@click.option("--clause", "clause_key", help="关联的条款 / linked clause key")
@viewer_option
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_obj
@friendly_errors
def search(state: State, query: str, viewer: Viewer, limit: int, **filters) -> None:  # noqa: ANN003
    """检索：中文（简繁皆可）、侗文（有无声调字母皆可）/ search Chinese (either script) and Dong (with or without tone letters)."""
    from library.catalogue.queries import find_recordings

    with state.db.session() as session:
        found = find_recordings(session, query, viewer, limit=limit, **filters)
    if found.cut:
        click.echo(
            f"检索词太多或太长：只用了前 {found.max_terms} 个词、前 {found.max_chars} 个字 / "
            f"only the first {found.max_terms} words and {found.max_chars} characters were used",
            err=True,
        )
    for hit in found.hits:
        click.echo(f"#{hit.recording_id}\t{hit.title}\t{hit.snippet}")
    click.echo(f"共 {len(found.hits)} 条 / {len(found.hits)} found")


@catalogue.command()
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="写入文件 / write to a file",
)
@viewer_option
@click.pass_obj
@friendly_errors
def export(state: State, fmt: str, output: Path | None, viewer: Viewer) -> None:
    """导出目录（CSV 或 JSON），只含有权查看的内容 / export the catalogue, only what the viewer may see."""
    from library.catalogue.export import export_text
    from media_pipeline.files import atomic_output

    with state.db.session() as session:
        text = export_text(session, viewer, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    with atomic_output(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    click.echo(f"已导出 / exported to {output}", err=True)


@catalogue.command()
@click.option("--add", "key", help="新增或修改的曲种代码 / key of a genre to add or rename")
@click.option("--zh", "name_zh", help="中文名 / Chinese name")
@click.option("--kam", "name_kmc", help="侗文名 / Dong name (kmc-Latn)")
@click.option("--discourse", type=click.Choice(["song", "drama", "other"]), default="song")
@click.pass_obj
@friendly_errors
def genres(
    state: State, key: str | None, name_zh: str | None, name_kmc: str | None, discourse: str
) -> None:
    """曲种列表（可增改）/ the controlled list of genres (add or rename with --add)."""
    from library.catalogue.queries import genre_list
    from library.catalogue.recordings import save_genre

    if key and not name_zh:
        raise click.UsageError("需要 --zh / --zh is required with --add")
    with state.db.session() as session:
        if key:
            save_genre(session, key, name_zh, name_kmc, discourse)
        for g in genre_list(session):
            click.echo(f"{g.key}\t{g.name_zh}\t{g.name_kmc or ''}\t{g.discourse}")


@catalogue.command()
@click.option("--decide", "pair_id", type=int, help="对这一对作出决定 / decide on this pair")
@click.argument("decision", required=False, type=click.Choice(["same", "different", "pending"]))
@click.option("--all", "show_all", is_flag=True, help="也列出已决定的 / list decided pairs too")
@viewer_option
@click.pass_obj
@friendly_errors
def duplicates(
    state: State, pair_id: int | None, decision: str | None, show_all: bool, viewer: Viewer
) -> None:
    """疑似同一录音（指纹相近），由人决定，不会删除；只列此身份两首都看得到的 / possible same
    takes, for a person to decide; nothing is deleted; only pairs the viewer may see both of."""
    from library.access import can_see
    from library.catalogue.queries import duplicate_pairs
    from library.catalogue.recordings import decide_near_duplicate, get_recording

    if pair_id is not None and decision is None:
        raise click.UsageError("需要 same 或 different / say same or different: --decide ID same")
    with state.db.session() as session:
        if pair_id is not None:
            decide_near_duplicate(session, pair_id, decision)
        seen: dict[int, bool] = {}

        def visible(recording_id: int) -> bool:
            # The library's one rule (library/access.py) on each recording, asked once.
            if recording_id not in seen:
                seen[recording_id] = can_see(viewer, get_recording(session, recording_id))
            return seen[recording_id]

        hidden = 0
        for pair in duplicate_pairs(session, pending_only=not show_all):
            if not (visible(pair.recording_a) and visible(pair.recording_b)):
                hidden += 1
                continue
            click.echo(
                f"{pair.id}\t#{pair.recording_a} {pair.title_a} ~ #{pair.recording_b} {pair.title_b}"
                f"\t{pair.similarity:.0%}\t{pair.decision}"
            )
    if hidden:
        click.echo(
            f"另有 {hidden} 对此身份看不到（--as admin 可看全部）/ {hidden} more pair(s) hidden"
            " from this viewer (--as admin shows them)",
            err=True,
        )
