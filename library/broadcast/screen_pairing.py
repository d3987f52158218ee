"""Pairing a kiosk screen by a short code it shows (see web/api_v1.py and `kuanyue device
pair`): the device's token is renewed and its credential handed to the screen once."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ..db import Database
from .device_api import DeviceApiError, as_aware
from .devices import find_device, new_token
from .models import ScreenPairing

PAIRING_S = 600


def new_pairing(db: Database, now: datetime) -> tuple[str, int]:
    """A fresh six-digit code for a kiosk screen to show, and its lifetime in seconds."""
    with db.session(write=True) as session:
        session.execute(
            ScreenPairing.__table__.delete().where(ScreenPairing.expires_at < now)  # type: ignore[attr-defined]
        )
        for _ in range(20):
            code = f"{secrets.randbelow(10**6):06d}"
            if session.scalar(select(ScreenPairing.id).where(ScreenPairing.code == code)) is None:
                session.add(ScreenPairing(code=code, expires_at=now + timedelta(seconds=PAIRING_S)))
                return code, PAIRING_S
    raise DeviceApiError("配对码用尽，请稍后再试 / no pairing code free; try again", 503)


def pair_screen(db: Database, code: str, device_ref: str, now: datetime | None = None) -> str:
    """Pair the screen showing `code` with screen device `device_ref` (its token is renewed)."""
    now = now or datetime.now(UTC)
    with db.session(write=True) as session:
        pairing = session.scalar(select(ScreenPairing).where(ScreenPairing.code == code.strip()))
        if pairing is None or as_aware(pairing.expires_at) < now or pairing.device_id:
            raise DeviceApiError(
                f"配对码无效或已过期（CODE）：{code} / pairing code unknown or expired: {code}"
            )
        device = find_device(session, device_ref)
        if device.kind != "screen":
            raise DeviceApiError(
                f"{device.name} 不是屏幕（DEVICE）/ {device.name} is not a screen (DEVICE)"
            )
        token = new_token(device)
        pairing.device_id = device.id
        pairing.credential = f"{device.id}.{token}"
        return device.name


def collect_pairing(db: Database, code: str, now: datetime) -> str | None:
    """The credential for the screen showing `code`, handed over once; None while unpaired.

    DeviceApiError(404) when the code is unknown, expired or already collected.
    """
    with db.session(write=True) as session:
        pairing = session.scalar(select(ScreenPairing).where(ScreenPairing.code == code.strip()))
        if pairing is None or pairing.collected or as_aware(pairing.expires_at) < now:
            raise DeviceApiError("配对码无效或已过期 / pairing code unknown or expired", 404)
        if pairing.credential is None:
            return None
        credential = pairing.credential
        pairing.credential, pairing.collected = None, True
        return credential
