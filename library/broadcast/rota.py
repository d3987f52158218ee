"""The gong-round rota (鸣锣喊寨轮值): who calls tonight, and the evenings as timeline rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from sqlalchemy.orm import Session

from . import rules
from .models import Device


def rota_rules(
    session: Session, device: Device, first: date, last: date, labels: dict[str, str]
) -> Iterator[tuple[rules.Schedule, str]]:
    """One single-play rule per rota evening in first..last reaching `device`, with its name."""
    return iter(())
