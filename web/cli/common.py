"""What every `kuanyue` command module shares: the lazily opened State and clean errors.

Kept apart from the package's `__init__` (which builds the `main` group from the command
modules), so the command modules import it without importing the group that imports them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from library.disk import storage_problem
from library.errors import LibraryError
from library.settings import SettingsError, load_config
from media_pipeline.errors import PipelineError

VIEWER_HELP = (
    "以谁的身份查看 / whose view: public (default), admin, village:村名, device:村名, steward:姓名 — "
    "受限内容只对有权者显示 / restricted items show only to those allowed"
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
