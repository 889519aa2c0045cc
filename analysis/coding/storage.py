"""Coded answers in the database: saving a prediction, the review queue, a person's confirmation or
correction (audited), the reviewed answers that go back into training, and bulk recoding.

Statuses: ``auto`` (confident: accepted automatically), ``review`` (waiting for a person),
``confirmed`` (a person accepted the predicted codes), ``corrected`` (a person changed them).
Re-running the coder on the same text never touches a ``confirmed``/``corrected`` coding; an answer
whose text changed is coded afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select

from analysis.coding.codebooks import EXCLUSIVE, Codebook
from analysis.coding.corpus import Example
from surveys import db
from surveys.messages import TEST_CHANNELS
from surveys.models import (
    REVIEWED,
    Answer,
    AnswerCoding,
    AnswerCodingEvent,
    CodingStatus,
    Interview,
    QuestionnaireVersion,
    utcnow,
)

if TYPE_CHECKING:
    from analysis.coding.model import Coder, Prediction

CODINGS = AnswerCoding.__table__
EVENTS = AnswerCodingEvent.__table__
ANSWERS = Answer.__table__
INTERVIEWS = Interview.__table__
MACHINE = "coder"


class ReviewError(ValueError):
    """A review request that cannot be applied (``status`` is the HTTP status to answer with)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def text_hash(text: str | None) -> str:
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


def answer_text(value: Any, raw_text: str | None) -> str:
    """The text to code: the parsed value of an open answer, else what was written."""
    return value if isinstance(value, str) else (raw_text or "")


def _coding_values(coder: Coder, prediction: Prediction, digest: str, now: datetime) -> dict[str, Any]:
    return dict(codebook=coder.codebook.id, codes=prediction.codes, predicted_codes=prediction.codes,
                scores=prediction.scores, confidence=prediction.confidence, coder_version=coder.version,
                codebook_version=coder.codebook.version, model_hash=coder.model_hash,
                needs_review=prediction.needs_review,
                status=(CodingStatus.REVIEW if prediction.needs_review else CodingStatus.AUTO).value,
                text_hash=digest, coded_at=now, reviewed_by=None, reviewed_at=None)


def insert_predictions(conn: Connection, coder: Coder, items: Sequence[tuple[int, str, Prediction]],
                       now: datetime) -> int:
    """First codings of answers that have none, in one statement; returns how many."""
    if items:
        conn.execute(CODINGS.insert(), [dict(answer_id=answer_id, **_coding_values(coder, p, text_hash(text), now))
                                        for answer_id, text, p in items])
    return len(items)


def save_prediction(conn: Connection, answer_id: int, coder: Coder, prediction: Prediction, text: str,
                    now: datetime | None = None) -> str:
    """Insert or refresh the coding of one answer; returns what happened: ``coded``, ``recoded``,
    ``unchanged`` or ``kept`` (a person reviewed this very text: left alone)."""
    now = now or utcnow()
    digest = text_hash(text)
    row = conn.execute(select(CODINGS.c.id, CODINGS.c.status, CODINGS.c.text_hash, CODINGS.c.codes,
                              CODINGS.c.coder_version).where(CODINGS.c.answer_id == answer_id)).one_or_none()
    values = _coding_values(coder, prediction, digest, now)
    if row is None:
        conn.execute(CODINGS.insert(), dict(answer_id=answer_id, **values))
        return "coded"
    if row.status in REVIEWED and row.text_hash == digest:
        return "kept"
    if row.text_hash == digest and row.coder_version == coder.version and row.status not in REVIEWED:
        return "unchanged"
    conn.execute(CODINGS.update().where(CODINGS.c.id == row.id).values(**values))
    if list(row.codes or []) != prediction.codes and row.text_hash == digest:
        conn.execute(EVENTS.insert(), dict(coding_id=row.id, action="recoded", actor=MACHINE, before=row.codes,
                                           after=prediction.codes, coder_version=coder.version, created_at=now))
    return "recoded"


# ---------------------------------------------------------------- review


def _coding_row(conn: Connection, answer_id: int) -> Any:
    return conn.execute(
        select(CODINGS, ANSWERS.c.question, ANSWERS.c.raw_text, ANSWERS.c.value, ANSWERS.c.interview_id)
        .join(ANSWERS, ANSWERS.c.id == CODINGS.c.answer_id)
        .where(CODINGS.c.answer_id == answer_id)
    ).one_or_none()


