"""Background work, one interface for both ways the product runs.

The work: send the outbox, code open answers, check alerts (overdue tickets, the daily digest),
run the wave scheduler, forget contacts past the retention period, follow up with the requesters
of open tickets. Every piece finds what to do in
the database (the outbox's due rows, answers changed since the last round, …), so running one twice
is harmless and a lost signal only delays it until the next round.

- Embedded default (``m360 serve``) and ``m360 worker``: threads in the process (bot.runtime.periodic,
  bot.outbox.sending.OutboxWorker), woken in-process.
- Production with ``M360_CELERY_BROKER=redis://host:6379/0``: a Celery worker runs these tasks
  (``celery -A bot.runtime.tasks worker``) and Celery beat runs each on its period (``celery -A bot.runtime.tasks
  beat``; beat's send_outbox every few seconds is the sweep that re-sends anything left pending).
  The web workers only write the outbox row in the turn's transaction and then :func:`kick` the
  task; a broker that is down is logged and the request still succeeds (the sweep catches up).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from celery import Celery

from surveys import formats, settings

log = logging.getLogger(__name__)

SEND_OUTBOX, CODE_ANSWERS = "m360.send_outbox", "m360.code_answers"
CHECK_ALERTS, WAVE_TICK, PURGE = "m360.check_alerts", "m360.wave_tick", "m360.purge_retention"
FOLLOW_UP = "m360.follow_up"
# Seconds between beat's runs of each task (M360_BEAT_<NAME>_S overrides, e.g. M360_BEAT_SEND_OUTBOX_S).
PERIODS = {SEND_OUTBOX: 5.0, CODE_ANSWERS: 5.0, CHECK_ALERTS: 300.0, WAVE_TICK: 60.0, PURGE: 6 * 3600.0,
           FOLLOW_UP: 900.0}


def broker_url() -> str | None:
    return settings.current().celery_broker


def _period(task: str) -> float:
    return settings.current().beat_periods.get(task.removeprefix("m360.").upper(), PERIODS[task])


def make_celery(broker: str | None = None) -> Celery:
    app = Celery("m360", broker=broker or broker_url() or "memory://", set_as_current=False)
    app.conf.update(
        task_ignore_result=True,
        task_acks_late=True,  # a worker killed mid-task leaves the message for another
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="m360",
        timezone=formats.TIMEZONE,
        broker_connection_retry_on_startup=True,
        # A web request must not hang on a broker that is down: fail fast, the sweep catches up.
        broker_connection_timeout=1,
        task_publish_retry=False,
        broker_transport_options={"socket_connect_timeout": 1, "socket_timeout": 2},
        beat_schedule={name: {"task": name, "schedule": _period(name)} for name in PERIODS},
    )
    for name, run in TASKS.items():
        app.task(name=name, ignore_result=True)(run)
    return app


# ---------------------------------------------------------------- the work (per worker process)


@functools.cache
def _context() -> dict[str, Any]:
    """Built once per worker process (after Celery forks it): the same job objects the threads of
    ``m360 worker`` run, here called one round at a time."""
    from bot.outbox.providers import for_sending
    from bot.runtime.jobs import build as build_jobs
    from surveys import db

    engine = db.default_engine()
    jobs = build_jobs(engine, for_sending(engine), on_queued=send_outbox)  # none started: one round per task
    return {"sender": jobs.outbox.sender, "coder": jobs.coder.job, "alerts": jobs.alerts, "waves": jobs.waves,
            "retention": jobs.retention, "followups": jobs.followups}


def send_outbox() -> int:
    sender, sent = _context()["sender"], 0
    while (n := sender.run_once()):
        sent += n
    return sent


def code_answers() -> int:
    done = _context()["coder"].run_once()  # new and changed answers, then a batch after a retrain
    return done.coded + done.recoded


def check_alerts() -> int:
    return sum(_context()["alerts"].run_once())  # what it queued is sent at once (on_queued)


def wave_tick() -> int:
    return _context()["waves"].run_once().queued


def purge_retention() -> int:
    return len(_context()["retention"].run_once())


def follow_up() -> int:
    return int(_context()["followups"].run_once())


TASKS: dict[str, Callable[[], int]] = {SEND_OUTBOX: send_outbox, CODE_ANSWERS: code_answers,
                                       CHECK_ALERTS: check_alerts, WAVE_TICK: wave_tick, PURGE: purge_retention,
                                       FOLLOW_UP: follow_up}

# ``celery -A bot.runtime.tasks worker`` / ``beat`` find this (the broker comes from M360_CELERY_BROKER).
celery = make_celery()


# ---------------------------------------------------------------- the web side


class Kick:
    """``notify()`` enqueues ``task`` (what a thread's ``notify`` does in-process). Never raises: the
    row that needs the work is already committed, and beat's next round does it anyway."""

    def __init__(self, app: Celery, task: str):
        self.app, self.task = app, task

    def notify(self) -> None:
        try:
            self.app.send_task(self.task)
        except Exception as exc:  # broker down or unreachable: the request must still succeed
            log.warning("could not enqueue %s (%s): the periodic sweep will do it", self.task, exc)


@functools.cache
def _web_celery(broker: str) -> Celery:
    return make_celery(broker)


def kick(task: str, broker: str | None = None) -> Kick | None:
    """A Kick for ``task`` when a broker is configured, else None (the threads' own wake-up is used)."""
    broker = broker or broker_url()
    return Kick(_web_celery(broker), task) if broker else None
