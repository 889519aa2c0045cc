"""Persistence of questionnaires, interviews and answers (the database side of the engine's events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from surveys import schema
from surveys.models import Answer, Interview, QuestionnaireVersion


def period_of(moment: datetime, tz: str = "America/Bogota") -> str:
    """The month (YYYY-MM) an interview started, on Colombian time."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


class QuestionnaireStore:
    """Questionnaire versions as stored rows; an interview always runs the version it started with."""

    def __init__(self) -> None:
        self._by_key: dict[str, schema.Questionnaire] = {}
        self._ids: dict[str, int] = {}

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


    @staticmethod
    def _row(session: Session, qid: str, version: str) -> QuestionnaireVersion | None:
        return session.scalar(
            select(QuestionnaireVersion).where(QuestionnaireVersion.qid == qid, QuestionnaireVersion.version == version)
        )


def record_answer(
    session: Session, interview_id: int, question: str, value: Any, raw_text: str | None, source: str, now: datetime
) -> None:
    """Insert or replace the answer to ``question`` (re-answered after ATRAS keeps one row)."""
    row = session.scalar(select(Answer).where(Answer.interview_id == interview_id, Answer.question == question))
    if row is None:
        session.add(
            Answer(interview_id=interview_id, question=question, value=value, raw_text=raw_text, source=source,
                   answered_at=now, updated_at=now)
        )
    else:
        row.value, row.raw_text, row.source, row.updated_at = value, raw_text, source, now


def clear_answer(session: Session, interview_id: int, question: str) -> None:
    session.execute(delete(Answer).where(Answer.interview_id == interview_id, Answer.question == question))


def answers_of(session: Session, interview_id: int) -> dict[str, Any]:
    rows = session.execute(select(Answer.question, Answer.value).where(Answer.interview_id == interview_id))
    return {question: value for question, value in rows}


def new_interview(session: Session, *, questionnaire_id: int, contact_id: int | None, entity_code: str | None,
                  channel: str, now: datetime, tz: str, wave_id: int | None = None, period: str | None = None
                  ) -> Interview:
    interview = Interview(
        questionnaire_id=questionnaire_id, contact_id=contact_id, entity_code=entity_code, channel=channel,
        period=period or period_of(now, tz), wave_id=wave_id, status="en_curso", started_at=now, last_activity_at=now,
    )
    session.add(interview)
    session.flush()
    return interview
