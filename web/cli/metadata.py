"""The metadata options of `kuanyue catalogue scan | add | edit`, and the RecordingMeta they make."""

from __future__ import annotations

import click

from library.langs import TITLE_FIELDS


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
        titles={lang: values[key] for key, lang in TITLE_FIELDS.items() if values.get(key)},
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
