"""Persistence of questionnaires, interviews and answers (the database side of the engine's events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from surveys import db, formats, schema
from surveys.entities import display_name
from surveys.messages import TEST_CHANNELS
from surveys.models import Answer, Entity, Interview, QuestionnaireVersion
from surveys.statuses import InterviewStatus

# Table-level statements for the per-turn path: built once, parameters bound at execution.
ANSWERS = cast(Table, Answer.__table__)
INTERVIEWS = cast(Table, Interview.__table__)
_INSERT_ANSWER = ANSWERS.insert()
_INSERT_INTERVIEW = INTERVIEWS.insert()
_DELETE_ANSWER = ANSWERS.delete().where(ANSWERS.c.interview_id == bindparam("b_interview"),
                                        ANSWERS.c.question == bindparam("b_question"))


def period_of(moment: datetime, tz: str = formats.TIMEZONE) -> str:
    """The month (YYYY-MM) an interview started, on Colombian time."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


class NotLoaded(KeyError):
    """A questionnaire version not loaded yet (``QuestionnaireStore.cached``): ``load_new``, then try again."""


_QUESTIONNAIRES = cast(Table, QuestionnaireVersion.__table__)
_NEWER_VERSIONS = select(_QUESTIONNAIRES.c.id, _QUESTIONNAIRES.c.qid, _QUESTIONNAIRES.c.version,
                         _QUESTIONNAIRES.c.definition).where(_QUESTIONNAIRES.c.id > bindparam("b_newest")) \
    .order_by(_QUESTIONNAIRES.c.id)


class QuestionnaireStore:
    """Questionnaire versions as stored rows; an interview always runs the version it started with."""

    def __init__(self) -> None:
        self._by_key: dict[str, schema.Questionnaire] = {}
        self._ids: dict[str, int] = {}
        self._newest = 0  # the highest row id ``load_new`` has seen

    def ensure(self, session: Session, q: schema.Questionnaire) -> int:
        """Store ``q`` if its version is new. A changed definition under an existing version is
        accepted only while no interview uses it; otherwise the version must be bumped."""
        definition = schema.to_dict(q)
        row = self._row(session, q.id, q.version)
        if row is None:
            row = QuestionnaireVersion(qid=q.id, version=q.version, title=q.title, definition=definition)
            session.add(row)
            session.flush()
        elif row.definition != definition:
            used = session.scalar(
                select(func.count()).select_from(Interview).where(Interview.questionnaire_id == row.id)
            )
            if used:
                raise ValueError(
                    f"questionnaire {q.key} changed but {used} interviews use that version: bump `version` in its YAML"
                )
            row.definition, row.title = definition, q.title
        self._by_key[q.key] = q
        self._ids[q.key] = row.id
        return row.id

    def id_of(self, session: Session, key: str) -> int:
        if key not in self._ids:
            self.get(session, key)
        return self._ids[key]

    def get(self, session: Session, key: str) -> schema.Questionnaire:
        if key not in self._by_key:
            qid, _, version = key.partition("@")
            row = self._row(session, qid, version)
            if row is None:
                raise KeyError(key)
            self._by_key[key] = schema.from_dict(row.definition)
            self._ids[key] = row.id
        return self._by_key[key]


    def load_new(self, conn: Connection | Session) -> None:
        """Every version stored since the last call (row ids only grow), so that ``cached`` finds it:
        for a caller that must not read the database at the time it looks one up (a chat turn
        holding a contact's lock)."""
        for row in conn.execute(_NEWER_VERSIONS, {"b_newest": self._newest}).all():
            key = f"{row.qid}@{row.version}"
            if key not in self._by_key:
                self._by_key[key] = schema.from_dict(row.definition)
            self._ids[key] = row.id
            self._newest = max(self._newest, row.id)

    def cached(self, key: str) -> schema.Questionnaire:
        """A version already loaded (``ensure``, ``get``, ``load_new``), without reading the database."""
        if key not in self._by_key:
            raise NotLoaded(key)
        return self._by_key[key]

    def cached_id(self, key: str) -> int:
        if key not in self._ids:
            raise NotLoaded(key)
        return self._ids[key]

    @staticmethod
    def _row(session: Session, qid: str, version: str) -> QuestionnaireVersion | None:
        return session.scalar(
            select(QuestionnaireVersion).where(QuestionnaireVersion.qid == qid, QuestionnaireVersion.version == version)
        )


ANSWER_COLUMNS = ("interview_id", "question", "value", "raw_text", "source", "answered_at", "updated_at")


@cache
def _upsert_answer(dialect: str) -> db.DirectStatement:
    """INSERT … ON CONFLICT (interview_id, question) DO UPDATE, built once per dialect."""
    insert_for = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}[dialect]
    return db.DirectStatement(replacing_answer(
        insert_for(ANSWERS).values({c: bindparam(f"a_{c}", type_=ANSWERS.c[c].type) for c in ANSWER_COLUMNS})))


