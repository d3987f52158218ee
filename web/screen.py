"""The screen kiosk: `/screen`, a full-screen page that plays a screen device's timeline.

The page has no login: it authenticates to the device API (web/api_v1.py) with the device's
credential, taken from the URL fragment (`/screen#<id>.<token>`, never sent to the server) or
from a pairing code (`kuanyue device pair <code> <name>`), and kept in the browser's
localStorage. Everything it does lives in static/screen.js; its Service Worker
(static/screen-sw.js) is served from here, at the site root, because a worker's scope cannot
reach above the folder it is served from and /static/ is below /screen.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, send_from_directory

bp = Blueprint("screen", __name__)

# Bumped when the kiosk changes in a way the Service Worker's caches must not survive.
PLAYER_VERSION = "screen/1"


@bp.get("/screen")
def kiosk():  # noqa: ANN201 - Flask response
    response = current_app.make_response(
        render_template("screen.html", player_version=PLAYER_VERSION)
    )
    # The page is cached by the Service Worker for offline start-up; the browser must still
    # ask the server first so that a new kiosk version arrives when the network is there.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/screen-sw.js")
def service_worker():  # noqa: ANN201 - Flask response
    response = send_from_directory(
        current_app.static_folder, "screen-sw.js", mimetype="text/javascript", max_age=0
    )
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response
