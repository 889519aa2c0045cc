"""Preparing a database for use: migrate, load reference data if missing, register questionnaires."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from surveys import db, entities
from surveys.models import Entity

log = logging.getLogger(__name__)


def prepare(url: str | None = None) -> sessionmaker[Session]:
    """``m360 db upgrade`` + ``m360 entities load`` when the entity table is empty. Idempotent."""
    url = url or db.database_url()
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    with db.write_session(sessions.kw["bind"]) as session:
        if not session.scalar(select(func.count()).select_from(Entity)):
            report = entities.load_entities(session, entities.read_reference())
            log.info("reference entities loaded: %s", report)
    return sessions