def coding_as_dict(row: Any) -> dict[str, Any]:
    return {
        "answer_id": row.answer_id, "interview_id": row.interview_id, "question": row.question,
        "text": answer_text(row.value, row.raw_text), "codebook": row.codebook, "codes": list(row.codes or []),
        "predicted_codes": list(row.predicted_codes or []), "scores": dict(row.scores or {}),
        "confidence": row.confidence, "needs_review": row.needs_review, "status": row.status,
        "coder_version": row.coder_version,
        "reviewed_by": row.reviewed_by, "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
    }


def review_queue(conn: Connection, codebook: str | None = None, limit: int = 50,
                 include_test: bool = False) -> list[dict[str, Any]]:
    """Answers waiting for a person, least confident first (those of simulator conversations, test
    data that must not train the coder, only with ``include_test``)."""
    query = (select(CODINGS, ANSWERS.c.question, ANSWERS.c.raw_text, ANSWERS.c.value, ANSWERS.c.interview_id)
             .join(ANSWERS, ANSWERS.c.id == CODINGS.c.answer_id)
             .where(CODINGS.c.status == CodingStatus.REVIEW.value))
    if not include_test:
        query = query.join(INTERVIEWS, INTERVIEWS.c.id == ANSWERS.c.interview_id).where(
            INTERVIEWS.c.channel.not_in(TEST_CHANNELS))
    if codebook:
        query = query.where(CODINGS.c.codebook == codebook)
    query = query.order_by(CODINGS.c.confidence, CODINGS.c.id).limit(limit)
    return [coding_as_dict(r) for r in conn.execute(query)]


def review(engine: Engine, answer_id: int, actor: str, *, codebook_of: Callable[[str], Codebook],
           codes: Sequence[str] | None = None, accept: bool = False, now: datetime | None = None,
           known_codes: Collection[str] | None = None) -> dict[str, Any]:
    """A person confirms (``accept``) or corrects (``codes``) the coding of an answer; audited.
    Raises :class:`ReviewError` (nothing written) for an unknown answer (404), codes it does not
    know (400; 409 for codes of ``known_codes`` — another codebook's — or an exclusive code with
    others) or a bad body."""
    now = now or utcnow()
    if accept == (codes is not None):
        raise ReviewError('send either {"codes": [...]} or {"accept": true}')
    if codes is not None and (not isinstance(codes, list | tuple) or not codes
                              or not all(isinstance(c, str) for c in codes)):
        raise ReviewError("codes must be a non-empty list of code ids")  # the body first, then the answer
    with db.transaction(engine) as conn:
        row = _coding_row(conn, answer_id)
        if row is None:
            raise ReviewError(f"answer {answer_id} has no coding", 404)
        codebook = codebook_of(row.codebook)
        if codes is not None:
            unknown = codebook.unknown(list(codes))
            if unknown:
                # A code of another codebook is well formed but does not fit this answer: a conflict.
                elsewhere = all(code in (known_codes or ()) for code in unknown)
                raise ReviewError(f"unknown codes for codebook {codebook.id}: {', '.join(unknown)}",
                                  409 if elsewhere else 400)
            new = list(dict.fromkeys(codes))
            if len(new) > 1 and EXCLUSIVE & set(new):
                raise ReviewError(f"{', '.join(sorted(EXCLUSIVE & set(new)))} cannot be combined with other codes",
                                  409)
            action, status = "corrected", CodingStatus.CORRECTED.value
        else:
            new, action, status = list(row.codes or []), "accepted", CodingStatus.CONFIRMED.value
        before = list(row.codes or [])
        conn.execute(CODINGS.update().where(CODINGS.c.id == row.id).values(
            codes=new, status=status, needs_review=False, reviewed_by=actor, reviewed_at=now))
        conn.execute(EVENTS.insert(), dict(coding_id=row.id, action=action, actor=actor, before=before, after=new,
                                           coder_version=row.coder_version, created_at=now))
        return coding_as_dict(_coding_row(conn, answer_id))


