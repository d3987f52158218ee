"""Devices: loudspeakers, screens and streams, each in one village and any of its zones.

A device's secret token is made here (`secrets.token_urlsafe(32)`: 256 random bits), handed
back once and stored only as sha256(salt + token) in hex with a per-token random salt.

Why a salted sha256 and not an HMAC under a server key: the token is random, not a
password, so a fast hash cannot be brute-forced and needs no stretching; the salt keeps two
rows' hashes unrelated. An HMAC would add a server secret to keep, back up and never
lose — losing or changing it would lock every loudspeaker in the county out at once — and
the embedded default has no secret store. Comparison is in constant time
(`hmac.compare_digest`). The device API checks with `token_matches`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import Database
from ..errors import LibraryError
from ..models import is_row_id, utcnow
from .models import DEVICE_KINDS, Device, Township, Village
from .places import clean_name, find_village

if TYPE_CHECKING:
    from .device_reports import Health


class DeviceError(LibraryError):
    """A device kind, zone or name that cannot be used, or a device that is missing."""


@dataclass(frozen=True)
class DeviceInfo:
    """A device as lists show it (never its token)."""

    id: int
    name: str
    kind: str
    township: str
    village: str
    zones: tuple[str, ...]
    enabled: bool
    token_set_at: datetime
    health: Health | None = None  # filled in by list_devices


@dataclass(frozen=True)
class NewToken:
    """A device and its new secret token: shown once, never stored."""

    device: DeviceInfo
    token: str


def hash_token(token: str, salt: str) -> str:
    """sha256(salt + token) in hex."""
    return hashlib.sha256(f"{salt}{token}".encode()).hexdigest()


def new_token(device: Device) -> str:
    """Give `device` a new random token (kept only hashed) and return it, to be shown once."""
    token = secrets.token_urlsafe(32)
    device.token_salt = secrets.token_hex(16)
    device.token_hash = hash_token(token, device.token_salt)
    device.token_set_at = utcnow()
    return token


def add_device(
    db: Database, name: str, village: str, kind: str, zones: tuple[str, ...] = ()
) -> NewToken:
    """Add a device to a village (and some of its zones); its token is returned once."""
    name = clean_name(name, "设备名", "device name")
    if kind not in DEVICE_KINDS:
        raise DeviceError(
            f"设备类型无效：{kind!r}，可选 {'、'.join(DEVICE_KINDS)} / invalid device kind:"
            f" {kind!r}; choose {', '.join(DEVICE_KINDS)}"
        )
    with db.session(write=True) as session:
        found = find_village(session, village)
        if any(d.name == name for d in found.devices):
            raise DeviceError(
                f"{found.name} 已有设备：{name} / {found.name} already has a device {name}"
            )
        by_name = {z.name: z for z in found.zones}
        missing = [z for z in dict.fromkeys(z.strip() for z in zones) if z not in by_name]
        if missing:
            have = "、".join(by_name) or "无 / none"
            raise DeviceError(
                f"{found.name} 没有寨/组：{'、'.join(missing)}（有：{have}）/ zone not in"
                f" {found.name}: {', '.join(missing)} (it has: {have})"
            )
        device = Device(
            village=found,
            name=name,
            kind=kind,
            zones=[by_name[z] for z in dict.fromkeys(z.strip() for z in zones)],
        )
        token = new_token(device)
        session.add(device)
        session.flush()
        return NewToken(_info(device), token)


def list_devices(db: Database, village: str | None = None) -> list[DeviceInfo]:
    """Every device (or one village's), by township, village and name."""
    with db.session() as session:
        query = select(Device).join(Device.village).join(Village.township)
        if village is not None:
            query = query.where(Device.village_id == find_village(session, village).id)
        order = (Township.name, Village.name, Device.name)
        rows = list(session.scalars(query.order_by(*order)))
        from .device_reports import device_health

        health = device_health(session, rows, datetime.now(UTC))
        return [replace(_info(d), health=health[d.id]) for d in rows]


def rotate_token(db: Database, ref: str) -> NewToken:
    """Give device `ref` a new token (returned once); the old one stops working at once."""
    with db.session(write=True) as session:
        device = find_device(session, ref)
        token = new_token(device)
        session.flush()
        return NewToken(_info(device), token)


def set_enabled(db: Database, ref: str, enabled: bool) -> DeviceInfo:
    """Disable (or enable again) device `ref`: a disabled device's token is refused."""
    with db.session(write=True) as session:
        device = find_device(session, ref)
        device.enabled = enabled
        session.flush()
        return _info(device)


def verify_token(session: Session, device_id: int, token: str) -> bool:
    """Whether `token` is the current token of enabled device `device_id` (constant time)."""
    device = session.get(Device, device_id) if is_row_id(device_id) else None
    if device is None:
        return False
    return token_matches(token, device.token_salt, device.token_hash) and device.enabled


def token_matches(token: str, salt: str, token_hash: str) -> bool:
    """Whether `token` is the one hashed to `token_hash` with `salt` (constant time)."""
    if not isinstance(token, str):
        return False
    return hmac.compare_digest(hash_token(token, salt).encode(), token_hash.encode())


def find_device(session: Session, ref: str) -> Device:
    """The device with id `ref` (digits) or named `ref` ("名" or "村名/名"); DeviceError else."""
    ref = ref.strip()
    if ref.isdigit():
        found = session.get(Device, int(ref)) if is_row_id(int(ref)) else None
        if found is None:
            raise DeviceError(f"找不到设备：{ref} / no device {ref}")
        return found
    village, _, name = ref.rpartition("/")
    query = select(Device).where(Device.name == name.strip())
    if village:
        query = query.where(Device.village_id == find_village(session, village).id)
    devices = list(session.scalars(query))
    if not devices:
        raise DeviceError(f"找不到设备：{ref} / no device {ref}")
    if len(devices) > 1:
        ids = ", ".join(f"{d.id}（{d.village.name}）" for d in devices)
        raise DeviceError(
            f"有几台设备叫 {ref}，请用编号：{ids} / several devices are called {ref}; use the"
            f" id: {ids}"
        )
    return devices[0]


def _info(device: Device) -> DeviceInfo:
    return DeviceInfo(
        id=device.id,
        name=device.name,
        kind=device.kind,
        township=device.village.township.name,
        village=device.village.name,
        zones=tuple(sorted(z.name for z in device.zones)),
        enabled=device.enabled,
        token_set_at=device.token_set_at,
    )
