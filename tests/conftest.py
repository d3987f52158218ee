"""Shared fixtures over a real, temporary library: nothing here touches the developer's data.

Every test runs with HOME, the XDG directories and KUANYUE_HOME under its own tmp_path, and
without the developer's KUANYUE_* settings. `config`, `db`, `store`, `app`, `client` and
`runner` all work in that one KUANYUE_HOME, so what the runner imports the client serves.
A module overrides `config` to point them all at another library (tests/test_web.py serves
the session's rendered one). Module- and session-scoped fixtures cannot use these
function-scoped ones; they build their library with `make_library(root)`.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--network",
        action="store_true",
        help="also run the tests marked `network`, which reach the internet",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `network` are skipped unless --network is given: the default run and CI
    stay offline. (There are none today: offline behaviour is tested with `no_internet`.)"""
    if config.getoption("--network"):
        return
    skip = pytest.mark.skip(reason="reaches the internet: run with --network")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Point HOME, XDG_* and KUANYUE_HOME at tmp_path so no test touches real data."""
    home = tmp_path / "home"
    home.mkdir()
    for name in [n for n in os.environ if n.startswith("KUANYUE_")]:
        monkeypatch.delenv(name)  # a developer's KUANYUE_ENGINE=gtts must not change a test
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("KUANYUE_HOME", str(tmp_path / "kuanyue-home"))
    yield


@pytest.fixture
def config():
    """The settings a `kuanyue` command would read in this test's isolated environment."""
    from library.settings import load_config

    return load_config()


@pytest.fixture
def db(config):
    """The real SQLite database of `config`, created and migrated."""
    from library.db import open_database

    database = open_database(config.database_url_resolved)
    yield database
    database.engine.dispose()


@pytest.fixture
def store(config):
    """The media store of `config`."""
    from library.store import MediaStore

    return MediaStore(config.media_dir)


@pytest.fixture
def app(config):
    """The site built by the app factory over `config`'s library."""
    from web import create_app

    return create_app({"KUANYUE_CONFIG": config, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


class Runner:
    """`kuanyue …` run in-process by click's CliRunner.

    A crash is raised with its traceback rather than turned into exit code 1, so a test that
    expects a clean error message cannot be satisfied by an exception.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(env or {})

    def invoke(self, *args: object, input: str | bytes | None = None):  # noqa: ANN201 - click Result
        from click.testing import CliRunner

        from web.cli import main

        return CliRunner().invoke(
            main, [str(a) for a in args], input=input, env=self.env, catch_exceptions=False
        )


@pytest.fixture
def runner() -> Runner:
    """The `kuanyue` command in this test's KUANYUE_HOME (the library `config` describes)."""
    return Runner()


def _is_local(host: object) -> bool:
    """This machine: no host (a bind), its names and loopback addresses."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return host is None or host in ("", "localhost", "::1") or str(host).startswith("127.")


def _is_address(host: object) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host))
    except ValueError:
        return False
    return True


@pytest.fixture
def no_internet(monkeypatch) -> Iterator[list[object]]:
    """This process as if the machine were offline, whatever its real network.

    Name look-ups and connections to anything but this machine fail the way they fail with
    no route out (socket.gaierror, ENETUNREACH), below every HTTP library, and proxies are
    forgotten. Yields the hosts and addresses that were tried, so a test can show that the
    failure it sees is this one.
    """
    tried: list[object] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):  # noqa: ANN001, ANN202
        if _is_local(host) or _is_address(host):  # no look-up needed: connect() decides
            return real_getaddrinfo(host, *args, **kwargs)
        tried.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (no_internet)")

    def connect(sock, address):  # noqa: ANN001, ANN202
        if sock.family == socket.AF_UNIX or _is_local(address[0]):
            return real_connect(sock, address)
        tried.append(address)
        raise OSError(errno.ENETUNREACH, "Network is unreachable (no_internet)")

    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield tried


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
