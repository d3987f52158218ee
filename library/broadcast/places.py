"""Places: county → township → village (with its time zone) → zones (寨/组).

A village is named as covenants, recordings and `village:村名` viewers name it, so its name
is the link and is unique within its township. Where two townships have a village of the
same name, "乡镇/村名" says which. Every write is one transaction: nothing is half-saved.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import Database
from ..errors import LibraryError
from .models import DEFAULT_TZ, County, Township, Village, Zone

DEFAULT_COUNTY = "黎平县"
NAME_MAX = 100
# "/" separates a township from its village ("乡镇/村名"); ":" ends a viewer's kind.
_NOT_IN_NAMES = "/:"


class PlaceError(LibraryError):
    """A place name or time zone that cannot be used, a place that exists or is missing."""


@dataclass(frozen=True)
class VillageInfo:
    """A village as lists show it: where it is, its time zone and its zones."""

    id: int
    county: str
    township: str
    name: str
    tz: str
    zones: tuple[str, ...]


def clean_name(value: str, field_zh: str, field_en: str) -> str:
    """`value` stripped, or PlaceError naming the field when empty, too long or with / or :."""
    name = (value or "").strip()
    if not name:
        raise PlaceError(f"{field_zh}不能为空 / the {field_en} must not be empty")
    if len(name) > NAME_MAX:
        raise PlaceError(
            f"{field_zh}太长（最多 {NAME_MAX} 字）/ the {field_en} is too long"
            f" (at most {NAME_MAX} characters)"
        )
    if any(c in name for c in _NOT_IN_NAMES) or not name.isprintable():
        raise PlaceError(
            f"{field_zh}不能含 / 、: 或控制字符：{name!r} / the {field_en} must not contain"
            f" /, : or control characters: {name!r}"
        )
    return name


def check_tz(value: str) -> str:
    """`value` if it is an IANA time zone zoneinfo knows; PlaceError naming the field else."""
    tz = (value or "").strip()
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise PlaceError(
            f"时区无效：{tz!r}（应如 {DEFAULT_TZ}）/ invalid time zone (tz): {tz!r}"
            f" (use one like {DEFAULT_TZ})"
        ) from None
    return tz


def add_county(db: Database, name: str) -> str:
    """Add a county; PlaceError if it exists."""
    name = clean_name(name, "县名", "county name")
    with db.session(write=True) as session:
        if _county(session, name) is not None:
            raise PlaceError(f"县已存在：{name} / county exists: {name}")
        session.add(County(name=name))
    return name


def add_township(db: Database, name: str, county: str = DEFAULT_COUNTY) -> str:
    """Add a township to an existing county; PlaceError if either is wrong."""
    name = clean_name(name, "乡镇名", "township name")
    with db.session(write=True) as session:
        found = _county(session, clean_name(county, "县名", "county name"))
        if found is None:
            raise PlaceError(f"找不到县：{county} / no county {county}")
        if _township(session, found, name) is not None:
            raise PlaceError(f"乡镇已存在：{name} / township exists: {name}")
        session.add(Township(county=found, name=name))
    return name


def add_village(
    db: Database,
    name: str,
    township: str,
    *,
    county: str = DEFAULT_COUNTY,
    tz: str = DEFAULT_TZ,
) -> VillageInfo:
    """Add a village, making its county and township on first use; PlaceError on bad input."""
    name = clean_name(name, "村名", "village name")
    township = clean_name(township, "乡镇名", "township name")
    county = clean_name(county, "县名", "county name")
    tz = check_tz(tz)
    with db.session(write=True) as session:
        found_county = _county(session, county) or County(name=county)
        session.add(found_county)
        found_township = _township(session, found_county, township)
        if found_township is None:
            found_township = Township(county=found_county, name=township)
            session.add(found_township)
        elif any(v.name == name for v in found_township.villages):
            raise PlaceError(f"村已存在：{township}/{name} / village exists: {name} in {township}")
        village = Village(township=found_township, name=name, tz=tz)
        session.add(village)
        session.flush()
        return _info(village)


def add_zone(db: Database, village: str, name: str) -> VillageInfo:
    """Add a zone (寨/组) to a village; PlaceError if the village is missing or has it."""
    name = clean_name(name, "寨/组名", "zone name")
    with db.session(write=True) as session:
        found = find_village(session, village)
        if any(z.name == name for z in found.zones):
            raise PlaceError(
                f"{found.name} 已有寨/组：{name} / {found.name} already has the zone {name}"
            )
        found.zones.append(Zone(name=name))
        session.flush()
        return _info(found)


def list_counties(db: Database) -> list[str]:
    """Every county's name."""
    with db.session() as session:
        return list(session.scalars(select(County.name).order_by(County.name)))


def list_townships(db: Database, county: str | None = None) -> list[tuple[str, str]]:
    """(county, township) of every township, or of one county's."""
    query = select(County.name, Township.name).join(Township.county)
    if county is not None:
        query = query.where(County.name == county)
    with db.session() as session:
        return [(c, t) for c, t in session.execute(query.order_by(County.name, Township.name))]


def list_villages(db: Database, township: str | None = None) -> list[VillageInfo]:
    """Every village (or one township's) with its zones, by county, township and name."""
    query = select(Village).join(Village.township).join(Township.county)
    if township is not None:
        query = query.where(Township.name == township)
    with db.session() as session:
        rows = session.scalars(query.order_by(County.name, Township.name, Village.name))
        return [_info(v) for v in rows]


def find_village(session: Session, ref: str) -> Village:
    """The village named `ref` ("村名" or "乡镇/村名"); PlaceError if none or ambiguous."""
    township, _, name = ref.strip().rpartition("/")
    query = select(Village).where(Village.name == name.strip())
    if township:
        query = query.join(Village.township).where(Township.name == township.strip())
    found = list(session.scalars(query))
    if not found:
        raise PlaceError(f"找不到村：{ref} / no village {ref}")
    if len(found) > 1:
        where = "、".join(f"{v.township.name}/{v.name}" for v in found)
        raise PlaceError(
            f"有几个村叫 {ref}，请写成 乡镇/村名：{where} / several villages are called {ref};"
            f" write township/village: {where}"
        )
    return found[0]


def _county(session: Session, name: str) -> County | None:
    return session.scalar(select(County).where(County.name == name))


def _township(session: Session, county: County, name: str) -> Township | None:
    if county.id is None:  # made in this transaction: no townships yet
        return None
    return session.scalar(
        select(Township).where(Township.county_id == county.id, Township.name == name)
    )


def _info(village: Village) -> VillageInfo:
    return VillageInfo(
        id=village.id,
        county=village.township.county.name,
        township=village.township.name,
        name=village.name,
        tz=village.tz,
        zones=tuple(sorted(z.name for z in village.zones)),
    )
