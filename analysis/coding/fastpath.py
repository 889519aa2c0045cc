"""Coding an answer when the chat stores it (the fast path).

``ChatService`` calls :meth:`AnswerCoder.on_answer` right after an answer is recorded, inside the
turn's transaction. Only questions with a ``codebook`` are coded. Models are loaded once per process
(:mod:`analysis.coding.registry`; a background warm-up starts with the service). Coding can never
fail the turn: a missing model leaves the answer uncoded (``m360 coder recode`` codes it later) and
any error is logged and rolled back to a savepoint, so the answer itself is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from surveys import schema
from surveys.models import Answer

log = logging.getLogger(__name__)
ANSWERS = Answer.__table__


class AnswerCoder:
    def __init__(self, question_codebooks: Mapping[str, str], models_dir: Path | None = None, *,
                 warm_up: bool = True):
        self.question_codebooks = dict(question_codebooks)
        self.models_dir = models_dir
        if warm_up and self.question_codebooks:
            from analysis.coding import registry

            registry.warm_up(sorted(set(self.question_codebooks.values())), models_dir)

    @classmethod
    def for_questionnaires(cls, questionnaires: Iterable[schema.Questionnaire], models_dir: Path | None = None,
                           **kwargs: Any) -> AnswerCoder:
        return cls({q.name: q.codebook for questionnaire in questionnaires for q in questionnaire.questions
                    if q.codebook}, models_dir, **kwargs)

    def on_answer(self, conn: Connection, interview_id: int, question: str, value: Any, raw_text: str | None,
                  now: datetime) -> str | None:
        """Code the answer just stored, if its question has a codebook; returns the outcome (or None)."""
        codebook = self.question_codebooks.get(question)
        if codebook is None:
            return None
        try:
            from analysis.coding import registry, storage

            coder = registry.get(codebook, self.models_dir)
            if coder is None:
                return None
            text = storage.answer_text(value, raw_text)
            prediction = coder.predict_one(text)
            with conn.begin_nested():
                answer_id = conn.execute(select(ANSWERS.c.id).where(ANSWERS.c.interview_id == interview_id,
                                                                    ANSWERS.c.question == question)).scalar_one()
                return storage.save_prediction(conn, answer_id, coder, prediction, text, now)
        except Exception:  # coding never fails the turn; recode picks the answer up
            log.exception("coding answer %s/%s with %s failed; left uncoded", interview_id, question, codebook)
            return None
