"""Claims on work, so several commands can share one data folder.

Two `kuanyue render` (or `catalogue copies`, or scans) on the same data folder each claim
an item before working on it, in one write transaction; an item another live run holds is
left to it. A run's claims name its locked scratch folder (`RunScratch`): when the run dies,
even by kill -9, the lock goes with it and the next run takes its claims over.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from sqlalchemy import delete, select

from .db import Database
from .models import WorkClaim, utcnow
from .parallel import RunScratch, run_alive


def claim(db: Database, run: RunScratch, kind: str, keys: Iterable[str]) -> set[str]:
    """Claim each of `keys` for `run`; return those it got (the rest a live run holds)."""
    wanted = list(dict.fromkeys(keys))
    got: set[str] = set()
    if not wanted:
        return got
    with db.session(write=True) as session:
        held = {
            c.key: c
            for c in session.scalars(
                select(WorkClaim).where(WorkClaim.kind == kind, WorkClaim.key.in_(wanted))
            )
        }
        for key in wanted:
            row = held.get(key)
            if row is None:
                session.add(WorkClaim(kind=kind, key=key, owner=run.name))
            elif row.owner == run.name or not run_alive(run.root, row.owner):
                row.owner, row.claimed_at = run.name, utcnow()
            else:
                continue
            got.add(key)
    return got


def release(db: Database, run: RunScratch, kind: str, keys: Iterable[str] | None = None) -> None:
    """Give up `run`'s claims of `kind` (only these `keys`, when given)."""
    query = delete(WorkClaim).where(WorkClaim.kind == kind, WorkClaim.owner == run.name)
    if keys is not None:
        query = query.where(WorkClaim.key.in_(list(keys)))
    with db.session(write=True) as session:
        session.execute(query)


@contextlib.contextmanager
def claiming(db: Database, run: RunScratch, kind: str) -> Iterator[None]:
    """Release every claim of `kind` the run still holds when the block ends, however it ends."""
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # the data folder may be what failed
            release(db, run, kind)
