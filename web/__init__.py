"""The web layer: the Flask app (web.app.create_app) and the `kuanyue` CLI (web.cli).

Kept free of imports so `kuanyue` commands that never serve pages start without Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: Any = None) -> Flask:
    """Build the Flask app; see web.app.create_app."""
    from .app import create_app as factory

    return factory(test_config)
