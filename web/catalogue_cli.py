"""`kuanyue catalogue …`: the catalogue of Dong song and drama recordings, from the shell."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from .cli import State, friendly_errors, main

LANG_OPTIONS = (("title_zh", "zh-Hans"), ("title_kmc", "kmc-Latn"), ("title_doc", "doc-Latn"))


def meta_options(fn):  # noqa: ANN001, ANN201 - a click decorator
    """The metadata options shared by `add` and `edit`."""
    options = [
        click.option("--title-zh", help="中文标题 / Chinese title"),
        click.option(
            "--title-kam", "title_kmc", help="南部侗文标题 / Southern Dong title (kmc-Latn)"
        ),
        click.option("--title-doc", help="北部侗文标题 / Northern Dong title (doc-Latn)"),
        click.option("--description-zh", help="中文简介 / Chinese description"),
        click.option("--genre", help="曲种 / genre (大歌, 琵琶歌, 侗戏 … or its key)"),
        click.option("--village", help="村寨 / village"),
        click.option("--township", help="乡镇 / township"),
        click.option("--date", "date_", help="日期 / date: YYYY, YYYY-MM or YYYY-MM-DD"),
        click.option("--occasion", help="场合 / occasion"),
        click.option("--language", help="语言代码 / language code (default kmc)"),
        click.option(
            "--performer",
            "performers",
            multiple=True,
            help="演唱者:角色 / name:role (lead, chorus, musician, actor, recorder)",
        ),
        click.option("--tag", "tags", multiple=True, help="标签 / tag (repeatable)"),
        click.option("--notes", help="备注 / notes"),
        click.option(
            "--protocol",
            type=click.Choice(["public", "village", "restricted"]),
            help="访问规则 / access protocol",
        ),
        click.option(
            "--steward",
            "stewards",
            multiple=True,
            help="受限录音的管理人 / steward of a restricted recording",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_meta(values: dict):  # noqa: ANN201
    """RecordingMeta from the shared options (absent options change nothing)."""
    from library.catalogue.recordings import RecordingMeta, parse_performer

    return RecordingMeta(
        titles={lang: values[key] for key, lang in LANG_OPTIONS if values.get(key)},
        descriptions={"zh-Hans": values["description_zh"]} if values.get("description_zh") else {},
        genre=values.get("genre"),
        village=values.get("village"),
        township=values.get("township"),
        date=values.get("date_"),
        occasion=values.get("occasion"),
        language=values.get("language"),
        performers=[parse_performer(p) for p in values.get("performers", ())],
        tags=list(values["tags"]) if values.get("tags") else None,
        notes=values.get("notes"),
        protocol=values.get("protocol"),
        stewards=list(values["stewards"]) if values.get("stewards") else None,
    )


@main.group()
def catalogue() -> None:
    """侗歌与侗戏录音编目 / the catalogue of Dong song and drama recordings."""


_MARK = {
    "added": ("+", "green"),
    "updated": ("~", "green"),
    "unchanged": ("=", None),
    "duplicate": ("≡", "cyan"),
    "refused": ("×", "red"),
}


def _format_line(line) -> str:  # noqa: ANN001
    mark, colour = _MARK[line.status]
    rid = f" #{line.recording_id}" if line.recording_id else ""
    reason = f"  {line.reason}" if line.reason and line.status != "unchanged" else ""
    return click.style(f"{mark} {line.path}{rid}{reason}", fg=colour)


WORKERS_OPTION = click.option(
    "--workers", type=int, help="并行进程数 / parallel processes [KUANYUE_WORKERS]"
)
LATER_OPTION = click.option(
    "--later",
    is_flag=True,
    help="只编目，稍后用 `catalogue copies` 生成播放与广播副本 / catalogue only; make the web"
    " and loudspeaker copies later with `catalogue copies`",
)


def _interrupted(what: str) -> NoReturn:
    click.secho(f"\n{what}", fg="yellow", err=True)
    sys.exit(130)


def _make_copies(
    state: State,
    workers: int | None,
    *,
    quiet: bool = False,
    retry_failed: bool = False,
    recording_ids: list[int] | None = None,
) -> bool:
    """Make the pending copies with a progress bar, then one summary line; False if none."""
    from tqdm import tqdm

    from library.catalogue.copies import FAILED, make_pending_copies, waiting

    todo = waiting(state.db, recording_ids, retry_failed=retry_failed)
    if not todo:
        return False
    bar = tqdm(total=len(todo), unit="个", desc="副本 / copies", disable=None, file=sys.stderr)

    def progress(line) -> None:  # noqa: ANN001
        bar.update(1)
        if line.status == FAILED or not quiet:
            with bar.external_write_mode():
                mark, colour = ("×", "red") if line.status == FAILED else ("✓", "green")
                reason = f"  {line.reason}" if line.reason else ""
                click.secho(f"{mark} #{line.recording_id} {line.name}{reason}", fg=colour)

    try:
        report = make_pending_copies(
            state.db,
            state.store,
            workers=workers or state.config.workers,
            recording_ids=recording_ids,
            retry_failed=retry_failed,
            progress=progress,
            tools=state.config.tools,
        )
    except KeyboardInterrupt:
        bar.close()
        _interrupted(
            "已中断：已完成的副本已保存，其余待 `kuanyue catalogue copies` 继续。 / Interrupted:"
            " finished copies are saved; `kuanyue catalogue copies` makes the rest."
        )
    bar.close()
    click.echo(
        f"副本 / copies: 完成 done {report.count('done')}，失败 failed {report.count(FAILED)}；"
        f"{report.seconds:.1f} s"
        + ("（`catalogue copies --retry` 重试 / to retry）" if report.count(FAILED) else "")
    )
    return True


@catalogue.command()
@WORKERS_OPTION
@click.option("--retry", is_flag=True, help="也重试失败的 / also retry those that failed")
@click.option("--quiet", is_flag=True, help="只显示摘要与问题 / only the summary and problems")
@click.pass_obj
@friendly_errors
def copies(state: State, workers: int | None, retry: bool, quiet: bool) -> None:
    """生成待做的播放与广播副本 / make the pending web and loudspeaker copies."""
    if not _make_copies(state, workers, quiet=quiet, retry_failed=retry):
        click.echo("没有待做的副本 / no copies are waiting")


@catalogue.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@WORKERS_OPTION
@LATER_OPTION
@click.option("--quiet", is_flag=True, help="只显示摘要与问题 / only the summary and problems")
@meta_options
@click.pass_obj
@friendly_errors
def scan(
    state: State, folder: Path, workers: int | None, later: bool, quiet: bool, **values
) -> None:  # noqa: ANN003
    """扫描文件夹，增量、可续传 / scan a folder: incremental, resumable, on every core.

    先编目（探测、响度、静音、波形、指纹），再生成播放与广播副本。
    Catalogues first (probe, loudness, silence, waveform, fingerprint), then makes the web
    and loudspeaker copies.
    """
    from tqdm import tqdm

    from library.catalogue.ingest import scan_folder

    bar = tqdm(unit="个", desc="编目 / scan", disable=None, file=sys.stderr)

    def progress(line) -> None:  # noqa: ANN001
        bar.update(1)
        if not quiet or line.status == "refused":
            # click.echo drops the colours when the report goes to a file or a pipe.
            with bar.external_write_mode():
                click.echo(_format_line(line))

    try:
        report = scan_folder(
            state.db,
            state.store,
            folder,
            workers=workers or state.config.workers,
            defaults=build_meta(values),
            progress=progress,
        )
    except KeyboardInterrupt:
        bar.close()
        _interrupted(
            "已中断：已导入的文件已保存，重新扫描即可继续。 / Interrupted: imported files are saved;"
            " scan again to continue."
        )
    bar.close()
    for a, b, score in report.near_duplicates:
        click.secho(
            f"≈ 可能是同一录音 / possibly the same take: #{a} ~ #{b} ({score:.0%})"
            " — 请人工确认 / for a person to decide",
            fg="yellow",
        )
    speed = (
        f"，{report.media_seconds / report.seconds:.1f}× 实时"
        if report.seconds and report.media_seconds
        else ""
    )
    click.echo(
        f"完成 / done: 新增 added {report.count('added')}，未变 unchanged {report.count('unchanged')}，"
        f"重复 duplicate {report.count('duplicate')}，拒绝 refused {report.count('refused')}；"
        f"{report.seconds:.1f} s{speed}"
    )
    if later:
        _say_copies_wait(state)
    else:
        _make_copies(state, workers, quiet=quiet)


def _say_copies_wait(state: State) -> None:
    from library.catalogue.copies import waiting

    count = len(waiting(state.db))
    if count:
        click.echo(
            f"副本待做 / copies waiting: {count}（`kuanyue catalogue copies` 生成 / to make them）"
        )


@catalogue.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@LATER_OPTION
@meta_options
@click.pass_obj
@friendly_errors
def add(state: State, file: Path, later: bool, **values) -> None:  # noqa: ANN003
    """添加一个录音文件及其信息 / add one recording with its metadata."""
    from library.catalogue.ingest import add_file

    line = add_file(state.db, state.store, file, build_meta(values))
    click.echo(_format_line(line))
    if line.status != "added":
        return
    if later:
        _say_copies_wait(state)
    else:
        _make_copies(state, 1, recording_ids=[line.recording_id])


@catalogue.command()
@click.argument("recording_id", type=int)
@meta_options
@click.pass_obj
@friendly_errors
def edit(state: State, recording_id: int, **values) -> None:  # noqa: ANN003
    """修改录音信息 / edit a recording's metadata."""
    from library.catalogue.recordings import apply_meta, get_recording
    from library.search import index_recording

    with state.db.session() as session:
        recording = get_recording(session, recording_id)
        apply_meta(session, recording, build_meta(values))
        index_recording(session, recording_id)
    click.echo(f"已保存 / saved #{recording_id}")