def replacing_answer(insert: Any) -> Any:
    """An answer's INSERT (SQLite's or PostgreSQL's) that replaces the interview's answer to the same
    question: its value, raw text and source change, ``answered_at`` stays the first answer's."""
    excluded = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=["interview_id", "question"],
        set_={"value": excluded.value, "raw_text": excluded.raw_text, "source": excluded.source,
              "updated_at": excluded.updated_at})


def record_answer(
    conn: Connection, interview_id: int, question: str, value: Any, raw_text: str | None, source: str, now: datetime
) -> None:
    """Insert or replace the answer to ``question`` in one statement (re-answered after ATRAS keeps one row)."""
    params = dict(interview_id=interview_id, question=question, value=value, raw_text=raw_text, source=source,
                  answered_at=now, updated_at=now)
    if conn.dialect.name in ("sqlite", "postgresql"):
        _upsert_answer(conn.dialect.name).execute(conn, {f"a_{k}": v for k, v in params.items()})
        return
    clear_answer(conn, interview_id, question)  # other databases: delete, then insert
    conn.execute(_INSERT_ANSWER, params)


def clear_answer(conn: Connection, interview_id: int, question: str) -> None:
    conn.execute(_DELETE_ANSWER, {"b_interview": interview_id, "b_question": question})


# The completing turn reads them (for its ticket and its alerts): on the driver's cursor.
_ANSWERS = db.DirectStatement(select(ANSWERS.c.question, ANSWERS.c.value)
                              .where(ANSWERS.c.interview_id == bindparam("b_id")))


def answers_of(conn: Connection | Session, interview_id: int) -> dict[str, Any]:
    return {question: value for question, value in _ANSWERS.execute(conn, {"b_id": interview_id})}


def new_interview(conn: Connection, *, questionnaire_id: int, contact_id: int | None, entity_code: str | None,
                  channel: str, now: datetime, tz: str, wave_id: int | None = None, period: str | None = None) -> int:
    """Create an interview row (status en_curso) and return its id."""
    result = conn.execute(_INSERT_INTERVIEW, dict(
        questionnaire_id=questionnaire_id, contact_id=contact_id, entity_code=entity_code, channel=channel,
        period=period or period_of(now, tz), wave_id=wave_id, status=InterviewStatus.EN_CURSO, source="chat",
        started_at=now, last_activity_at=now,
    ))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


_UPDATE_INTERVIEW = INTERVIEWS.update().where(INTERVIEWS.c.id == bindparam("b_id"))


def update_interview(conn: Connection, interview_id: int, **values: Any) -> None:
    conn.execute(_UPDATE_INTERVIEW, {"b_id": interview_id, **values})


def expire_stale(session: Session, cutoff: datetime, now: datetime) -> int:
    """Mark interviews silent since before ``cutoff`` as expirada; returns how many.

    The contact's conversation still points at the interview: their next message is told it
    expired (bot.conversation applies the same rule), so nothing is lost or half-changed here."""
    result = session.execute(
        update(Interview)
        .where(Interview.status.in_(InterviewStatus.unfinished()), Interview.last_activity_at < cutoff)
        .values(status=InterviewStatus.EXPIRADA, finished_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)  # an UPDATE's CursorResult


# ------------------------------------------------------------------ entities, as alerts, tickets and the API show them

ENTITIES = Entity.__table__


@dataclass(frozen=True)
class EntityView:
    """An entity as alerts, tickets and the API show it (the full reference record is
    ``surveys.entities.ReferenceEntity``)."""

    code: str
    display: str  # surveys.entities.display_name: "Génova (Quindío)", "Gobernación del Meta"
    kind: str
    dept_name: str
    region: str | None


_SELECT_ENTITY = db.DirectStatement(select(ENTITIES.c.code, ENTITIES.c.name, ENTITIES.c.kind, ENTITIES.c.dept_code,
                                           ENTITIES.c.dept_name, ENTITIES.c.region)
                                    .where(ENTITIES.c.code == bindparam("b_code")))


def real_channel(column: Any) -> Any:
    """A WHERE clause keeping rows whose channel (``column``) is not a test channel (a ticket opened
    through the API has none: it is real)."""
    return or_(column.is_(None), column.not_in(TEST_CHANNELS))


def entity(conn: Connection, code: str | None) -> EntityView | None:
    if not code:
        return None
    row = _SELECT_ENTITY.execute(conn, {"b_code": code}).one_or_none()
    if row is None:
        return None
    display = display_name(row.name, row.kind, row.dept_code, row.dept_name)
    return EntityView(row.code, display, row.kind, row.dept_name, row.region)


def entity_region(conn: Connection, code: str | None) -> str | None:
    found = entity(conn, code)
    return found.region if found is not None else None


def regions(conn: Connection) -> list[str]:
    """The regions entities belong to (the configured scheme), in order: for filters."""
    return [r for (r,) in conn.execute(select(ENTITIES.c.region).where(ENTITIES.c.region.is_not(None))
                                       .distinct().order_by(ENTITIES.c.region))]


def entity_json(conn: Connection, code: str | None) -> dict[str, Any] | None:
    found = entity(conn, code)
    if found is None:
        return None if code is None else {"code": code, "name": None}
    return {"code": found.code, "name": found.display, "kind": found.kind, "department": found.dept_name,
            "region": found.region}
