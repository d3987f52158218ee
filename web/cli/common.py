"""What every `kuanyue` command module shares: the lazily opened State and clean errors.

Kept apart from the package's `__init__` (which builds the `main` group from the command
modules), so the command modules import it without importing the group that imports them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from library.disk import storage_problem
from library.errors import LibraryError
from library.settings import SettingsError, load_config
from media_pipeline.errors import PipelineError

if TYPE_CHECKING:
    from library.access import Viewer

VIEWER_HELP = (
    "以谁的身份查看 / whose view: public, admin, village:村名, device:村名, steward:姓名 — "
    "受限内容只对有权者显示 / restricted items show only to those allowed"
)
# Kinds of viewer that name a village or a person after the colon.
_NAMED_VIEWERS = {"village": "村名", "resident": "村名", "device": "村名", "steward": "姓名"}


class ViewerSpec(click.ParamType):
    """`--as WHO`: a viewer spec ('public', 'admin', 'village:村名' …) made into the access
    rule's `Viewer` by the library (`parse_viewer`), refused with a usage error otherwise."""

    name = "who"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Viewer:
        """The `Viewer` for `value` (already one: as it is)."""
        from library.access import Viewer
        from library.catalogue.export import parse_viewer

        if isinstance(value, Viewer):
            return value
        kind, _, name = str(value).partition(":")
        if kind in _NAMED_VIEWERS and not name.strip():
            word = _NAMED_VIEWERS[kind]
            self.fail(
                f"{kind}: 后面要写{word}，如 {kind}:{'榕溪村' if word == '村名' else '杨秀珠'}"
                f" / {kind}: needs a {'village' if word == '村名' else 'name'} after the colon",
                param,
                ctx,
            )
        try:
            return parse_viewer(str(value))
        except LibraryError as exc:
            self.fail(str(exc), param, ctx)


# The one `--as` option of every command that shows catalogue content (show, lyrics, search,
# export, duplicates, reel): same name, choices, default and help, and a `Viewer` for the
# library's access rule (library/access.py) as the `viewer` argument.
viewer_option = click.option(
    "--as",
    "viewer",
    type=ViewerSpec(),
    default="public",
    show_default=True,
    metavar="WHO",
    help=VIEWER_HELP,
)


def not_found(recording_id: int, viewer: Viewer) -> str:
    """The "no recording" message for one absent or hidden from `viewer` (one answer for both)."""
    from library.models import is_row_id

    message = f"找不到录音 {recording_id} / no recording {recording_id}"
    if viewer.kind == "admin" or not is_row_id(recording_id):  # no recording could have it
        return message
    return (
        f"找不到录音 {recording_id}，或此身份看不到（--as admin 可看全部）/ no recording"
        f" {recording_id}, or hidden from this viewer (--as admin sees everything)"
    )


class State:
    """Settings, database and store, opened on first use so `--help` stays instant."""

    def __init__(self) -> None:
        self._config = None
        self._db = None

    @property
    def config(self):  # noqa: ANN201
        if self._config is None:
            self._config = load_config()
        return self._config

    @property
    def db(self):  # noqa: ANN201
        if self._db is None:
            from library.db import open_database

            self._db = open_database(self.config.database_url_resolved)
        return self._db

    @property
    def store(self):  # noqa: ANN201
        from library.store import MediaStore

        return MediaStore(self.config.media_dir)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's and pipeline's errors into clean CLI messages (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (LibraryError, PipelineError, SettingsError) as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            # A full disk or a read-only folder met outside the library's own checks.
            if (problem := storage_problem(exc)) is None:
                raise
            raise click.ClickException(str(problem)) from exc

    return wrapper
