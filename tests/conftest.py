"""Shared fixtures: every test gets its own KUANYUE_HOME under tmp_path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Point HOME and KUANYUE_HOME at tmp_path so no test touches real data."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KUANYUE_HOME", str(tmp_path / "kuanyue-home"))
    monkeypatch.delenv("KUANYUE_DATABASE_URL", raising=False)
    yield


SMALL_COVENANT = """岩脚村村规民约
为了建设平安和谐的村寨，经村民大会讨论通过，制定本村规民约。
第一章 消防安全
第一条 每晚由轮值户鸣锣喊寨，提醒各家熄灭火塘。
侗文：Kgal nyenc lagx xaih, weex bix wul.
第二条 严禁在木楼旁堆放柴草，违者罚款200元。
第二章 环境卫生
第三条 垃圾分类投放，不得倒入河中。
"""


@dataclass
class Rendered:
    """A database with the small covenant imported and rendered once."""

    config: object
    db: object
    store: object
    slug: str
    covenant_file: Path


def make_library(root: Path):
    """Settings, database and store under `root`, without reading the real environment."""
    from library.db import open_database
    from library.settings import load_config
    from library.store import MediaStore

    config = load_config({"HOME": str(root / "home"), "KUANYUE_HOME": str(root / "kuanyue")})
    return config, open_database(config.database_url_resolved), MediaStore(config.media_dir)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Rendered:
    """The small covenant imported and rendered (all profiles, both video formats), once per session."""
    from library.covenants.rendering import RenderOptions, render_covenant
    from library.covenants.versions import import_covenant

    root = tmp_path_factory.mktemp("rendered")
    config, db, store = make_library(root)
    source = root / "yanjiao.txt"
    source.write_text(SMALL_COVENANT, encoding="utf-8")
    result = import_covenant(db, source)
    report = render_covenant(
        db, store, result.covenant.slug, RenderOptions(), cache_dir=config.cache_dir, workers=2
    )
    assert not report.failed, report.failed
    return Rendered(config, db, store, result.covenant.slug, source)
