"""Flask app factory: public pages now; workspace, device API and kiosk blueprints later."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Mapping
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from flask_babel import Babel
from werkzeug.exceptions import HTTPException

from library.db import open_database
from library.disk import storage_errors
from library.settings import Config, load_config
from library.store import MediaStore

LANGUAGES = ("zh", "en")


def _secret_key(config: Config) -> str:
    """The configured secret, or one generated once into the data directory (never the repo)."""
    if config.secret_key:
        return config.secret_key
    path = config.home / "secret_key"
    with storage_errors():
        if not path.exists():
            # Written whole under a temporary name, then linked in: a full disk never leaves
            # half a key, and of two servers starting at once both end up with the first key.
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key-")
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32))
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                os.unlink(tmp)
        return path.read_text().strip()


def select_locale() -> str:
    """?lang= wins, then the cookie, then the browser; Chinese by default."""
    lang = request.args.get("lang") or request.cookies.get("lang")
    if lang in LANGUAGES:
        return lang
    return request.accept_languages.best_match(LANGUAGES, default="zh") or "zh"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings from KUANYUE_* (or `test_config`), database migrated, blueprints."""
    app = Flask("web")
    test_config = dict(test_config or {})
    config: Config = test_config.pop("KUANYUE_CONFIG", None) or load_config()
    app.config.from_mapping(
        KUANYUE_CONFIG=config,
        SECRET_KEY=_secret_key(config),
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_TRANSLATION_DIRECTORIES="translations",
        SEND_FILE_MAX_AGE_DEFAULT=0,
    )
    app.config.update(test_config)
    app.extensions["kuanyue.db"] = open_database(config.database_url_resolved)
    app.extensions["kuanyue.store"] = MediaStore(config.media_dir)
    Babel(app, locale_selector=select_locale)

    from . import api_v1, public, screen

    app.register_blueprint(public.bp)
    app.register_blueprint(api_v1.bp)
    app.register_blueprint(screen.bp)

    @app.before_request
    def _lang_cookie() -> None:
        g.lang = select_locale()

    @app.after_request
    def _remember_lang(response):  # noqa: ANN001, ANN202 - Flask response
        if request.args.get("lang") in LANGUAGES:
            response.set_cookie("lang", request.args["lang"], max_age=365 * 86400, samesite="Lax")
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # noqa: ANN202 - Flask response
        # One error shape per place: RFC 9457 problems under the device API, JSON under the
        # other /api/ routes, a page everywhere else.
        if request.path.startswith("/api/v1/"):
            from .api_v1 import problem

            return problem(exc.code or 500, exc.name, exc.description or "")
        if request.path.startswith("/api/"):
            return jsonify(
                error={"code": exc.code, "name": exc.name, "message": exc.description}
            ), exc.code
        return render_template("error.html", error=exc), exc.code

    return app
