"""`kuanyue reel`: a clause's narrated video followed by the song that teaches it.

Written to a folder, or with `--store` kept in the media store as a stored reel that
playlists play (`kuanyue playlist add NAME reel KEY[@ID]` makes one the same way).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import State, friendly_errors, viewer_option

if TYPE_CHECKING:
    from library.access import Viewer


@click.command()
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
@click.option(
    "--store",
    "keep",
    is_flag=True,
    help="存入媒体库供播放列表使用（不写输出文件夹）/ keep it in the media store for playlists",
)
@viewer_option
@click.pass_obj
@friendly_errors
def reel(
    state: State,
    clause_key: str,
    recording_id: int | None,
    output: Path,
    keep: bool,
    viewer: Viewer,
) -> None:
    """条款视频加上唱这条规矩的歌 / the clause, then the excerpt that sings it (MP4 + loudspeaker MP3)."""
    from library.catalogue.reels import compose_reel

    def planned(plan) -> None:  # noqa: ANN001 - a ReelPlan
        click.echo(
            f"{clause_key} + #{plan.recording_id} {plan.start_s:.1f}–{plan.end_s:.1f} s，"
            f"歌词 {len(plan.lyrics)} 行 / lyric lines …"
        )

    if keep:
        from library.catalogue.reels import store_reel

        reel_id = store_reel(
            state.db,
            state.store,
            clause_key,
            viewer,
            recording_id,
            font=state.config.subtitle_font,
            tools=state.config.tools,
            planned=planned,
        )
        click.echo(f"教唱短片 / reel #{reel_id}：{clause_key}")
        return
    video, audio = compose_reel(
        state.db,
        state.store,
        clause_key,
        viewer,
        output,
        recording_id=recording_id,
        font=state.config.subtitle_font,
        tools=state.config.tools,
        planned=planned,
    )
    click.echo(f"屏幕 / screens: {video}\n大喇叭 / loudspeakers: {audio}")