def history(conn: Connection, answer_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(EVENTS).join(CODINGS, CODINGS.c.id == EVENTS.c.coding_id)
                        .where(CODINGS.c.answer_id == answer_id).order_by(EVENTS.c.id))
    return [{"action": r.action, "actor": r.actor, "before": r.before, "after": r.after,
             "coder_version": r.coder_version, "at": r.created_at.isoformat()} for r in rows]


def reviewed_examples(engine: Engine, codebook: Codebook) -> list[Example]:
    """Answers a person confirmed or corrected, as training answers (their current codes)."""
    known = set(codebook.code_ids)
    with engine.connect() as conn:
        rows = conn.execute(select(CODINGS.c.answer_id, CODINGS.c.codes, ANSWERS.c.value, ANSWERS.c.raw_text)
                            .join(ANSWERS, ANSWERS.c.id == CODINGS.c.answer_id)
                            .where(CODINGS.c.codebook == codebook.id, CODINGS.c.status.in_(REVIEWED)))
        out = []
        for r in rows:
            codes = tuple(c for c in (r.codes or []) if c in known)
            text = answer_text(r.value, r.raw_text)
            if codes and text.strip():
                out.append(Example(id=f"db-{r.answer_id}", text=text, codes=codes, source="database"))
        return out


# ---------------------------------------------------------------- which answers a codebook codes


def questions_of(conn: Connection, codebook: Codebook) -> set[str]:
    """Question names coded with ``codebook``: the codebook's ``questions`` and every stored
    questionnaire question that names it."""
    names = set(codebook.questions)
    for (definition,) in conn.execute(select(QuestionnaireVersion.__table__.c.definition)):
        for q in (definition or {}).get("questions", []):
            if isinstance(q, dict) and q.get("codebook") == codebook.id:
                names.add(str(q["name"]))
    return names


@dataclass
class RecodeReport:
    total: int = 0
    coded: int = 0
    recoded: int = 0
    unchanged: int = 0
    kept: int = 0
    review: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def recode(engine: Engine, coder: Coder, *, batch_size: int = 256,
           progress: Callable[[int], None] | None = None) -> RecodeReport:
    """Code every stored answer of the codebook's questions again with ``coder`` (reviewed
    codings of unchanged text are kept). One transaction per batch."""
    report = RecodeReport()
    with engine.connect() as conn:
        questions = sorted(questions_of(conn, coder.codebook))
        rows = conn.execute(select(ANSWERS.c.id, ANSWERS.c.value, ANSWERS.c.raw_text)
                            .where(ANSWERS.c.question.in_(questions)).order_by(ANSWERS.c.id)).all()
    report.total = len(rows)
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        for outcome, p in recode_batch(engine, coder, batch):
            setattr(report, outcome, getattr(report, outcome) + 1)
            report.review += outcome in ("coded", "recoded") and p.needs_review
        if progress:
            progress(len(batch))
    return report


def recode_batch(engine: Engine, coder: Coder, rows: Sequence[Any],
                 now: datetime | None = None) -> list[tuple[str, Prediction]]:
    """Code answer rows (id, value, raw_text) in one ``predict`` and one transaction; each row's
    outcome (as :func:`save_prediction` says) and prediction."""
    texts = [answer_text(r.value, r.raw_text) for r in rows]
    predictions = coder.predict(texts)
    with db.transaction(engine) as conn:
        return [(save_prediction(conn, r.id, coder, p, text, now), p)
                for r, text, p in zip(rows, texts, predictions, strict=True)]


def codings_by_answer(conn: Connection | Any, answer_ids: Iterable[int]) -> Mapping[int, tuple[list[str], str]]:
    """answer id → (codes, status) of the answers that have a coding."""
    ids = list(answer_ids)
    if not ids:
        return {}
    rows = conn.execute(select(CODINGS.c.answer_id, CODINGS.c.codes, CODINGS.c.status)
                        .where(CODINGS.c.answer_id.in_(ids)))
    return {r.answer_id: (list(r.codes or []), r.status) for r in rows}


def count_answers(engine: Engine, questions: Iterable[str]) -> int:
    from sqlalchemy import func

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ANSWERS)
                                .where(ANSWERS.c.question.in_(list(questions)))).scalar_one())
