"""Upserting reference entities into the ``entity`` table (never deleting: interviews reference codes)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.entities.records import ReferenceEntity
from surveys.models import Entity


def load_entities(session: Session, entities: Iterable[ReferenceEntity]) -> dict[str, int]:
    """Insert new entities and update changed ones; never deletes (interviews reference entity codes).

    Only flushes: committing is the caller's job. Returns ``{"inserted": n, "updated": n, "unchanged": n}``.
    """
    existing = {row.code: row for row in session.scalars(select(Entity))}
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    for info in entities:
        values = info.columns()
        row = existing.get(info.code)
        if row is None:
            existing[info.code] = Entity(**values)
            session.add(existing[info.code])
            counts["inserted"] += 1
            continue
        changed = False
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        counts["updated" if changed else "unchanged"] += 1
    session.flush()
    return counts