@catalogue.command()
@click.argument("recording_id", type=int)
@click.pass_obj
@friendly_errors
def show(state: State, recording_id: int) -> None:
    """显示一个录音的全部信息 / show everything about a recording."""
    from library.catalogue.recordings import format_date, get_recording

    with state.db.session() as session:
        r = get_recording(session, recording_id)
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
            click.echo(
                f"  文件 {f.kind}{name}: {f.mime}, {f.size / 1024:.0f} KB, {'; '.join(extra)}"
            )
        for track in r.tracks:
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
    from library.catalogue.recordings import get_recording, link_clause, parse_timecode

    with state.db.session() as session:
        span = link_clause(
            session,
            get_recording(session, recording_id),
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
    from library.catalogue.recordings import add_consent, get_recording, withdraw_consent

    with state.db.session() as session:
        recording = get_recording(session, recording_id)
        if withdraw:
            n = withdraw_consent(session, recording, person, scope)
            click.echo(
                f"已撤回 {n} 项授权，立即停止公开与广播 / withdrew {n} consent(s); effective at once"
            )
            return
        if scope is None:
            raise click.UsageError(
                "需要 --scope / --scope is required (archive, stream, broadcast)"
            )
        stored = state.store.put(evidence, move=False) if evidence else None
        add_consent(
            session,
            recording,
            person,
            scope,
            given_on=given_on,
            note=note,
            evidence=(stored.sha256, stored.store_path) if stored else None,
        )
        click.echo(f"已记录授权 / consent recorded: {person} · {scope}")


VIEWER_HELP = (
    "以谁的身份查看 / whose view: public (default), admin, village:村名, device:村名, steward:姓名 — "
    "受限内容只对有权者显示 / restricted items show only to those allowed"
)


@catalogue.command()
@click.argument("query", required=False, default="")
@click.option("--genre", help="曲种 / genre")
@click.option("--village", help="村寨 / village")
@click.option("--from", "date_from", type=int, help="起始年份 / from year")
@click.option("--to", "date_to", type=int, help="截止年份 / to year")
@click.option("--has-lyrics", is_flag=True, default=None, help="只要有歌词的 / only with lyrics")
@click.option("--protocol", type=click.Choice(["public", "village", "restricted"]))
@click.option("--clause", "clause_key", help="关联的条款 / linked clause key")
@click.option("--as", "viewer", default="public", show_default=True, help=VIEWER_HELP)
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_obj
@friendly_errors
def search(state: State, query: str, viewer: str, limit: int, **filters) -> None:  # noqa: ANN003
    """检索：中文（简繁皆可）、侗文（有无声调字母皆可）/ search Chinese (either script) and Dong (with or without tone letters)."""
    from library.catalogue.export import parse_viewer
    from library.search import search as run_search

    genre = filters.pop("genre")
    with state.db.session() as session:
        if genre:
            from library.catalogue.recordings import find_genre

            genre = find_genre(session, genre).key
        hits = run_search(session, query, parse_viewer(viewer), genre=genre, limit=limit, **filters)
    for hit in hits:
        click.echo(f"#{hit.recording_id}\t{hit.title}\t{hit.snippet}")
    click.echo(f"共 {len(hits)} 条 / {len(hits)} found")


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
@click.option("--as", "viewer", default="public", show_default=True, help=VIEWER_HELP)
@click.pass_obj
@friendly_errors
def export(state: State, fmt: str, output: Path | None, viewer: str) -> None:
    """导出目录（CSV 或 JSON），只含有权查看的内容 / export the catalogue, only what the viewer may see."""
    from library.catalogue.export import export_text, parse_viewer
    from media_pipeline.files import atomic_output

    with state.db.session() as session:
        text = export_text(session, parse_viewer(viewer), fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    with atomic_output(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    click.echo(f"已导出 / exported to {output}", err=True)


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
) -> None:
    """歌词、记录与译文（LRC、WebVTT、SRT 或纯文本）/ lyrics, transcripts, translations (LRC, WebVTT, SRT, plain)."""
    from library.catalogue.lyrics import add_track
    from library.catalogue.recordings import get_recording
    from library.search import index_recording

    with state.db.session() as session:
        recording = get_recording(session, recording_id)
        if action == "add":
            if file is None:
                raise click.UsageError("需要文件 / a FILE is required: lyrics ID add FILE")
            track = add_track(recording, file, kind=kind, lang=lang, protocol=protocol)
            session.flush()
            index_recording(session, recording_id)
            click.echo(
                f"已添加 / added {track.kind} [{track.lang}, {track.format}]: {len(track.lines)} 行 lines"
            )
            return
        for track in recording.tracks:
            click.secho(f"{track.kind} [{track.lang}, {track.format}, {track.protocol}]", bold=True)
            for line in track.lines:
                when = f"{line.start_s:7.2f}" if line.start_s is not None else "       "
                voice = f"({line.voice}) " if line.voice else ""
                click.echo(f"  {when}  {voice}{line.text}")


@main.command()
@click.argument("clause_key")
@click.option("--recording", "recording_id", type=int, help="指定录音 / use this recording's span")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="输出文件夹 / output folder",
)
@click.option("--as", "viewer", default="public", show_default=True, help=VIEWER_HELP)
@click.pass_obj
@friendly_errors
def reel(
    state: State, clause_key: str, recording_id: int | None, output: Path, viewer: str
) -> None:
    """条款视频加上唱这条规矩的歌 / the clause, then the excerpt that sings it (MP4 + loudspeaker MP3)."""
    from library.catalogue.export import parse_viewer
    from library.catalogue.reels import make_clause_reel, plan_reel

    with state.db.session() as session:
        plan = plan_reel(session, state.store, clause_key, parse_viewer(viewer), recording_id)
    click.echo(
        f"{clause_key} + #{plan.recording_id} {plan.start_s:.1f}–{plan.end_s:.1f} s，"
        f"歌词 {len(plan.lyrics)} 行 / lyric lines …"
    )
    video, audio = make_clause_reel(
        plan, output, font=state.config.subtitle_font, tools=state.config.tools
    )
    click.echo(f"屏幕 / screens: {video}\n大喇叭 / loudspeakers: {audio}")


@catalogue.command("import-sheet")
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@WORKERS_OPTION
@LATER_OPTION
@click.pass_obj
@friendly_errors
def import_sheet(state: State, sheet: Path, workers: int | None, later: bool) -> None:
    """按清单导入（CSV，每行一个文件，路径相对于清单）/ import a manifest: CSV, one row per file."""
    from library.catalogue.manifest import import_sheet as run

    report = run(state.db, state.store, sheet, progress=lambda line: click.echo(_format_line(line)))
    click.echo(
        f"完成 / done: 新增 added {report.count('added')}，更新 updated {report.count('updated')}，"
        f"拒绝 refused {report.count('refused')}"
    )
    if later:
        _say_copies_wait(state)
    else:
        _make_copies(state, workers)


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
    from sqlalchemy import select

    from library.catalogue.recordings import save_genre
    from library.models import Genre

    with state.db.session() as session:
        if key:
            if not name_zh:
                raise click.UsageError("需要 --zh / --zh is required with --add")
            save_genre(session, key, name_zh, name_kmc, discourse)
        for g in session.scalars(select(Genre).order_by(Genre.position)):
            click.echo(f"{g.key}\t{g.name_zh}\t{g.name_kmc or ''}\t{g.discourse}")


@catalogue.command()
@click.option("--decide", "pair_id", type=int, help="对这一对作出决定 / decide on this pair")
@click.argument("decision", required=False, type=click.Choice(["same", "different", "pending"]))
@click.option("--all", "show_all", is_flag=True, help="也列出已决定的 / list decided pairs too")
@click.pass_obj
@friendly_errors
def duplicates(state: State, pair_id: int | None, decision: str | None, show_all: bool) -> None:
    """疑似同一录音（指纹相近），由人决定，不会删除 / possible same takes, for a person to decide; nothing is deleted."""
    from library.catalogue.recordings import decide_near_duplicate, near_duplicates, title
    from library.models import MediaFile

    with state.db.session() as session:
        if pair_id is not None:
            if decision is None:
                raise click.UsageError(
                    "需要 same 或 different / say same or different: --decide ID same"
                )
            decide_near_duplicate(session, pair_id, decision)
        for pair in near_duplicates(session, pending_only=not show_all):
            a, b = session.get(MediaFile, pair.file_a_id), session.get(MediaFile, pair.file_b_id)
            click.echo(
                f"{pair.id}\t#{a.recording_id} {title(a.recording)} ~ #{b.recording_id} {title(b.recording)}"
                f"\t{pair.similarity:.0%}\t{pair.decision}"
            )
