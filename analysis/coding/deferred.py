"""Coding open answers shortly after the chat stores them, in batches, off the webhook's path.

The turn only stores the answer (its transaction and the respondent's reply never wait for spaCy);
:class:`AnswerCodingJob` then codes every answer of a coded question that changed since its last
round and has no coding of its current text. The database is the queue: a round finds its work by
``answer.updated_at`` (indexed), so nothing is lost when a process dies between the answer and its
coding, and the first round of a process sweeps every answer. One round is one batch per codebook
(``Coder.predict`` on many texts costs about a third of one text at a time) and one transaction.

A retrained model (a new ``Coder.version``) is picked up by the registry, and then each round also
recodes up to ``STALE_BATCH`` answers per codebook whose machine coding is by another version: the
bulk recode after a retrain happens in the background, a batch at a time, without anyone running
``m360 coder recode``. Codings a person confirmed or corrected are never recoded this way.

The embedded ``m360 serve`` runs the job in a thread (``bot.runtime.coding_worker.CodingWorker``), woken
by the chat service after a turn that stored a coded answer; in production ``m360 worker`` runs it.
A missing model leaves answers uncoded (logged) and they are coded when it appears; a coding error
is logged and the round retried later: coding never touches the answers themselves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, select

from analysis.coding import registry, storage
from surveys import db, schema
from surveys.models import Answer, AnswerCoding, utcnow

log = logging.getLogger(__name__)
ANSWERS = Answer.__table__
CODINGS = AnswerCoding.__table__
# A round re-reads answers this far before the previous round began: a turn that took ``now`` before
# that moment may have committed after it (turns last milliseconds; web workers' clocks differ slightly).
OVERLAP = timedelta(seconds=15)
STALE_BATCH = 256  # answers per codebook per round recoded after a retrain (a round stays short)


@dataclass
class Round:
    """What one round did."""

    seen: int = 0  # answers changed in the window
    coded: int = 0  # codings written (new or recoded)
    review: int = 0  # of those, sent to the review queue (the coder was not confident)
    uncoded: int = 0  # left for later: no model for their codebook
    recoded: int = 0  # machine codings of an older model version coded again
    without_model: set[str] = field(default_factory=set)  # codebooks whose model is missing


class AnswerCodingJob:
    def __init__(self, engine: Engine, question_codebooks: Mapping[str, str], models_dir: Path | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.clock = clock  # the time a coding is stamped with
        self.question_codebooks = dict(question_codebooks)
        self.models_dir = models_dir
        self._since: datetime | None = None  # None: the next round sweeps every answer
        self._lock = threading.Lock()  # one round at a time in this process

    @classmethod
    def for_questionnaires(cls, engine: Engine, questionnaires: Iterable[schema.Questionnaire],
                           models_dir: Path | None = None, clock: Callable[[], datetime] = utcnow) -> AnswerCodingJob:
        return cls(engine, {q.name: q.codebook for questionnaire in questionnaires for q in questionnaire.questions
                            if q.codebook}, models_dir, clock)

    def run_once(self) -> Round:
        """Code what changed since the previous round (everything, the first time)."""
        if not self.question_codebooks:
            return Round()
        with self._lock:
            since = self._since
            query = self._answers()
            if since is not None:
                query = query.where(ANSWERS.c.updated_at >= since - OVERLAP)
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            done = self._code(rows)
            # The next round starts from the newest change seen, by the clock that wrote the answers (not
            # this one's). An answer without a model is read again only when it changes or the process
            # restarts: `m360 coder recode` codes old answers once a model is built.
            if rows:
                newest = max(row.updated_at for row in rows)
                self._since = newest if since is None else max(since, newest)
            done.recoded = self._recode_stale()
            return done

    def code_answers(self, answer_ids: Iterable[int]) -> Round:
        """Code these answers now (those of a coded question whose current text has no coding), e.g.
        what ``m360 responses import`` just stored; answers without a model are left for a later round."""
        ids = sorted(set(answer_ids))
        if not self.question_codebooks or not ids:
            return Round()
        with self._lock:
            rows = []
            with self.engine.connect() as conn:
                for start in range(0, len(ids), 500):  # bounded IN lists
                    rows += conn.execute(self._answers().where(ANSWERS.c.id.in_(ids[start:start + 500]))).all()
            return self._code(rows)

    def _answers(self) -> Select[Any]:
        return (select(ANSWERS.c.id, ANSWERS.c.question, ANSWERS.c.value, ANSWERS.c.raw_text, ANSWERS.c.updated_at,
                       CODINGS.c.id.label("coding_id"), CODINGS.c.text_hash)
                .outerjoin(CODINGS, CODINGS.c.answer_id == ANSWERS.c.id)
                .where(ANSWERS.c.question.in_(sorted(self.question_codebooks)))
                .order_by(ANSWERS.c.id))

    def _code(self, rows: Sequence[Any]) -> Round:
        """One batch per codebook and one transaction for the answer rows whose text has no coding."""
        done = Round(seen=len(rows))
        # Only answers whose current text has no coding: the overlap and re-runs cost a hash each.
        todo: dict[str, list[tuple[int, str, bool]]] = {}  # codebook → (answer id, text, has a coding)
        for row in rows:
            text = storage.answer_text(row.value, row.raw_text)
            if row.text_hash != storage.text_hash(text):
                todo.setdefault(self.question_codebooks[row.question], []).append(
                    (row.id, text, row.coding_id is not None))
        batches = []
        for codebook, items in todo.items():
            coder = registry.get(codebook, self.models_dir)
            if coder is None:
                done.uncoded += len(items)
                done.without_model.add(codebook)
                continue
            batches.append((coder, items, coder.predict([text for _, text, _ in items])))
        if not batches:
            return done
        now = self.clock()
        with db.transaction(self.engine) as conn:
            for coder, items, predictions in batches:
                pairs = list(zip(items, predictions, strict=True))
                new = [(answer_id, text, p) for (answer_id, text, coded), p in pairs if not coded]
                done.coded += storage.insert_predictions(conn, coder, new, now)
                done.review += sum(p.needs_review for _, _, p in new)
                for (answer_id, text, coded), prediction in pairs:
                    if coded:  # a changed answer: recoded, unless a person reviewed this very text
                        outcome = storage.save_prediction(conn, answer_id, coder, prediction, text, now)
                        done.coded += outcome in ("coded", "recoded")
                        done.review += outcome in ("coded", "recoded") and prediction.needs_review
        return done

    def _recode_stale(self) -> int:
        """One batch per codebook of machine codings made by another version of its model."""
        recoded = 0
        for codebook in sorted(set(self.question_codebooks.values())):
            coder = registry.get(codebook, self.models_dir)
            if coder is None:
                continue
            questions = sorted(q for q, c in self.question_codebooks.items() if c == codebook)
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(ANSWERS.c.id, ANSWERS.c.value, ANSWERS.c.raw_text)
                    .join(CODINGS, CODINGS.c.answer_id == ANSWERS.c.id)
                    .where(ANSWERS.c.question.in_(questions), CODINGS.c.codebook == codebook,
                           CODINGS.c.coder_version != coder.version, CODINGS.c.status.not_in(storage.REVIEWED))
                    .order_by(ANSWERS.c.id).limit(STALE_BATCH)).all()
            if not rows:
                continue
            recoded += sum(outcome == "recoded" for outcome, _ in storage.recode_batch(self.engine, coder, rows))
            log.info("recoded %s answer(s) of %s with model %s", len(rows), codebook, coder.version)
        return recoded
