"""The open-answer coder as a background job of the application: the rounds of
``analysis.coding.deferred.AnswerCodingJob`` in a thread, for the interview the chat runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from analysis.coding.deferred import AnswerCodingJob, Round
from bot.runtime.periodic import Periodic
from surveys import schema, settings
from surveys.clock import utcnow


def interview_coding_job(engine: Engine, models_dir: Path | None = None,
                         clock: Callable[[], datetime] = utcnow) -> AnswerCodingJob:
    """The coded questions of the interview the chat runs (``M360_QUESTIONNAIRE``)."""
    return AnswerCodingJob.for_questionnaires(engine, [schema.builtin(settings.current().questionnaire)], models_dir,
                                              clock)


class CodingWorker(Periodic):
    """The job in a thread: a round when woken (half a second later, to batch) and every
    ``interval`` seconds."""

    name = "m360-coder"

    def __init__(self, job: AnswerCodingJob, interval: float = 30.0, settle: float = 0.5):
        super().__init__(interval, settle)
        self.job = job

    def run_once(self) -> Round:
        return self.job.run_once()
