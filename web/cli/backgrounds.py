"""`kuanyue covenant background`: the village's own photo or video loop behind a covenant's clips.

One for the whole covenant, and one per topic (`--topic 消防安全`), the topic's winning;
`--clear` goes back to the covenant's (for a topic) or the generated pattern. The picture is
darkened and panned slowly when the clips are rendered (library.covenants.backgrounds).
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import State, friendly_errors
from .covenants import covenant


@covenant.command("background")
@click.argument("ref")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--topic", help="只用于这个主题的条款 / only behind the clauses of this topic")
@click.option(
    "--clear", is_flag=True, help="去掉背景，恢复默认图案 / remove it (back to the pattern)"
)
@click.pass_obj
@friendly_errors
def covenant_background(
    state: State, ref: str, file: Path | None, topic: str | None, clear: bool
) -> None:
    """设置视频背景照片或视频（整部或某一主题），重新渲染时生效 / set the photo or video loop behind the clips (whole covenant or one topic); used by the next render."""
    from library.covenants.backgrounds import clear_background, set_background

    if clear == (file is not None):
        raise click.UsageError(
            "请给出背景文件，或用 --clear 去掉背景 / give a FILE, or --clear to remove the background"
        )
    if file is None:
        change = clear_background(state.db, ref, topic=topic)
    else:
        change = set_background(
            state.db, state.store, ref, file, topic=topic, tools=state.config.tools
        )
    where = (
        f"主题 {change.topic} / topic {change.topic}" if change.topic else "全约 / whole covenant"
    )
    if change.source_name is None:
        click.echo(f"{change.slug} {where}: 已去掉背景 / background removed")
    else:
        what = "视频 video" if change.kind == "background-video" else "照片 photo"
        click.echo(f"{change.slug} {where}: {change.source_name}（{what}）")
    keys = ", ".join(change.clause_keys) or "无 / none"
    click.echo(f"需重新渲染的条款 / clauses to render again: {keys}")
    if change.clause_keys:
        click.echo(f"下一步 / next: kuanyue render --covenant {change.slug}")
