"""The device API, version 1 (`/api/v1`): loudspeakers, screens and streams poll it.

Frozen: these paths, fields and meanings stay as they are when a v2 arrives, so players
already on village poles keep working. Each route parses the request, calls one function
of library/broadcast/device_api.py or its siblings (device_snapshot, device_emergency,
device_reports, screen_pairing) and presents its result; errors are `application/problem+json` (RFC 9457). The OpenAPI 3.1 document is web/openapi_v1.json,
served at /api/v1/openapi.json and checked against the running app by schemathesis.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, request, send_file
from werkzeug.exceptions import HTTPException

from library.broadcast import (
    device_api,
    device_emergency,
    device_reports,
    device_snapshot,
    screen_pairing,
)
from library.broadcast.device_api import DeviceApiError, DeviceCard

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
OPENAPI = Path(__file__).with_name("openapi_v1.json")
PROBLEM = "application/problem+json"
# Per credential: a token bucket of RATE_BURST requests refilled at RATE_PER_S (600 a minute).
RATE_PER_S = 10.0
RATE_BURST = 120.0


def problem(status: int, title: str, detail: str = "", headers: dict[str, str] | None = None):  # noqa: ANN201
    """An RFC 9457 problem response."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype=PROBLEM)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class _Buckets:
    """Token buckets per device, in this process (a county fits one server's memory)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: dict[int, tuple[float, float]] = {}

    def take(self, key: int) -> float:
        """0 when a request may go ahead, else the seconds until one may."""
        now = time.monotonic()
        with self.lock:
            tokens, last = self.state.get(key, (RATE_BURST, now))
            tokens = min(RATE_BURST, tokens + (now - last) * RATE_PER_S)
            if tokens < 1:
                self.state[key] = (tokens, now)
                return (1 - tokens) / RATE_PER_S
            self.state[key] = (tokens - 1, now)
            return 0.0


_buckets = _Buckets()


def _db():  # noqa: ANN202 - library.db.Database
    return current_app.extensions["kuanyue.db"]


def device_auth(view: Callable[..., Any]) -> Callable[..., Any]:
    """Require `Authorization: Bearer <id>.<token>`; the view gets the device's DeviceCard."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any):  # noqa: ANN202
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="kuanyue"'}
        if scheme.lower() != "bearer" or not credential:
            return problem(401, "需要设备凭据 / device credential required", "", challenge)
        parsed = device_api.parse_credential(credential)
        if parsed is not None:
            wait = _buckets.take(parsed[0])
            if wait:
                return problem(
                    429,
                    "请求太频繁 / too many requests",
                    f"每分钟最多 {int(RATE_PER_S * 60)} 次 / at most {int(RATE_PER_S * 60)} a minute",
                    {"Retry-After": str(max(1, round(wait)))},
                )
        device = device_api.authenticate(_db(), credential)
        if device is None:
            return problem(
                401, "设备凭据无效或已停用 / invalid, revoked or disabled credential", "", challenge
            )
        g.device_id = device.id
        g.now = datetime.now(UTC)
        return view(device, *args, **kwargs)

    return wrapped


@bp.errorhandler(DeviceApiError)
def _device_error(exc: DeviceApiError):  # noqa: ANN202
    return problem(exc.status, "请求无法处理 / request cannot be processed", str(exc))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):  # noqa: ANN202
    return problem(exc.code or 500, exc.name, exc.description or "")


@bp.get("/openapi.json")
def openapi():  # noqa: ANN201
    """The OpenAPI 3.1 document of this API."""
    return Response(OPENAPI.read_bytes(), mimetype="application/json")


@bp.get("/device")
@device_auth
def who_am_i(device: DeviceCard):  # noqa: ANN201
    """Who the device is, and how often it should poll."""
    return _json(device_api.device_body(device, g.now))


@bp.get("/device/schedule")
@device_auth
def schedule(device: DeviceCard):  # noqa: ANN201
    """The next 48 hours, with an ETag."""
    tags = [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]
    known = {t[1:-1] for t in tags if len(t) >= 2 and t[0] == t[-1] == '"'}
    version, data = device_snapshot.schedule_poll(_db(), device, g.now, known)
    response = Response(status=304) if data is None else Response(data, mimetype="application/json")
    response.headers["ETag"] = f'"{version}"'
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/device/emergency")
@device_auth
def emergency(device: DeviceCard):  # noqa: ANN201
    """Emergencies now and in the next hour; cheap enough to poll every 10 s."""
    response = _json(device_emergency.emergency_body(_db(), device, g.now))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/media/<sha256>")
@device_auth
def media(device: DeviceCard, sha256: str):  # noqa: ANN201
    """A media file the device's village may have, with Range support, cached for good."""
    found = device_api.media_path(_db(), current_app.extensions["kuanyue.store"], device, sha256)
    if found is None:
        return problem(404, "没有这个文件 / no such media", sha256)
    path, mime = found
    response = send_file(path, mimetype=mime, conditional=True, etag=sha256, max_age=31536000)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.post("/device/plays")
@device_auth
def plays(device: DeviceCard):  # noqa: ANN201
    """Store a batch of play logs; the reply lists the ids acknowledged."""
    body = _body()
    acknowledged = device_reports.record_plays(_db(), device.id, body.get("plays"))
    return _json({"acknowledged": acknowledged})


@bp.post("/device/heartbeat")
@device_auth
def heartbeat(device: DeviceCard):  # noqa: ANN201
    """Store the device's health report; reply with the server's clock."""
    return _json(device_reports.heartbeat(_db(), device.id, _body(), g.now))


@bp.post("/screen/pairing")
def pairing_new():  # noqa: ANN201
    """A code for a kiosk screen to show until a cultural worker pairs it."""
    code, seconds = screen_pairing.new_pairing(_db(), datetime.now(UTC))
    body = {"code": code, "expires_s": seconds, "poll": f"/api/v1/screen/pairing/{code}"}
    return _json(body, 201)


@bp.get("/screen/pairing/<code>")
def pairing_poll(code: str):  # noqa: ANN201
    """202 until paired; then the credential, once."""
    credential = screen_pairing.collect_pairing(_db(), code, datetime.now(UTC))
    if credential is None:
        return _json({"paired": False}, 202)
    response = _json({"paired": True, "credential": credential})
    response.headers["Cache-Control"] = "no-store"
    return response


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise DeviceApiError("请求体应为 JSON 对象 / the body must be a JSON object")
    return data


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")
